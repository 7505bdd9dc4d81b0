package dev.posta.web.api;

import dev.posta.mail.QuotedPrintable;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.james.mime4j.codec.EncoderUtil;
import org.apache.james.mime4j.dom.address.Mailbox;
import org.apache.james.mime4j.field.address.AddressFormatter;

/**
 * A message as its writer gives it, checked already: sender, recipients, subject, text, HTML,
 * attachments and any more header fields; written as an Internet message (RFC 5322) with MIME
 * (RFC 2045-2049). The API's JSON ({@link SendRequest}) and the web view's compose form both
 * come here, so a message is written one way whichever face sent it.
 *
 * <p>Text alone is a text/plain message; text and HTML, multipart/alternative; attachments wrap
 * that in multipart/mixed. Text is UTF-8: 7bit when it is ASCII with short lines, else
 * quoted-printable; attachments are base64, except a message/rfc822 one (a forwarded message),
 * which RFC 2046 §5.2.1 allows only as 7bit or 8bit: its line ends become CRLF and it goes as it
 * is. Non-ASCII in the subject and names is written as encoded words (RFC 2047), in file names as
 * RFC 2231 parameters. Bcc recipients are envelope recipients, and in the header only of the copy
 * the sender keeps ({@link #message}{@code (true)}, RFC 5322 §3.6.3).
 *
 * @param fields more header fields, each whole and CRLF-ended ({@code "Reply-To: a@example.org\r\n"}), written after Subject
 */
