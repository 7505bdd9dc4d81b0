package dev.posta.tls;

import java.io.IOException;
import java.net.Socket;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;

/**
 * The server side of TLS for every listener: STARTTLS (RFC 3207) on SMTP and submission, and
 * implicit TLS (RFC 8314) on SMTPS.
 *
 * <p>Made once at start with {@link #load}. The certificate comes from the configured PEM files,
 * which are watched for changes (see {@link ReloadingTlsContext}: every 5 seconds at most,
 * symlinks followed, a broken update ignored with a warning), or, when none is configured, from
 * a self-signed certificate kept in {@code <data>/tls/}. Every socket gets the policy of {@link
 * TlsPolicy}: TLS 1.3 and 1.2, ECDHE and AEAD only, server cipher order, no client
 * certificates. Uses the JDK's TLS provider.
 *
 * <p>Thread-safe; one instance serves all listeners and connections.
 */
public final class ServerTls {
  static {
    // CVE-2011-1473: a client-initiated TLS 1.2 renegotiation costs the server a handshake for
    // free; mail clients never need it. JSSE reads this once, before its first handshake, so
    // it is set as soon as TLS is set up at all.
    System.setProperty("jdk.tls.rejectClientInitiatedRenegotiation", "true");
  }
  /** How often, at most, the certificate and key files are checked for changes. */
  public static final Duration DEFAULT_RELOAD_INTERVAL = Duration.ofSeconds(5);

  /** Done at once by {@link #load}; by {@link #loadWhen}, once the files are written and read. */
  private final CompletableFuture<ReloadingTlsContext> holder;
  private final boolean selfSigned;
  private final Path certificatePath;
  private final Path keyPath;

  private ServerTls(CompletableFuture<ReloadingTlsContext> holder, boolean selfSigned, Path certificatePath, Path keyPath) {
    this.holder = holder;
    this.selfSigned = selfSigned;
    this.certificatePath = certificatePath;
    this.keyPath = keyPath;
  }

