package dev.posta.auth;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.posta.storage.PrivateFiles;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The HTTP API's bearer tokens (RFC 6750), in {@code <data>/api-tokens}: each acts as the account
 * it was made for. {@code posta token create} makes one, {@code list} and {@code revoke} manage
 * them; a running server sees a change at its next request.
 *
 * <p>A token is 256 random bits ({@link SecureRandom}), written {@code posta_} and 43 base64url
 * characters; it is shown once, when made, and only its SHA-256 is kept. A fast unsalted hash is
 * right here, unlike for passwords (Argon2id, {@link PasswordHash}): a password is guessable, so
 * its hash must be slow and salted to make each guess expensive, but a 256-bit random token
 * cannot be guessed whatever the hash costs, and no two tokens share a hash for a salt to tell
 * apart. So the stored hash gives nothing away even if the file is read, and checking a token
 * costs one hash and one map look-up, not an Argon2id run per API request. Looking the token up
 * by its hash also means no comparison runs over secret bytes an attacker chooses.
 *
 * <p>The file, mode 0600, one token a line: {@code id sha256-hex user created name}, the id being
 * the first 12 hex digits of the hash (public: it names the token in {@code list} and {@code
 * revoke}, and proves nothing). Written as the users file is: under a file lock, to a temporary
 * file, fsynced and renamed ({@link PrivateFiles#replace}).
 */
public final class ApiTokens {
  public static final String FILE_NAME = "api-tokens";
  static final String PREFIX = "posta_";
  private static final String HEADER = "# Posta API tokens: id sha256(token) user created name. Managed by `posta token`.";
  private static final ReentrantLock WRITE_LOCK = new ReentrantLock();
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

  private record Stamp(FileTime modified, long size, Object fileKey) {}

  private record Snapshot(Map<String, Token> byHash, Stamp stamp) {}

  private final Path dir;
  private final Path file;
  private volatile Snapshot snapshot;

  public ApiTokens(Path dataDir) {
    this.dir = dataDir.toAbsolutePath();
    this.file = dir.resolve(FILE_NAME);
  }

  public Path file() {
    return file;
  }

  /**
   * Makes a token for {@code user} (a canonical address with an account: the caller checks).
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
    edit(lines -> lines.add(line(token)));
    return new Created(token, secret);
  }

  /** Every token, oldest first. */
  public List<Token> list() throws IOException {
    return List.copyOf(current().byHash().values());
  }

  /**
   * Revokes the token with this id (or a longer prefix of its hash); no effect is an error.
   *
   * @return the token revoked, or empty when no token has that id
   */
  public Optional<Token> revoke(String id) throws IOException {
    String wanted = id.toLowerCase(java.util.Locale.ROOT);
    if (wanted.length() < 12) return Optional.empty();
    Token[] removed = new Token[1];
    edit(lines -> lines.removeIf(l -> {
      Token t = parse(l);
      if (t != null && t.hash().startsWith(wanted)) {
        removed[0] = t;
        return true;
      }
      return false;
    }));
    return Optional.ofNullable(removed[0]);
  }

  /** Revokes every token of {@code user} (its account is gone); returns how many. */
  public int revokeAll(String user) throws IOException {
    int[] removed = new int[1];
    if (current().byHash().values().stream().noneMatch(t -> t.user().equals(user))) return 0;
    edit(lines -> lines.removeIf(l -> {
      Token t = parse(l);
      boolean his = t != null && t.user().equals(user);
      if (his) removed[0]++;
      return his;
    }));
    return removed[0];
  }

  /** The token {@code presented} is, or empty: an unknown or revoked token, or not a token at all. */
  public Optional<Token> find(String presented) throws IOException {
    if (!presented.startsWith(PREFIX) || presented.length() > 100) return Optional.empty();
    return Optional.ofNullable(current().byHash().get(hash(presented)));
  }

  /** SHA-256 of the token's characters, in lower-case hex. */
  static String hash(String token) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }

  private static String line(Token t) {
    return t.id() + " " + t.hash() + " " + t.user() + " " + t.created() + " " + t.name();
  }

  /** A line as a token, or null for a comment or a line that is not one. */
  private static Token parse(String line) {
    if (line.isBlank() || line.startsWith("#")) return null;
    String[] f = line.split(" ", 5);
    if (f.length < 5 || f[1].length() != 64) return null;
    try {
      return new Token(f[0], f[1], f[2], Instant.parse(f[3]), f[4]);
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  private Snapshot current() throws IOException {
    Stamp now = stat();
    Snapshot s = snapshot;
    if (s != null && s.stamp().equals(now)) return s;
    synchronized (this) {
      s = snapshot;
      if (s != null && s.stamp().equals(now)) return s;
      Map<String, Token> byHash = new LinkedHashMap<>();
      for (String line : readLines()) {
        Token t = parse(line);
        if (t != null) byHash.put(t.hash(), t);
      }
      snapshot = s = new Snapshot(byHash, now);
      return s;
    }
  }

  /** The file's identity and version: a changed one is read again (a stat per request, no read). */
  private Stamp stat() throws IOException {
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
      return new Stamp(a.lastModifiedTime(), a.size(), a.fileKey());
    } catch (NoSuchFileException e) {
      return new Stamp(null, -1, null);
    }
  }

  private List<String> readLines() throws IOException {
    try {
      return Files.readAllLines(file, UTF_8);
    } catch (NoSuchFileException e) {
      return List.of();
    }
  }

  private interface Edit {
    void apply(List<String> lines) throws IOException;
  }

  /** Changes the file under a lock (this process's and, for {@code posta token} beside a server, the OS's), durably. */
  private void edit(Edit edit) throws IOException {
    WRITE_LOCK.lock();
    try {
      PrivateFiles.createDirectories(dir);
      try (FileChannel lock = FileChannel.open(dir.resolve(FILE_NAME + ".lock"),
              java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), PrivateFiles.file(dir));
          var held = lock.lock()) {
        List<String> lines = new ArrayList<>(readLines());
        if (lines.isEmpty()) lines.add(HEADER);
        edit.apply(lines);
        PrivateFiles.replace(file, (String.join("\n", lines) + "\n").getBytes(UTF_8));
      }
    } finally {
      WRITE_LOCK.unlock();
    }
  }
}
