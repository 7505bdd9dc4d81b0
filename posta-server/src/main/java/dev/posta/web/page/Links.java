package dev.posta.web.page;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.StringJoiner;

/** The pages' URLs, each variable part percent-encoded (RFC 3986 §2.1), so a folder or search text can never change a link's shape. */
final class Links {
  private Links() {}

  /** A folder's list: {@code /mail/<folder>}. */
  static String folder(String folder) {
    return "/mail/" + segment(folder);
  }

  /** One message: {@code /mail/<folder>/<uid>}. */
  static String message(String folder, long uid) {
    return folder(folder) + "/" + uid;
  }

  /** The compose form answering or forwarding one message: {@code /compose?mode=reply&folder=INBOX&uid=3}. */
  static String compose(String mode, String folder, long uid) {
    Map<String, String> q = new LinkedHashMap<>();
    q.put("mode", mode);
    q.put("folder", folder);
    q.put("uid", Long.toString(uid));
    return withQuery("/compose", q);
  }

  /** {@code path} with the non-empty parameters as its query, in the order given. */
  static String withQuery(String path, Map<String, String> parameters) {
    StringJoiner q = new StringJoiner("&");
    parameters.forEach((name, value) -> {
      if (value != null && !value.isEmpty()) q.add(name + "=" + URLEncoder.encode(value, StandardCharsets.UTF_8));
    });
    return q.length() == 0 ? path : path + "?" + q;
  }

  /** A mutable copy of {@code parameters} with one more (or one replaced). */
  static Map<String, String> plus(Map<String, String> parameters, String name, String value) {
    Map<String, String> m = new LinkedHashMap<>(parameters);
    m.put(name, value);
    return m;
  }

  /** One path segment: '+' is a plus in a path, so spaces are %20. */
  private static String segment(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }
}
