package dev.posta.mailauth.spf;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A macro-string of an SPF record or explanation (RFC 7208 §7.1): literal text and macros such
 * as {@code %{d2}} or {@code %{ir}}, parsed once and expanded per check (§7.3).
 *
 * <p>Guarantees: {@link #parse} is pure and accepts exactly the grammar of §7.1 for its use: a
 * domain-spec must end in a macro or a valid top label ({@code domain-end}) and may not use the
 * explanation-only letters c, r and t (§7.3); an explanation may hold spaces. Expansion applies
 * the transformers (right-hand parts after an optional reversal), splits on the given delimiters
 * and joins with dots, and URL-escapes the value of an upper-case macro letter (§7.3, RFC 3986
 * unreserved characters). What a name made by expansion must be to be asked of DNS (its length,
 * its labels) is the evaluator's business ({@link DomainNames}).
 *
 * <p>Immutable and thread-safe. Known limit: values are taken as the caller gives them; a
 * non-ASCII local-part is URL-escaped as UTF-8 octets.
 */
final class MacroString {
  /** Where a macro-string stands: what it may contain and how it must end. */
  enum Use {
    /** A mechanism's or modifier's target (domain-spec, §7.1): no spaces, no c/r/t, a domain-end. */
    DOMAIN_SPEC,
    /** The TXT record an exp= names (explain-string, §6.2): spaces allowed, every letter. */
    EXPLANATION,
    /** An unknown modifier's value (§6): any macro-string, never expanded. */
    MODIFIER_VALUE
  }

  /** A part of the string: text as it is, or a macro. */
  sealed interface Part {}

  /** Literal text, escapes (%%, %_, %-) already resolved. */
  record Literal(String text) implements Part {}

  /**
   * {@code %{letter rightParts r delimiters}}: {@code letter} lower-case, {@code escape} if it was
   * written upper-case, {@code rightParts} 0 for all, {@code delimiters} null for the default ".".
   */
  record Macro(char letter, boolean escape, int rightParts, boolean reverse, String delimiters) implements Part {}

  /** The value of a macro letter (lower-case) in the current check, at the current {@code domain} (the letter d). */
  interface Values {
    String value(char letter, String domain);
  }

  /** §7.1: a count of right-hand parts beyond any name's label count is as good as all; capping keeps the number small. */
  private static final int MAX_RIGHT_PARTS = 128;

  private final String text;
  private final List<Part> parts;
  /** The text itself when it has no macros: expansion then allocates nothing. */
  private final String constant;

  private MacroString(String text, List<Part> parts) {
    this.text = text;
    this.parts = List.copyOf(parts);
    if (parts.isEmpty()) constant = "";
    else if (parts.size() == 1 && parts.getFirst() instanceof Literal l) constant = l.text();
    else constant = null;
  }

  /** The string as written in the record. */
  String text() {
    return text;
  }

  List<Part> parts() {
    return parts;
  }

  /** Whether a macro in it has {@code letter} (lower-case). */
  boolean uses(char letter) {
    for (Part p : parts) if (p instanceof Macro m && m.letter() == letter) return true;
    return false;
  }

  @Override
  public String toString() {
    return text;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof MacroString m && m.parts.equals(parts);
  }

  @Override
  public int hashCode() {
    return parts.hashCode();
  }

  /** Parses {@code text} for {@code use}. Pure; never throws. */
  static Parsed<MacroString> parse(String text, Use use) {
    List<Part> parts = new ArrayList<>();
    StringBuilder literal = new StringBuilder();
    int lastMacroEnd = -1; // where the text after the last macro-expand starts, for domain-end
    int i = 0;
    int n = text.length();
    while (i < n) {
      char c = text.charAt(i);
      if (c != '%') {
        boolean allowed = (c >= 0x21 && c <= 0x7e) || (c == ' ' && use == Use.EXPLANATION);
        if (!allowed) return new Parsed.Invalid<>("character " + describe(c) + " not allowed in '" + text + "'");
        literal.append(c);
        i++;
        continue;
      }
      if (i + 1 >= n) return new Parsed.Invalid<>("'%' at the end of '" + text + "' (write %% for a percent sign)");
      char next = text.charAt(i + 1);
      switch (next) {
        case '%' -> literal.append('%');
        case '_' -> literal.append(' ');
        case '-' -> literal.append("%20");
        case '{' -> {
          int close = text.indexOf('}', i + 2);
          if (close < 0) return new Parsed.Invalid<>("macro without '}' in '" + text + "'");
          Parsed<Macro> macro = macro(text, i + 2, close, use);
          if (macro instanceof Parsed.Invalid<Macro> bad) return new Parsed.Invalid<>(bad.reason());
          if (!literal.isEmpty()) {
            parts.add(new Literal(literal.toString()));
            literal.setLength(0);
          }
          parts.add(((Parsed.Valid<Macro>) macro).value());
          i = close + 1;
          lastMacroEnd = i;
          continue;
        }
        default -> {
          return new Parsed.Invalid<>("'%" + describe(next) + "' in '" + text + "' is no macro (write %% for a percent sign)");
        }
      }
      i += 2;
      lastMacroEnd = i;
    }
    if (!literal.isEmpty()) parts.add(new Literal(literal.toString()));
    if (use == Use.DOMAIN_SPEC) {
      if (text.isEmpty()) return new Parsed.Invalid<>("empty domain-spec");
      String problem = domainEndProblem(text, lastMacroEnd);
      if (problem != null) return new Parsed.Invalid<>(problem);
    }
    return new Parsed.Valid<>(new MacroString(text, parts));
  }

  /** The body of {@code %{...}}: text[from, to). */
  private static Parsed<Macro> macro(String text, int from, int to, Use use) {
    if (from >= to) return new Parsed.Invalid<>("empty macro '%{}' in '" + text + "'");
    char written = text.charAt(from);
    char letter = Character.toLowerCase(written);
    if ("slodiphcrtv".indexOf(letter) < 0 || written > 0x7e) {
      return new Parsed.Invalid<>("unknown macro letter '" + describe(written) + "' in '" + text + "'");
    }
    if (use == Use.DOMAIN_SPEC && (letter == 'c' || letter == 'r' || letter == 't')) {
      return new Parsed.Invalid<>("macro letter '" + written + "' is for explanations only (RFC 7208 section 7.3), in '" + text + "'");
    }
    int i = from + 1;
    int rightParts = 0;
    int digits = 0;
    while (i < to && text.charAt(i) >= '0' && text.charAt(i) <= '9') {
      rightParts = Math.min(MAX_RIGHT_PARTS, rightParts * 10 + (text.charAt(i) - '0'));
      digits++;
      i++;
    }
    if (digits > 0 && rightParts == 0) return new Parsed.Invalid<>("macro transformer 0 in '" + text + "' (RFC 7208 section 7.3: nonzero)");
    boolean reverse = false;
    if (i < to && (text.charAt(i) == 'r' || text.charAt(i) == 'R')) {
      reverse = true;
      i++;
    }
    String delimiters = null;
    if (i < to) {
      for (int j = i; j < to; j++) {
        if (".-+,/_=".indexOf(text.charAt(j)) < 0) {
          return new Parsed.Invalid<>("'" + describe(text.charAt(j)) + "' is no macro delimiter, in '" + text + "'");
        }
      }
      delimiters = text.substring(i, to);
    }
    return new Parsed.Valid<>(new Macro(letter, Character.isUpperCase(written), rightParts, reverse, delimiters));
  }

  /**
   * RFC 7208 §7.1 {@code domain-end = ( "." toplabel [ "." ] ) / macro-expand}: null when the
   * domain-spec ends well, else why not. {@code afterLastMacro} is where the literal tail begins
   * (-1 when there is no macro).
   */
  private static String domainEndProblem(String text, int afterLastMacro) {
    if (afterLastMacro == text.length()) return null; // ends in a macro-expand
    int tailStart = Math.max(0, afterLastMacro);
    int end = text.length();
    if (text.charAt(end - 1) == '.') end--;
    int dot = text.lastIndexOf('.', end - 1);
    if (dot < tailStart) return "domain-spec '" + text + "' does not end in '.' and a top-level label";
    String top = text.substring(dot + 1, end);
    if (!isTopLabel(top)) return "'" + top + "' in '" + text + "' is not a valid top-level label";
    return null;
  }

  /** {@code toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )}: not all digits, no dash first or last. */
  static boolean isTopLabel(String label) {
    if (label.isEmpty()) return false;
    boolean alpha = false;
    boolean dash = false;
    for (int i = 0; i < label.length(); i++) {
      char c = label.charAt(i);
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) alpha = true;
      else if (c == '-') dash = true;
      else if (c < '0' || c > '9') return false;
    }
    if (dash) return label.charAt(0) != '-' && label.charAt(label.length() - 1) != '-';
    return alpha;
  }

  /** The expansion with {@code values}, at the current {@code domain} (§7.3). */
  String expand(Values values, String domain) {
    if (constant != null) return constant;
    StringBuilder out = new StringBuilder(text.length() + 32);
    for (Part part : parts) {
      switch (part) {
        case Literal l -> out.append(l.text());
        case Macro m -> {
          String value = values.value(m.letter(), domain);
          if (m.rightParts() > 0 || m.reverse() || m.delimiters() != null) value = transform(value, m);
          if (m.escape()) urlEscape(value, out);
          else out.append(value);
        }
      }
    }
    return out.toString();
  }

  /** §7.3: split on the delimiters, reverse if asked, keep the right-hand parts, join with dots. */
  private static String transform(String value, Macro m) {
    String delimiters = m.delimiters() == null ? "." : m.delimiters();
    List<String> pieces = new ArrayList<>(8);
    int start = 0;
    for (int i = 0; i < value.length(); i++) {
      if (delimiters.indexOf(value.charAt(i)) >= 0) {
        pieces.add(value.substring(start, i));
        start = i + 1;
      }
    }
    pieces.add(value.substring(start));
    if (m.reverse()) java.util.Collections.reverse(pieces);
    int from = m.rightParts() > 0 && m.rightParts() < pieces.size() ? pieces.size() - m.rightParts() : 0;
    return String.join(".", pieces.subList(from, pieces.size()));
  }

  private static final char[] HEX = "0123456789ABCDEF".toCharArray();

  /** RFC 3986 percent-encoding of everything but the unreserved characters, over the UTF-8 octets. */
  private static void urlEscape(String value, StringBuilder out) {
    for (byte b : value.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      boolean unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '.' || c == '_' || c == '~';
      if (unreserved) {
        out.append((char) c);
      } else {
        out.append('%').append(HEX[c >> 4]).append(HEX[c & 0xf]);
      }
    }
  }

  /** A character for a reason: printable as itself, else its code. */
  static String describe(char c) {
    return c >= 0x21 && c <= 0x7e ? String.valueOf(c) : String.format("U+%04X", (int) c);
  }
}
