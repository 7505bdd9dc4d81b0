package dev.posta.queue;

import dev.posta.client.MessageWriter;
import dev.posta.mail.AddressParser;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailAddress;
import dev.posta.mail.MailDate;
import dev.posta.mail.QueueId;
import dev.posta.mail.Recipient;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * A delivery status notification (DSN): the message Posta sends back to a sender to say that
 * delivery to some recipients failed, is delayed, or succeeded. A pure builder: it reads the
 * original's content through a callback and returns the report's bytes, which the caller spools
 * and sends with the null reverse-path {@code <>} so that a failing report cannot bounce again
 * (RFC 5321 §4.5.5, §6.1).
 *
 * <p>The report is a {@code multipart/report; report-type=delivery-status} (RFC 6522) of three
 * parts: a readable explanation (Postfix-like wording), the machine-readable
 * {@code message/delivery-status} (RFC 3464) with the remote server's reply verbatim in
 * {@code Diagnostic-Code}, and the original as RET asked (RFC 3461 §4.3): the whole message as
 * {@code message/rfc822}, or only its header section as {@code text/rfc822-headers} when RET=HDRS,
 * when the original is larger than {@value #MAX_RETURNED_SIZE} octets, and for delay and success
 * reports, which need no copy of the mail to be useful.
 *
 * <p>Guarantees: every line ends in CRLF and none is longer than 998 octets (RFC 5322 §2.1.1),
 * long fields being folded at their spaces; the boundary occurs nowhere in the parts; the report
 * says {@code Auto-Submitted: auto-replied} so no vacation responder answers it (RFC 3834 §5);
 * a part holding 8-bit octets is marked {@code 8bit} (RFC 2045 §6).
 *
 * <p>Known limits: ENVID and ORCPT are written xtext-decoded (RFC 3461 §6.3) unless decoding
 * would yield control characters, in which case they are written as received. A non-ASCII
 * recipient is typed {@code utf-8} and written in the 7-bit utf-8-addr-xtext form (RFC 6533 §3),
 * still inside {@code message/delivery-status}; Posta does not produce the
 * {@code message/global-delivery-status} variant.
 */
public final class DeliveryReport {
  private DeliveryReport() {}

  /** What happened to a recipient (RFC 3464 §2.3.3), written lower-case. */
  public enum Action {
    FAILED,
    DELAYED,
    DELIVERED,
    RELAYED,
    EXPANDED;

    String keyword() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * One recipient's line in the report.
   *
   * @param status the RFC 3463 code, e.g. {@code 5.1.1}
   * @param remoteMta the host name that answered; null for local and DNS failures
   * @param diagnostic the remote reply verbatim as one line, e.g.
   *     {@code 550 5.1.1 <bob@example.org>: no such user}; null when there was none
   * @param reason Posta's readable explanation for the human part, e.g. "the recipient's server
   *     refused it"; null for a default by action
   * @param lastAttempt when delivery was last tried; may be null
   */
  public record RecipientStatus(
      Recipient recipient, Action action, String status, String remoteMta, String diagnostic, String reason,
      Instant lastAttempt) {}

  /** Above this the original goes back as headers only: a bounce should not be a second copy of a huge mail. */
  static final int MAX_RETURNED_SIZE = 10 * 1024 * 1024;
  /** A header section longer than this is cut at a line end; RFC 5322 sets no limit, Postfix 100 kB. */
  static final int MAX_HEADER_SECTION = 256 * 1024;
  /** Preferred line length of what we write ourselves (RFC 5322 §2.1.1: SHOULD be 78). */
  private static final int LINE = 78;
  /** A word longer than this (in octets) is cut, so a line stays within the 998 of RFC 5322 §2.1.1. */
  private static final int MAX_WORD = 900;

  private static final Pattern STATUS = Pattern.compile("[245]\\.\\d{1,3}\\.\\d{1,3}");
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String CRLF = "\r\n";

  /** The report's overall kind, by its most serious recipient; it picks subject, wording and what is returned. */
  private enum Kind {
    FAILURE("Undelivered Mail Returned to Sender"),
    DELAY("Delayed Mail (still being retried)"),
    SUCCESS("Successful Mail Delivery Report");

    final String subject;

    Kind(String subject) {
      this.subject = subject;
    }
  }

  /**
   * Builds the report.
   *
   * @param reportingMta this server's host name
   * @param original the envelope of the message reported on; its {@code received()} is the
   *     Arrival-Date, its sender the report's recipient
   * @param originalSize the original's size in octets, to decide whether it is returned in full
   * @param content writes the original's content
   * @param recipients one or more recipients to report on
   * @param now the report's Date
   * @throws IllegalArgumentException for the null sender (never a report on a report), no
   *     recipients, or a malformed status code
   */
  public static byte[] build(
      String reportingMta, Envelope original, long originalSize, MessageWriter content,
      List<RecipientStatus> recipients, Instant now) throws IOException {
    if (original.sender() == null) {
      throw new IllegalArgumentException("no report for the null reverse-path (RFC 5321 §4.5.5)");
    }
    if (recipients.isEmpty()) throw new IllegalArgumentException("a report needs at least one recipient");
    for (RecipientStatus r : recipients) {
      if (r.status() == null || !STATUS.matcher(r.status()).matches()) {
        throw new IllegalArgumentException("not an RFC 3463 status code: " + r.status());
      }
    }
    String host = oneLine(reportingMta);
    Kind kind = kindOf(recipients);

    // What goes back (RFC 3461 §4.3): the whole message only with a failure, unless RET=HDRS.
    boolean wantFull = kind == Kind.FAILURE && !"HDRS".equalsIgnoreCase(original.parameters().ret());
    boolean tooBig = wantFull && originalSize > MAX_RETURNED_SIZE;
    Capture capture = new Capture(!wantFull || tooBig);
    try {
      content.writeTo(capture);
    } catch (IOException e) {
      if (!capture.stopped) throw e; // else: our own stop, perhaps wrapped; we have what we need
    }
    tooBig |= wantFull && capture.overflow;
    boolean full = wantFull && !tooBig;
    byte[] returned = full ? capture.all() : capture.headerSection();

    byte[] notice = notice(host, kind, full, tooBig, originalSize, recipients).getBytes(StandardCharsets.UTF_8);
    byte[] status = deliveryStatus(host, original, recipients).getBytes(StandardCharsets.UTF_8);
    String boundary = boundary(original.id(), notice, status, returned);

    var out = new ByteArrayOutputStream(returned.length + notice.length + status.length + 2048);
    boolean eightBit = has8Bit(notice) || has8Bit(status) || has8Bit(returned);
    var h = new StringBuilder(512);
    h.append("From: Mail Delivery System <MAILER-DAEMON@").append(host).append('>').append(CRLF);
    h.append("To: <").append(original.sender()).append('>').append(CRLF);
    h.append("Subject: ").append(kind.subject).append(CRLF);
    h.append("Date: ").append(MailDate.format(now)).append(CRLF);
    h.append("Message-ID: <").append(original.id()).append('.').append(randomHex(8)).append('@').append(host)
        .append('>').append(CRLF);
    h.append("Auto-Submitted: auto-replied").append(CRLF); // RFC 3834 §5
    h.append("MIME-Version: 1.0").append(CRLF);
    h.append("Content-Type: multipart/report; report-type=delivery-status;").append(CRLF);
    h.append("\tboundary=\"").append(boundary).append('"').append(CRLF);
    if (eightBit) h.append("Content-Transfer-Encoding: 8bit").append(CRLF); // RFC 2045 §6.4: as its parts
    h.append(CRLF);
    h.append("This is a MIME-encapsulated message.").append(CRLF);
    write(out, h);

    part(out, boundary, "Notification", "text/plain; charset=utf-8", notice);
    part(out, boundary, "Delivery report", "message/delivery-status", status);
    part(out, boundary, full ? "Undelivered Message" : "Message Headers",
        full ? "message/rfc822" : "text/rfc822-headers", returned);
    write(out, CRLF + "--" + boundary + "--" + CRLF);
    return out.toByteArray();
  }

  private static Kind kindOf(List<RecipientStatus> recipients) {
    Kind kind = Kind.SUCCESS;
    for (RecipientStatus r : recipients) {
      if (r.action() == Action.FAILED) return Kind.FAILURE;
      if (r.action() == Action.DELAYED) kind = Kind.DELAY;
    }
    return kind;
  }

  /** One body part. The CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1), so the body stays exact. */
  private static void part(ByteArrayOutputStream out, String boundary, String description, String type, byte[] body) {
    var h = new StringBuilder(160);
    h.append(CRLF).append("--").append(boundary).append(CRLF);
    h.append("Content-Description: ").append(description).append(CRLF);
    h.append("Content-Type: ").append(type).append(CRLF);
    if (has8Bit(body)) h.append("Content-Transfer-Encoding: 8bit").append(CRLF);
    h.append(CRLF);
    write(out, h);
    out.writeBytes(body);
  }

  // --- part 1: for people ---------------------------------------------------------------------

  private static String notice(
      String host, Kind kind, boolean full, boolean tooBig, long originalSize, List<RecipientStatus> recipients) {
    var s = new StringBuilder(1024);
    s.append("This is the mail system at host ").append(host).append('.').append(CRLF).append(CRLF);
    switch (kind) {
      case FAILURE -> {
        paragraph(s, "I'm sorry to have to inform you that your message could not be delivered to one or more "
            + "recipients. " + (full ? "It's attached below."
                : tooBig ? "It was too large to return in full (" + originalSize + " bytes); its headers are "
                    + "attached below."
                : "Its headers are attached below."));
        paragraph(s, "For further assistance, please send mail to postmaster.");
        paragraph(s, "If you do so, please include this problem report. You can delete your own text from the "
            + "attached returned message.");
      }
      case DELAY -> {
        s.append("####################################################################").append(CRLF);
        s.append("# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #").append(CRLF);
        s.append("####################################################################").append(CRLF);
        s.append(CRLF);
        paragraph(s, "Your message could not yet be delivered to one or more recipients. The mail system is "
            + "still trying and will tell you if it gives up. Its headers are attached below.");
      }
      case SUCCESS -> paragraph(s, "Your message was successfully delivered to the destinations listed below. "
          + "If the message was delivered to a mailbox you will receive no further notifications. Otherwise you "
          + "may still receive notifications of mail delivery errors from other systems.");
    }
    s.append("                   The mail system").append(CRLF);
    for (RecipientStatus r : recipients) {
      s.append(CRLF);
      String reason = r.reason() != null ? r.reason() : defaultReason(r.action());
      wrap(s, "", "<" + r.recipient().address() + ">: " + oneLine(reason), "    ");
      if (r.diagnostic() != null) {
        String who = r.remoteMta() != null ? "host " + oneLine(r.remoteMta()) : "the server";
        wrap(s, "    ", who + " said: " + oneLine(r.diagnostic()), "    ");
      }
    }
    return s.toString();
  }

  private static String defaultReason(Action action) {
    return switch (action) {
      case FAILED -> "delivery failed";
      case DELAYED -> "delivery is delayed; still trying";
      case DELIVERED -> "delivered";
      case RELAYED -> "relayed to a server that does not send delivery reports";
      case EXPANDED -> "delivered to the members of a list or alias";
    };
  }

  private static void paragraph(StringBuilder s, String text) {
    wrap(s, "", text, "");
    s.append(CRLF);
  }

  /**
   * Word-wraps {@code text} after {@code prefix} to {@link #LINE} columns where the words allow;
   * continuation lines start with {@code indent}.
   */
  private static void wrap(StringBuilder s, String prefix, String text, String indent) {
    var line = new StringBuilder(LINE).append(prefix);
    boolean empty = true; // the line holds no word yet
    for (String word : text.strip().split(" +")) {
      for (String piece : cut(word)) {
        if (!empty && utf8Length(line) + 1 + utf8Length(piece) > LINE) {
          s.append(line).append(CRLF);
          line.setLength(0);
          line.append(indent);
          empty = true;
        }
        if (!empty) line.append(' ');
        line.append(piece);
        empty = false;
      }
    }
    s.append(line).append(CRLF);
  }

  // --- part 2: for programs (RFC 3464) ---------------------------------------------------------

  private static String deliveryStatus(String host, Envelope original, List<RecipientStatus> recipients) {
    var s = new StringBuilder(512);
    field(s, "Reporting-MTA", "dns; " + host);
    String envid = original.parameters().envelopeId();
    if (envid != null) field(s, "Original-Envelope-Id", xtextDecoded(envid)); // RFC 3461 §6.3 (a)
    field(s, "Arrival-Date", MailDate.format(original.received()));
    for (RecipientStatus r : recipients) {
      s.append(CRLF); // a blank line before each recipient's block (RFC 3464 §2.1)
      String orcpt = r.recipient().parameters().originalRecipient();
      if (orcpt != null) field(s, "Original-Recipient", originalRecipient(orcpt)); // RFC 3461 §6.3 (d)
      field(s, "Final-Recipient", typedAddress(r.recipient().address()));
      field(s, "Action", r.action().keyword());
      field(s, "Status", r.status());
      if (r.remoteMta() != null) field(s, "Remote-MTA", "dns; " + oneLine(r.remoteMta()));
      if (r.diagnostic() != null) field(s, "Diagnostic-Code", "smtp; " + oneLine(r.diagnostic()));
      if (r.lastAttempt() != null) field(s, "Last-Attempt-Date", MailDate.format(r.lastAttempt()));
    }
    return s.toString();
  }

  /**
   * Writes {@code name: value}, folded before spaces so lines stay near 78 octets and under 998
   * (RFC 5322 §2.2.3, RFC 3464 §2.1.3). Unfolding gives the value back, except for a word longer
   * than {@link #MAX_WORD} octets, which must be cut with a folding space of its own.
   */
  private static void field(StringBuilder s, String name, String value) {
    var line = new StringBuilder(LINE).append(name).append(':');
    boolean empty = true; // the line holds no piece of the value yet
    // Words keep their leading spaces, so a fold goes where a space already was.
    for (String word : value.strip().split("(?<=[^ ])(?= )")) {
      List<String> pieces = cut(word);
      for (int i = 0; i < pieces.size(); i++) {
        String piece = pieces.get(i).startsWith(" ") ? pieces.get(i) : " " + pieces.get(i);
        if (!empty && utf8Length(line) + utf8Length(piece) > LINE) {
          s.append(line).append(CRLF); // the next line starts with the piece's space: a fold
          line.setLength(0);
        }
        line.append(piece);
        empty = false;
      }
    }
    s.append(line).append(CRLF);
  }

  /** {@code rfc822; addr}, or {@code utf-8; } with the utf-8-addr-xtext form for a non-ASCII one (RFC 6533 §3). */
  static String typedAddress(MailAddress address) {
    String a = address.toString();
    if (!address.isUtf8()) return "rfc822; " + a;
    var s = new StringBuilder(a.length() * 2);
    a.codePoints().forEach(c -> {
      // QCHAR: printable ASCII except '+', '=' and '\'; everything else as \x{HEX}.
      if (c > 0x20 && c < 0x7f && c != '+' && c != '=' && c != '\\') s.appendCodePoint(c);
      else s.append("\\x{").append(Integer.toHexString(c).toUpperCase(Locale.ROOT)).append('}');
    });
    return "utf-8; " + s;
  }

  /** ORCPT's {@code addr-type;xtext} with the xtext decoded, except for utf-8, whose encoding is its own. */
  private static String originalRecipient(String orcpt) {
    int semi = orcpt.indexOf(';');
    if (semi < 0 || orcpt.regionMatches(true, 0, "utf-8", 0, semi)) return orcpt;
    return orcpt.substring(0, semi + 1) + xtextDecoded(orcpt.substring(semi + 1));
  }

  /**
   * Decodes xtext (RFC 3461 §4: {@code +HH} for an octet); returns {@code xtext} unchanged when
   * it is malformed or decodes to control characters, which must not reach a header field.
   */
  static String xtextDecoded(String xtext) {
    var bytes = new ByteArrayOutputStream(xtext.length());
    for (int i = 0; i < xtext.length(); i++) {
      char c = xtext.charAt(i);
      if (c == '+') {
        if (i + 2 >= xtext.length()) return xtext;
        int hi = Character.digit(xtext.charAt(i + 1), 16), lo = Character.digit(xtext.charAt(i + 2), 16);
        if (hi < 0 || lo < 0) return xtext;
        bytes.write(hi << 4 | lo);
        i += 2;
      } else {
        if (c > 0x7f) return xtext;
        bytes.write(c);
      }
    }
    String decoded = bytes.toString(StandardCharsets.UTF_8);
    for (int i = 0; i < decoded.length(); i++) {
      char c = decoded.charAt(i);
      if (c < 0x20 || c == 0x7f || c == '\ufffd') return xtext;
    }
    return decoded;
  }

  // --- part 3: the original -------------------------------------------------------------------

  /**
   * Takes the original's content as the source writes it: all of it up to
   * {@link #MAX_RETURNED_SIZE}, or only as far as the end of the header section. Once it has
   * enough it stops the source by throwing, so a large message is not read to no purpose.
   */
  private static final class Capture implements WritableByteChannel {
    private final boolean headersOnly;
    private final int limit;
    private byte[] buf = new byte[8192];
    private int count;
    /** Start of the line being scanned for the empty line that ends the header section. */
    private int lineStart;
    private int scanned;
    /** Offset of the empty line ending the header section, -1 until seen. */
    private int headerEnd = -1;
    boolean overflow;
    boolean stopped;

    Capture(boolean headersOnly) {
      this.headersOnly = headersOnly;
      this.limit = headersOnly ? MAX_HEADER_SECTION : MAX_RETURNED_SIZE;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      int n = src.remaining();
      if (stopped) { // a source that swallowed our stop: discard the rest
        src.position(src.limit());
        return n;
      }
      int take = Math.min(n, limit - count);
      if (count + take > buf.length) {
        buf = Arrays.copyOf(buf, Math.min(limit, Math.max(count + take, buf.length * 2)));
      }
      src.get(buf, count, take);
      count += take;
      scanHeaderSection();
      if (headersOnly && headerEnd >= 0) stop();
      if (take < n) {
        overflow = true;
        stop();
      }
      return n;
    }

    private void scanHeaderSection() {
      for (int i = scanned; headerEnd < 0 && i < count; i++) {
        if (buf[i] != '\n') continue;
        boolean empty = i == lineStart || (i == lineStart + 1 && buf[lineStart] == '\r');
        if (empty) headerEnd = lineStart;
        else lineStart = i + 1;
      }
      scanned = count;
    }

    private void stop() throws IOException {
      stopped = true;
      throw new Enough();
    }

    byte[] all() {
      return Arrays.copyOf(buf, count);
    }

    /**
     * The header lines, each with its CRLF, without the empty line after them; cut at a line
     * end within {@link #MAX_HEADER_SECTION} octets.
     */
    byte[] headerSection() {
      int end = headerEnd >= 0 ? headerEnd : overflow ? lineStart : count;
      if (end > MAX_HEADER_SECTION) {
        end = 0;
        for (int i = MAX_HEADER_SECTION - 1; i >= 0 && end == 0; i--) if (buf[i] == '\n') end = i + 1;
      }
      if (end == 0 || buf[end - 1] == '\n') return Arrays.copyOf(buf, end);
      // All headers, no body, and no line end at the very end: end it like a line.
      byte[] out = Arrays.copyOf(buf, end + 2);
      out[end] = '\r';
      out[end + 1] = '\n';
      return out;
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() {}
  }

  /** Thrown into the content source to stop it; carries no stack, it is no error. */
  private static final class Enough extends IOException {
    Enough() {
      super("enough of the original read");
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  }

  // --- helpers --------------------------------------------------------------------------------

  /**
   * A boundary with a random part, checked against every part: the parts are all in hand, so
   * a collision is certain to be caught, not merely unlikely ({@code =_} also cannot occur in
   * quoted-printable or base64 text, RFC 2045 §6.7).
   */
  private static String boundary(QueueId id, byte[]... parts) {
    while (true) {
      String b = "=_" + id + "/" + randomHex(12);
      byte[] bytes = b.getBytes(StandardCharsets.US_ASCII);
      boolean clash = false;
      for (byte[] p : parts) clash |= indexOf(p, bytes) >= 0;
      if (!clash) return b;
    }
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i <= haystack.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
      return i;
    }
    return -1;
  }

  private static String randomHex(int bytes) {
    byte[] b = new byte[bytes];
    RANDOM.nextBytes(b);
    return HexFormat.of().withUpperCase().formatHex(b);
  }

  private static boolean has8Bit(byte[] b) {
    for (byte x : b) if (x < 0) return true;
    return false;
  }

  /** Text from outside (remote replies, host names) on one line: no CR, LF or other controls. */
  private static String oneLine(String s) {
    var out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      out.append(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    return out.toString().strip();
  }

  /** {@code word} in pieces of at most {@link #MAX_WORD} octets, cut between code points. */
  private static List<String> cut(String word) {
    if (utf8Length(word) <= MAX_WORD) return List.of(word);
    var pieces = new ArrayList<String>();
    var piece = new StringBuilder();
    int octets = 0;
    for (int i = 0; i < word.length(); ) {
      int c = word.codePointAt(i);
      int n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      if (octets + n > MAX_WORD) {
        pieces.add(piece.toString());
        piece.setLength(0);
        octets = 0;
      }
      piece.appendCodePoint(c);
      octets += n;
      i += Character.charCount(c);
    }
    pieces.add(piece.toString());
    return pieces;
  }

  private static int utf8Length(CharSequence s) {
    return AddressParser.utf8Length(s.toString());
  }

  private static void write(ByteArrayOutputStream out, CharSequence s) {
    out.writeBytes(s.toString().getBytes(StandardCharsets.UTF_8));
  }
}
