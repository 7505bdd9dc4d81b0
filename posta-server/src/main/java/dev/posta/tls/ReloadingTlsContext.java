package dev.posta.tls;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The current {@link SSLContext} for a certificate and key file pair, rebuilt when the files
 * change.
 *
 * <p>At most once per {@code interval} (checked on the calling thread when a connection asks for
 * the context; one thread checks while the others go on with the current context) both files are
 * resolved through any symlinks and stat'ed. When the real path, modification time or size of
 * either differs from what is loaded, the files are read from those real paths and, if they are
 * good, a new context replaces the old one: connections made after that get the new
 * certificate, those already open keep theirs. If they are not good (half-written during a
 * renewal, say, or the certificate changed but not yet the key), the old context stays and one
 * WARN is logged for that state of the files; the next change is tried again.
 *
 * <p>This is how Let's Encrypt renewals are picked up: {@code live/<name>/fullchain.pem} is
 * repointed from {@code ../../archive/<name>/fullchain1.pem} to {@code fullchain2.pem}.
 */
final class ReloadingTlsContext {
  private static final Logger log = LoggerFactory.getLogger(ReloadingTlsContext.class);

  /** What a check compares: the files behind the symlinks, and their time and size. */
  record Stamp(Path certificate, FileTime certificateTime, long certificateSize,
      Path key, FileTime keyTime, long keySize) {}

  /** One loaded state: all a connection needs. */
  record Loaded(KeyMaterial material, SSLContext context, TlsPolicy policy, Stamp stamp) {}

  private final Path certificateFile;
  private final Path keyFile;
  private final String hostname;
  private final Clock clock;
  private final Duration interval;
  private final ReentrantLock checking = new ReentrantLock();
  private volatile Loaded current;
  private volatile Instant nextCheck;
  /** The last problem warned about; guarded by {@link #checking}. */
  private String lastProblem;

  /** Loads the files now; fails if they are not good. */
  ReloadingTlsContext(Path certificateFile, Path keyFile, String hostname, Clock clock, Duration interval)
      throws TlsException {
    this.certificateFile = Objects.requireNonNull(certificateFile);
    this.keyFile = Objects.requireNonNull(keyFile);
    this.hostname = hostname;
    this.clock = Objects.requireNonNull(clock);
    if (interval.isNegative()) throw new IllegalArgumentException("negative reload interval " + interval);
    this.interval = interval;
    this.current = load(stamp());
    this.nextCheck = clock.instant().plus(interval);
  }

  /** The state to use for a new connection, after checking the files if it is time. */
  Loaded current() {
    Instant now = clock.instant();
    if (!now.isBefore(nextCheck) && checking.tryLock()) {
      try {
        if (!now.isBefore(nextCheck)) {
          check();
          nextCheck = clock.instant().plus(interval);
        }
      } finally {
        checking.unlock();
      }
    }
    return current;
  }

  private void check() {
    Stamp stamp;
    try {
      stamp = stamp();
    } catch (TlsException e) {
      problem(e.getMessage(), e.getMessage());
      return;
    }
    if (stamp.equals(current.stamp())) {
      lastProblem = null; // back to what is loaded: a new breakage is worth a new warning
      return;
    }
    try {
      current = load(stamp);
      lastProblem = null;
    } catch (TlsException e) {
      problem(stamp + " " + e.getMessage(), e.getMessage());
    } catch (RuntimeException e) {
      problem(stamp + " " + e, KeyMaterial.describe(e));
    }
  }

  private void problem(String key, String message) {
    if (key.equals(lastProblem)) return;
    lastProblem = key;
    log.warn("TLS certificate not reloaded, still using {} (valid until {}): {}",
        current.material().leaf().getSubjectX500Principal().getName(),
        current.material().leaf().getNotAfter().toInstant(), message);
  }

  private Stamp stamp() throws TlsException {
    Path cert = realPath(certificateFile, "certificate");
    Path key = realPath(keyFile, "key");
    BasicFileAttributes c = attributes(cert, certificateFile, "certificate");
    BasicFileAttributes k = attributes(key, keyFile, "key");
    return new Stamp(cert, c.lastModifiedTime(), c.size(), key, k.lastModifiedTime(), k.size());
  }

  private static Path realPath(Path file, String what) throws TlsException {
    try {
      return file.toRealPath();
    } catch (IOException e) {
      throw new TlsException(what + " " + file + ": cannot read: " + KeyMaterial.describe(e), e);
    }
  }

  private static BasicFileAttributes attributes(Path real, Path file, String what) throws TlsException {
    try {
      return Files.readAttributes(real, BasicFileAttributes.class);
    } catch (IOException e) {
      throw new TlsException(what + " " + file + ": cannot read: " + KeyMaterial.describe(e), e);
    }
  }

  /** {@code " (-> /real/path)"} when {@code file} is reached through a symlink, else empty. */
  private static String via(Path file, Path real) {
    return real.equals(file.toAbsolutePath().normalize()) ? "" : " (-> " + real + ")";
  }

  /** Reads the files the stamp resolved to, so the symlinks cannot move in between. */
  private Loaded load(Stamp stamp) throws TlsException {
    String certificateName = certificateFile + via(certificateFile, stamp.certificate());
    String keyName = keyFile + via(keyFile, stamp.key());
    KeyMaterial material = KeyMaterial.parse(
        KeyMaterial.read(stamp.certificate(), "certificate " + certificateName), certificateName,
        KeyMaterial.read(stamp.key(), "key " + keyName), keyName);
    SSLContext context = material.newContext();
    TlsPolicy policy = TlsPolicy.forContext(context);
    X509Certificate leaf = material.leaf();
    log.info("TLS certificate loaded from {}: {}, issuer {}, valid until {}, SHA-256 {}",
        certificateName,
        leaf.getSubjectX500Principal().getName(), leaf.getIssuerX500Principal().getName(),
        leaf.getNotAfter().toInstant(), KeyMaterial.fingerprint(leaf));
    for (String warning : material.warnings(certificateName, hostname, clock.instant())) {
      log.warn("{}", warning);
    }
    return new Loaded(material, context, policy, stamp);
  }
}
