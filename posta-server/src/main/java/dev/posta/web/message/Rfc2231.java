package dev.posta.web.message;

import java.io.ByteArrayOutputStream;
import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.TreeMap;
import org.apache.james.mime4j.util.CharsetUtil;

/**
 * A MIME parameter's value when it may be written as RFC 2231 says: plain ({@code name="a.pdf"}),
 * extended ({@code name*=utf-8''%C3%A9.pdf}) or continued ({@code name*0*=utf-8''%C3;
 * name*1*=%A9.pdf}). mime4j decodes Content-Disposition's filename this way itself but leaves
 * Content-Type's parameters as written, where older mailers put the attachment's name.
 */
final class Rfc2231 {
  private Rfc2231() {}

  /** The decoded value of parameter {@code name} (lower case, as mime4j keys them), or null. */
  static String parameter(Map<String, String> params, String name) {
    if (params == null) return null;
    String extended = params.get(name + "*");
    if (extended != null) return extended(extended);
    TreeMap<Integer, String> pieces = new TreeMap<>();
    TreeMap<Integer, Boolean> encoded = new TreeMap<>();
    for (var e : params.entrySet()) {
      String key = e.getKey();
      if (!key.startsWith(name + "*")) continue;
      String rest = key.substring(name.length() + 1);
      boolean isEncoded = rest.endsWith("*");
      if (isEncoded) rest = rest.substring(0, rest.length() - 1);
      if (rest.isEmpty() || rest.length() > 3 || !rest.chars().allMatch(Character::isDigit)) continue;
      pieces.put(Integer.parseInt(rest), e.getValue());
      encoded.put(Integer.parseInt(rest), isEncoded);
    }
    if (!pieces.isEmpty() && pieces.firstKey() == 0 && pieces.lastKey() == pieces.size() - 1) {
      // RFC 2231 §4.1: the charset is named in the first piece only; each encoded piece is percent-encoded in it.
      Charset charset = StandardCharsets.UTF_8;
      StringBuilder value = new StringBuilder();
      ByteArrayOutputStream octets = new ByteArrayOutputStream();
      for (var piece : pieces.entrySet()) {
        String v = piece.getValue();
        if (encoded.get(piece.getKey())) {
          if (piece.getKey() == 0) {
            int q1 = v.indexOf('\''), q2 = q1 < 0 ? -1 : v.indexOf('\'', q1 + 1);
            if (q2 > 0) {
              Charset named = CharsetUtil.lookup(v.substring(0, q1));
              if (named != null) charset = named;
              v = v.substring(q2 + 1);
            }
          }
          percentDecode(v, octets);
        } else {
          value.append(new String(octets.toByteArray(), charset));
          octets.reset();
          value.append(v);
        }
      }
      value.append(new String(octets.toByteArray(), charset));
      return value.toString();
    }
    return params.get(name);
  }

  /** {@code charset'language'percent-encoded} (RFC 2231 §4); the text as it is when not in that form. */
  private static String extended(String v) {
    int q1 = v.indexOf('\''), q2 = q1 < 0 ? -1 : v.indexOf('\'', q1 + 1);
    if (q2 < 0) return v;
    Charset charset = CharsetUtil.lookup(v.substring(0, q1));
    ByteArrayOutputStream octets = new ByteArrayOutputStream();
    percentDecode(v.substring(q2 + 1), octets);
    return new String(octets.toByteArray(), charset == null ? StandardCharsets.UTF_8 : charset);
  }

  private static void percentDecode(String v, ByteArrayOutputStream out) {
    for (int i = 0; i < v.length(); ) {
      if (v.charAt(i) == '%' && i + 2 < v.length() && hex(v.charAt(i + 1)) >= 0 && hex(v.charAt(i + 2)) >= 0) {
        out.write(hex(v.charAt(i + 1)) * 16 + hex(v.charAt(i + 2)));
        i += 3;
      } else {
        int c = v.codePointAt(i);
        out.writeBytes(Character.toString(c).getBytes(StandardCharsets.UTF_8)); // not encoded as it should be: kept as written
        i += Character.charCount(c);
      }
    }
  }

  private static int hex(char c) {
    return Character.digit(c, 16);
  }
}
