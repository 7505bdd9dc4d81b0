package dev.posta.auth;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.net.IDN;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.text.Normalizer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The accounts that may log in (SMTP AUTH, RFC 4954; later IMAP and POP3), kept in {@code
 * <data>/users} ({@link FileAccounts}), or, on a clustered node, in the cluster's database
 * ({@link DatabaseAccounts}, {@link #inDatabase}), whose rows hold the same fields.
 *
 * <p>Format, one account a line: {@code address TAB argon2id-PHC TAB SCRAM-SHA-256-string} (see
 * {@link PasswordHash} and {@link ScramCredentials}), then, only when it has any, {@code TAB} and
 * the account's attributes separated by commas: {@code admin} (an operator: the web view's queue,
 * users and server pages, and the API's) and {@code disabled} (no login anywhere, by password,
 * SCRAM or API token; its mail is still delivered). A line without attributes has three fields, as
 * before attributes existed. Blank lines and lines starting with {@code
 * #} are ignored, and kept as they are when the file is rewritten. Addresses are canonical ({@link
 * #canonicalAddress}). A malformed line is skipped with a warning; of duplicates the first wins.
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li>Every change is atomic and durable: the whole file is written to a temporary file in the
 *       same folder with mode 0600, fsynced, renamed over {@code users}, and the folder fsynced. A
 *       crash leaves the old file or the new one, never a mix.
 *   <li>Changes from several processes (the CLI while the server runs) are serialized by an
 *       exclusive lock on {@code <data>/users.lock}; each re-reads the file under the lock, so none
 *       is lost.
 *   <li>Other processes' changes are seen within a second, without a restart: the file's mtime,
 *       size and inode are checked at most once a second, and the file re-read when one changed.
 *       Changes made through this instance are seen at once.
 *   <li>Thread-safe: lookups read an immutable snapshot. I/O errors are thrown, never hidden as
 *       "no such user".
 *   <li>In the database, the same hold across nodes: each change is one transaction, serialized
 *       with every other node's; another node's change is seen at once when its notification
 *       arrives, and within {@link DatabaseAccounts#POLL} when it was lost.
 * </ul>
 */
public final class UserStore implements AutoCloseable {
  public static final String FILE_NAME = "users";
  private static final Logger log = LoggerFactory.getLogger(UserStore.class);
  static final String ADMIN = "admin", DISABLED = "disabled";

  /** One account, as stored. */
  public record User(String address, String passwordHash, ScramCredentials scram, boolean admin, boolean disabled) {
    public User(String address, String passwordHash, ScramCredentials scram) {
      this(address, passwordHash, scram, false, false);
    }

    /** The attributes as {@code posta user list} and the users file name them, e.g. {@code [admin]}. */
    public List<String> attributes() {
      List<String> a = new ArrayList<>(2);
      if (admin) a.add(ADMIN);
      if (disabled) a.add(DISABLED);
      return a;
    }
  }

  /** A change that cannot be made (user exists, no such user, bad address or password). */
  public static final class UserException extends Exception {
    public UserException(String message) {
      super(message);
    }
  }

  private final Path dir;
  private final Path file;
  /** Where the accounts are kept: the users file, or the cluster's database. */
  private final AccountStorage storage;
  /** How long a password check may wait for a free slot (see {@link #bounded}). */
  private final Duration checkWait;
  /**
   * Capture mode's logins (config.PostaConfig.Capture), canonical address to password, instead of
   * the file: null for a real server; empty for "any address, any password".
   */
  private final Map<String, String> captureLogins;

  /**
   * Capture mode's logins, in memory and never the users file: with {@code logins} empty every
   * address logs in with any password; else only those addresses, with those passwords
   * (compared in constant time; no Argon2id, so a test account costs nothing to make or check).
   * SCRAM-SHA-256 cannot take them ({@link #mechanisms}).
   */
  public static UserStore forCapture(Path dataDir, Duration checkWait, Map<String, String> logins) {
    Map<String, String> canonical = new LinkedHashMap<>();
    logins.forEach((address, password) -> canonical.put(canonicalAddress(address), password));
    return new UserStore(dataDir, checkWait, canonical, new FileAccounts(dataDir.toAbsolutePath(), System::nanoTime));
  }

  /**
   * A clustered node's accounts: in the cluster's database ({@link DatabaseAccounts}), shared by
   * every node; a change made on one is seen on all within {@link DatabaseAccounts#POLL}, most
   * often at once (LISTEN/NOTIFY). The API tokens are the database's too ({@link
   * ApiTokens#inDatabase}): an account removed takes its tokens with it, in its transaction. Close
   * it to stop listening.
   */
  public static UserStore inDatabase(dev.posta.database.Database database, Path dataDir, Duration checkWait) {
    return new UserStore(dataDir, checkWait, null, DatabaseAccounts.open(database, DatabaseAccounts.POLL, true));
  }

  /** With another poll period, and without listening when {@code listen} is false: for tests. */
  static UserStore inDatabase(dev.posta.database.Database database, Path dataDir, Duration poll, boolean listen) {
    return new UserStore(dataDir, Duration.ofMinutes(5), null, DatabaseAccounts.open(database, poll, listen));
  }

  /** Whether logins are capture mode's ({@link #forCapture}) rather than the users file's. */
  public boolean capture() {
    return captureLogins != null;
  }

  /** The SASL mechanisms these accounts can serve, strongest first, as EHLO, CAPABILITY and CAPA list them. */
  public List<String> mechanisms() {
    return captureLogins == null ? SaslMechanism.NAMES : List.of("PLAIN", "LOGIN");
  }

  public UserStore(Path dataDir) {
    this(dataDir, Duration.ofMinutes(5));
  }

  /** {@code checkWait}: how long a password check may wait while others run (the command timeout). */
  public UserStore(Path dataDir, Duration checkWait) {
    this(dataDir, System::nanoTime, checkWait);
  }

  /** With a clock, so tests can pass the once-a-second check without sleeping. */
  UserStore(Path dataDir, LongSupplier nanoClock) {
    this(dataDir, nanoClock, Duration.ofMinutes(5));
  }

  private UserStore(Path dataDir, LongSupplier nanoClock, Duration checkWait) {
    this(dataDir, checkWait, null, new FileAccounts(dataDir.toAbsolutePath(), nanoClock));
  }

  private UserStore(Path dataDir, Duration checkWait, Map<String, String> captureLogins, AccountStorage storage) {
    this.captureLogins = captureLogins == null ? null : Map.copyOf(captureLogins);
    this.dir = dataDir.toAbsolutePath();
    this.file = dir.resolve(FILE_NAME);
    this.storage = storage;
    this.checkWait = checkWait;
  }

  /** Stops following the accounts' changes (the database's notifications); nothing for the users file. */
  @Override
  public void close() {
    if (storage != null) storage.close();
  }

  /** The users file; a clustered node's accounts are in its database instead. */
  public Path file() {
    return file;
  }

  /** The account for {@code address} (any case); empty when unknown or not an address. */
  public Optional<User> find(String address) throws IOException {
    String canonical;
    try {
      canonical = canonicalAddress(address);
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
    if (captureLogins != null) {
      return captureLogins.isEmpty() || captureLogins.containsKey(canonical) ? Optional.of(new User(canonical, "", null)) : Optional.empty();
    }
    return Optional.ofNullable(storage.current().get(canonical));
  }

  /** Every account's address, sorted. */
  public List<String> list() throws IOException {
    if (captureLogins != null) return captureLogins.keySet().stream().sorted().toList();
    List<String> addresses = new ArrayList<>(storage.current().keySet());
    Collections.sort(addresses);
    return addresses;
  }

  /**
   * True when {@code address} has an account that is not disabled and {@code password} is its
   * password. Takes one Argon2id verification whether or not the account exists or is disabled,
   * so neither shows in the time it takes.
   */
  public boolean verify(String address, char[] password) throws IOException {
    if (captureLogins != null) return verifyCapture(address, password);
    Optional<User> user = find(address);
    if (user.isEmpty()) return bounded(() -> PasswordHash.verifyDummy(password));
    if (user.get().disabled()) {
      bounded(() -> PasswordHash.verifyDummy(password));
      log.info("{}: login refused: the account is disabled (posta user enable)", user.get().address());
      return false;
    }
    String key = verifiedKey(user.get(), password);
    if (verified.wasVerified(key)) return true;
    boolean ok = bounded(() -> PasswordHash.verify(user.get().passwordHash(), password));
    if (ok) verified.remember(key);
    return ok;
  }

  /**
   * Logins verified lately, so that a mail client logging in again and again (an IMAP client
   * opens several connections, and again at each look for new mail) costs one Argon2id check
   * per password and {@link VerifiedLogins#TTL}, not one per connection, as Dovecot's
   * auth_cache does. Only successes are kept, and never a password: see {@link #verifiedKey}.
   */
  private final VerifiedLogins verified = new VerifiedLogins();

  /**
   * What a verified login is remembered by: an HMAC-SHA256, under a key made at start and never
   * written anywhere, of the address, its stored hash and the password. It cannot be turned back
   * into the password, and a changed password (another stored hash) no longer matches.
   */
  private String verifiedKey(User user, char[] password) {
    var mac = verified.mac();
    mac.update(user.address().getBytes(UTF_8));
    mac.update((byte) 0);
    mac.update(user.passwordHash().getBytes(UTF_8));
    mac.update((byte) 0);
    ByteBuffer secret = UTF_8.encode(java.nio.CharBuffer.wrap(password)); // no String: it could not be wiped
    try {
      mac.update(secret.duplicate());
      return java.util.HexFormat.of().formatHex(mac.doFinal());
    } finally {
      while (secret.hasRemaining()) secret.put((byte) 0);
    }
  }

  private boolean verifyCapture(String address, char[] password) throws IOException {
    Optional<User> user = find(address);
    if (user.isEmpty()) return false;
    if (captureLogins.isEmpty()) return true;
    ByteBuffer given = UTF_8.encode(java.nio.CharBuffer.wrap(password));
    byte[] bytes = new byte[given.remaining()];
    given.get(bytes);
    return java.security.MessageDigest.isEqual(bytes, captureLogins.get(user.get().address()).getBytes(UTF_8));
  }

  /** Costs what {@link #verify} costs, and returns false: for a user name that is no address. */
  public boolean verifyDummy(char[] password) throws IOException {
    if (captureLogins != null) return false;
    return bounded(() -> PasswordHash.verifyDummy(password));
  }

  /**
   * At most this many Argon2id checks run at once in this JVM: each holds ~19 MiB (m=19456 KiB)
   * while it runs, so an AUTH flood would otherwise grow memory with the number of sessions
   * (1.16 GB RSS, issue 10). They are CPU-bound, so more than the cores gains nothing; 4 caps
   * their memory near 80 MiB.
   */
  static final int CONCURRENT_CHECKS = Math.min(4, Runtime.getRuntime().availableProcessors());
  /** Fair: a waiting check is not overtaken by later ones. */
  static final Semaphore CHECKS = new Semaphore(CONCURRENT_CHECKS, true);
  /** Password checks running now, the most ever seen at once, and all so far: for tests of the bound and the cache. */
  static final AtomicInteger CHECKING = new AtomicInteger(), PEAK_CHECKING = new AtomicInteger(), CHECKED = new AtomicInteger();

  private interface Check {
    boolean run();
  }

  /**
   * Runs a check once one of the {@link #CONCURRENT_CHECKS} slots is free; waits at most {@code
   * checkWait} (the session's command timeout), then fails with IOException, which the SASL
   * mechanisms answer as a temporary failure, never as a wrong password.
   */
  private boolean bounded(Check check) throws IOException {
    try {
      if (!CHECKS.tryAcquire(checkWait.toNanos(), TimeUnit.NANOSECONDS)) {
        throw new IOException("no password check slot free within " + checkWait + " (too many logins at once)");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted while waiting to check a password");
    }
    PEAK_CHECKING.accumulateAndGet(CHECKING.incrementAndGet(), Math::max);
    CHECKED.incrementAndGet();
    try {
      return check.run();
    } finally {
      CHECKING.decrementAndGet();
      CHECKS.release();
    }
  }

  /** Adds an account; fails when the address already has one. */
  public void add(String address, char[] password) throws IOException, UserException {
    add(address, password, false);
  }

  /** Adds an account, an operator's when {@code admin}; fails when the address already has one. */
  public void add(String address, char[] password, boolean admin) throws IOException, UserException {
    String canonical = validAddress(address);
    String line = line(canonical, password) + (admin ? "\t" + ADMIN : "");
    edit(lines -> {
      if (lines.stream().anyMatch(l -> canonical.equals(addressOf(l)))) {
        throw new UserException(canonical + " already exists");
      }
      lines.add(line);
    });
  }

  /** Replaces the password of an existing account; its attributes stay. */
  public void setPassword(String address, char[] password) throws IOException, UserException {
    String canonical = validAddress(address);
    String line = line(canonical, password);
    edit(lines -> {
      int at = indexOf(lines, canonical);
      String[] f = lines.get(at).split("\t", -1);
      lines.set(at, f.length == 4 && !f[3].isEmpty() ? line + "\t" + f[3] : line);
      lines.subList(at + 1, lines.size()).removeIf(l -> canonical.equals(addressOf(l)));
    });
  }

  /** Makes an account an operator's ({@code admin}) or an ordinary one. */
  public void setAdmin(String address, boolean admin) throws IOException, UserException {
    setAttribute(address, ADMIN, admin);
  }

  /** Disables an account (no login anywhere; its mail is still delivered) or enables it again. */
  public void setDisabled(String address, boolean disabled) throws IOException, UserException {
    setAttribute(address, DISABLED, disabled);
  }

  private void setAttribute(String address, String attribute, boolean on) throws IOException, UserException {
    String canonical = validAddress(address);
    edit(lines -> {
      int at = indexOf(lines, canonical);
      String[] f = lines.get(at).split("\t", -1);
      if (f.length < 3) throw new UserException(canonical + ": its line in the users file is malformed; set its password first");
      java.util.TreeSet<String> attributes = new java.util.TreeSet<>();
      if (f.length == 4) for (String a : f[3].split(",")) if (!a.isBlank()) attributes.add(a.strip());
      if (on) attributes.add(attribute);
      else attributes.remove(attribute);
      String base = f[0] + "\t" + f[1] + "\t" + f[2];
      lines.set(at, attributes.isEmpty() ? base : base + "\t" + String.join(",", attributes));
    });
  }

  /**
   * Removes an account and revokes its API tokens, so that an account made again later under
   * the same address does not inherit them.
   */
  public void remove(String address) throws IOException, UserException {
    String canonical = validAddress(address);
    edit(lines -> {
      indexOf(lines, canonical); // throws when there is no such user
      lines.removeIf(l -> canonical.equals(addressOf(l)));
    });
    int revoked = storage.revokeTokens(canonical);
    if (revoked > 0) log.info("{}: account removed, its {} API token{} revoked", canonical, revoked, revoked == 1 ? "" : "s");
  }

  /**
   * The form addresses are stored and compared in: NFKC, local part lower-cased, domain as
   * lower-case A-labels (IDNA). IllegalArgumentException when not {@code local@domain} with
   * exactly one {@code @}, or with spaces or control characters.
   */
  public static String canonicalAddress(String address) {
    // An address of letters, digits and the usual punctuation at a host name of letters, digits
    // and hyphens is its own NFKC form and its own A-labels: taken as it is, without loading the
    // JDK's Unicode tables (NFKC and IDNA: a cold JVM's start pays tens of milliseconds for them).
    Matcher plain = PLAIN_ADDRESS.matcher(address);
    if (plain.matches()) return address.toLowerCase(Locale.ROOT);
    String a = Normalizer.normalize(address, Normalizer.Form.NFKC);
    int at = a.indexOf('@');
    boolean ok = at > 0 && at == a.lastIndexOf('@') && at < a.length() - 1 && !a.startsWith("#")
        && a.length() <= 254 && a.chars().noneMatch(c -> Character.isWhitespace(c) || Character.isISOControl(c));
    if (ok) {
      try {
        String domain = IDN.toASCII(a.substring(at + 1)).toLowerCase(Locale.ROOT);
        if (!domain.isEmpty()) return a.substring(0, at).toLowerCase(Locale.ROOT) + "@" + domain;
      } catch (IllegalArgumentException e) {
        // falls through
      }
    }
    throw new IllegalArgumentException("not a valid address (local@domain, without spaces)");
  }

  /**
   * A local part of RFC 5322's atext and dots (no {@code #} first, as the users file's comments
   * start so), at a domain of LDH labels of 1 to 63 characters: ASCII throughout, so NFKC and
   * IDNA leave it as it is (both are checked on it in UserStoreTest).
   */
  private static final Pattern PLAIN_ADDRESS = Pattern.compile(
      "(?=.{3,254}$)[A-Za-z0-9!$%&'*+/=?^_`{|}~.-][A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]*"
          + "@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*");

  private static String validAddress(String address) throws UserException {
    try {
      return canonicalAddress(address);
    } catch (IllegalArgumentException e) {
      throw new UserException(e.getMessage());
    }
  }

  private static String line(String address, char[] password) throws UserException {
    if (password.length == 0) throw new UserException("empty password refused");
    for (char c : password) {
      if (Character.isISOControl(c)) throw new UserException("password contains control characters");
    }
    return address + "\t" + PasswordHash.hash(password) + "\t" + ScramCredentials.create(password).encode();
  }

  /** The canonical address a line is for, or null for comments, blank and unusable lines. */
  private static String addressOf(String line) {
    if (line.isBlank() || line.startsWith("#")) return null;
    int tab = line.indexOf('\t');
    try {
      return canonicalAddress(tab < 0 ? line : line.substring(0, tab));
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static int indexOf(List<String> lines, String address) throws UserException {
    for (int i = 0; i < lines.size(); i++) if (address.equals(addressOf(lines.get(i)))) return i;
    throw new UserException("no such user: " + address);
  }

  /** An account's line in the users file's format. */
  static String lineOf(User user) {
    String base = user.address() + "\t" + user.passwordHash() + "\t" + user.scram().encode();
    return user.attributes().isEmpty() ? base : base + "\t" + String.join(",", user.attributes());
  }

  private void edit(AccountStorage.Edit edit) throws IOException, UserException {
    storage.edit(edit);
  }

  /**
   * The accounts of the users file's {@code lines}, by canonical address; unusable lines are
   * skipped, with a warning naming {@code source} and the line's number when {@code warn}.
   */
  static Map<String, User> parse(List<String> lines, String source, boolean warn) {
    Map<String, User> users = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isBlank() || line.startsWith("#")) continue;
      String problem = null;
      String[] f = line.split("\t", -1);
      Set<String> attributes = f.length != 4 ? Set.of()
          : java.util.Arrays.stream(f[3].split(",")).map(String::strip).filter(a -> !a.isEmpty()).collect(java.util.stream.Collectors.toSet());
      if (f.length != 3 && f.length != 4) {
        problem = "expected address, argon2id hash and SCRAM-SHA-256 credentials separated by TABs, then the attributes";
      } else if (!Set.of(ADMIN, DISABLED).containsAll(attributes)) {
        problem = "unknown attribute (known: admin, disabled)";
      } else if (addressOf(line) == null) {
        problem = "not a valid address";
      } else if (users.containsKey(addressOf(line))) {
        problem = "duplicate of an earlier line";
      } else if (!PasswordHash.isWellFormed(f[1])) {
        problem = "not an argon2id PHC string";
      } else {
        try {
          users.put(addressOf(line), new User(addressOf(line), f[1], ScramCredentials.decode(f[2]), attributes.contains(ADMIN),
              attributes.contains(DISABLED)));
        } catch (IllegalArgumentException e) {
          problem = "not a SCRAM-SHA-256 credential string";
        }
      }
      if (problem != null && warn) log.warn("{}:{}: {}; line ignored", source, i + 1, problem);
    }
    return Collections.unmodifiableMap(users);
  }
}
