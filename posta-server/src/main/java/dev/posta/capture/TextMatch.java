package dev.posta.capture;

import java.util.Locale;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * How a query matches one text of a captured message (an address, a subject): equal to a value,
 * containing it, or a regular expression found in it. Addresses are compared without regard to
 * case ({@link #matchesAddress}), as their domains are (RFC 5321 §2.4) and as capture mode files
 * mailboxes; a subject is compared as written.
 */
public sealed interface TextMatch {
  /** The text is exactly {@code value}. */
  record EqualTo(String value) implements TextMatch {
    public EqualTo {
      Objects.requireNonNull(value, "value");
    }

    @Override
    public boolean matches(String text) {
      return text != null && text.equals(value);
    }

    @Override
    public boolean matchesAddress(String address) {
      return address != null && address.equalsIgnoreCase(value);
    }

    @Override
    public String toString() {
      return "equal to \"" + value + "\"";
    }
  }

  /** The text contains {@code value}. */
  record Contains(String value) implements TextMatch {
    public Contains {
      Objects.requireNonNull(value, "value");
    }

    @Override
    public boolean matches(String text) {
      return text != null && text.contains(value);
    }

    @Override
    public boolean matchesAddress(String address) {
      return address != null && address.toLowerCase(Locale.ROOT).contains(value.toLowerCase(Locale.ROOT));
    }

    @Override
    public String toString() {
      return "containing \"" + value + "\"";
    }
  }

  /** The regular expression is found somewhere in the text ({@link java.util.regex.Matcher#find}). */
  record Matching(Pattern pattern) implements TextMatch {
    public Matching {
      Objects.requireNonNull(pattern, "pattern");
    }

    @Override
    public boolean matches(String text) {
      return text != null && pattern.matcher(text).find();
    }

    @Override
    public boolean matchesAddress(String address) {
      return matches(address);
    }

    @Override
    public String toString() {
      return "matching /" + pattern.pattern() + "/";
    }
  }

  /** Whether {@code text} (null: absent, never matched) matches. */
  boolean matches(String text);

  /** Whether an address matches, compared without regard to case (a pattern decides for itself). */
  boolean matchesAddress(String address);

  static TextMatch equalTo(String value) {
    return new EqualTo(value);
  }

  static TextMatch contains(String value) {
    return new Contains(value);
  }

  /** @throws java.util.regex.PatternSyntaxException when {@code regex} is none */
  static TextMatch matching(String regex) {
    return new Matching(Pattern.compile(regex));
  }

  static TextMatch matching(Pattern pattern) {
    return new Matching(pattern);
  }
}
