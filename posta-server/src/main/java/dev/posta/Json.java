package dev.posta;

/**
 * JSON strings (RFC 8259 §7) as Posta writes them: in the log's JSON lines ({@link LogEncoder})
 * and in {@code posta queue list --json}. Quotes, backslashes and control characters are
 * escaped, so that a parser gives back the text exactly.
 */
public final class Json {
  private Json() {}

  /**
   * {@code text} as a JSON string in ASCII: everything but printable ASCII escaped too, so the
   * output is the same whatever the terminal's encoding, and a lone surrogate cannot make it
   * invalid UTF-8.
   */
  public static String ascii(String text) {
    return append(text, true, new StringBuilder(text.length() + 2)).toString();
  }

  /**
   * Appends {@code text} as a JSON string that keeps non-ASCII text as it is (the log is UTF-8);
   * U+2028 and U+2029 are escaped too, being line ends to JavaScript.
   */
  public static void append(String text, StringBuilder out) {
    append(text, false, out);
  }

  private static StringBuilder append(String text, boolean asciiOnly, StringBuilder s) {
    s.append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> s.append("\\\"");
        case '\\' -> s.append("\\\\");
        case '\n' -> s.append("\\n");
        case '\r' -> s.append("\\r");
        case '\t' -> s.append("\\t");
        default -> {
          boolean escaped = asciiOnly ? c < 0x20 || c >= 0x7F : c < 0x20 || c == 0x2028 || c == 0x2029;
          if (escaped) s.append("\\u%04x".formatted((int) c));
          else s.append(c);
        }
      }
    }
    return s.append('"');
  }
}
