package dev.posta.auth;

import static java.nio.charset.StandardCharsets.US_ASCII;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.macs.HMac;
import org.bouncycastle.crypto.params.KeyParameter;

/**
 * What the server keeps to check a SCRAM-SHA-256 login (RFC 5802 §3, RFC 7677): the salt, the
 * iteration count, StoredKey = H(HMAC(SaltedPassword, "Client Key")) and ServerKey =
 * HMAC(SaltedPassword, "Server Key"), where SaltedPassword = Hi(password, salt, i), Hi being
 * PBKDF2-HMAC-SHA-256. The password itself cannot be recovered from them.
 *
 * <p>The password is prepared as RFC 5802 §2.2 asks, with SASLprep ({@link SaslPrep}: the RFC
 * 4013 mappings and NFKC normalization, without the prohibition checks), then UTF-8 encoded.
 *
 * <p>Stored as one string, the format PostgreSQL uses: {@code
 * SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>}, padded standard Base64. New
 * credentials get a 16-byte random salt and 4096 iterations, the minimum of RFC 7677 §4.
 * Instances are immutable: accessors return copies.
 */
public final class ScramCredentials {
  public static final int ITERATIONS = 4096;
  static final int SALT_BYTES = 16;
  private static final int MAX_ITERATIONS = 10_000_000;
  private static final Pattern FORMAT = Pattern.compile(
      "SCRAM-SHA-256\\$(\\d{1,8}):([A-Za-z0-9+/=]+)\\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)");
  private static final SecureRandom RANDOM = new SecureRandom();

  private final byte[] salt;
  private final int iterations;
  private final byte[] storedKey;
  private final byte[] serverKey;

  public ScramCredentials(byte[] salt, int iterations, byte[] storedKey, byte[] serverKey) {
    if (salt.length == 0 || iterations < 1 || iterations > MAX_ITERATIONS || storedKey.length != 32
        || serverKey.length != 32) throw new IllegalArgumentException("invalid SCRAM-SHA-256 credentials");
    this.salt = salt.clone();
    this.iterations = iterations;
    this.storedKey = storedKey.clone();
    this.serverKey = serverKey.clone();
  }

  /** New credentials for {@code password}: random salt, {@value #ITERATIONS} iterations. */
  public static ScramCredentials create(char[] password) {
    byte[] salt = new byte[SALT_BYTES];
    RANDOM.nextBytes(salt);
    return derive(password, salt, ITERATIONS);
  }

  /** The credentials for {@code password} with the given salt and iteration count. */
  public static ScramCredentials derive(char[] password, byte[] salt, int iterations) {
    byte[] pw = PasswordHash.utf8(password);
    byte[] salted = hi(pw, salt, iterations);
    Arrays.fill(pw, (byte) 0);
    byte[] clientKey = hmac(salted, "Client Key".getBytes(US_ASCII));
    byte[] serverKey = hmac(salted, "Server Key".getBytes(US_ASCII));
    var credentials = new ScramCredentials(salt, iterations, sha256(clientKey), serverKey);
    Arrays.fill(salted, (byte) 0);
    Arrays.fill(clientKey, (byte) 0);
    return credentials;
  }

  /** Parses {@link #encode}'s format; IllegalArgumentException when malformed. */
  public static ScramCredentials decode(String s) {
    Matcher m = s == null ? null : FORMAT.matcher(s);
    if (m == null || !m.matches()) throw new IllegalArgumentException("not a SCRAM-SHA-256 credential string");
    Base64.Decoder d = Base64.getDecoder();
    return new ScramCredentials(d.decode(m.group(2)), Integer.parseInt(m.group(1)), d.decode(m.group(3)), d.decode(m.group(4)));
  }

  public String encode() {
    Base64.Encoder e = Base64.getEncoder();
    return "SCRAM-SHA-256$" + iterations + ":" + e.encodeToString(salt) + "$" + e.encodeToString(storedKey)
        + ":" + e.encodeToString(serverKey);
  }

  public byte[] salt() {
    return salt.clone();
  }

  public int iterations() {
    return iterations;
  }

  public byte[] storedKey() {
    return storedKey.clone();
  }

  public byte[] serverKey() {
    return serverKey.clone();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ScramCredentials c && iterations == c.iterations && Arrays.equals(salt, c.salt)
        && MessageDigest.isEqual(storedKey, c.storedKey) && MessageDigest.isEqual(serverKey, c.serverKey);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(salt) * 31 + iterations;
  }

  /** Salt and iterations only: the keys are password-equivalent for SCRAM and stay out of logs. */
  @Override
  public String toString() {
    return "ScramCredentials[i=" + iterations + ", salt=" + Base64.getEncoder().encodeToString(salt) + "]";
  }

  /** Hi() of RFC 5802 §2.2: PBKDF2 (RFC 8018) with HMAC-SHA-256, one 32-byte block. */
  static byte[] hi(byte[] password, byte[] salt, int iterations) {
    HMac mac = new HMac(new SHA256Digest());
    mac.init(new KeyParameter(password));
    byte[] u = new byte[32];
    mac.update(salt, 0, salt.length);
    mac.update(new byte[] {0, 0, 0, 1}, 0, 4);
    mac.doFinal(u, 0);
    byte[] result = u.clone();
    for (int i = 1; i < iterations; i++) {
      mac.update(u, 0, u.length);
      mac.doFinal(u, 0);
      for (int j = 0; j < result.length; j++) result[j] ^= u[j];
    }
    return result;
  }

  static byte[] hmac(byte[] key, byte[] data) {
    HMac mac = new HMac(new SHA256Digest());
    mac.init(new KeyParameter(key));
    mac.update(data, 0, data.length);
    byte[] out = new byte[32];
    mac.doFinal(out, 0);
    return out;
  }

  static byte[] sha256(byte[] data) {
    SHA256Digest digest = new SHA256Digest();
    digest.update(data, 0, data.length);
    byte[] out = new byte[32];
    digest.doFinal(out, 0);
    return out;
  }
}
