package dev.posta.mailauth;

import java.util.List;

/**
 * The Authentication-Results header field (RFC 8601) that Posta puts on the messages it
 * accepts from other servers: its authserv-id (the server's host name), then one
 * {@link Resinfo} per method, each on a line of its own, or {@code none} when no method ran.
 *
 * <p>Fields that claim this authserv-id arriving with a message are forgeries or leftovers and
 * are removed before this one is added (§5); that is the SMTP session's job, with the
 * authserv-id from here.
 */
public final class AuthenticationResults {
  private AuthenticationResults() {}

  /** The whole field, folded, ending in CRLF. */
  public static String field(String authservId, List<Resinfo> results) {
    StringBuilder s = new StringBuilder("Authentication-Results: ").append(authservId).append(';');
    if (results.isEmpty()) return s.append(" none\r\n").toString();
    for (int i = 0; i < results.size(); i++) {
      s.append("\r\n\t").append(results.get(i)).append(i < results.size() - 1 ? ";" : "");
    }
    return s.append("\r\n").toString();
  }

  /**
   * Whether an Authentication-Results field's value (after the colon, unfolded or not) claims
   * {@code authservId}: its first token, before any ';', CFWS or version number (§2.2).
   */
  public static boolean claims(String fieldValue, String authservId) {
    int i = skipCfws(fieldValue, 0);
    int start = i;
    if (i < fieldValue.length() && fieldValue.charAt(i) == '"') {
      int close = fieldValue.indexOf('"', i + 1);
      return close > 0 && fieldValue.substring(i + 1, close).equalsIgnoreCase(authservId);
    }
    while (i < fieldValue.length() && ";( \t\r\n".indexOf(fieldValue.charAt(i)) < 0) i++;
    return fieldValue.substring(start, i).equalsIgnoreCase(authservId);
  }

  /** Past whitespace and comments, nested and with quoted-pairs (RFC 5322 §3.2.2). */
  private static int skipCfws(String s, int i) {
    int depth = 0;
    while (i < s.length()) {
      char c = s.charAt(i);
      if (c == '\\' && depth > 0) {
        i += 2;
        continue;
      }
      if (c == '(') {
        depth++;
      } else if (c == ')' && depth > 0) {
        depth--;
      } else if (depth == 0 && " \t\r\n".indexOf(c) < 0) {
        return i;
      }
      i++;
    }
    return i;
  }
}
