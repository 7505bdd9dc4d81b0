package dev.posta.mailauth.dkim;

import java.util.List;

/**
 * A DKIM key record, the TXT record at {@code selector._domainkey.domain} (RFC 6376 §3.6.1,
 * RFC 8463 §4), read with the tags a verifier uses: v= (if present "DKIM1", and first), h=
 * (hashes the key may be used with; absent: any), k= (key type; default rsa), p= (the key;
 * empty: revoked, §3.6.1), s= (service types; absent: *), t= (flags: y testing, s strict).
 * Other tags (n= notes, unknown ones) are ignored, as are unknown values in h=, k= lists and t=.
 *
 * <p>A pure function: {@link #parse} never throws; a record that breaks the tag-list grammar,
 * has no p=, holds other than base64 in p= or is not for e-mail is {@link Malformed}.
 *
 * @param keyType k= as written (lower case)
 * @param publicKey p= decoded; empty when the key is revoked
 * @param hashes h=, or empty for any hash
 * @param testing t=y: the domain is testing DKIM
 * @param strict t=s: i= must be in d= itself, not a subdomain
 */
public record KeyRecord(String keyType, byte[] publicKey, List<String> hashes, boolean testing, boolean strict)
    implements ParsedKeyRecord {

  /** Not a usable key record; {@code reason} is one line and quotes no input. */
  public record Malformed(String reason) implements ParsedKeyRecord {}

  public static ParsedKeyRecord parse(String text) {
    TagList.Parsed parsed = TagList.parse(text);
    if (parsed instanceof TagList.Malformed m) return new Malformed("malformed key record: " + m.reason());
    TagList.Tags tags = (TagList.Tags) parsed;
    TagList.Tag v = tags.get("v");
    if (v != null && (!v.value().equals("DKIM1") || tags.list().getFirst() != v)) {
      return new Malformed("key record's v= is not DKIM1 at its start");
    }
    TagList.Tag p = tags.get("p");
    if (p == null) return new Malformed("key record has no p= tag");
    byte[] key = DkimSignature.base64(p.compact());
    if (key == null) return new Malformed("key record's p= is not base64");
    String services = tags.value("s");
    if (services != null && DkimSignature.splitColons(services).stream().noneMatch(s -> s.equals("*") || s.equalsIgnoreCase("email"))) {
      return new Malformed("key record is not for e-mail (s=)");
    }
    String h = tags.value("h");
    List<String> hashes = h == null ? List.of() : DkimSignature.splitColons(h).stream().map(DkimSignature::lower).toList();
    List<String> flags = tags.value("t") == null ? List.of() : DkimSignature.splitColons(tags.value("t"));
    String k = tags.value("k") == null ? "rsa" : DkimSignature.lower(tags.value("k"));
    return new KeyRecord(k, key, hashes, flags.contains("y"), flags.contains("s"));
  }

  public boolean revoked() {
    return publicKey.length == 0;
  }

  /** Whether h= lets this key be used with the hash {@code algorithm} uses. */
  boolean allows(DkimAlgorithm algorithm) {
    return hashes.isEmpty() || hashes.contains(algorithm.hashTag);
  }

  // Compared by content: a record is its parts.
  @Override
  public boolean equals(Object o) {
    return o instanceof KeyRecord r && keyType.equals(r.keyType) && java.util.Arrays.equals(publicKey, r.publicKey)
        && hashes.equals(r.hashes) && testing == r.testing && strict == r.strict;
  }

  @Override
  public int hashCode() {
    return keyType.hashCode() * 31 + java.util.Arrays.hashCode(publicKey);
  }

  @Override
  public String toString() {
    return "KeyRecord[k=" + keyType + ", p=" + publicKey.length + " octets, h=" + hashes + ", testing=" + testing + ", strict=" + strict + "]";
  }
}
