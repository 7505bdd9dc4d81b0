package dev.posta.auth;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The HTTP API's bearer tokens (RFC 6750): each acts as the account it was made for. {@code posta
 * token create} makes one, {@code list} and {@code revoke} manage them; a running server sees a
 * change at its next request. A single node keeps them in {@code <data>/api-tokens} ({@link
 * FileTokens}); a clustered node in the cluster's database ({@link DatabaseTokens}, {@link
 * #inDatabase}), shared by every node, where a token is checked against the database at each use
 * and goes with its account when the account is removed.
 *
 * <p>A token is 256 random bits ({@link SecureRandom}), written {@code posta_} and 43 base64url
 * characters; it is shown once, when made, and only its SHA-256 is kept. A fast unsalted hash is
 * right here, unlike for passwords (Argon2id, {@link PasswordHash}): a password is guessable, so
 * its hash must be slow and salted to make each guess expensive, but a 256-bit random token
 * cannot be guessed whatever the hash costs, and no two tokens share a hash for a salt to tell
 * apart. So the stored hash gives nothing away even if the file or the table is read, and
 * checking a token costs one hash and one look-up, not an Argon2id run per API request. Looking
 * the token up by its hash also means no comparison runs over secret bytes an attacker chooses.
 *
 * <p>A token is named by its id, the first 12 hex digits of its hash (public: it names the token
 * in {@code list} and {@code revoke}, and proves nothing).
 */
public final class ApiTokens {
  public static final String FILE_NAME = "api-tokens";
  static final String PREFIX = "posta_";
  private static final SecureRandom RANDOM = new SecureRandom();

  /**
   * A token as stored.
   *
   * @param id the first 12 hex digits of its hash, which names it
   * @param user the account (canonical address) it acts as
   * @param name what its maker called it, to tell tokens apart in {@code list}
   */
  public record Token(String id, String hash, String user, Instant created, String name) {}

  /** A token just made: its secret, shown once, and what is kept of it. */
  public record Created(Token token, String secret) {}

  /** Where the tokens are kept: the data folder's file, or the cluster's database. */
  private final TokenStorage storage;

  /** A single node's tokens, in {@code <data>/api-tokens}. */
  public ApiTokens(Path dataDir) {
    this(new FileTokens(dataDir));
  }

  private ApiTokens(TokenStorage storage) {
    this.storage = storage;
  }

  /** A cluster's tokens, in its database: shared by every node. */
  public static ApiTokens inDatabase(dev.posta.database.Database database) {
    return new ApiTokens(new DatabaseTokens(database));
  }

  /**
   * Makes a token for {@code user} (a canonical address with an account: the caller checks; the
   * database also refuses an account removed meanwhile, with IOException).
   *
   * @param name 1 to 64 printable characters, no tab or line break
   * @throws IllegalArgumentException for a name that cannot be kept
   */
  public Created create(String user, String name) throws IOException {
    if (name.isEmpty() || name.length() > 64 || name.chars().anyMatch(c -> Character.isISOControl(c))) {
      throw new IllegalArgumentException("a token's name has 1 to 64 characters, without control characters");
    }
    byte[] random = new byte[32];
    RANDOM.nextBytes(random);
    String secret = PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    String hash = hash(secret);
    Token token = new Token(hash.substring(0, 12), hash, user, Instant.now().truncatedTo(ChronoUnit.SECONDS), name);
    storage.add(token);
    return new Created(token, secret);
  }

  /** Every token, oldest first. */
  public List<Token> list() throws IOException {
    return storage.list();
  }

  /**
   * Revokes the token with this id (or a longer prefix of its hash); no effect is an error.
   *
   * @return the token revoked, or empty when no token has that id
   */
  public Optional<Token> revoke(String id) throws IOException {
    String wanted = id.toLowerCase(java.util.Locale.ROOT);
    if (wanted.length() < 12 || wanted.length() > 64 || !wanted.chars().allMatch(c -> Character.digit(c, 16) >= 0)) return Optional.empty();
    return storage.revoke(wanted);
  }

  /** Revokes every token of {@code user} (its account is gone); returns how many. */
  public int revokeAll(String user) throws IOException {
    return storage.revokeAll(user);
  }

  /** The token {@code presented} is, or empty: an unknown or revoked token, or not a token at all. */
  public Optional<Token> find(String presented) throws IOException {
    if (!presented.startsWith(PREFIX) || presented.length() > 100) return Optional.empty();
    return storage.find(hash(presented));
  }

  /** SHA-256 of the token's characters, in lower-case hex. */
  static String hash(String token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
