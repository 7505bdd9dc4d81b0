package dev.posta.mailauth.dkim;

import java.util.ArrayList;
import java.util.List;

/**
 * DKIM's tag=value lists (RFC 6376 §3.2), the syntax of both the DKIM-Signature field and the
 * key record in DNS: {@code v=1; a=rsa-sha256; d=example.org}.
 *
 * <p>A pure function: the same text always gives the same answer, and no input throws. A list
 * that breaks the grammar comes back {@link Malformed} with a one-line reason that quotes no
 * input (the reason goes into Authentication-Results comments). Checked: every tag-spec has a
 * name ({@code ALPHA *(ALPHA / DIGIT / "_")}) and an "="; no tag appears twice (§3.2: "Tags with
 * duplicate names MUST NOT occur", a permerror); a value holds only VALCHARs and the whitespace
 * between them (UTF-8 octets are taken too, as RFC 8616 §4 lets d= and i= carry them); one
 * trailing ";" is allowed, an empty tag-spec elsewhere is not.
 *
 * <p>Whitespace is SP, HTAB, CR and LF: a field value still holds its folding line breaks, and
 * FWS is whitespace wherever the grammar allows it. Tag names are case-sensitive (§3.2).
 */
public final class TagList {
  private TagList() {}

  /** What parsing gave: the tags, or why there are none. */
  public sealed interface Parsed permits Tags, Malformed {}

  /** The tags in the order written; names unique. */
  public record Tags(List<Tag> list) implements Parsed {
    public Tags {
      list = List.copyOf(list);
    }

    /** The tag named {@code name}, or null. */
    public Tag get(String name) {
      for (Tag t : list) {
        if (t.name().equals(name)) return t;
      }
      return null;
    }

    /** The value of tag {@code name} as written (inner whitespace kept), or null when absent. */
    public String value(String name) {
      Tag t = get(name);
      return t == null ? null : t.value();
    }
  }

  /** Not a tag list; {@code reason} is one line and quotes no input. */
  public record Malformed(String reason) implements Parsed {}

  /**
   * One tag.
   *
   * @param value the value without the whitespace around it (whitespace inside kept)
   * @param valueStart where the text after "=" starts in the parsed text
   * @param end where this tag-spec ends: the index of its ";" or the end of the text, so that
   *     {@code [valueStart, end)} is the value "including all surrounding whitespace" that
   *     §3.7 empties in b=
   */
  public record Tag(String name, String value, int valueStart, int end) {
    /** The value with every whitespace character taken out: base64 (b=, bh=, p=) may be folded anywhere. */
    public String compact() {
      var s = new StringBuilder(value.length());
      for (int i = 0; i < value.length(); i++) {
        char c = value.charAt(i);
        if (!whitespace(c)) s.append(c);
      }
      return s.toString();
    }
  }

  public static Parsed parse(String text) {
    List<Tag> tags = new ArrayList<>();
    int start = 0;
    while (true) {
      int semicolon = text.indexOf(';', start);
      int end = semicolon < 0 ? text.length() : semicolon;
      int nameStart = skipWhitespace(text, start, end);
      if (nameStart == end) {
        // An empty spec is only the end after a last ";" (or the whole of an empty list).
        if (semicolon >= 0) return new Malformed("empty tag-spec, two semicolons in a row");
        if (tags.isEmpty()) return new Malformed("no tags");
        return new Tags(tags);
      }
      int i = nameStart;
      if (!alpha(text.charAt(i))) return new Malformed("tag-spec " + (tags.size() + 1) + " does not start with a tag name");
      while (i < end && (alpha(text.charAt(i)) || digit(text.charAt(i)) || text.charAt(i) == '_')) i++;
      String name = text.substring(nameStart, i);
      i = skipWhitespace(text, i, end);
      if (i == end || text.charAt(i) != '=') return new Malformed("tag " + name + " has no \"=\"");
      int valueStart = i + 1;
      int from = skipWhitespace(text, valueStart, end);
      int to = end;
      while (to > from && whitespace(text.charAt(to - 1))) to--;
      for (int j = from; j < to; j++) {
        char c = text.charAt(j);
        if (!valChar(c) && !whitespace(c)) return new Malformed("tag " + name + "= holds a character a tag value may not");
      }
      for (Tag t : tags) {
        if (t.name().equals(name)) return new Malformed("tag " + name + "= appears twice");
      }
      tags.add(new Tag(name, text.substring(from, to), valueStart, end));
      if (semicolon < 0) return new Tags(tags);
      start = semicolon + 1;
    }
  }

  private static int skipWhitespace(String s, int i, int end) {
    while (i < end && whitespace(s.charAt(i))) i++;
    return i;
  }

  static boolean whitespace(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  }

  private static boolean alpha(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  }

  private static boolean digit(char c) {
    return c >= '0' && c <= '9';
  }

  /**
   * VALCHAR (%x21-3A / %x3C-7E), and anything beyond ASCII: UTF-8 in a header field read as
   * ISO-8859-1 (chars 0x80-0xFF), or as decoded characters in a DNS answer.
   */
  private static boolean valChar(char c) {
    return (c >= 0x21 && c <= 0x7e && c != ';') || c >= 0x80;
  }
}
