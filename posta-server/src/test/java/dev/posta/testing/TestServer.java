package dev.posta.testing;

import dev.posta.PostaServer;
import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.store.MaildirStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A real Posta server for tests: embedded defaults (domain {@code localhost}, any local part),
 * data in the given folder, listeners on free loopback ports. Close it after use.
 */
public final class TestServer implements AutoCloseable {
  private final PostaServer server;

  private TestServer(PostaServer server) {
    this.server = server;
  }

  public static TestServer start(Path data) {
    return start(data, c -> c);
  }

  /**
   * Tests never ask a real DNS server: unless a test points it at its own (a {@link Dnsmasq}),
   * the resolver asks a loopback port where nothing listens, and remote mail is deferred.
   */
  public static final List<String> NO_DNS = List.of("127.0.0.1:9");

  /** An adjustment for {@link #start(Path, UnaryOperator)}: passwords taken in plaintext from loopback, as on a developer's machine. */
  public static PostaConfig plaintextAuthOnLoopback(PostaConfig c) {
    var s = c.submission();
    return c.toBuilder().submission(new PostaConfig.Submission(s.trustedNetworks(), true, s.senderMustBeOwned(),
        s.authFailuresBeforeLockout(), s.authLockout())).build();
  }

  /** Starts with the embedded defaults changed by {@code adjust} (e.g. other limits or domains). */
  public static TestServer start(Path data, UnaryOperator<PostaConfig> adjust) {
    return start(data, adjust, java.time.Clock.systemUTC());
  }

