package dev.posta.database;

import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/** The SHA-256 of a blob's octets: its name in a {@link BlobStore}, the same on every node. */
public record Digest(byte[] octets) {
  public Digest {
    if (octets.length != 32) throw new IllegalArgumentException("a SHA-256 digest has 32 octets, not " + octets.length);
    octets = octets.clone();
  }

  @Override
  public byte[] octets() {
    return octets.clone();
  }

  /** The digest of everything {@code in} gives, read to its end. */
  public static Digest of(InputStream in) throws IOException {
    MessageDigest sha = sha256();
    byte[] buffer = new byte[64 * 1024];
    for (int n; (n = in.read(buffer)) > 0; ) sha.update(buffer, 0, n);
    return new Digest(sha.digest());
  }

  public static Digest of(byte[] octets) {
    return new Digest(sha256().digest(octets));
  }

  public static Digest parse(String hex) {
    return new Digest(HexFormat.of().parseHex(hex));
  }

  /** A SHA-256 to feed octets as they pass (a blob's digest computed while it is written or read). */
  public static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  /** Lower-case hex, as an S3 key or a log line shows it. */
  @Override
  public String toString() {
    return HexFormat.of().formatHex(octets);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Digest d && Arrays.equals(octets, d.octets);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(octets);
  }
}