  /**
   * The configured certificate and key, loaded as soon as another thread has written them
   * ({@code written} completes; the JUnit extension's per-run CA): returned at once, so that a
   * server binds its listeners meanwhile. The files are read on the thread that completes
   * {@code written} (or on this one, when it is already done); a connection that asks for TLS
   * before then waits for it. When the files cannot be made or read, each such connection fails
   * with a {@link TlsException} saying why, and {@link #failure} tells it.
   */
  public static ServerTls loadWhen(CompletableFuture<?> written, Path certificate, Path key, String hostname) {
    CompletableFuture<ReloadingTlsContext> holder = written.handle((done, failed) -> {
      if (failed != null) {
        Throwable cause = failed instanceof java.util.concurrent.CompletionException c && c.getCause() != null ? c.getCause() : failed;
        throw new java.util.concurrent.CompletionException(new TlsException("the TLS certificate files could not be made: " + cause, cause));
      }
      try {
        return new ReloadingTlsContext(certificate, key, hostname, Clock.systemUTC(), DEFAULT_RELOAD_INTERVAL);
      } catch (TlsException e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    });
    return new ServerTls(holder, false, certificate, key);
  }

  /** Why TLS cannot be set up ({@link #loadWhen}), or empty: set up, or not yet. */
  public Optional<TlsException> failure() {
    if (!holder.isCompletedExceptionally()) return Optional.empty();
    try {
      holder.join();
      return Optional.empty();
    } catch (java.util.concurrent.CompletionException e) {
      return Optional.of(e.getCause() instanceof TlsException t ? t : new TlsException(String.valueOf(e.getCause()), e.getCause()));
    }
  }

  /** The context holder, waiting for {@link #loadWhen}'s files if need be. */
  private ReloadingTlsContext holder() throws TlsException {
    if (holder.isDone() && !holder.isCompletedExceptionally()) return holder.join(); // the usual case: no wait, no exception
    try {
      return holder.get();
    } catch (java.util.concurrent.ExecutionException e) {
      throw e.getCause() instanceof TlsException t ? t : new TlsException(String.valueOf(e.getCause()), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new TlsException("interrupted while waiting for the TLS certificate", e);
    }
  }

  /** {@link #holder()} for what cannot throw a checked exception. */
  private ReloadingTlsContext.Loaded current() {
    try {
      return holder().current();
    } catch (TlsException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /**
   * Loads the configured certificate chain and key, or, when neither is configured, the
   * self-signed certificate for {@code hostname} in {@code dataDir/tls} (made if missing or for
   * another hostname).
   *
   * @param certificate PEM chain, server certificate first (e.g. Let's Encrypt {@code fullchain.pem})
   * @param key PEM private key, RSA or EC, PKCS#8, PKCS#1 or SEC1 (e.g. {@code privkey.pem})
   * @param hostname the server's hostname, for the self-signed certificate and a warning when
   *     the configured one does not name it
   * @param dataDir the data folder
   * @throws TlsException with a one-line message naming the file, if the files are unusable or
   *     only one of {@code certificate} and {@code key} is given
   */
  public static ServerTls load(Optional<Path> certificate, Optional<Path> key, String hostname, Path dataDir)
      throws TlsException {
    return load(certificate, key, hostname, dataDir, Clock.systemUTC(), DEFAULT_RELOAD_INTERVAL);
  }

  /** {@link #load(Optional, Optional, String, Path)} with the clock and interval for reloading. */
  public static ServerTls load(Optional<Path> certificate, Optional<Path> key, String hostname, Path dataDir,
      Clock clock, Duration reloadInterval) throws TlsException {
    if (certificate.isPresent() != key.isPresent()) {
      throw new TlsException(certificate.isPresent()
          ? "certificate " + certificate.get() + " is configured without its key"
          : "key " + key.get() + " is configured without its certificate");
    }
    if (certificate.isPresent()) {
      return new ServerTls(CompletableFuture.completedFuture(new ReloadingTlsContext(certificate.get(), key.get(), hostname, clock, reloadInterval)),
          false, certificate.get(), key.get());
    }
    SelfSignedCertificate.Pair pair = SelfSignedCertificate.ensure(dataDir, hostname, clock);
    return new ServerTls(CompletableFuture.completedFuture(new ReloadingTlsContext(pair.certificate(), pair.key(), hostname, clock, reloadInterval)),
        true, pair.certificate(), pair.key());
  }

  /**
   * The current context, after checking the files if it is time. Sockets or engines made from it
   * directly do not have the policy: use {@link #startTls}/{@link #acceptImplicit}, or {@link
   * #parameters()}.
   */
  public SSLContext context() {
    return current().context();
  }

  /**
   * STARTTLS: layers TLS, server side, over the connected {@code plain} socket, after the {@code
   * 220 Ready to start TLS} reply has been flushed and any input buffered after the STARTTLS
   * command has been dropped. The handshake runs on the first read or write, or on {@link
   * SSLSocket#startHandshake()} (which honours {@code plain}'s read timeout; call it to see
   * handshake failures at once). Closing the returned socket closes {@code plain}.
   */
  public SSLSocket startTls(Socket plain) throws IOException {
    ReloadingTlsContext.Loaded loaded = holder().current();
    SSLSocket socket = (SSLSocket) loaded.context().getSocketFactory().createSocket(plain, null, true);
    return loaded.policy().apply(socket);
  }

  /**
   * Implicit TLS (SMTPS, port 465): the same as {@link #startTls}, for a socket just accepted, so
   * the accept loop and its connection limits stay as for plain listeners. Start the handshake
   * before sending the greeting.
   */
  public SSLSocket acceptImplicit(Socket accepted) throws IOException {
    return startTls(accepted);
  }

  /** Fresh parameters with the policy, for sockets or engines made from {@link #context()}. */
  public SSLParameters parameters() {
    ReloadingTlsContext.Loaded loaded = current();
    return loaded.policy().apply(loaded.context().getDefaultSSLParameters());
  }

  /**
   * The negotiated protocol and cipher suite, e.g. {@code "TLSv1.3 with cipher
   * TLS_AES_256_GCM_SHA384"}, for logs and the Received: header.
   */
  public static String describe(SSLSession session) {
    return TlsPolicy.describe(session);
  }

  /** Whether the certificate is the generated self-signed one, not a configured one. */
  public boolean selfSigned() {
    return selfSigned;
  }

  /** The certificate file: as configured, or {@code <data>/tls/self-signed.crt}. */
  public Path certificatePath() {
    return certificatePath;
  }

  /** The key file: as configured, or {@code <data>/tls/self-signed.key}. */
  public Path keyPath() {
    return keyPath;
  }

  /** The server certificate served to new connections now. */
  public X509Certificate certificate() {
    return current().material().leaf();
  }

  /** The chain served to new connections now, server certificate first. */
  public List<X509Certificate> chain() {
    return current().material().chain();
  }

  /** SHA-256 fingerprint of {@code certificate}, {@code "AB:CD:..."}, for banners and pinning. */
  public static String fingerprint(X509Certificate certificate) {
    return KeyMaterial.fingerprint(certificate);
  }
}
