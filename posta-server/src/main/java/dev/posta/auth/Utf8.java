package dev.posta.auth;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** Strict UTF-8 decoding for SASL messages: malformed input gives null, never U+FFFD. */
final class Utf8 {
  private Utf8() {}

  static String string(byte[] b, int from, int to) {
    char[] c = chars(b, from, to);
    return c == null ? null : new String(c);
  }

  /** Decodes into a char array without an intermediate String; the buffer is zeroed. */
  static char[] chars(byte[] b, int from, int to) {
    try {
      CharBuffer decoded = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(b, from, to - from));
      char[] out = Arrays.copyOfRange(decoded.array(), decoded.position(), decoded.limit());
      Arrays.fill(decoded.array(), '\0');
      return out;
    } catch (CharacterCodingException e) {
      return null;
    }
  }
}
