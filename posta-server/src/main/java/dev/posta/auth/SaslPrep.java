package dev.posta.auth;

import java.text.Normalizer;

/**
 * The part of SASLprep (RFC 4013, a profile of stringprep, RFC 3454) that decides whether two
 * spellings of a password are the same: non-ASCII spaces (table C.1.2) become U+0020, characters
 * "commonly mapped to nothing" (table B.1) are removed, and the result is NFKC-normalized.
 *
 * <p>Not done: the prohibited-output and bidirectional checks of RFC 4013 §2.3-2.4. The server
 * only compares prepared strings, so skipping them cannot make a wrong password match; {@link
 * UserStore} refuses control characters in new passwords. Pure ASCII, the common case, is
 * returned unchanged (as a copy) without ever becoming a {@link String}.
 */
final class SaslPrep {
  private SaslPrep() {}

  /** Returns a new array; the caller should zero both when done. */
  static char[] prepare(char[] s) {
    boolean ascii = true;
    for (char c : s) if (c >= 0x80) { ascii = false; break; }
    if (ascii) return s.clone();
    StringBuilder mapped = new StringBuilder(s.length);
    for (char c : s) {
      if (mappedToNothing(c)) continue;
      mapped.append(nonAsciiSpace(c) ? ' ' : c);
    }
    String nfkc = Normalizer.normalize(mapped, Normalizer.Form.NFKC);
    mapped.setLength(0);
    return nfkc.toCharArray();
  }

  /** The same, for user names, which are not secret. */
  static String prepare(String s) {
    return new String(prepare(s.toCharArray()));
  }

  private static boolean nonAsciiSpace(char c) {
    return c == 0x00A0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F
        || c == 0x3000;
  }

  private static boolean mappedToNothing(char c) {
    return c == 0x00AD || c == 0x034F || c == 0x1806 || (c >= 0x180B && c <= 0x180D)
        || (c >= 0x200B && c <= 0x200D) || c == 0x2060 || (c >= 0xFE00 && c <= 0xFE0F) || c == 0xFEFF;
  }
}
