package dev.posta.web.message;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;

/**
 * One part of a message that is not its text or HTML body: what the attachment list shows and
 * how the part is downloaded. {@code index} numbers the message's leaf parts from 1 in the
 * order they appear (the text and HTML bodies take numbers too), the same on every read of the
 * same message, so a download URL built from it names the same part tomorrow.
 *
 * <p>A download is always {@code Content-Disposition: attachment} with the file name twice, as
 * RFC 6266 §4.3 advises: an ASCII {@code filename} and the exact one as RFC 8187 {@code
 * filename*}. Its type is the part's own only for a few types a browser shows without running
 * anything ({@link #SHOWN_AS_IS}); everything else, HTML and SVG first of all, goes out as {@code
 * application/octet-stream}, so a part can never become a page on the web view's origin.
 *
 * @param filename the name as the message gives it (RFC 2231 and RFC 2047 decoded), or null
 * @param contentType the part's MIME type, lower case, without parameters
 * @param size the decoded size in bytes
 * @param contentId the Content-ID without its angle brackets (RFC 2392), or null
 * @param inline whether the part asks to be shown in place ({@code Content-Disposition: inline}
 *     or none, with a Content-ID): an image of the HTML part, usually
 */
public record Attachment(int index, String filename, String contentType, long size, String contentId, boolean inline) {
  /** Types served as they are: images a browser decodes itself, PDF (its own viewer) and plain text. */
  static final Set<String> SHOWN_AS_IS = Set.of("image/png", "image/gif", "image/jpeg", "image/webp", "application/pdf", "text/plain");

  /** Longest download name, in characters; a longer one is cut before its extension. */
  static final int MAX_NAME = 150;

  /** The type a download is served with: its own when on {@link #SHOWN_AS_IS}, else application/octet-stream. */
  public String servedType() {
    return SHOWN_AS_IS.contains(contentType) ? contentType : "application/octet-stream";
  }

  /** Whether the HTML part may show it as an image ({@code cid:} source): an image type served as it is. */
  public boolean isImage() {
    return contentType.startsWith("image/") && SHOWN_AS_IS.contains(contentType);
  }

  /**
   * The file name a download is saved under: the message's name without any folder part,
   * control or bidirectional-override characters or characters Windows refuses ({@code <>:"/\|?*}),
   * no leading or trailing dots or spaces, at most {@link #MAX_NAME} characters; {@code
   * part-<index>} with an extension for the type when nothing is left.
   */
  public String downloadName() {
    String name = filename == null ? "" : filename;
    name = name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
    StringBuilder b = new StringBuilder();
    name.codePoints().forEach(c -> {
      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x200e
          || c == 0x200f || c == 0x061c) return; // controls and bidi overrides ("gpj.exe" shown as "exe.jpg")
      b.appendCodePoint("<>:\"|?*".indexOf(c) >= 0 ? '_' : c);
    });
    name = b.toString().replaceAll("^[. ]+|[. ]+$", "");
    if (name.isEmpty()) return "part-" + index + extension();
    if (name.codePointCount(0, name.length()) > MAX_NAME) {
      int dot = name.lastIndexOf('.');
      String ext = dot > 0 && name.length() - dot <= 10 ? name.substring(dot) : "";
      String stem = name.substring(0, name.length() - ext.length());
      name = stem.substring(0, stem.offsetByCodePoints(0, MAX_NAME - ext.length())) + ext;
    }
    return name;
  }

  private String extension() {
    return switch (contentType) {
      case "text/plain" -> ".txt";
      case "text/html" -> ".html";
      case "message/rfc822" -> ".eml";
      case "image/png" -> ".png";
      case "image/gif" -> ".gif";
      case "image/jpeg" -> ".jpg";
      case "image/webp" -> ".webp";
      case "application/pdf" -> ".pdf";
      case "text/calendar" -> ".ics";
      default -> ".bin";
    };
  }

  /**
   * The Content-Disposition value of a download (RFC 6266): {@code attachment}, the ASCII
   * fallback name (each other character an underscore) and the exact name in UTF-8 (RFC 8187).
   */
  public String contentDisposition() {
    String name = downloadName();
    StringBuilder ascii = new StringBuilder();
    StringBuilder exact = new StringBuilder();
    name.codePoints().forEach(c -> ascii.append(c >= 0x20 && c < 0x7f ? (char) c : '_'));
    for (byte o : name.getBytes(StandardCharsets.UTF_8)) {
      int c = o & 0xff;
      // RFC 8187 §3.2.1 attr-char; everything else percent-encoded
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || "!#$&+-.^_`|~".indexOf(c) >= 0) exact.append((char) c);
      else exact.append('%').append(String.format(Locale.ROOT, "%02X", c));
    }
    return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + exact;
  }
}