  /** As {@link #start(Path, UnaryOperator)}, the queue's retry schedule running on {@code clock}. */
  public static TestServer start(Path data, UnaryOperator<PostaConfig> adjust, java.time.Clock clock) {
    PostaConfig defaults = PostaConfig.embeddedDefaults(data);
    PostaConfig config = defaults.toBuilder().listeners(List.of(
        new PostaConfig.Listener(PostaConfig.Protocol.SMTP, new InetSocketAddress("127.0.0.1", 0)),
        new PostaConfig.Listener(PostaConfig.Protocol.SUBMISSION, new InetSocketAddress("127.0.0.1", 0)),
        new PostaConfig.Listener(PostaConfig.Protocol.SMTPS, new InetSocketAddress("127.0.0.1", 0)),
        new PostaConfig.Listener(PostaConfig.Protocol.IMAP, new InetSocketAddress("127.0.0.1", 0)),
        new PostaConfig.Listener(PostaConfig.Protocol.IMAPS, new InetSocketAddress("127.0.0.1", 0)),
        new PostaConfig.Listener(PostaConfig.Protocol.POP3, new InetSocketAddress("127.0.0.1", 0)),
        new PostaConfig.Listener(PostaConfig.Protocol.POP3S, new InetSocketAddress("127.0.0.1", 0))))
        .delivery(defaults.delivery().toBuilder().dns(NO_DNS, 25).build()).build();
    try {
      var server = new PostaServer(adjust.apply(config), clock).web(dev.posta.web.WebServer::new).start();
      // Tests look at the queue at once; a start reads the last run's mail behind its listeners.
      if (!server.awaitBacklog(java.time.Duration.ofSeconds(30))) throw new IllegalStateException("the spool's backlog was not read in 30 s");
      return new TestServer(server);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  public int smtpPort() {
    return server.address(PostaConfig.Protocol.SMTP).getPort();
  }

  public int submissionPort() {
    return server.address(PostaConfig.Protocol.SUBMISSION).getPort();
  }

  /** The implicit-TLS port (RFC 8314). */
  /** The first {@code http} listener's port: a test adds one ({@link #withHttp}). */
  public int httpPort() {
    return server.address(PostaConfig.Protocol.HTTP).getPort();
  }

  public int httpsPort() {
    return server.address(PostaConfig.Protocol.HTTPS).getPort();
  }

  /** An adjustment for {@link #start(Path, UnaryOperator)}: {@code http} and {@code https} listeners on free loopback ports too. */
  public static PostaConfig withHttp(PostaConfig c) {
    var listeners = new java.util.ArrayList<>(c.listeners());
    listeners.add(new PostaConfig.Listener(PostaConfig.Protocol.HTTP, new InetSocketAddress("127.0.0.1", 0)));
    listeners.add(new PostaConfig.Listener(PostaConfig.Protocol.HTTPS, new InetSocketAddress("127.0.0.1", 0)));
    return c.toBuilder().listeners(listeners).build();
  }

  public int smtpsPort() {
    return server.address(PostaConfig.Protocol.SMTPS).getPort();
  }

  public int imapPort() {
    return server.address(PostaConfig.Protocol.IMAP).getPort();
  }

  /** IMAP over implicit TLS (RFC 8314). */
  public int imapsPort() {
    return server.address(PostaConfig.Protocol.IMAPS).getPort();
  }

  public int pop3Port() {
    return server.address(PostaConfig.Protocol.POP3).getPort();
  }

  /** POP3 over implicit TLS (RFC 8314). */
  public int pop3sPort() {
    return server.address(PostaConfig.Protocol.POP3S).getPort();
  }

  /** The server's (self-signed) certificate, PEM: what a client must trust. */
  public Path certificate() {
    return server.tls().certificatePath();
  }

  /** A client TLS context that trusts exactly this server's certificate. */
  public SSLContext clientTls() {
    try {
      KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
      trust.load(null, null);
      trust.setCertificateEntry("posta", server.tls().certificate());
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (java.security.GeneralSecurityException | IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Adds an account (as {@code posta user add} does). */
  public TestServer addUser(String address, String password) {
    try {
      new UserStore(server.config().dataDir()).add(address, password.toCharArray());
    } catch (IOException | UserStore.UserException e) {
      throw new IllegalStateException(e);
    }
    return this;
  }

  /** Messages waiting in the queue (e.g. remote mail that cannot go out: tests have no DNS by default). */
  public int queued() {
    return server.queue().size();
  }

  public PostaServer server() {
    return server;
  }

  /** The {@code new/} folder of a local mailbox in domain localhost (user as in the address). */
  public Path newMail(String user) {
    return server.config().dataDir().resolve("mail/localhost").resolve(MaildirStore.safeName(user)).resolve("Maildir/new");
  }

  /** The messages delivered to {@code user@localhost}, waiting up to 10 s for {@code count}; fails if fewer came. */
  public List<String> awaitMail(String user, int count) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      List<String> mail = mail(user);
      if (mail.size() >= count) return mail;
      if (System.nanoTime() > deadline) {
        throw new AssertionError(user + "@localhost has " + mail.size() + " message(s) after 10 s, expected " + count);
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return mail;
      }
    }
  }

  /**
   * The messages delivered to {@code user@domain}'s {@code folder} ("INBOX", "Junk"), waiting up
   * to 10 s for {@code count}; fails if fewer came.
   */
  public List<String> awaitMailIn(String domain, String user, String folder, int count) {
    Path maildir = server.config().dataDir().resolve("mail").resolve(domain).resolve(MaildirStore.safeName(user)).resolve("Maildir");
    Path dir = (folder.equals("INBOX") ? maildir : maildir.resolve("." + folder)).resolve("new");
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (true) {
      List<String> mail = List.of();
      if (Files.isDirectory(dir)) {
        try (Stream<Path> files = Files.list(dir)) {
          mail = files.sorted().map(p -> {
            try {
              return Files.readString(p, java.nio.charset.StandardCharsets.UTF_8);
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          }).toList();
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
      if (mail.size() >= count) return mail;
      if (System.nanoTime() > deadline) {
        throw new AssertionError(user + "@" + domain + " has " + mail.size() + " message(s) in " + folder + " after 10 s, expected " + count);
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return mail;
      }
    }
  }

  /** The messages now in {@code user@localhost}'s {@code new/}, oldest name first. */
  public List<String> mail(String user) {
    Path dir = newMail(user);
    if (!Files.isDirectory(dir)) return List.of();
    try (Stream<Path> files = Files.list(dir)) {
      return files.sorted().map(p -> {
        try {
          return Files.readString(p, java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Override
  public void close() {
    server.close();
  }
}
