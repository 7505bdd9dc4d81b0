package dev.posta.web.api;

import dev.posta.web.message.Attachment;
import dev.posta.web.message.MessageView;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A stored or captured message as the API's JSON shows it, read by the web view's reader
 * ({@link MessageView}: bounded, lenient): the addresses of From, To and Cc, the subject, every
 * header field (unfolded, RFC 2047 words decoded), the text part and the HTML part as written
 * (decoded to text; the caller's to sanitize before showing it, as the pages do), and every
 * other part as an attachment with its file name, MIME type and decoded size.
 */
final class MessageJson {
  private MessageJson() {}

  static Map<String, Object> of(MessageView view) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("from", view.addresses().from());
    m.put("to", view.addresses().to());
    m.put("cc", view.addresses().cc());
    m.put("subject", view.summary().subject());
    m.put("headers", headers(view));
    m.put("text", view.text());
    m.put("html", view.html());
    m.put("attachments", attachments(view));
    return m;
  }

  /** Each field as {@code {"name", "value"}}, in order. */
  static List<Map<String, String>> headers(MessageView view) {
    return view.headers().stream().map(h -> {
      Map<String, String> field = new LinkedHashMap<>();
      field.put("name", h.name());
      field.put("value", h.value());
      return field;
    }).toList();
  }

  static List<Map<String, Object>> attachments(MessageView view) {
    List<Map<String, Object>> attachments = new ArrayList<>();
    for (Attachment a : view.attachments()) {
      Map<String, Object> attachment = new LinkedHashMap<>();
      attachment.put("filename", a.filename());
      attachment.put("contentType", a.contentType());
      attachment.put("size", a.size());
      attachments.add(attachment);
    }
    return attachments;
  }
}