public record Draft(Mailbox from, List<Mailbox> to, List<Mailbox> cc, List<Mailbox> bcc, String subject, String text, String html,
    List<Attachment> attachments, List<String> fields) {

  /** A file to attach: its name as the reader sees it, its MIME type, its content. */
  public record Attachment(String filename, String contentType, byte[] content) {}

  public Draft {
    to = List.copyOf(to);
    cc = List.copyOf(cc);
    bcc = List.copyOf(bcc);
    attachments = List.copyOf(attachments);
    fields = List.copyOf(fields);
  }

  /** The envelope's recipients: To, Cc and Bcc, in that order. */
  public List<String> recipients() {
    List<String> recipients = new ArrayList<>();
    for (List<Mailbox> list : List.of(to, cc, bcc)) for (Mailbox m : list) recipients.add(m.getAddress());
    return recipients;
  }

  /** The message, CRLF line ends; {@code withBcc}: with a Bcc field naming the blind copies, for the sender's own copy. */
  public byte[] message(boolean withBcc) {
    var head = new StringBuilder();
    head.append("From: ").append(AddressFormatter.DEFAULT.encode(from)).append("\r\n");
    if (!to.isEmpty()) head.append(addressField("To", to));
    if (!cc.isEmpty()) head.append(addressField("Cc", cc));
    if (withBcc && !bcc.isEmpty()) head.append(addressField("Bcc", bcc));
    if (subject != null) head.append("Subject: ").append(words(subject, 9)).append("\r\n");
    fields.forEach(head::append);
    head.append("MIME-Version: 1.0\r\n");

    List<Part> bodies = new ArrayList<>();
    if (text != null || html == null && attachments.isEmpty()) bodies.add(textPart("plain", text == null ? "" : text));
    if (html != null) bodies.add(textPart("html", html));
    Part body = bodies.isEmpty() ? null : bodies.size() == 1 ? bodies.getFirst() : multipart("alternative", bodies);
    if (!attachments.isEmpty()) {
      List<Part> mixed = new ArrayList<>();
      if (body != null) mixed.add(body);
      for (Attachment a : attachments) mixed.add(attachmentPart(a));
      body = multipart("mixed", mixed);
    }
    var out = new ByteArrayOutputStream();
    out.writeBytes(head.toString().getBytes(StandardCharsets.UTF_8));
    out.writeBytes(body.headers().getBytes(StandardCharsets.US_ASCII));
    out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
    out.writeBytes(body.content());
    return out.toByteArray();
  }

  /** A MIME entity: its Content-* fields (CRLF-ended) and its encoded content, without a line end of its own at the end. */
  private record Part(String headers, byte[] content) {}

  private static Part textPart(String subtype, String text) {
    String normalized = text.replace("\r\n", "\n").replace('\r', '\n');
    String[] lines = normalized.split("\n", -1);
    boolean plain = normalized.chars().allMatch(c -> c < 128 && c != 0) && java.util.Arrays.stream(lines).allMatch(l -> l.length() <= 76);
    var out = new ByteArrayOutputStream();
    if (plain) {
      for (int i = 0; i < lines.length; i++) {
        if (i > 0) out.writeBytes(new byte[] {'\r', '\n'});
        out.writeBytes(lines[i].getBytes(StandardCharsets.US_ASCII));
      }
      return new Part("Content-Type: text/" + subtype + "; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n", out.toByteArray());
    }
    QuotedPrintable qp = new QuotedPrintable(out);
    try {
      for (int i = 0; i < lines.length; i++) {
        if (i > 0) qp.lineBreak();
        byte[] b = lines[i].getBytes(StandardCharsets.UTF_8);
        qp.line(b, 0, b.length);
      }
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e); // a ByteArrayOutputStream does not fail
    }
    return new Part("Content-Type: text/" + subtype + "; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n", out.toByteArray());
  }

  private static Part multipart(String subtype, List<Part> parts) {
    byte[] random = new byte[12];
    ThreadLocalRandom.current().nextBytes(random);
    String boundary = "=_posta_" + HexFormat.of().formatHex(random); // "=_" never occurs in base64 or quoted-printable text
    var out = new ByteArrayOutputStream();
    // The line end before each delimiter belongs to the delimiter (RFC 2046 §5.1.1), so a part's
    // content ends where its text ends: a text ending in a line break keeps it.
    for (int i = 0; i < parts.size(); i++) {
      Part p = parts.get(i);
      out.writeBytes(((i == 0 ? "--" : "\r\n--") + boundary + "\r\n" + p.headers() + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.writeBytes(p.content());
    }
    out.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII));
    return new Part("Content-Type: multipart/" + subtype + "; boundary=\"" + boundary + "\"\r\n", out.toByteArray());
  }

  private static Part attachmentPart(Attachment a) {
    String type = a.contentType().toLowerCase(Locale.ROOT);
    String disposition = "Content-Disposition: attachment; " + filenameParameter(a.filename()) + "\r\n";
    if (type.equals("message/rfc822")) {
      // RFC 2046 §5.2.1: no base64 here. CRLF line ends; 8bit when it has 8-bit octets (as it came).
      var out = new ByteArrayOutputStream(a.content().length + 1024);
      byte[] c = a.content();
      boolean eightBit = false;
      for (int i = 0; i < c.length; i++) {
        byte b = c[i];
        if (b == '\r') {
          out.write('\r');
          out.write('\n');
          if (i + 1 < c.length && c[i + 1] == '\n') i++;
        } else if (b == '\n') {
          out.write('\r');
          out.write('\n');
        } else {
          eightBit |= b < 0;
          out.write(b);
        }
      }
      // Its last line end stays: the delimiter brings one of its own, so the message is there octet for octet.
      return new Part("Content-Type: message/rfc822; name=" + nameParameter(a.filename()) + "\r\n" + disposition
          + "Content-Transfer-Encoding: " + (eightBit ? "8bit" : "7bit") + "\r\n", out.toByteArray());
    }
    String encoded = Base64.getMimeEncoder(76, new byte[] {'\r', '\n'}).encodeToString(a.content());
    String headers = "Content-Type: " + type + "; name=" + nameParameter(a.filename()) + "\r\n" + disposition
        + "Content-Transfer-Encoding: base64\r\n";
    return new Part(headers, encoded.getBytes(StandardCharsets.US_ASCII));
  }

  /** The old {@code name} parameter, which some readers still look for: quoted ASCII, else an encoded word. */
  private static String nameParameter(String filename) {
    if (filename.chars().allMatch(c -> c >= 32 && c < 127)) return quoted(filename);
    return "\"" + words(filename, 0) + "\"";
  }

  /** Text as it is when it can be, else as UTF-8 encoded words (RFC 2047), B or Q whichever is shorter. */
  static String words(String text, int used) {
    if (!EncoderUtil.hasToBeEncoded(text, used)) return text;
    return EncoderUtil.encodeEncodedWord(text, EncoderUtil.Usage.TEXT_TOKEN, used, StandardCharsets.UTF_8, null);
  }

  /** RFC 2183's filename, in RFC 2231's {@code filename*=utf-8''...} form when not ASCII. */
  private static String filenameParameter(String filename) {
    if (filename.chars().allMatch(c -> c >= 32 && c < 127)) return "filename=" + quoted(filename);
    var s = new StringBuilder("filename*=utf-8''");
    for (byte b : filename.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xff;
      if (c < 128 && (Character.isLetterOrDigit(c) || "!#$&+-.^_`|~".indexOf(c) >= 0)) s.append((char) c);
      else s.append('%').append(HexFormat.of().withUpperCase().toHexDigits((byte) c));
    }
    return s.toString();
  }

  private static String quoted(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  private static String addressField(String name, List<Mailbox> list) {
    var s = new StringBuilder(name).append(": ");
    for (int i = 0; i < list.size(); i++) {
      if (i > 0) s.append(",\r\n ");
      s.append(AddressFormatter.DEFAULT.encode(list.get(i)));
    }
    return s.append("\r\n").toString();
  }
}
