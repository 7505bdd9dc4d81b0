package dev.posta.web.message;

/**
 * Unwraps text/plain; format=flowed (RFC 3676 §4): a line ending in a space is soft-broken and
 * joins the next line of the same quote depth; space-stuffing is undone; quoted lines keep
 * their depth as {@code "> "} markers; the signature separator {@code "-- "} is never joined.
 * With {@code DelSp=yes} the space that marked a soft break is deleted (§4.2).
 */
final class FlowedText {
  private FlowedText() {}

  static String unwrap(String text, boolean delSp) {
    StringBuilder out = new StringBuilder(text.length());
    StringBuilder paragraph = null;
    int paragraphDepth = 0;
    String[] lines = text.split("\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i];
      if (i == lines.length - 1 && line.isEmpty()) break; // the text's final line end
      int depth = 0;
      while (depth < line.length() && line.charAt(depth) == '>') depth++;
      String content = line.substring(depth);
      if (content.startsWith(" ")) content = content.substring(1); // §4.4 space-stuffing (also the space after quote marks)
      boolean soft = content.endsWith(" ") && !content.equals("-- ");
      if (paragraph != null && depth != paragraphDepth) { // §4.5: a depth change ends a paragraph, whatever the line said
        finish(out, paragraph, paragraphDepth);
        paragraph = null;
      }
      if (paragraph == null) {
        paragraph = new StringBuilder();
        paragraphDepth = depth;
      }
      paragraph.append(soft && delSp ? content.substring(0, content.length() - 1) : content);
      if (!soft) {
        finish(out, paragraph, depth);
        paragraph = null;
      }
    }
    if (paragraph != null) finish(out, paragraph, paragraphDepth);
    return out.toString();
  }

  private static void finish(StringBuilder out, StringBuilder paragraph, int depth) {
    if (depth > 0) out.append(">".repeat(depth)).append(' ');
    out.append(paragraph).append('\n');
  }
}
