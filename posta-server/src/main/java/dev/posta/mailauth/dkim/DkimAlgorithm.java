package dev.posta.mailauth.dkim;

/**
 * The signing algorithms, as the a= tag names them: rsa-sha1 and rsa-sha256 (RFC 6376 §3.3),
 * ed25519-sha256 (RFC 8463 §3). RFC 8301 §3.1 forbids rsa-sha1 for signing and for a pass;
 * Posta still checks such a signature so that it can say so ({@link DkimResult}), and never
 * signs with it.
 */
public enum DkimAlgorithm {
  RSA_SHA1("rsa-sha1", KeyType.RSA, "sha1", "SHA-1", "SHA1withRSA"),
  RSA_SHA256("rsa-sha256", KeyType.RSA, "sha256", "SHA-256", "SHA256withRSA"),
  /** RFC 8463 §3: PureEdDSA over the SHA-256 hash of the header data, not over the data itself. */
  ED25519_SHA256("ed25519-sha256", KeyType.ED25519, "sha256", "SHA-256", "Ed25519");

  /** The key types of the k= tag (RFC 6376 §3.6.1, RFC 8463 §4). */
  public enum KeyType {
    RSA("rsa"),
    ED25519("ed25519");

    public final String tag;

    KeyType(String tag) {
      this.tag = tag;
    }
  }

  /** As a= writes it. */
  public final String tag;

  public final KeyType keyType;
  /** As a key record's h= names the hash (RFC 6376 §3.6.1). */
  public final String hashTag;
  /** The JCA names of the hash and of the signature. */
  final String digest;

  final String signature;

  DkimAlgorithm(String tag, KeyType keyType, String hashTag, String digest, String signature) {
    this.tag = tag;
    this.keyType = keyType;
    this.hashTag = hashTag;
    this.digest = digest;
    this.signature = signature;
  }

  /** The algorithm a= names (case-insensitively: RFC 6376 §3.5 compares them so), or null. */
  public static DkimAlgorithm byTag(String tag) {
    for (DkimAlgorithm a : values()) {
      if (a.tag.equalsIgnoreCase(tag)) return a;
    }
    return null;
  }
}
