package dev.posta.screen;

/**
 * A DNS list's TXT text made fit for an SMTP reply line and a log line: the TXT record is the
 * list operator's (or anyone's, for a hostile zone), so only printable US-ASCII is kept (RFC 5321
 * §4.2: reply text is printable ASCII; CR and LF would start a reply of our making), runs of
 * anything else become one space, and it is cut to {@link #MAX} characters. Pure.
 */
public final class ListText {
  /** Long enough for a lookup URL; short enough that the reply line stays far under 512 octets. */
  public static final int MAX = 200;

  private ListText() {}

  /** The text, printable and bounded; empty when nothing printable is left. */
  public static String sanitize(String txt) {
    StringBuilder out = new StringBuilder(Math.min(txt.length(), MAX));
    boolean space = false;
    for (int i = 0; i < txt.length(); i++) {
      char c = txt.charAt(i);
      if (c <= ' ' || c >= 127) {
        space = !out.isEmpty();
        continue;
      }
      if (out.length() + (space ? 2 : 1) > MAX) break;
      if (space) out.append(' ');
      out.append(c);
      space = false;
    }
    return out.toString();
  }

  /** {@code text} (already {@linkplain #sanitize sanitized}) in at most {@code room} characters: cut, without a trailing space; empty when there is no room. */
  public static String cut(String text, int room) {
    if (text.length() <= room) return text;
    return room <= 0 ? "" : text.substring(0, room).stripTrailing();
  }
}
