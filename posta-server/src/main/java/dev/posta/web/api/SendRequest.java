package dev.posta.web.api;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.posta.mail.AddressParser;
import dev.posta.mail.MailAddress;
import dev.posta.web.ApiError;
import dev.posta.web.Exchange;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.james.mime4j.dom.address.Mailbox;
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
 * may be left out. The message is written by {@link Draft}, as the web view's compose form's
 * is: text/plain, multipart/alternative with HTML, multipart/mixed with attachments (base64; a
 * message/rfc822 one as it is). Non-ASCII in the subject, names and extra headers is written as
 * encoded words (RFC 2047), in file names as RFC 2231 parameters. Bcc recipients are envelope
 * recipients only, never in the header. An unknown field, a field of the
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
    Draft draft = new Draft(from, to, cc, bcc, string(root, "subject", false), string(root, "text", false), string(root, "html", false),
        attachments(root), headers(root));
    return new SendRequest(sender, draft.recipients(), draft.message(false));
  }

  private static List<Draft.Attachment> attachments(JsonNode root) throws ApiError {
    JsonNode list = root.get("attachments");
    if (list == null || list.isNull()) return List.of();
    if (!list.isArray()) throw new ApiError(400, "attachments: expected a list of {filename, contentType, content}");
    List<Draft.Attachment> parts = new ArrayList<>();
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
      parts.add(new Draft.Attachment(filename, type, decoded));
    }
    return parts;
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
      fields.add(name + ": " + Draft.words(value, name.length() + 2) + "\r\n");
    }
    return fields;
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
