package dev.posta.web.api;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.posta.mail.AddressParser;
import dev.posta.mail.MailAddress;
import dev.posta.mail.QuotedPrintable;
import dev.posta.web.ApiError;
import dev.posta.web.Exchange;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.apache.james.mime4j.codec.EncoderUtil;
import org.apache.james.mime4j.dom.address.Mailbox;
import org.apache.james.mime4j.field.address.AddressFormatter;
import org.apache.james.mime4j.field.address.DefaultAddressParser;
import org.apache.james.mime4j.field.address.ParseException;

/**
 * A message to send, as {@code POST /api/v1/messages} gives it in JSON, checked and written as
 * an Internet message (RFC 5322) with MIME (RFC 2045-2049):
 *
 * <pre>
 * {"from": "Alice &lt;alice@example.org&gt;", "to": ["bob@example.net"], "cc": [], "bcc": [],
 *  "subject": "Hi", "text": "plain text", "html": "&lt;p&gt;HTML&lt;/p&gt;",
 *  "attachments": [{"filename": "a.pdf", "contentType": "application/pdf", "content": "BASE64"}],
 *  "headers": {"Reply-To": "help@example.org"}}
 * </pre>
 *
 * <p>{@code from} is required, and at least one recipient in {@code to}, {@code cc} or {@code
 * bcc} (each a string or a list of strings, {@code Name <address>} or a bare address); the rest
 * may be left out. Text alone is a text/plain message; text and HTML, multipart/alternative;
 * attachments wrap that in multipart/mixed. Text is UTF-8: 7bit when it is ASCII with short lines,
 * else quoted-printable; attachments are base64. Non-ASCII in the subject, names and extra
 * headers is written as encoded words (RFC 2047), in file names as RFC 2231 parameters. Bcc
 * recipients are envelope recipients only, never in the header. An unknown field, a field of the
 * wrong type, an address that is not one, bad base64, or an extra header that would clash with
 * what is written here ({@code From}, {@code To}, {@code Cc}, {@code Bcc}, {@code Subject}, {@code
 * MIME-Version}, {@code Content-*}, trace fields) is a 400 naming it. Date: and Message-ID: are
 * added on the way into the queue when not given, as for all submitted mail.
 *
 * @param sender the envelope sender, from {@code from}
 * @param recipients the envelope recipients: to, cc and bcc
 * @param message the message, CRLF line ends
 */
public record SendRequest(MailAddress sender, List<String> recipients, byte[] message) {
  static final List<String> FIELDS = List.of("from", "to", "cc", "bcc", "subject", "text", "html", "attachments", "headers");
  private static final List<String> ATTACHMENT_FIELDS = List.of("filename", "contentType", "content");
  /** Fields this class writes, or that only servers on the way may write. */
  private static final Set<String> RESERVED = Set.of("from", "to", "cc", "bcc", "subject", "mime-version", "received", "return-path",
      "dkim-signature", "authentication-results", "arc-seal", "arc-message-signature", "arc-authentication-results");
  /** RFC 5322 §3.6.8: printable ASCII but the colon. */
  private static final Pattern FIELD_NAME = Pattern.compile("[!-9;-~]{1,76}");
  /** RFC 2045 §5.1: type/subtype, tokens; parameters not taken here. */
  private static final Pattern CONTENT_TYPE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*");

