package dev.posta.auth;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;

/**
 * Argon2id password hashes (RFC 9106) in the PHC string format, as the users file stores them.
 *
 * <p>New hashes use OWASP's recommended parameters, m=19456 KiB, t=2, p=1, with a 16-byte random
 * salt and a 32-byte tag: {@code $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>}, both in standard
 * Base64 without padding. {@link #verify} reads the parameters from the string, so hashes made
 * with other parameters keep verifying after the defaults change ({@link #needsRehash} tells).
 *
 * <p>Guarantees: the tag is compared in constant time ({@link MessageDigest#isEqual}); a
 * malformed string, another algorithm or absurd parameters never verify and never throw; {@link
 * #verifyDummy} costs the same as verifying a real hash, so an unknown user takes as long to
 * refuse as a wrong password. The password is prepared with {@link SaslPrep} (RFC 4013 mapping
 * and NFKC) and UTF-8 encoded first, so PLAIN, LOGIN and SCRAM-SHA-256 accept the same spellings;
 * the intermediate copies are zeroed.
 */
public final class PasswordHash {
  public static final int MEMORY_KIB = 19456;
  public static final int ITERATIONS = 2;
  public static final int PARALLELISM = 1;
  static final int SALT_BYTES = 16;
  static final int HASH_BYTES = 32;

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Base64.Encoder B64 = Base64.getEncoder().withoutPadding();
  private static final Pattern PHC = Pattern.compile(
      "\\$argon2id\\$v=19\\$m=(\\d{1,7}),t=(\\d{1,3}),p=(\\d{1,2})\\$([A-Za-z0-9+/]{11,})\\$([A-Za-z0-9+/]{22,})");
  /** Upper bounds on parameters read from a string: 1 GiB, 100 passes, 16 lanes. */
  private static final int MAX_MEMORY_KIB = 1 << 20, MAX_ITERATIONS = 100, MAX_PARALLELISM = 16;

  private PasswordHash() {}

  /** A new hash of {@code password} with the default parameters and a fresh random salt. */
  public static String hash(char[] password) {
    byte[] salt = new byte[SALT_BYTES];
    RANDOM.nextBytes(salt);
    byte[] tag = argon2(password, salt, MEMORY_KIB, ITERATIONS, PARALLELISM, HASH_BYTES);
    return "$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s".formatted(
        MEMORY_KIB, ITERATIONS, PARALLELISM, B64.encodeToString(salt), B64.encodeToString(tag));
  }

  /** True when {@code password} matches {@code phc}; false for any other password or string. */
  public static boolean verify(String phc, char[] password) {
    Matcher m = phc == null ? null : PHC.matcher(phc);
    if (m == null || !m.matches()) return false;
    int memory = Integer.parseInt(m.group(1)), iterations = Integer.parseInt(m.group(2));
    int parallelism = Integer.parseInt(m.group(3));
    if (parallelism < 1 || parallelism > MAX_PARALLELISM || iterations < 1 || iterations > MAX_ITERATIONS
        || memory < 8 * parallelism || memory > MAX_MEMORY_KIB) return false;
    byte[] salt, expected;
    try {
      salt = Base64.getDecoder().decode(m.group(4));
      expected = Base64.getDecoder().decode(m.group(5));
    } catch (IllegalArgumentException e) {
      return false;
    }
    if (expected.length > 64) return false;
    byte[] actual = argon2(password, salt, memory, iterations, parallelism, expected.length);
    return MessageDigest.isEqual(expected, actual);
  }

  /**
   * Costs what {@link #verify} of a real default-parameter hash costs, and returns false: use it
   * for an unknown user so that timing does not tell whether the user exists.
   */
  public static boolean verifyDummy(char[] password) {
    verify(Dummy.PHC, password);
    return false;
  }

  /** True when {@code phc} is a well-formed Argon2id hash (whatever its parameters). */
  public static boolean isWellFormed(String phc) {
    return phc != null && PHC.matcher(phc).matches();
  }

  /** True when {@code phc} was not made with the current default parameters. */
  public static boolean needsRehash(String phc) {
    Matcher m = phc == null ? null : PHC.matcher(phc);
    return m == null || !m.matches() || Integer.parseInt(m.group(1)) != MEMORY_KIB
        || Integer.parseInt(m.group(2)) != ITERATIONS || Integer.parseInt(m.group(3)) != PARALLELISM;
  }

  private static byte[] argon2(char[] password, byte[] salt, int memoryKib, int iterations, int parallelism, int length) {
    byte[] pw = utf8(password);
    try {
      var generator = new Argon2BytesGenerator();
      generator.init(new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id)
          .withVersion(Argon2Parameters.ARGON2_VERSION_13)
          .withMemoryAsKB(memoryKib).withIterations(iterations).withParallelism(parallelism)
          .withSalt(salt).build());
      byte[] out = new byte[length];
      generator.generateBytes(pw, out);
      return out;
    } finally {
      Arrays.fill(pw, (byte) 0);
    }
  }

  /** SASLprep, then UTF-8; zeroes every intermediate copy. */
  static byte[] utf8(char[] password) {
    char[] prepared = SaslPrep.prepare(password);
    ByteBuffer encoded = StandardCharsets.UTF_8.encode(CharBuffer.wrap(prepared));
    byte[] bytes = new byte[encoded.remaining()];
    encoded.get(bytes);
    Arrays.fill(prepared, '\0');
    if (encoded.hasArray()) Arrays.fill(encoded.array(), (byte) 0);
    return bytes;
  }

  private static final class Dummy {
    static final String PHC;

    static {
      char[] random = new char[16];
      for (int i = 0; i < random.length; i++) random[i] = (char) ('a' + RANDOM.nextInt(26));
      PHC = hash(random);
    }
  }
}
