package dev.posta.junit;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * The test run's certificate authority: one per JVM, made on first need, kept in memory and in a
 * temporary folder deleted when the JVM exits. Nothing is shipped, so nothing can expire or
 * leak: the CA's key never leaves the JVM, and it lives a week.
 *
 * <ul>
 *   <li>the CA: EC P-256, self-signed, {@code CN=Posta test CA <random>}, CA with path length 0
 *       (it can sign server certificates only), written as {@code ca.pem};
 *   <li>the server certificate: EC P-256, issued by the CA, for {@code localhost}, 127.0.0.1 and
 *       ::1 and the extension's hostname when it has another, for TLS servers only (RFC 5280
 *       §4.2.1.12); the key in {@code server-key.pem}, the chain (server certificate, then CA) in
 *       {@code server-<hostname>.pem}, as the server reads a configured chain;
 *   <li>both valid from {@link #VALID_BEFORE} before their making to {@link #VALID_AFTER} after
 *       it: a client whose clock is a little off still accepts them, and no test run is long
 *       enough to see them expire.
 * </ul>
 *
 * <p><b>Start-up.</b> Making it costs a fresh JVM two EC keys and two signatures (see {@link
 * X509Writer} for why not Bouncy Castle; the first P-256 key also builds the JDK's table for
 * the curve's generator), and the server's TLS set-up then loads the JDK's TLS and reads the
 * PEM files: together more than twice the rest of a first start. So {@link #prepare()}, called
 * as soon as an extension is set up to use TLS, starts two threads: one makes the CA and writes
 * its files, then (through {@code PostaServer#tlsFilesFrom}) reads them into the server's TLS
 * context; the other loads the JDK's TLS meanwhile, as that context will. The server does not
 * wait for either: it binds its listeners, and a connection that asks for TLS before the
 * context is ready waits for it. Both threads end when done. The client side (trust manager,
 * client context, trust store) is made when a test first asks for it.
 *
 * <p>Thread-safe: classes running in parallel share the one CA.
 */
final class TestCa {
  /** How long before its making each certificate becomes valid: clients with a clock behind. */
  static final Duration VALID_BEFORE = Duration.ofDays(1);
  /** How long after its making each certificate stays valid: longer than any test run. */
  static final Duration VALID_AFTER = Duration.ofDays(7);

  private static final Object LOCK = new Object();
  private static CompletableFuture<TestCa> making;
  private static Path folder;

  private final X509Certificate certificate;
  private final PrivateKey key;
  private final KeyPair serverKeys;
  private final Instant notBefore;
  private final Instant notAfter;
  private final Path dir;
  private final Path certificateFile;
  private final Path serverKeyFile;
  /** Made when a test first asks: a server's start needs neither. */
  private SSLContext clientContext;
  private X509TrustManager trustManager;
  private final SecureRandom random = new SecureRandom();
  /** The chain file for each hostname asked for so far. */
  private final Map<String, Path> chains = new HashMap<>();
  private final Map<String, X509Certificate> serverCertificates = new HashMap<>();
  private Path trustStore;

  private TestCa(X509Certificate certificate, PrivateKey key, KeyPair serverKeys, Instant notBefore, Instant notAfter, Path dir)
      throws GeneralSecurityException, IOException {
    this.certificate = certificate;
    this.key = key;
    this.serverKeys = serverKeys;
    this.notBefore = notBefore;
    this.notAfter = notAfter;
    this.dir = dir;
    this.certificateFile = write(dir.resolve("ca.pem"), pem("CERTIFICATE", certificate.getEncoded()));
    this.serverKeyFile = write(serverKeyPath(), pem("PRIVATE KEY", serverKeys.getPrivate().getEncoded()));
  }

  /**
   * Starts making the CA on a thread of its own, unless it is made or being made. Its folder is
   * made at once, so that the files' paths are known before they are written ({@link
   * #chainPath}, {@link #serverKeyPath}).
   */
  static void prepare() {
    synchronized (LOCK) {
      if (making != null) return;
      Path dir;
      try {
        dir = Files.createTempDirectory("posta-junit-ca-"); // 0700: the server key is in it
      } catch (IOException e) {
        throw new UncheckedIOException("cannot make a folder for the test CA", e);
      }
      Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(dir), "posta-junit-ca-cleanup"));
      folder = dir;
      CompletableFuture<TestCa> future = new CompletableFuture<>();
      making = future;
      Thread.ofPlatform().name("posta-junit-tls-warm-up").daemon().start(TestCa::warmUpTls);
      Thread.ofPlatform().name("posta-junit-test-ca").daemon().start(() -> {
        try {
          future.complete(make(dir));
        } catch (Throwable e) {
          future.completeExceptionally(e);
        }
      });
    }
  }

  /**
   * Loads the JDK's TLS (its provider, protocols, cipher suites) while the CA's keys are made on
   * the other thread, as the server's context will need it: a context with no key that trusts no
   * one, asked what it supports (as the server's policy asks), then thrown away. Nothing more:
   * what the server does not need at its start (a trust store, an engine) would only take the
   * CPU from the CA's thread.
   */
  private static void warmUpTls() {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(new javax.net.ssl.KeyManager[0], new javax.net.ssl.TrustManager[] {TRUSTS_NO_ONE}, null);
      context.getSupportedSSLParameters();
    } catch (GeneralSecurityException e) {
      // nothing loaded ahead: the server's set-up reports what fails
    }
  }

  private static final X509TrustManager TRUSTS_NO_ONE = new X509TrustManager() {
    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
      throw new java.security.cert.CertificateException("trusts no one");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
      throw new java.security.cert.CertificateException("trusts no one");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  };

  /** Where {@link #chainFile} writes the chain for {@code hostname}, known before it is written. */
  static Path chainPath(String hostname) {
    prepare();
    synchronized (LOCK) {
      return folder.resolve("server-" + hostname.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.-]", "_") + ".pem");
    }
  }

  /** Where the server key is written, known before it is written. */
  static Path serverKeyPath() {
    prepare();
    synchronized (LOCK) {
      return folder.resolve("server-key.pem");
    }
  }

  /** The CA being made (or made): for the server to wait on when it sets up TLS. */
  static CompletableFuture<TestCa> making() {
    prepare();
    synchronized (LOCK) {
      return making;
    }
  }

  /** The CA, made first if need be. */
  static TestCa get() {
    try {
      return making().join();
    } catch (CompletionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException r) throw r;
      if (cause instanceof Error r) throw r;
      throw new IllegalStateException("cannot make the test CA: " + cause, cause);
    }
  }

  private static TestCa make(Path dir) throws GeneralSecurityException, IOException {
    Instant now = Instant.now().truncatedTo(java.time.temporal.ChronoUnit.SECONDS); // as the certificates write it
    Instant notBefore = now.minus(VALID_BEFORE);
    Instant notAfter = now.plus(VALID_AFTER);
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    SecureRandom random = new SecureRandom();
    generator.initialize(new ECGenParameterSpec("secp256r1"), random);
    KeyPair caKeys = generator.generateKeyPair();
    KeyPair serverKeys = generator.generateKeyPair();
    byte[] id = new byte[4];
    random.nextBytes(id);
    X509Certificate ca = X509Writer.ca(new X509Writer.Name("Posta test CA " + HexFormat.of().formatHex(id), "posta-junit"),
        caKeys.getPublic(), caKeys.getPrivate(), serial(random), notBefore, notAfter);
    return new TestCa(ca, caKeys.getPrivate(), serverKeys, notBefore, notAfter, dir);
  }

  /** Positive, at most 20 octets, unpredictable (RFC 5280 §4.1.2.2). */
  private static BigInteger serial(SecureRandom random) {
    return new BigInteger(127, random).setBit(126);
  }

  /** The CA certificate. */
  X509Certificate certificate() {
    return certificate;
  }

  /** The CA certificate, PEM: what a client is told to trust ({@code cafile}, {@code -CAfile}). */
  Path certificateFile() {
    return certificateFile;
  }

  /** The server certificates' private key, PEM (PKCS#8). */
  Path serverKeyFile() {
    return serverKeyFile;
  }

  Instant notBefore() {
    return notBefore;
  }

  Instant notAfter() {
    return notAfter;
  }

  /** Trusts this CA and nothing else. */
  X509TrustManager trustManager() {
    client();
    return trustManager;
  }

  /** A client context that trusts this CA and nothing else. */
  SSLContext clientContext() {
    client();
    return clientContext;
  }

  private synchronized void client() {
    if (clientContext != null) return;
    try {
      KeyStore trusted = KeyStore.getInstance("PKCS12");
      trusted.load(null, null);
      trusted.setCertificateEntry("posta-test-ca", certificate);
      TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init(trusted);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, factory.getTrustManagers(), null);
      trustManager = (X509TrustManager) factory.getTrustManagers()[0];
      clientContext = context;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalStateException("cannot make a TLS client context trusting the test CA: " + e.getMessage(), e);
    }
  }

  /**
   * The chain file (server certificate, then the CA) for a server named {@code hostname}: the
   * certificate names {@code localhost}, 127.0.0.1, ::1, and {@code hostname}. Made on first
   * request for each hostname.
   */
  Path chainFile(String hostname) {
    String host = hostname.toLowerCase(Locale.ROOT);
    synchronized (chains) {
      Path file = chains.get(host);
      if (file != null) return file;
      try {
        X509Certificate server = issue(host);
        file = write(chainPath(host),
            (pem("CERTIFICATE", server.getEncoded()) + pem("CERTIFICATE", certificate.getEncoded())));
        chains.put(host, file);
        serverCertificates.put(host, server);
        return file;
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("cannot issue a test certificate for " + hostname + ": " + e.getMessage(), e);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  /** The server certificate issued for {@code hostname} by {@link #chainFile}. */
  X509Certificate serverCertificate(String hostname) {
    chainFile(hostname);
    synchronized (chains) {
      return serverCertificates.get(hostname.toLowerCase(Locale.ROOT));
    }
  }

  private X509Certificate issue(String host) throws GeneralSecurityException {
    List<String> dns = new ArrayList<>(List.of("localhost"));
    List<String> ips = new ArrayList<>(List.of("127.0.0.1", "::1"));
    boolean literal = host.contains(":") || host.matches("[0-9.]+");
    if (literal && !ips.contains(host)) ips.add(host);
    if (!literal && !dns.contains(host)) dns.add(host);
    return X509Writer.server(certificate, key, new X509Writer.Name(host, null), dns, ips, serverKeys.getPublic(), serial(random),
        notBefore, notAfter);
  }

  /**
   * A PKCS#12 trust store holding the CA, with {@code password}; written on first use only:
   * PKCS#12's password-based MAC (PBKDF2) costs a cold JVM a few hundred milliseconds that a
   * test without it need not pay.
   */
  Path trustStore(String password) {
    synchronized (chains) {
      if (trustStore != null) return trustStore;
      try {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setCertificateEntry("posta-test-ca", certificate);
        Path file = dir.resolve("truststore.p12");
        try (OutputStream out = Files.newOutputStream(file)) {
          store.store(out, password.toCharArray());
        }
        return trustStore = file;
      } catch (GeneralSecurityException e) {
        throw new IllegalStateException("cannot write the test trust store: " + e.getMessage(), e);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  private static Path write(Path file, String content) throws IOException {
    return Files.writeString(file, content, StandardCharsets.US_ASCII);
  }

  private static void delete(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    } catch (IOException e) {
      // a temporary folder left behind
    }
  }
}
