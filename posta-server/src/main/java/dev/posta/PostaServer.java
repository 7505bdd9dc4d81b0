package dev.posta;

import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.delivery.Router;
import dev.posta.queue.QueueManager;
import dev.posta.queue.Spool;
import dev.posta.queue.SpooledMessage;
import dev.posta.smtp.AuthThrottle;
import dev.posta.smtp.SmtpServer;
import dev.posta.tls.ServerTls;
import dev.posta.tls.TlsException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running Posta: spool, queue manager, router and SMTP listeners, wired from a
 * {@link PostaConfig}. Starting recovers the spool first, so mail accepted before a crash is
 * delivered before (and alongside) new mail.
 */
public final class PostaServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PostaServer.class);
  /** Deliveries running at once; Maildir delivery is fsync-bound, more only queue on the disk. */
  private static final int DELIVERY_CONCURRENCY = 16;

  private final PostaConfig config;
  private Spool spool;
  private QueueManager queue;
  private SmtpServer smtp;
  private ServerTls tls;
  private UserStore users;
  private final List<Bound> bound = new ArrayList<>();

  /** A listener and the address it actually got (port 0 becomes a real port). */
  public record Bound(PostaConfig.Listener listener, InetSocketAddress address) {}

  public PostaServer(PostaConfig config) {
    this.config = config;
  }

  public PostaServer start() throws IOException {
    Files.createDirectories(config.dataDir());
    spool = new Spool(config.dataDir().resolve("queue"));
    List<SpooledMessage> recovered = spool.recover();
    spool.start();
    users = new UserStore(config.dataDir());
    Router router = new Router(config, this::isAccount);
    queue = new QueueManager(spool, router, config.hostname(), DELIVERY_CONCURRENCY);
    queue.enqueueAll(recovered);
    try {
      tls = ServerTls.load(config.tls().certificate(), config.tls().key(), config.hostname(), config.dataDir());
    } catch (TlsException e) {
      close();
      throw e;
    }
    var submission = config.submission();
    var throttle = new AuthThrottle(submission.authFailuresBeforeLockout(), submission.authLockout(), Clock.systemUTC());
    smtp = new SmtpServer(new SmtpServer.Context(config, router, spool, queue, tls, users, throttle));
    try {
      for (PostaConfig.Listener l : config.listeners()) bound.add(new Bound(l, smtp.listen(l)));
    } catch (IOException e) {
      close();
      throw e;
    }
    return this;
  }

  public List<Bound> listeners() {
    return bound;
  }

  /** The bound address of the first listener of that protocol, for tests. */
  public InetSocketAddress address(PostaConfig.Protocol protocol) {
    return bound.stream().filter(b -> b.listener().protocol() == protocol).findFirst().orElseThrow().address();
  }

  /** SMTP connections open now. */
  public int connectionCount() {
    return smtp.connectionCount();
  }

  /** Accounts have mailboxes too: {@code posta user add} is enough to receive mail. */
  private boolean isAccount(String address) {
    try {
      return users.find(address).isPresent();
    } catch (IOException e) {
      log.warn("users file unreadable, treating {} as unknown: {}", address, e.toString());
      return false;
    }
  }

  /** The TLS setup: certificate in use, and whether it is self-signed. */
  public ServerTls tls() {
    return tls;
  }

  public QueueManager queue() {
    return queue;
  }

  public PostaConfig config() {
    return config;
  }

  @Override
  public void close() {
    if (smtp != null) smtp.close();
    if (queue != null) queue.close();
    if (spool != null) spool.close();
  }
}
