package dev.posta.web.message;

import java.util.Locale;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CSS of a message's HTML part (style elements and attributes) with everything that could run
 * script or fetch what the reader did not ask for taken out: IE's {@code expression()} and
 * {@code behavior}, Mozilla's {@code -moz-binding}, {@code javascript:} and {@code vbscript:}
 * URLs, {@code @import}, {@code image-set()} (which fetches bare strings). Each {@code url()}
 * is put to the caller's policy, which gives the URL to keep or null for none.
 *
 * <p>The CSS is first brought to the form the browser would read: comments removed, escapes
 * ({@code \65 xpression}) decoded. What comes out is that form, so no escape or comment can
 * hide a word from the checks; what still holds a backslash or a comment after one round of
 * decoding (a double escape) is dropped. A {@code <} never comes out (a style element cannot
 * be closed from inside). The unit dropped is one declaration or selector: the text between
 * two of {@code ; { }}.
 */
final class CssFilter {
  private CssFilter() {}

  private static final Pattern COMMENT = Pattern.compile("/\\*.*?(?:\\*/|$)", Pattern.DOTALL);
  private static final Pattern ESCAPE = Pattern.compile("\\\\(?:([0-9a-fA-F]{1,6})[ \\t\\n\\f]?|\\n|(.))", Pattern.DOTALL);
  private static final Pattern URL = Pattern.compile("(?i)url\\(\\s*(?:\"([^\"]*)\"|'([^']*)'|([^)\"'\\s]*))\\s*\\)");
  private static final String[] FORBIDDEN = {"expression", "javascript:", "vbscript:", "livescript:", "behavior", "-moz-binding", "@import",
      "image-set(", "image(", "cross-fade(", "element(", "\\", "/*", "*/", "<!--", "-->", "src(", "@charset", "@namespace"};

  /**
   * The filtered CSS.
   *
   * @param url for each {@code url(...)}: the URL to keep, or null to put {@code none} in its place
   */
  static String filter(String css, Function<String, String> url) {
    String plain = unescape(COMMENT.matcher(css).replaceAll(" "));
    StringBuilder out = new StringBuilder(plain.length());
    int start = 0;
    for (int i = 0; i <= plain.length(); i++) {
      if (i < plain.length() && ";{}".indexOf(plain.charAt(i)) < 0) continue;
      String unit = plain.substring(start, i);
      out.append(safe(unit, url));
      if (i < plain.length()) out.append(plain.charAt(i));
      start = i + 1;
    }
    return out.toString().replace("<", "\\3c ");
  }

  private static String safe(String unit, Function<String, String> url) {
    Matcher m = URL.matcher(unit);
    StringBuilder b = new StringBuilder();
    int kept = 0;
    while (m.find()) {
      String target = m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3);
      String to = url.apply(target.strip());
      if (to != null) kept++;
      m.appendReplacement(b, Matcher.quoteReplacement(to == null ? "none" : "url(\"" + to.replace("\"", "%22") + "\")"));
    }
    m.appendTail(b);
    String result = b.toString();
    String squeezed = result.toLowerCase(Locale.ROOT).replaceAll("[\\s\\x00-\\x1f]+", "");
    for (String word : FORBIDDEN) {
      if (squeezed.contains(word)) return "";
    }
    // Every "url(" left must be one the policy kept, not one the pattern could not read.
    if (squeezed.split("url\\(", -1).length - 1 != kept) return "";
    return result;
  }

  /** CSS escapes decoded (CSS Syntax §4.3.7), NUL and surrogates as U+FFFD. */
  static String unescape(String css) {
    Matcher m = ESCAPE.matcher(css);
    StringBuilder b = new StringBuilder();
    while (m.find()) {
      String r;
      if (m.group(1) != null) {
        int c = Integer.parseInt(m.group(1), 16);
        r = c == 0 || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) ? "\uFFFD" : Character.toString(c);
      } else if (m.group(2) != null) {
        r = m.group(2);
      } else {
        r = ""; // an escaped line end is nothing
      }
      m.appendReplacement(b, Matcher.quoteReplacement(r));
    }
    m.appendTail(b);
    return b.toString().replace('\0', '\uFFFD');
  }
}
