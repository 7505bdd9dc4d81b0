package dev.posta.web.api;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.codec.DecoderUtil;
import org.apache.james.mime4j.dom.Body;
import org.apache.james.mime4j.dom.Entity;
import org.apache.james.mime4j.dom.Header;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.dom.Multipart;
import org.apache.james.mime4j.dom.SingleBody;
import org.apache.james.mime4j.dom.TextBody;
import org.apache.james.mime4j.dom.address.Address;
import org.apache.james.mime4j.dom.address.AddressList;
import org.apache.james.mime4j.dom.address.Mailbox;
import org.apache.james.mime4j.dom.address.MailboxList;
import org.apache.james.mime4j.message.DefaultMessageBuilder;
import org.apache.james.mime4j.stream.Field;
import org.apache.james.mime4j.stream.MimeConfig;
import org.apache.james.mime4j.util.MimeUtil;

/**
 * A stored message as the API shows it: its header fields (unfolded, encoded words decoded, RFC
 * 2047), the addresses of From:, To: and Cc:, the subject, the first text/plain and text/html
 * parts that are not attachments (decoded to text), and every other leaf part as an attachment
 * (file name, MIME type, decoded size). Parsed with Apache mime4j, leniently: mail as received
 * is not always well formed, and reading it must not fail for that.
 */
public record MessageView(List<Map<String, String>> headers, String from, List<String> to, List<String> cc, String subject, String text,
    String html, List<Map<String, Object>> attachments) {
  private static DefaultMessageBuilder builder() {
    DefaultMessageBuilder b = new DefaultMessageBuilder();
    b.setMimeEntityConfig(MimeConfig.PERMISSIVE);
    b.setDecodeMonitor(DecodeMonitor.SILENT);
    return b;
  }

  /** A message, or its header section alone (for a listing: no body parts then). */
  public static MessageView parse(InputStream in) throws IOException {
    Message m;
    try {
      m = builder().parseMessage(in);
    } catch (org.apache.james.mime4j.MimeIOException e) {
      throw new IOException("unreadable message: " + e.getMessage(), e);
    }
    Parts parts = new Parts();
    parts.walk(m);
    return of(m.getHeader(), m, parts);
  }

  private static MessageView of(Header header, Message m, Parts parts) {
    List<Map<String, String>> fields = new ArrayList<>();
    if (header != null) {
      for (Field f : header.getFields()) {
        fields.add(Map.of("name", f.getName(), "value", decode(f.getBody())));
      }
    }
    String from = null;
    MailboxList fromList = safe(() -> m.getFrom());
    if (fromList != null && !fromList.isEmpty()) from = fromList.get(0).getAddress();
    return new MessageView(fields, from, addresses(safe(() -> m.getTo())), addresses(safe(() -> m.getCc())), safe(() -> m.getSubject()),
        parts.text, parts.html, parts.attachments);
  }

  /** A field's value as a person reads it. */
  private static String decode(String raw) {
    return DecoderUtil.decodeEncodedWords(MimeUtil.unfold(raw == null ? "" : raw), DecodeMonitor.SILENT).strip();
  }

  private interface Getter<T> {
    T get();
  }

  /** A malformed field reads as absent rather than failing the whole message. */
  private static <T> T safe(Getter<T> getter) {
    try {
      return getter.get();
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static List<String> addresses(AddressList list) {
    List<String> out = new ArrayList<>();
    if (list == null) return out;
    for (Address a : list) {
      if (a instanceof Mailbox mb) out.add(mb.getAddress());
      else list.flatten().forEach(mb -> {
        if (!out.contains(mb.getAddress())) out.add(mb.getAddress());
      });
    }
    return out;
  }

  /** The message as the API's JSON object (folder, uid and size are the caller's). */
  Map<String, Object> json() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("from", from);
    m.put("to", to);
    m.put("cc", cc);
    m.put("subject", subject);
    m.put("headers", headers);
    m.put("text", text);
    m.put("html", html);
    m.put("attachments", attachments);
    return m;
  }

  /** The walk over the MIME tree. */
  private static final class Parts {
    String text;
    String html;
    final List<Map<String, Object>> attachments = new ArrayList<>();

    void walk(Entity e) throws IOException {
      Body body = e.getBody();
      if (body instanceof Multipart mp) {
        for (Entity part : mp.getBodyParts()) walk(part);
        return;
      }
      String type = e.getMimeType();
      String filename = e.getFilename();
      boolean attachment = "attachment".equalsIgnoreCase(e.getDispositionType()) || filename != null || body instanceof Message;
      if (!attachment && body instanceof TextBody tb && type.equalsIgnoreCase("text/plain") && text == null) {
        text = read(tb);
      } else if (!attachment && body instanceof TextBody tb && type.equalsIgnoreCase("text/html") && html == null) {
        html = read(tb);
      } else if (e.getParent() != null || attachment) {
        Map<String, Object> a = new LinkedHashMap<>();
        a.put("filename", filename);
        a.put("contentType", type);
        a.put("size", body instanceof SingleBody sb ? sb.size() : null);
        attachments.add(a);
      }
    }

    private static String read(TextBody body) throws IOException {
      var s = new StringBuilder();
      try (Reader r = body.getReader()) {
        char[] buf = new char[8192];
        for (int n; (n = r.read(buf)) > 0; ) s.append(buf, 0, n);
      }
      return s.toString().replace("\r\n", "\n");
    }
  }
}
