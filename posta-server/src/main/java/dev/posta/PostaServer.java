package dev.posta;

import dev.posta.auth.UserStore;
import dev.posta.capture.CapturedMail;
import dev.posta.client.Timeouts;
import dev.posta.config.ConfigChanges;
import dev.posta.config.PostaConfig;
import dev.posta.control.ControlSocket;
import dev.posta.delivery.DeliveryTargets;
import dev.posta.delivery.LocalDelivery;
import dev.posta.delivery.RemoteDelivery;
import dev.posta.delivery.Router;
import dev.posta.greylist.Greylist;
import dev.posta.dns.DnsRecords;
import dev.posta.dns.DnsResolver;
import dev.posta.dns.MemoryZone;
import dev.posta.dns.MxResolver;
import dev.posta.dns.ResolverRecords;
import dev.posta.mailauth.SenderAuthentication;
import dev.posta.screen.Screening;
import dev.posta.mailauth.TestDomain;
import dev.posta.mailauth.dkim.DkimVerifier;
import dev.posta.mailauth.dmarc.DmarcCheck;
import dev.posta.mailauth.spf.SpfCheck;
import dev.posta.mailauth.dkim.DkimSigner;
import dev.posta.mailauth.dkim.SigningKeys;
import dev.posta.metrics.MailMetrics;
import dev.posta.net.AuthThrottle;
import dev.posta.database.Database;
import dev.posta.queue.ClusterQueue;
import dev.posta.queue.MailQueue;
import dev.posta.queue.QueueControl;
import dev.posta.queue.QueueManager;
import dev.posta.queue.Spool;
import dev.posta.control.ControlProtocol;
import dev.posta.control.QueueRequest;
import dev.posta.imap.ImapServer;
import dev.posta.local.LocalChannel;
import dev.posta.local.Maildrop;
import dev.posta.pop3.Pop3Server;
import dev.posta.smtp.Faults;
import dev.posta.smtp.LocalSubmission;
import dev.posta.smtp.SmtpServer;
import dev.posta.storage.PrivateFiles;
import dev.posta.store.DatabaseStore;
import dev.posta.store.MailboxStore;
import dev.posta.store.MaildirStore;
import dev.posta.tls.ServerTls;
import dev.posta.tls.TlsException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.FileChannel;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One running Posta: spool, queue manager, router, mailbox store, SMTP, IMAP and POP3 listeners,
 * and the HTTP ones through the {@link Face} the caller plugs in ({@link #web}), wired from a
 * {@link PostaConfig}. Mail accepted before a stop or a crash is delivered alongside new mail:
 * the spool's new segments are opened first, the listeners next, and the old segments are read
 * behind them ({@link Spool.Backlog}), so a large backlog does not hold back the 220.
 *
 * <p>In capture mode ({@link PostaConfig.Capture}: {@code posta dev}, the JUnit extension) the
 * same server is built without what would let mail out or ask the network: no remote delivery,
 * no DNS resolver; its sender checks ask a test zone in memory ({@link TestDomain#zone}) and
 * only record their results; logins are capture mode's ({@link UserStore#forCapture}).
 * {@link #onDelivery} hears of each delivered message, {@link #faults} makes scripted faults
 * and {@link #clearMailboxes} empties every mailbox.
 */
public final class PostaServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(PostaServer.class);
  /** Posta's version, one for {@code posta --version}, the banner, the start line and the server's page. */
  public static final String VERSION = "0.1.0";
  private static final Duration DNS_TIMEOUT = Duration.ofSeconds(10);
  private volatile PostaConfig config;
  private final Clock clock;
  private DnsResolver dns;
  /** Greylisting's triplets ({@code [greylisting]}), opened when it is first enabled; null until then. */
  private Greylist greylist;
  /** The {@code [screen]} tests, made once and reconfigured by reloads so the early talkers' memory lasts; null until a listener kind is screened. */
  private Screening screening;
  private volatile AuthThrottle throttle;
  private Spool spool;
  /** The mail the last run left, read behind the listeners; null until they are open. */
  private volatile Spool.Backlog backlog;
  private QueueManager queue;
  /** Where the listeners hand accepted mail: {@link #queue} (the spool's), or the cluster's queue. */
  private MailQueue mailQueue;
  /** Cluster mode ({@code [cluster] database}): the shared database, and the queue in it; null on its own. */
  private Database database;
  private ClusterQueue clusterQueue;
  /** Cluster mode: this node's name and heartbeat, its blob store and sweep, the shared accounts; null on its own. */
  private ClusterNode clusterNode;
  /** What stops the server when its node loses its name ({@link #whenNameLost}); null: it closes itself. */
  private volatile Runnable whenNameLost;
  private QueueControl queueControl;
  /** The administrator's commands: {@link #queueControl} on the spool, or in cluster mode the database's queue. */
  private dev.posta.queue.QueueCommands queueCommands;
  private SmtpServer smtp;
  private ImapServer imap;
  private Pop3Server pop3;
  private MaildirStore store;
  /** Where local mail is kept: {@link #store}, or in cluster mode the database's {@link DatabaseStore}. */
  private MailboxStore mailboxes;
  private volatile ServerTls tls;
  private UserStore users;
  /** The HTTP API's tokens: the data folder's file, or in cluster mode the database's, shared by every node. */
  private dev.posta.auth.ApiTokens apiTokens;
  private ControlSocket controlSocket;
  /** Local users' mail ({@code posta sendmail}): its checks, the socket, the drop folder's pickup. */
  private volatile LocalSubmission localSubmission;
  private LocalChannel localChannel;
  private Maildrop.Pickup pickup;
  private SigningKeys dkimKeys = SigningKeys.NONE;
  /** Capture mode's test DNS zone, which its sender checks ask instead of DNS; null off capture mode. */
  private MemoryZone captureZone;
  /** Where capture mode wrote the test domain's private keys ({@code <data>/test-domain/}). */
  private TestDomain.Keys testDomainKeys;
  /** The lock on {@code <data>/posta.lock}, held from start until close. */
  private FileChannel lockChannel;
  private Object lockKey;
  /** The lock files (by file key) held by servers in this JVM; see {@link #lockDataFolder}. */
  private static final Set<Object> LOCKED = ConcurrentHashMap.newKeySet();
  private final List<Bound> bound = new CopyOnWriteArrayList<>();
  private LocalDelivery.Listener deliveryListener;
  /** Capture mode's index of captured mail, fed by local delivery; null for a real server. */
  private final CapturedMail captured;
  private Faults faults = Faults.NONE;
  private boolean withoutTls;
  /** Makes the web's listeners' server (web/, which this class may not know) when the configuration first has one. */
  private Function<PostaServer, Face> webMaker;
  private Face web;
  /**
   * What the listeners, sessions and queue count, for {@code /metrics} and the charts: made with
   * the server and kept across reloads (counters must not start again at a reload).
   */
  private final MailMetrics metrics;
  /** When {@link #start} began, on the server's clock: the operators' page shows the uptime from it. */
  private volatile Instant started;

  /**
   * A face of the server that listens for a protocol this class does not serve itself: the web
   * ({@code http}, {@code https}), which sits above it and is handed the server to use.
   */
  public interface Face {
    /** Starts accepting on {@code listener}'s address; returns the address bound (port 0 becomes a real port). */
    InetSocketAddress listen(PostaConfig.Listener listener) throws IOException;

    /** Stops accepting on {@code listener}; requests in progress finish. */
    void unlisten(PostaConfig.Listener listener);

    /** Stops accepting everywhere and ends what is in progress, within the server's stopping time. */
    void close();
  }
  /** What must finish before the certificate files are read, or null; see {@link #tlsFilesFrom}. */
  private java.util.concurrent.CompletableFuture<?> tlsFiles;

  /** A listener and the address it actually got (port 0 becomes a real port). */
  public record Bound(PostaConfig.Listener listener, InetSocketAddress address) {}

  public PostaServer(PostaConfig config) {
    this(config, Clock.systemUTC());
  }

  /** With a clock of the caller's: the queue's retry schedule runs on it (tests move it). */
  public PostaServer(PostaConfig config, Clock clock) {
    this.config = config;
    this.clock = clock;
    this.captured = config.capture().enabled() ? new CapturedMail(config.capture()) : null;
    this.metrics = new MailMetrics(clock);
  }

  /**
   * Capture mode's index of every message delivered since the start (in memory, the newest
   * {@code retention} kept), for finding and waiting on captured mail by namespace.
   *
   * @throws IllegalStateException when capture mode is off
   */
  public CapturedMail capturedMail() {
    if (captured == null) throw new IllegalStateException("no captured mail: capture mode is off");
    return captured;
  }

  /** Has {@code listener} told of each message delivered to local mailboxes; call before {@link #start}. */
  public PostaServer onDelivery(LocalDelivery.Listener listener) {
    this.deliveryListener = listener;
    return this;
  }

  /**
   * What stops this server when its cluster node loses its name (another start of it took the
   * name: see {@link dev.posta.database.Nodes} for why it must not serve on); call before {@link
   * #start}. Run on a thread of its own. Without it the server closes itself; {@code posta serve}
   * exits with status 3 instead, so that its supervisor sees a failure.
   */
  public PostaServer whenNameLost(Runnable stop) {
    this.whenNameLost = stop;
    return this;
  }

  /** Cluster mode: another start holds this node's name now. Says so, and stops taking work. */
  private void nameLost() {
    log.error("cluster: node {}: another start of this node holds its name in the cluster now; this one stops taking mail and shuts down,"
        + " so that one process serves under the name", config.cluster().node());
    Runnable stop = whenNameLost != null ? whenNameLost : this::close;
    Thread.ofPlatform().name("name-lost").start(stop); // not on the heartbeat's thread: closing waits for it
  }

  /** Has every SMTP session make the faults a {@code posta dev --config} file scripts; call before {@link #start}. */
  public PostaServer faults(CaptureFile file) {
    return faults(file.faults());
  }

  /** Has every SMTP session ask {@code faults} (scripted refusals, slow replies); call before {@link #start}. */
  public PostaServer faults(Faults faults) {
    this.faults = faults;
    return this;
  }

  /**
   * Capture mode's scripted faults, which its HTTP API reads and changes ({@code /api/v1/faults}):
   * those {@link #faults} installed when they are a {@link Faults.Scripted}, else (capture mode
   * without any) an empty set of its own, made here once so that the SMTP sessions and the API
   * share it; the whole server's ({@link Faults#serverWide}) when they are shared by several
   * parties (the JUnit extension's tests); null when the faults are another kind or capture mode
   * is off.
   */
  public synchronized Faults.Scripted scriptedFaults() {
    if (!config.capture().enabled()) return null;
    if (faults == Faults.NONE) faults = new Faults.Scripted();
    return faults.serverWide();
  }

  /**
   * Has {@code maker} make the server of the {@code http} and {@code https} listeners, once the
   * configuration has one (at start or at a reload); call before {@link #start}. Without it such
   * a listener cannot start.
   */
  public PostaServer web(Function<PostaServer, Face> maker) {
    this.webMaker = maker;
    return this;
  }

  /**
   * No certificate at all (for embedding: the JUnit extension's plain-SMTP server, which then
   * starts without loading or making one): STARTTLS and STLS are not offered and implicit-TLS
   * listeners cannot start. Call before {@link #start}.
   */
  public PostaServer withoutTls() {
    this.withoutTls = true;
    return this;
  }

  /**
   * The configured certificate files are written by someone else while the server starts (the
   * JUnit extension's per-run CA, made on a thread of its own): the server does not wait for
   * {@code written}, but binds its listeners, and reads the files as soon as they are written
   * ({@link ServerTls#loadWhen}); a connection asking for TLS before then (STARTTLS, STLS, an
   * implicit-TLS listener's) waits for them, and when they cannot be made, each such connection
   * fails saying why (logged). Call before {@link #start}.
   */
  public PostaServer tlsFilesFrom(java.util.concurrent.CompletableFuture<?> written) {
    this.tlsFiles = written;
    return this;
  }

  /**
   * Starts the server.
   *
   * @throws IOException when it cannot start, among others when another Posta (in this process
   *     or another) already uses the data folder; nothing is left running then
   */
  public PostaServer start() throws IOException {
    started = clock.instant();
    return open(true);
  }

  /**
   * Opens the data folder for {@code posta queue} commands while no server runs: locked, spool
   * recovered, a queue that takes commands but delivers nothing, no listeners.
   */
  public PostaServer openForQueueControl() throws IOException {
    return open(false);
  }

  private PostaServer open(boolean serve) throws IOException {
    // The data folder holds mail: private (0700) when Posta creates it, left as it is otherwise.
    PrivateFiles.createDirectories(config.dataDir());
    lockDataFolder();
    try {
      spool = new Spool(config.dataDir().resolve("queue"));
      Spool.Backlog left = spool.backlog();
      spool.start();
      users = config.capture().enabled()
          ? UserStore.forCapture(config.dataDir(), config.limits().commandTimeout(), config.capture().logins())
          : new UserStore(config.dataDir(), config.limits().commandTimeout());
      apiTokens = new dev.posta.auth.ApiTokens(config.dataDir());
      Router router = new Router(config, this::isAccount);
      // One resolver and cache for MX lookups and the sender checks: a busy domain's records are asked once per TTL.
      // Capture mode has none: without it there is no remote delivery and no sender check.
      dns = serve && !config.capture().enabled() ? new DnsResolver(config.delivery().dnsServers(), DNS_TIMEOUT) : null;
      if (serve && config.cluster().database().isPresent()) {
        openDatabase(config);
        if (!config.capture().enabled()) users = clusterNode.users();
        apiTokens = clusterNode.tokens();
      }
      store = new MaildirStore(config.dataDir().resolve("mail"), config.hostname(), Clock.systemUTC(), config.mailboxModes());
      mailboxes = database == null ? store : new DatabaseStore(database, clusterNode.blobs(), clusterFolder());
      queue = new QueueManager(spool, router, deliveryTargets(config, dns), config.delivery(),
          config.limits().maxHops(), config.hostname(), clock, metrics);
      mailQueue = queue;
      queueControl = new QueueControl(queue);
      queueCommands = queueControl;
      if (!serve) {
        left.read(queue::enqueueAll);
        return this;
      }
      if (database != null) openClusterQueue(config, router, left);
      MailQueue q = mailQueue;
      metrics.watchQueue(q::size, q::oldestArrival);
      metrics.bindJvm().startHistory();
      if (clusterQueue == null) queue.start();
      else clusterQueue.start();
      try {
        controlSocket = ControlSocket.open(controlSocketPath(config),
            request -> request.applyTo(queueCommands), queueCommands::listings);
      } catch (IOException e) {
        // e.g. a data folder path longer than a socket path may be (about 100 octets)
        log.warn("no control socket at {} ({}): posta queue can only list while this server runs", controlSocketPath(config), e.toString());
      }
      if (!withoutTls && tlsFiles != null) {
        if (config.tls().certificate().isEmpty() || config.tls().key().isEmpty()) {
          throw new TlsException("certificate files written by the embedder need both tls.certificate and tls.key configured");
        }
        tls = ServerTls.loadWhen(tlsFiles, config.tls().certificate().get(), config.tls().key().get(), config.hostname());
      } else {
        tls = withoutTls ? null : ServerTls.load(config.tls().certificate(), config.tls().key(), config.hostname(), config.dataDir());
      }
      dkimKeys = loadDkimKeys(config);
      if (config.capture().enabled()) {
        captureZone = TestDomain.zone(config.capture().zone());
        testDomainKeys = TestDomain.writeKeys(config.dataDir().resolve("test-domain"));
      }
      throttle = throttle(config.submission());
      openGreylist(config);
      SmtpServer.Context smtpContext = smtpContext(config, router);
      smtp = new SmtpServer(smtpContext);
      localSubmission = new LocalSubmission(smtpContext);
      imap = new ImapServer(new ImapServer.Context(config, mailboxes, tls, users, throttle, ImapServer.Timeouts.STANDARD, metrics));
      pop3 = new Pop3Server(new Pop3Server.Context(config, mailboxes, tls, users, throttle, Pop3Server.Timeouts.STANDARD, metrics));
      refusePlainHttp(config);
      for (PostaConfig.Listener l : config.listeners()) bound.add(new Bound(l, listen(l)));
      openLocalSubmission();
      // Mail from before the start is read behind the open listeners: the 220 does not wait for it.
      backlog = left;
      queueControl.reading(left);
      left.readInBackground(queue::enqueueAll);
    } catch (IOException | RuntimeException e) {
      close(); // also releases the lock, so a corrected configuration can start at once
      throw e;
    }
    return this;
  }

  /**
   * Cluster mode: opens the shared database, its pool as large as {@code [cluster]} says, the
   * node's name as its application name; then the node's own parts ({@link ClusterNode}): its name
   * among the nodes (refused while a live node holds it), its blob store, the sweep and the shared
   * accounts.
   */
  private void openDatabase(PostaConfig config) throws IOException {
    PostaConfig.Cluster cluster = config.cluster();
    try {
      database = Database.open(cluster.database().orElseThrow(), cluster.node(), cluster.poolSize());
    } catch (java.sql.SQLException | IllegalArgumentException e) {
      throw new IOException("the cluster's database " + Database.shownUrl(cluster.database().orElseThrow()) + ": " + e.getMessage(), e);
    }
    try {
      clusterNode = ClusterNode.start(database, config, config.limits().commandTimeout(), line -> {
        if (line.contains("failed") || line.contains("stop this one")) log.warn("cluster: {}", line);
        else log.info("cluster: {}", line);
      }, this::nameLost);
    } catch (java.sql.SQLException | dev.posta.database.Nodes.NameTaken | IOException e) {
      database.close();
      database = null;
      throw new IOException("cluster: node " + cluster.node() + ": " + e.getMessage(), e);
    }
    log.info("cluster mode: node {}, database {}, message content in {}", cluster.node(), database.shown(),
        cluster.blobs().s3().map(s3 -> "S3 bucket " + s3.bucket() + " at " + s3.endpoint()).orElse("the database"));
  }

  /**
   * Cluster mode: the queue all nodes share in the database takes the mail the listeners accept.
   * The local spool's queue manager is not started: mail an embedded run left in it stays there
   * (said in the log) until the node runs embedded again.
   */
  private void openClusterQueue(PostaConfig config, Router router, Spool.Backlog left) throws IOException {
    try {
      clusterQueue = new ClusterQueue(database, clusterNode.blobs(), config.cluster().node(), clusterFolder().resolve("incoming-queue"),
          router, deliveryTargets(config, dns), config.delivery(), config.limits().maxHops(), config.hostname(), metrics,
          ClusterQueue.Timing.STANDARD);
    } catch (java.sql.SQLException e) {
      throw new IOException("the cluster's database " + database.shown() + ": " + e.getMessage(), e);
    }
    mailQueue = clusterQueue;
    queueCommands = new dev.posta.queue.ClusterQueueControl(database, clusterNode.blobs(), config.cluster().node(), config.hostname(),
        clock);
    if (left.segments() > 0) {
      log.warn("cluster mode: the local spool {} has {} segment(s) of an earlier run; mail left in them is not delivered while this node "
          + "runs in the cluster (run it without [cluster] database to deliver it)", spoolFolder(), left.segments());
    }
  }

  /** A cluster node's folder for what it may lose: content streaming in, caches ({@code <data>/cluster}). */
  private Path clusterFolder() {
    return config.dataDir().resolve("cluster");
  }

  /** The cluster's database as logs show it ({@code postgresql://posta@host:5432/posta}), or null on its own. */
  public String clusterDatabase() {
    return database == null ? null : database.shown();
  }

  /** How often the drop folder is looked at while the server runs (it is also at the start). */
  private static final Duration PICKUP_EVERY = Duration.ofSeconds(5);

  /**
   * The way in for local users' {@code posta sendmail}: {@code <data>/public/} (mode 0711), with
   * the socket (0666) and the drop folder (1733); the data folder gets the search bit for
   * everyone (0711) so that they reach it, and nothing more: everything else in it stays private
   * to the server's user. Then the drop folder's waiting mail is taken in. A failure here is
   * logged, not fatal: mail from the network does not depend on it.
   */
  private void openLocalSubmission() {
    Path data = config.dataDir();
    Path pub = Maildrop.publicFolder(data);
    Path drop = Maildrop.folder(data);
    try {
      int mode = (Integer) Files.getAttribute(data, "unix:mode");
      if ((mode & 0011) != 0011) {
        Files.setAttribute(data, "unix:mode", (mode & 07777) | 0011);
        log.info("data folder {}: mode {} -> {} (search only: local users reach public/, nothing else)", data,
            Integer.toOctalString(mode & 07777), Integer.toOctalString((mode & 07777) | 0011));
      }
      if (!Files.isDirectory(pub)) Files.createDirectory(pub);
      Files.setAttribute(pub, "unix:mode", 0711);
      if (!Files.isDirectory(drop)) Files.createDirectory(drop);
      Files.setAttribute(drop, "unix:mode", 01733);
    } catch (IOException | RuntimeException e) {
      log.warn("no local submission ({}): posta sendmail of other users cannot reach {}", e.toString(), pub);
    }
    try {
      localChannel = LocalChannel.open(Maildrop.socket(data), (request, user, in, out) -> {
        if (request.mailq()) {
          ControlProtocol.writeListing(queueCommands.listings(), out); // as it reads the queue, however long
          return;
        }
        localSubmission.serve(request, user, "local", false, in, (code, status, text) -> {
          out.write(((status.isEmpty() ? code + " " : code + " " + status + " ") + text + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
          out.flush();
        });
      });
    } catch (IOException | RuntimeException e) {
      log.warn("no local socket at {} ({}): posta sendmail writes to the drop folder instead", Maildrop.socket(data), e.toString());
    }
    pickup = new Maildrop.Pickup(data, config.limits().maxMessageSize(), (head, user, in) -> {
      int[] last = new int[1];
      String[] text = new String[1];
      var taken = localSubmission.serve(head, user, "maildrop", true, in, (code, status, t) -> {
        last[0] = code;
        text[0] = (status.isEmpty() ? "" : status + " ") + t;
      });
      if (taken != null) return new Maildrop.Outcome.Taken(taken.id().value());
      return last[0] >= 400 && last[0] < 500 ? new Maildrop.Outcome.Later(last[0] + " " + text[0]) : new Maildrop.Outcome.Refused(last[0] + " " + text[0]);
    }).start(PICKUP_EVERY);
  }

  /** One pass over the drop folder now (tests; the server also does it every few seconds). */
  public int pickUpDropFolder() {
    return pickup == null ? 0 : pickup.scan();
  }

  /** Local delivery into the store, and (serving, with {@code dns}) remote delivery as {@code config} says. */
  private DeliveryTargets deliveryTargets(PostaConfig config, DnsResolver dns) throws IOException {
    var outbound = dns != null ? new RemoteDelivery(config, new MxResolver(dns), Timeouts.rfc5321()) : null;
    return new DeliveryTargets(new LocalDelivery(mailboxes, deliveryListeners(), this::spamFolder), outbound, config.delivery());
  }

  /** A local domain's {@code spam-folder} as the configuration now says (null: the inbox): a reload applies to mail still queued. */
  private String spamFolder(String domain) {
    for (PostaConfig.LocalDomain d : config.domains()) if (d.name().equalsIgnoreCase(domain)) return d.spamFolder();
    return PostaConfig.LocalDomain.JUNK;
  }

  /** The index first (so a waiter wakes before the embedder's listener runs), then the embedder's listener. */
  private LocalDelivery.Listener deliveryListeners() {
    if (captured == null) return deliveryListener;
    LocalDelivery.Listener embedder = deliveryListener;
    return delivered -> {
      captured.add(delivered.envelope(), delivered.message());
      if (embedder != null) embedder.delivered(delivered);
    };
  }

  /** One throttle for all three protocols: no guesses gained by switching. */
  private static AuthThrottle throttle(PostaConfig.Submission submission) {
    return new AuthThrottle(submission.authFailuresBeforeLockout(), submission.authLockout(), Clock.systemUTC());
  }

  private SmtpServer.Context smtpContext(PostaConfig config, Router router) {
    if (config.capture().enabled()) scriptedFaults(); // capture mode's API may script faults later: the sessions must ask the same set
    return new SmtpServer.Context(config, router, mailQueue, tls, users, throttle, new DkimSigner(dkimKeys, clock),
        senderChecks(config, dns), faults, metrics, greylist, screening(config, dns));
  }

  /**
   * Opens the greylist in {@code <data>/greylist} when {@code config} enables it and it is not open
   * yet, or gives it the new settings. Once open it stays open: turned off, the sessions stop asking
   * it ({@link PostaConfig.Greylisting#appliesTo}), and turned on again it has kept its triplets.
   */
  private void openGreylist(PostaConfig config) throws IOException {
    if (config.capture().enabled()) return;
    if (greylist != null) {
      greylist.reconfigure(config.greylisting());
    } else if (config.greylisting().enabled()) {
      greylist = Greylist.open(config.dataDir().resolve("greylist"), config.greylisting(), clock, this::spfPasses);
      Greylist open = greylist;
      metrics.watchGreylist(new MailMetrics.GreylistCounts(open::greylisted, open::passed, open::entries));
    }
  }

  /** Whether SPF passes for a sender of {@code [greylisting] exempt-spf-domains}, asking the server's resolver. */
  private boolean spfPasses(InetAddress client, String reversePath, String helo) {
    DnsResolver resolver = dns;
    if (resolver == null) return false;
    return new SpfCheck(new ResolverRecords(resolver), clock, config.hostname()).checkMailFrom(client, reversePath, helo).result()
        == dev.posta.mailauth.spf.SpfResult.PASS;
  }

  /**
   * The {@code [screen]} tests, asking the DNS lists through the server's resolver; null when no
   * listener kind is screened, or in capture mode, whose clients are the developer's own programs.
   */
  private Screening screening(PostaConfig config, DnsResolver dns) {
    if (config.capture().enabled() || config.screen().listeners().isEmpty()) return null;
    ResolverRecords records = dns == null ? null : new ResolverRecords(dns);
    if (screening == null) screening = new Screening(config.screen(), records, clock);
    else screening.reconfigure(config.screen(), records);
    return screening;
  }

  private InetSocketAddress listen(PostaConfig.Listener l) throws IOException {
    return switch (l.protocol()) {
      case SMTP, SUBMISSION, SMTPS -> smtp.listen(l);
      case IMAP, IMAPS -> imap.listen(l);
      case POP3, POP3S -> pop3.listen(l);
      case HTTP, HTTPS -> web().listen(l);
    };
  }

  private void unlisten(PostaConfig.Listener l) {
    switch (l.protocol()) {
      case SMTP, SUBMISSION, SMTPS -> smtp.unlisten(l);
      case IMAP, IMAPS -> imap.unlisten(l);
      case POP3, POP3S -> pop3.unlisten(l);
      case HTTP, HTTPS -> {
        if (web != null) web.unlisten(l);
      }
    }
  }

  /** The web's server, made on first use. */
  private synchronized Face web() throws IOException {
    if (web == null) {
      if (webMaker == null) throw new IOException("http and https listeners need the web server, which this embedding of Posta does not have");
      web = webMaker.apply(this);
    }
    return web;
  }

  /**
   * Plain HTTP off the loopback, refused here too: {@code posta serve --listen} and code put
   * listeners in place without the configuration file's check.
   */
  private static void refusePlainHttp(PostaConfig config) throws IOException {
    for (PostaConfig.Listener l : config.listeners()) {
      String refused = PostaConfig.plainHttpRefusal(l, config.http());
      if (refused != null) throw new IOException("listeners.http " + l.address().getAddress().getHostAddress() + ":" + l.address().getPort() + ": " + refused);
    }
  }

  /**
   * Takes a new configuration without stopping: connections accepted from now on, and delivery
   * attempts started from now on, work under it; sessions and attempts in progress finish under
   * the one they started with. Listeners the new configuration drops stop accepting, new ones
   * open; the certificate and the DKIM keys are read again, so a renewed certificate is served.
   * Nothing changes when something cannot be taken (the data folder changed, a certificate or
   * key that cannot be read, an address that cannot be bound): the running configuration is kept.
   *
   * @return what changed, one line each, as {@link ConfigChanges} names it
   * @throws IOException why the new configuration was not taken
   */
  public synchronized List<String> reload(PostaConfig next) throws IOException {
    if (smtp == null) throw new IllegalStateException("not serving");
    if (!next.capture().equals(config.capture())) {
      throw new IOException("capture mode cannot change while Posta runs: restart it");
    }
    if (!next.dataDir().equals(config.dataDir())) {
      throw new IOException("data: the data folder cannot change while Posta runs (" + config.dataDir() + " -> " + next.dataDir() + "): restart it");
    }
    if (!next.cluster().sameNode(config.cluster())) {
      throw new IOException("cluster: the database, the node's name, the pool size and the blob store cannot change while Posta runs: restart it");
    }
    refusePlainHttp(next);
    ServerTls nextTls = ServerTls.load(next.tls().certificate(), next.tls().key(), next.hostname(), next.dataDir());
    SigningKeys nextKeys = loadDkimKeys(next);
    // The same servers keep the resolver, and with it the cache.
    DnsResolver nextDns = next.capture().enabled() ? null
        : next.delivery().dnsServers().equals(config.delivery().dnsServers()) ? dns
        : new DnsResolver(next.delivery().dnsServers(), DNS_TIMEOUT);
    DeliveryTargets targets = deliveryTargets(next, nextDns);
    try {
      rebind(next);
    } catch (IOException | RuntimeException e) {
      targets.close();
      throw e;
    }
    List<String> changes = ConfigChanges.between(config, next);
    PostaConfig previous = config;
    config = next;
    tls = nextTls;
    dkimKeys = nextKeys;
    dns = nextDns;
    // The failures counted so far stay unless the lockout's own settings changed.
    var was = previous.submission();
    var is = next.submission();
    if (was.authFailuresBeforeLockout() != is.authFailuresBeforeLockout() || !was.authLockout().equals(is.authLockout())) {
      throttle = throttle(is);
    }
    store.useModes(next.mailboxModes());
    openGreylist(next);
    Router router = new Router(next, this::isAccount);
    queue.reconfigure(router, targets, next.delivery(), next.limits().maxHops(), next.hostname());
    if (clusterQueue != null) clusterQueue.reconfigure(router, deliveryTargets(next, nextDns), next.delivery(), next.limits().maxHops(), next.hostname());
    SmtpServer.Context smtpContext = smtpContext(next, router);
    smtp.reconfigure(smtpContext);
    localSubmission = new LocalSubmission(smtpContext);
    imap.reconfigure(new ImapServer.Context(next, mailboxes, tls, users, throttle, ImapServer.Timeouts.STANDARD, metrics));
    pop3.reconfigure(new Pop3Server.Context(next, mailboxes, tls, users, throttle, Pop3Server.Timeouts.STANDARD, metrics));
    return changes;
  }

  /**
   * Closes the listeners {@code next} drops, then opens the ones it adds (in that order, so that
   * an address can move between them); when one cannot be opened, those opened here are closed
   * and the dropped ones opened again, and the reason is thrown.
   */
  private void rebind(PostaConfig next) throws IOException {
    List<Bound> dropped = bound.stream().filter(b -> !next.listeners().contains(b.listener())).toList();
    List<PostaConfig.Listener> added = next.listeners().stream().filter(l -> !config.listeners().contains(l)).toList();
    dropped.forEach(b -> unlisten(b.listener()));
    List<Bound> opened = new ArrayList<>();
    try {
      for (PostaConfig.Listener l : added) opened.add(new Bound(l, listen(l)));
    } catch (IOException | RuntimeException e) {
      opened.forEach(b -> unlisten(b.listener()));
      for (Bound b : dropped) {
        try {
          bound.set(bound.indexOf(b), new Bound(b.listener(), listen(b.listener()))); // port 0 gets another port
        } catch (IOException | RuntimeException again) {
          log.error("reload: could not listen on {} again: {}", b.address(), again.toString());
          bound.remove(b);
        }
      }
      throw e;
    }
    bound.removeAll(dropped);
    bound.addAll(opened);
  }

  /**
   * The DKIM keys that sign submitted mail, read and parsed once; every problem with them (a
   * configured selector without its key file, with the setting's {@code file:line}) stops the
   * start, as a bad certificate does.
   */
  private static SigningKeys loadDkimKeys(PostaConfig config) throws IOException {
    SigningKeys keys;
    try {
      keys = SigningKeys.load(config.dataDir(), config.dkim());
    } catch (SigningKeys.KeyProblems e) {
      throw new IOException("unusable DKIM keys:\n  " + String.join("\n  ", e.problems()));
    }
    for (String signing : keys.describe()) log.info("dkim: signing mail from {}", signing);
    return keys;
  }

  /**
   * SPF, DKIM and DMARC for mail from other servers, asking {@code dns}; null when {@code
   * [sender-checks]} turns them off for every domain. In capture mode, for every captured
   * message, asking the test zone and nothing else.
   */
  private SenderAuthentication senderChecks(PostaConfig config, DnsResolver dns) {
    if (config.capture().enabled()) return captureZone == null ? null : senderChecks(config, captureZone);
    if (!config.senderChecks().anyEnabled() || dns == null) return null;
    return senderChecks(config, new ResolverRecords(dns));
  }

  private SenderAuthentication senderChecks(PostaConfig config, DnsRecords records) {
    return new SenderAuthentication(config.hostname(), new SpfCheck(records, clock, config.hostname()), new DkimVerifier(records, clock),
        new DmarcCheck(records, () -> ThreadLocalRandom.current().nextInt(100)));
  }

  /** Capture mode's test domain's private keys, as written into the data folder; null off capture mode. */
  public TestDomain.Keys testDomainKeys() {
    return testDomainKeys;
  }

  /** The DKIM keys in use, per domain. */
  public SigningKeys dkimKeys() {
    return dkimKeys;
  }

  /**
   * One server per data folder: two would both recover the spool and deliver every queued
   * message twice. The lock is an OS lock on {@code <data>/posta.lock}, so it disappears with the
   * process even after kill -9 (no stale lock file to remove by hand); the file itself stays.
   *
   * <p>Within one JVM the lock file is never opened twice: on Linux the lock is a POSIX record
   * lock, and closing <em>any</em> descriptor of the file drops every lock this process holds on
   * it, so a second server that opened the file, found it locked and closed it again would
   * silently unlock the first. {@link #LOCKED} (by file identity, which also sees through
   * symlinks) keeps a second in-process server from getting that far.
   */
  private void lockDataFolder() throws IOException {
    Path file = config.dataDir().resolve("posta.lock");
    try {
      Files.createFile(file, PrivateFiles.file(file)); // fails, without opening it, when it exists
    } catch (FileAlreadyExistsException e) {
      // kept from an earlier run: fine, only the lock on it counts
    }
    Object key = Files.readAttributes(file, BasicFileAttributes.class).fileKey();
    if (key == null) key = file.toRealPath();
    if (!LOCKED.add(key)) throw inUse();
    FileChannel channel = null;
    try {
      channel = FileChannel.open(file, StandardOpenOption.WRITE);
      if (channel.tryLock() == null) throw inUse(); // another process
      lockChannel = channel; // closing it releases the lock
      lockKey = key;
    } catch (OverlappingFileLockException e) {
      // Locked by something else in this JVM. The channel is deliberately left open: closing it
      // would drop that other lock (see above).
      channel = null;
      throw inUse();
    } finally {
      if (lockChannel == null) {
        if (channel != null) channel.close();
        LOCKED.remove(key);
      }
    }
  }

  private IOException inUse() {
    return new IOException("another Posta is already using the data folder " + config.dataDir());
  }

  /**
   * Waits until the mail the last run left is read into the queue, which a start does behind its
   * open listeners ({@link Spool.Backlog}): for callers that look at the queue at once, as tests
   * do. False when {@code timeout} came first.
   */
  public boolean awaitBacklog(Duration timeout) throws InterruptedException {
    Spool.Backlog b = backlog;
    return b == null || b.await(timeout);
  }

  /** When the server was started, on its clock; null before {@link #start} (and when opened for queue commands only). */
  public Instant started() {
    return started;
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

  /** SMTP sessions waiting for their client without a thread. */
  public int idleSessionCount() {
    return smtp.idleSessionCount();
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

  /**
   * Empties every folder of every mailbox (capture mode's reset): each message is expunged as
   * an IMAP client's EXPUNGE would, so sessions reading them see it go. Mail still in the queue
   * is not touched; it is delivered afterwards.
   *
   * @return how many messages were removed
   */
  public int clearMailboxes() throws IOException {
    Path root = config.dataDir().resolve("mail");
    if (!Files.isDirectory(root)) return 0;
    int removed = 0;
    try (var domains = Files.newDirectoryStream(root, Files::isDirectory)) {
      for (Path domain : domains) {
        try (var users = Files.newDirectoryStream(domain, Files::isDirectory)) {
          for (Path user : users) {
            var mailbox = new dev.posta.store.MailboxId(unsafeName(domain.getFileName().toString()), unsafeName(user.getFileName().toString()));
            for (String folder : store.folderNames(mailbox)) {
              try (var lease = store.open(mailbox, folder)) {
                lease.folder().sync();
                List<Long> uids = java.util.Arrays.stream(lease.folder().uids()).boxed().toList();
                removed += lease.folder().expunge(uids).size();
              }
            }
          }
        }
      }
    }
    if (captured != null) captured.clear();
    log.info("capture: {} message(s) removed from the mailboxes", removed);
    return removed;
  }

  /** {@link MaildirStore#safeName} undone: %XX back to its octet. */
  private static String unsafeName(String name) {
    if (name.indexOf('%') < 0) return name;
    var out = new java.io.ByteArrayOutputStream();
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c == '%' && i + 2 < name.length()) {
        out.write(Integer.parseInt(name, i + 1, i + 3, 16));
        i += 2;
      } else {
        out.write(c);
      }
    }
    return out.toString(java.nio.charset.StandardCharsets.UTF_8);
  }

  /** The mailbox store that local delivery writes and IMAP, POP3 and the HTTP API read. */
  public dev.posta.store.MailboxStore mailboxes() {
    return mailboxes;
  }

  /** The accounts. */
  public UserStore users() {
    return users;
  }

  /** The HTTP API's bearer tokens ({@code posta token}): in cluster mode the cluster's, in its database. */
  public dev.posta.auth.ApiTokens apiTokens() {
    return apiTokens;
  }

  /** Local submission's checks and transaction, which the HTTP API's sending shares (the configuration's current one). */
  public LocalSubmission localSubmission() {
    return localSubmission;
  }

  /** The AUTH throttle every protocol shares (a reload may replace it). */
  public AuthThrottle authThrottle() {
    return throttle;
  }

  /** The spool's folder, {@code <data>/queue}. */
  public Path spoolFolder() {
    return config.dataDir().resolve("queue");
  }

  /** The meters of this server: {@code /metrics} writes them out, the charts read their last hour. */
  public MailMetrics metrics() {
    return metrics;
  }

  /** The TLS setup: certificate in use, and whether it is self-signed. */
  public ServerTls tls() {
    return tls;
  }

  public QueueManager queue() {
    return queue;
  }

  /** Where the listeners hand accepted mail: the spool's {@link #queue}, or the cluster's queue; its size and oldest arrival. */
  public MailQueue mailQueue() {
    return mailQueue;
  }

  /**
   * The administrator's commands on the queue ({@code posta queue}, the pages, the API), also on
   * one opened only for them: in cluster mode the cluster's queue in the database.
   */
  public dev.posta.queue.QueueCommands queueControl() {
    return queueCommands;
  }

  public PostaConfig config() {
    return config;
  }

  /** The server's clock: what its queue, its meters and {@link #started} are read on. */
  public Clock clock() {
    return clock;
  }

  /** Where a running server listens for {@code posta queue} commands. */
  public static Path controlSocketPath(PostaConfig config) {
    return config.dataDir().resolve("control.sock");
  }

  @Override
  public void close() {
    if (pickup != null) pickup.close();
    if (localChannel != null) localChannel.close();
    if (controlSocket != null) controlSocket.close();
    // The protocols stop side by side, each giving its sessions their grace to end; the queue,
    // the spool and the mailboxes close only after every session has.
    List<Runnable> protocols = new ArrayList<>();
    if (smtp != null) protocols.add(smtp::close);
    if (imap != null) protocols.add(imap::close);
    if (pop3 != null) protocols.add(pop3::close);
    if (web != null) protocols.add(web::close);
    try (var stopping = Executors.newVirtualThreadPerTaskExecutor()) {
      protocols.forEach(stopping::execute);
    }
    if (backlog != null) backlog.stop(); // before the queue it hands mail to closes
    if (queue != null) queue.close();
    if (clusterQueue != null) clusterQueue.close();
    if (spool != null) spool.close();
    if (mailboxes instanceof DatabaseStore shared) shared.close();
    if (store != null) store.close(); // after the queue: no delivery writes into a closed folder's index
    if (clusterNode != null) { // after the queue and the store: the node's row goes when nothing of it runs
      try {
        clusterNode.close();
      } catch (java.sql.SQLException e) {
        log.warn("cluster: leaving the nodes: {}", e.toString());
      }
    }
    if (database != null) database.close(); // after the queue and the store: their last writes are done
    if (greylist != null) { // after the sessions: what they recorded is written
      try {
        greylist.close();
      } catch (IOException e) {
        log.warn("closing the greylist: {}", e.toString());
      }
      greylist = null;
    }
    metrics.close();
    if (lockChannel != null) { // last: nothing may touch the data folder after another server can start
      try {
        lockChannel.close();
      } catch (IOException e) {
        log.warn("closing {}: {}", config.dataDir().resolve("posta.lock"), e.toString());
      }
      lockChannel = null;
      LOCKED.remove(lockKey); // only after the OS lock is gone
    }
  }
}
