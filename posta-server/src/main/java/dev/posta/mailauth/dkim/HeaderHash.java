package dev.posta.mailauth.dkim;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The data a DKIM signature signs over the header (RFC 6376 §3.7, §5.4.2): the fields h= names,
 * each taken from the bottom of the header section up (a name listed twice takes the last field
 * of that name, then the one above it), canonicalized; a name listed more often than fields of it
 * exist adds nothing (that is how over-signing keeps a field from being added later); then the
 * DKIM-Signature field itself with b= emptied, canonicalized, without its final CRLF.
 *
 * <p>A pure function of its arguments, shared by the signer and the verifier so that both hash
 * exactly the same octets.
 */
final class HeaderHash {
  private HeaderHash() {}

  /**
   * @param fields the message's header fields, in order
   * @param signed h='s names
   * @param signatureWithoutB the DKIM-Signature field with b='s value emptied
   * @param self that field as it stands among {@code fields} (never a signed field itself), or
   *     null when signing
   */
  static byte[] data(List<HeaderField> fields, List<String> signed, Canonicalization canonicalization, String signatureWithoutB, HeaderField self) {
    // Per name, its fields from the bottom up.
    Map<String, List<HeaderField>> byName = new HashMap<>();
    for (int i = fields.size() - 1; i >= 0; i--) {
      HeaderField f = fields.get(i);
      if (f != self) byName.computeIfAbsent(f.name().toLowerCase(Locale.ROOT), k -> new ArrayList<>()).add(f);
    }
    Map<String, Integer> taken = new HashMap<>();
    var data = new StringBuilder();
    for (String name : signed) {
      String key = name.toLowerCase(Locale.ROOT);
      int next = taken.merge(key, 1, Integer::sum) - 1;
      List<HeaderField> candidates = byName.getOrDefault(key, List.of());
      if (next < candidates.size()) data.append(canonicalization.header(candidates.get(next)));
    }
    data.append(canonicalization.signatureField(signatureWithoutB));
    return data.toString().getBytes(StandardCharsets.ISO_8859_1);
  }
}