  /** Reads and checks the JSON body. */
  public static SendRequest parse(byte[] json) throws ApiError {
    JsonNode root;
    try {
      root = Exchange.JSON.readTree(json);
    } catch (JsonProcessingException e) {
      JsonLocation at = e.getLocation();
      throw new ApiError(400, "the body is not valid JSON: " + e.getOriginalMessage()
          + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"));
    } catch (IOException e) {
      throw new ApiError(400, "the body is not valid JSON: " + e.getMessage());
    }
    if (root == null || !root.isObject()) throw new ApiError(400, "the body must be a JSON object with from, to and the message's parts");
    unknownFields(root, FIELDS, "");

    String fromText = string(root, "from", true);
    Mailbox from = mailbox(fromText, "from");
    MailAddress sender;
    try {
      sender = AddressParser.parseMailbox(from.getAddress());
    } catch (AddressParser.SyntaxException e) {
      throw new ApiError(400, "from: '" + fromText + "' is not a usable address: " + e.getMessage());
    }
    List<Mailbox> to = mailboxes(root, "to");
    List<Mailbox> cc = mailboxes(root, "cc");
    List<Mailbox> bcc = mailboxes(root, "bcc");
    if (to.isEmpty() && cc.isEmpty() && bcc.isEmpty()) throw new ApiError(400, "no recipients: give at least one address in to, cc or bcc");
    List<String> recipients = new ArrayList<>();
    for (List<Mailbox> list : List.of(to, cc, bcc)) for (Mailbox m : list) recipients.add(m.getAddress());

    String subject = string(root, "subject", false);
    String text = string(root, "text", false);
    String html = string(root, "html", false);
    List<Part> attachments = attachments(root);
    List<String> extra = headers(root);

    var head = new StringBuilder();
    head.append("From: ").append(AddressFormatter.DEFAULT.encode(from)).append("\r\n");
    if (!to.isEmpty()) head.append(addressField("To", to));
    if (!cc.isEmpty()) head.append(addressField("Cc", cc));
    if (subject != null) head.append("Subject: ").append(words(subject, 9)).append("\r\n");
    extra.forEach(head::append);
    head.append("MIME-Version: 1.0\r\n");

    List<Part> bodies = new ArrayList<>();
    if (text != null || html == null && attachments.isEmpty()) bodies.add(textPart("plain", text == null ? "" : text));
    if (html != null) bodies.add(textPart("html", html));
    Part body = bodies.isEmpty() ? null : bodies.size() == 1 ? bodies.getFirst() : multipart("alternative", bodies);
    if (!attachments.isEmpty()) {
      List<Part> mixed = new ArrayList<>();
      if (body != null) mixed.add(body);
      mixed.addAll(attachments);
      body = multipart("mixed", mixed);
    }
    var out = new ByteArrayOutputStream();
    out.writeBytes(head.toString().getBytes(StandardCharsets.UTF_8));
    out.writeBytes(body.headers().getBytes(StandardCharsets.US_ASCII));
    out.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
    out.writeBytes(body.content());
    return new SendRequest(sender, List.copyOf(recipients), out.toByteArray());
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

  private static List<Part> attachments(JsonNode root) throws ApiError {
    JsonNode list = root.get("attachments");
    if (list == null || list.isNull()) return List.of();
    if (!list.isArray()) throw new ApiError(400, "attachments: expected a list of {filename, contentType, content}");
    List<Part> parts = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      JsonNode a = list.get(i);
      String where = "attachments[" + i + "]";
      if (!a.isObject()) throw new ApiError(400, where + ": expected an object {filename, contentType, content}");
      unknownFields(a, ATTACHMENT_FIELDS, where + ".");
      String filename = string(a, "filename", true, where + ".");
      String type = string(a, "contentType", false, where + ".");
      String content = string(a, "content", true, where + ".");
      if (filename.isBlank() || filename.chars().anyMatch(Character::isISOControl)) {
        throw new ApiError(400, where + ".filename: must not be empty or hold control characters");
      }
      if (type == null) type = "application/octet-stream";
      if (!CONTENT_TYPE.matcher(type).matches()) throw new ApiError(400, where + ".contentType: '" + type + "' is not a MIME type like application/pdf");
      byte[] decoded;
      try {
        decoded = Base64.getDecoder().decode(content.replaceAll("[\\r\\n ]", ""));
      } catch (IllegalArgumentException e) {
        throw new ApiError(400, where + ".content: not base64: " + e.getMessage());
      }
      String encoded = Base64.getMimeEncoder(76, new byte[] {'\r', '\n'}).encodeToString(decoded);
      String headers = "Content-Type: " + type.toLowerCase(Locale.ROOT) + "; name=" + nameParameter(filename) + "\r\n"
          + "Content-Disposition: attachment; " + filenameParameter(filename) + "\r\n"
          + "Content-Transfer-Encoding: base64\r\n";
      parts.add(new Part(headers, encoded.getBytes(StandardCharsets.US_ASCII)));
    }
    return parts;
  }

  /** The old {@code name} parameter, which some readers still look for: quoted ASCII, else an encoded word. */
  private static String nameParameter(String filename) {
    if (filename.chars().allMatch(c -> c >= 32 && c < 127)) return quoted(filename);
    return "\"" + words(filename, 0) + "\"";
  }

  /** Text as it is when it can be, else as UTF-8 encoded words (RFC 2047), B or Q whichever is shorter. */
  private static String words(String text, int used) {
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

  private static List<String> headers(JsonNode root) throws ApiError {
    JsonNode h = root.get("headers");
    if (h == null || h.isNull()) return List.of();
    if (!h.isObject()) throw new ApiError(400, "headers: expected an object of field names to values, like {\"Reply-To\": \"a@example.org\"}");
    List<String> fields = new ArrayList<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = h.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String name = e.getKey();
      String lower = name.toLowerCase(Locale.ROOT);
      if (!FIELD_NAME.matcher(name).matches()) throw new ApiError(400, "headers: '" + name + "' is not a header field name");
      if (RESERVED.contains(lower) || lower.startsWith("content-")) {
        throw new ApiError(400, "headers: " + name + " is written from the message's own fields and cannot be given here");
      }
      if (!e.getValue().isTextual()) throw new ApiError(400, "headers." + name + ": expected a string");
      String value = e.getValue().textValue();
      if (value.chars().anyMatch(c -> c == '\r' || c == '\n' || c == 0)) throw new ApiError(400, "headers." + name + ": a value is one line");
      fields.add(name + ": " + words(value, name.length() + 2) + "\r\n");
    }
    return fields;
  }

  private static String addressField(String name, List<Mailbox> list) {
    var s = new StringBuilder(name).append(": ");
    for (int i = 0; i < list.size(); i++) {
      if (i > 0) s.append(",\r\n ");
      s.append(AddressFormatter.DEFAULT.encode(list.get(i)));
    }
    return s.append("\r\n").toString();
  }

  private static List<Mailbox> mailboxes(JsonNode root, String field) throws ApiError {
    JsonNode n = root.get(field);
    if (n == null || n.isNull()) return List.of();
    List<Mailbox> list = new ArrayList<>();
    if (n.isTextual()) {
      list.add(mailbox(n.textValue(), field));
    } else if (n.isArray()) {
      for (int i = 0; i < n.size(); i++) {
        if (!n.get(i).isTextual()) throw new ApiError(400, field + "[" + i + "]: expected an address as a string");
        list.add(mailbox(n.get(i).textValue(), field + "[" + i + "]"));
      }
    } else {
      throw new ApiError(400, field + ": expected an address or a list of addresses");
    }
    return list;
  }

  private static Mailbox mailbox(String text, String where) throws ApiError {
    if (text.chars().anyMatch(c -> c == '\r' || c == '\n' || c == 0)) throw new ApiError(400, where + ": an address is one line");
    Mailbox m;
    try {
      m = DefaultAddressParser.DEFAULT.parseMailbox(text);
    } catch (ParseException | IllegalArgumentException e) {
      throw new ApiError(400, where + ": '" + text + "' is not an address (name@example.org or Name <name@example.org>)");
    }
    if (m.getDomain() == null || m.getDomain().isEmpty()) throw new ApiError(400, where + ": '" + text + "' has no domain");
    return m;
  }

  private static void unknownFields(JsonNode object, List<String> known, String prefix) throws ApiError {
    for (Iterator<String> it = object.fieldNames(); it.hasNext(); ) {
      String name = it.next();
      if (!known.contains(name)) throw new ApiError(400, "unknown field " + prefix + name + " (known: " + String.join(", ", known) + ")");
    }
  }

  private static String string(JsonNode object, String field, boolean required) throws ApiError {
    return string(object, field, required, "");
  }

  private static String string(JsonNode object, String field, boolean required, String prefix) throws ApiError {
    JsonNode n = object.get(field);
    if (n == null || n.isNull()) {
      if (required) throw new ApiError(400, "missing field " + prefix + field);
      return null;
    }
    if (!n.isTextual()) throw new ApiError(400, prefix + field + ": expected a string");
    return n.textValue();
  }
}
