package dev.posta.junit;

import dev.posta.PostaServer;
import dev.posta.capture.CapturedMail;
import dev.posta.capture.MailQuery;
import dev.posta.config.PostaConfig;
import dev.posta.mailauth.TestDomain;
import dev.posta.smtp.Fault;
import dev.posta.smtp.Faults;
import dev.posta.smtp.Reply;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.junit.platform.commons.support.AnnotationSupport;

/**
 * A real Posta in the test's JVM, in capture mode ({@link PostaConfig.Capture}): it takes mail for
 * any address in any domain, relays nothing, and hands every message it received to the test,
 * parsed ({@link ReceivedMessage}).
 *
 * <pre>{@code
 * @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults();
 *
 * @Test void sendsTheReset() throws Exception {
 *   app.resetPassword("ada@example.com");              // sends to mail.smtpPort() on 127.0.0.1
 *   ReceivedMessage m = mail.await().to("ada@example.com").subject(contains("reset")).first();
 *   assertThat(m.link("/reset/")).startsWith("https://app.example/reset/");
 * }
 * }</pre>
 *
 * <p><b>Inboxes: mail per test.</b> Every captured message is filed under one namespace, so that
 * tests that share a server, even running in parallel, each see their own mail only. A test gets
 * one with {@link #newInbox()}, or by declaring an {@link Inbox} parameter (the extension
 * resolves it: a new inbox per parameter), and has the application send to {@link
 * Inbox#address()} or {@link Inbox#address(String) inbox.address("ada@example.com")} ({@code
 * ada+t7@example.com}), or log in as {@link Inbox#login()}; {@code inbox.await()} then waits for
 * that namespace's mail only, while {@link #await()} sees every namespace. The rules, in order
 * ({@link PostaConfig.Capture}): the SMTP AUTH login's namespace when the client logged in (not
 * with {@link #withAccount}, whose one account every client shares), else the plus tag of the
 * first recipient that has one, else {@code default}. (With two extensions registered on one
 * class, JUnit cannot tell whose inbox a parameter is: call {@code newInbox()} on the one meant.)
 *
 * <pre>{@code
 * @Test void sendsTheCode(Inbox inbox) {
 *   app.sendLoginCode(inbox.address("ada@example.com"));
 *   assertThat(inbox.await().subject(contains("code")).first().code()).hasSize(6);
 * }
 * }</pre>
 *
 * <p><b>Waiting.</b> {@link #await()} and {@link Inbox#await()} block until a delivery brings
 * what they wait for, woken by that delivery (no polling: within milliseconds), from platform and
 * virtual threads alike, and fail with an AssertionError listing what did arrive. The server
 * keeps the newest 10,000 messages ({@link #withRetention}); a message a test is waiting for is
 * handed to it as it arrives, so no amount of other mail hides it.
 *
 * <p><b>Lifetime.</b> As JUnit extensions usually do: registered on a {@code static} field, one
 * server serves the whole class (started before all, stopped after all); on an instance field,
 * each test gets a server of its own. A per-class server keeps its mail from test to test unless
 * {@link #resetBetweenTests()} asks otherwise (or the test calls {@link #reset()}); {@code @Nested}
 * classes share their outer class's server. Tests of a per-class server may run in parallel
 * ({@code @Execution(CONCURRENT)}) when each uses an inbox of its own; a reset forgets every
 * test's mail, so such tests do not reset. One instance registered by several classes (a
 * holder's static field) is one server for all of them, started by the first class and stopped
 * after the last, whichever ends first, also when the classes run in parallel.
 *
 * <p><b>What runs.</b> Listeners on 127.0.0.1 on ports the OS picks: SMTP always; submission
 * (port 587's protocol, STARTTLS) with {@link #withSubmission()} or {@link #withAccount};
 * submission over implicit TLS (port 465's, RFC 8314) with {@link #withImplicitTls()}; IMAP and
 * POP3 with {@link #withReaders()} (log in as a recipient's address, with any password, or as
 * the account). With any of those, every listener offers TLS (STARTTLS on SMTP too, RFC 3207)
 * with a certificate issued by the test run's own CA (TestCa: one per JVM, made on first need
 * while the server starts, valid for a day back and a week ahead, nothing shipped), for {@code
 * localhost}, 127.0.0.1, ::1 and the hostname; the test trusts exactly that CA ({@link
 * #caCertificate()}, {@link #trustStore()}, {@link #sslContext()}, {@link #mailProperties()}).
 * SMTP alone offers no TLS, and starts without a key. {@link #start()} returns once every
 * listener is bound and accepting: no start-up timeout, no polling of ports. It does not wait
 * for the CA and the server's TLS context, which are made on threads of their own: a
 * connection that asks for TLS (STARTTLS, implicit TLS) before they are ready has its
 * handshake held until they are (about a quarter of a second, once per JVM). No DNS resolver or
 * remote delivery exist in capture mode; the test account is kept in memory and compared
 * directly (no Argon2id).
 *
 * <p><b>Authentication results.</b> Every message gets an Authentication-Results field with its
 * SPF, DKIM and DMARC results, checked against a test DNS zone in memory (never real DNS): the
 * built-in {@link #testDomain()} with its keys, and what {@link #withDnsRecord} and
 * {@link #withDkimKey} add. {@link ReceivedMessage#authenticationResults()} parses it and
 * {@link PostaAssertions} asserts on it. A failing DMARC policy is only recorded: the message is
 * delivered all the same. Stopping closes every listener and thread the server started
 * and deletes its data folder.
 *
 * <p><b>Faults</b>, for testing an application's retry path: {@link #fault()} scripts a failure
 * at any SMTP stage, triggered by address pattern, by attempt ("the first two, then accept") or
 * by a seeded probability; {@link SmtpFault} does the same as an annotation on a test method or
 * class (its subclasses and {@code @Nested} classes included); a tarpit and a rate limit too.
 * A fault is the test's that set it (on its thread), with its own counts, and goes when the
 * test ends; it meets the test's own mail only: while the test runs alone on the server, every
 * session; while other tests run, sessions in one of its inboxes (by the inbox's login, from
 * AUTH on, or a recipient with its tag, from that RCPT on). A session no inbox claims meets no
 * test's faults then, and each test it passed over is told so with its failure. A fault at
 * connect, EHLO, STARTTLS or AUTH, which never knows its test, is refused while another test
 * runs on the server ({@link IllegalStateException}: give such tests {@code
 * @ResourceLock(PostaExtension.FAULTS_LOCK)} or a server each). A fault set outside a test
 * ({@code @BeforeAll}, or the HTTP API) is the whole server's until no test runs.
 *
 * <pre>{@code
 * @Test void retriesAfterTwoTemporaryFailures() throws Exception {
 *   mail.fault().atMail().times(2).reply("451 4.3.0 Try again later");
 *   app.sendReceipt("ada@customer.example");              // fails twice, retries, then goes through
 *   assertThat(mail.awaitMessage().subject()).isEqualTo("Your receipt");
 * }
 *
 * @Test
 * @SmtpFault(stage = Fault.Stage.RCPT, match = "*@bounce.example", reply = "550 5.1.1 No such user")
 * void marksABouncingAddress() { ... }
 * }</pre>
 *
 * <p><b>Logging.</b> The server logs through SLF4J and brings no backend. When the test project
 * logs with logback and sets no level for {@code dev.posta}, the extension sets WARN, so that a
 * test run is not filled with the server's INFO lines; set {@code dev.posta} to INFO to see them.
 */
public final class PostaExtension implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback, ParameterResolver {
  /** The extension's own knobs, copied into each server it starts. */
  private boolean submission;
  private boolean implicitTls;
  private boolean readers;
  /** Capture mode's HTTP API on a free port, for the parts of a test that are not Java. */
  private boolean http;
  private boolean resetBetweenTests;
  private String accountAddress;
  private String accountPassword;
  private String hostname = "localhost";
  private int retention = PostaConfig.Capture.DEFAULT_RETENTION;
  /** The test's own records and keys for capture mode's test DNS zone. */
  private PostaConfig.Capture.Zone zone = PostaConfig.Capture.Zone.EMPTY;

  /** Each running test's faults, met by its own mail only; and those set outside a test. */
  private final TestFaults faults = new TestFaults();
  /** Names the inboxes t1, t2, ...: unique for this extension, whose server is the only one that files by them. */
  private final AtomicInteger inboxes = new AtomicInteger();

  private volatile PostaServer server;
  private Path dataDir;
  /**
   * Guards starting and stopping: one extension instance may serve classes running in parallel
   * (a static field shared by several classes, a {@code @Nested} class and its outer class), or
   * tests running in parallel on one test instance.
   */
  private final Object lifecycle = new Object();
  /** Whether the server serves whole classes (started in beforeAll), not one test each. */
  private boolean perClass;
  /**
   * The classes running with this per-class server, {@code @Nested} ones included, or the tests
   * running with a per-test one: the last to end stops it, so none is stopped under another.
   */
  private int users;
  /** Whether JUnit's callbacks started the server (not {@link #start()} by hand, which {@link #stop()} ends). */
  private boolean startedByJUnit;
  private volatile Duration startupTime = Duration.ZERO;

  /** AUTH attempts at once (and failures) from 127.0.0.1 before a 454: more than tests run in parallel. */
  private static final int PARALLEL_LOGINS = 1000;

  private PostaExtension() {}

  /** SMTP on a free port of 127.0.0.1, taking mail for any address; nothing else. */
  public static PostaExtension withDefaults() {
    return new PostaExtension();
  }

  /** A submission listener too (STARTTLS with the test CA's certificate; AUTH only with {@link #withAccount}). */
  public PostaExtension withSubmission() {
    submission = true;
    TestCa.prepare();
    return this;
  }

  /**
   * A submission listener over implicit TLS too (port 465's protocol, RFC 8314 §3.3: the TLS
   * handshake comes before the greeting), with the test CA's certificate: {@link #smtpsPort()},
   * {@link #implicitTlsMailProperties()}. AUTH as on submission.
   */
  public PostaExtension withImplicitTls() {
    implicitTls = true;
    TestCa.prepare();
    return this;
  }

  /**
   * A submission listener whose clients must log in, as this account (PLAIN or LOGIN, after
   * STARTTLS; the SMTP listener keeps taking mail without). The account also reads its mail over
   * IMAP and POP3 with {@link #withReaders()}; no other login is taken then.
   */
  public PostaExtension withAccount(String address, String password) {
    submission = true;
    TestCa.prepare();
    accountAddress = address;
    accountPassword = password;
    return this;
  }

  /** IMAP and POP3 listeners (plain text logins from loopback; STARTTLS and STLS offered). */
  public PostaExtension withReaders() {
    readers = true;
    TestCa.prepare();
    return this;
  }

  /**
   * An HTTP listener on a free port of 127.0.0.1 serving capture mode's API ({@link #apiUrl()}),
   * as {@code posta dev} does: a browser test, a Python script or another process waits on mail
   * with {@code GET apiUrl() + "/messages/wait?to=ADDRESS&timeout=10s"}, no token needed.
   */
  public PostaExtension withHttp() {
    http = true;
    return this;
  }

  /**
   * The name the server gives in its greeting and Received: lines, and which its TLS certificate
   * names besides {@code localhost}, 127.0.0.1 and ::1. Default: localhost.
   */
  public PostaExtension withHostname(String name) {
    hostname = name;
    return this;
  }

  /**
   * How many messages the server keeps for finding and waiting (default 10,000), the oldest
   * forgotten first; a message a test waits for is never forgotten before the wait returns it.
   */
  public PostaExtension withRetention(int messages) {
    if (messages < 1) throw new IllegalArgumentException("retention must be at least 1 message, not " + messages);
    retention = messages;
    return this;
  }

  /**
   * A record in the test DNS zone that every message's SPF, DKIM and DMARC checks ask (see
   * {@link #testDomain()} for the built-in one): a domain's real records, to check that the
   * application's mail passes them. {@code type} is TXT, A, AAAA, MX or PTR (named by its
   * address); a TXT value may be given as zone-file quoted strings, which are joined.
   *
   * <pre>{@code .withDnsRecord("shop.example", "TXT", "v=spf1 ip4:127.0.0.1 -all")}</pre>
   *
   * @throws IllegalArgumentException saying what is wrong with the record
   */
  public PostaExtension withDnsRecord(String name, String type, String value) {
    zone = zone.with(PostaConfig.Capture.ZoneRecord.of(name, type, value, "withDnsRecord(" + name + ", " + type + ")"));
    return this;
  }

  /**
   * Publishes the public half of a private key (PEM, as {@code openssl genpkey} or {@code posta
   * dkim keygen} write it) as the DKIM key record of {@code selector} at {@code domain}, so that
   * mail the application signs with that key passes DKIM. The file is read when the server starts.
   */
  public PostaExtension withDkimKey(String domain, String selector, Path privateKeyPem) {
    zone = zone.with(new PostaConfig.Capture.ZoneKey(domain.toLowerCase(java.util.Locale.ROOT), selector.toLowerCase(java.util.Locale.ROOT),
        privateKeyPem, "withDkimKey(" + domain + ", " + selector + ")"));
    return this;
  }

  /** A per-class server forgets its mail and faults before each test ({@link #reset()}). */
  public PostaExtension resetBetweenTests() {
    resetBetweenTests = true;
    return this;
  }

  // --- JUnit's callbacks -------------------------------------------------------------------

  @Override
  public void beforeAll(ExtensionContext context) throws IOException {
    synchronized (lifecycle) {
      users++; // counted even when the start fails: JUnit calls afterAll all the same
      perClass = true;
      if (server != null) return; // a @Nested class, or another class sharing this instance
      start();
      startedByJUnit = true;
    }
  }

  @Override
  public void afterAll(ExtensionContext context) {
    synchronized (lifecycle) {
      if (!perClass || users == 0) return;
      if (--users == 0 && startedByJUnit) stop();
    }
  }

  @Override
  public void beforeEach(ExtensionContext context) throws IOException {
    synchronized (lifecycle) {
      if (!perClass) {
        users++; // an instance field: a server for this test (shared by tests running on one instance at once)
        if (server == null) {
          start();
          startedByJUnit = true;
        }
      }
    }
    TestFaults.Test test = faults.begin(context.getUniqueId(), context.getDisplayName() + " (" + context.getRequiredTestClass().getSimpleName() + ")");
    if (perClass && resetBetweenTests) reset(); // the mail, and the faults set outside a test
    List<SmtpFault> annotated = classFaults(context.getRequiredTestClass());
    context.getTestMethod().ifPresent(m -> annotated.addAll(AnnotationSupport.findRepeatableAnnotations(m, SmtpFault.class)));
    for (SmtpFault a : annotated) faults.add(test, fault(a));
  }

  @Override
  public void afterEach(ExtensionContext context) {
    TestFaults.Test test = faults.running(context.getUniqueId());
    List<String> passedOver = test != null ? faults.end(test) : List.of(); // faults are a test's own
    synchronized (lifecycle) {
      if (!perClass && users > 0 && --users == 0) stop(); // a per-test server ends with its test, as it always has
    }
    if (!passedOver.isEmpty() && context.getExecutionException().isPresent()) {
      // Told with the test's own failure (JUnit adds it as suppressed), which it may explain.
      throw new AssertionError("scripted faults of this test were passed over while other tests ran on its server: an attempt is"
          + " a test's only when it is in one of the test's inboxes (its login, or a recipient with its tag: inbox.address(...));\n  "
          + String.join("\n  ", passedOver));
    }
  }

  /**
   * The class-level {@link SmtpFault}s in force for a test of {@code testClass}: those of each
   * enclosing class of an inner class (a {@code @Nested} class's tests run inside its outer classes, outermost
   * first), then the class's own; each class's include its superclasses' ({@code @Inherited}).
   * Each class is looked at once, so no fault is added twice.
   */
  static List<SmtpFault> classFaults(Class<?> testClass) {
    java.util.ArrayDeque<Class<?>> classes = new java.util.ArrayDeque<>();
    // Only an inner class's tests run inside its enclosing class (JUnit's @Nested is never static).
    for (Class<?> c = testClass; c != null; c = java.lang.reflect.Modifier.isStatic(c.getModifiers()) ? null : c.getEnclosingClass()) {
      classes.addFirst(c);
    }
    List<SmtpFault> annotated = new ArrayList<>();
    java.util.Set<Class<?>> seen = new java.util.HashSet<>();
    for (Class<?> c : classes) {
      if (seen.add(c)) annotated.addAll(AnnotationSupport.findRepeatableAnnotations(c, SmtpFault.class));
    }
    return annotated;
  }

  /** The fault an annotation describes, checked as a configuration's would be. */
  static Fault fault(SmtpFault a) {
    Map<String, Object> fields = new java.util.LinkedHashMap<>();
    fields.put("stage", a.stage().key());
    if (!a.match().isEmpty()) fields.put("match", a.match());
    if (!a.reply().isEmpty()) fields.put("reply", a.reply());
    if (a.refuse()) fields.put("action", "refuse");
    if (a.disconnect()) fields.put("action", a.refuse() ? "refuse and disconnect" : "disconnect");
    if (a.afterOctets() != 0) fields.put("after-octets", a.afterOctets());
    if (!a.delay().isEmpty()) fields.put("delay", a.delay());
    if (a.times() != 0) fields.put("times", a.times());
    if (a.probability() != 1) {
      fields.put("probability", a.probability());
      fields.put("seed", a.seed());
    }
    try {
      return Fault.fromFields(fields);
    } catch (Fault.Invalid e) {
      throw new IllegalArgumentException("@SmtpFault(stage = " + a.stage() + ", ...): " + e.getMessage(), e);
    }
  }

  // --- Starting and stopping ---------------------------------------------------------------

  /**
   * Starts the server, for use without JUnit's callbacks (a {@code main}, another framework);
   * {@link #stop()} ends it. JUnit calls both itself.
   */
  public PostaExtension start() throws IOException {
    synchronized (lifecycle) {
      return startLocked();
    }
  }

  private PostaExtension startLocked() throws IOException {
    if (server != null) throw new IllegalStateException("already started");
    long began = System.nanoTime();
    Logs.quiet();
    boolean tls = tls();
    dataDir = Files.createTempDirectory(dataParent(), "posta-junit-");
    LEFT_AT_EXIT.add(dataDir);
    List<PostaConfig.Listener> listeners = new ArrayList<>();
    for (PostaConfig.Protocol p : protocols()) listeners.add(new PostaConfig.Listener(p, new InetSocketAddress("127.0.0.1", 0)));
    PostaConfig defaults = PostaConfig.embeddedDefaults(dataDir);
    var sub = defaults.submission();
    // With a test account every client logs in as that one account: its login says nothing of the test.
    PostaConfig.Capture capture = new PostaConfig.Capture(true, accountAddress == null ? Map.of() : Map.of(accountAddress, accountPassword),
        accountAddress == null, PostaConfig.Capture.PLUS_TAG, retention, zone);
    faults.fileBy(capture);
    PostaConfig config = defaults.toBuilder()
        .hostname(hostname)
        .listeners(listeners)
        .tls(tls ? new PostaConfig.Tls(Optional.of(TestCa.chainPath(hostname)), Optional.of(TestCa.serverKeyPath())) : PostaConfig.Tls.SELF_SIGNED)
        // AUTH from one address: a real server's 10 at once (failures included) would refuse the
        // logins of tests running in parallel, which a fast TLS handshake brings in together.
        .submission(new PostaConfig.Submission(List.of(), true, false, PARALLEL_LOGINS, sub.authLockout()))
        .senderChecks(new PostaConfig.SenderChecks(PostaConfig.SenderChecks.Rules.OFF, Map.of(), List.of()))
        .capture(capture)
        .build();
    try {
      PostaServer s = new PostaServer(config).faults(faults);
      if (http) s.web(dev.posta.web.WebServer::new);
      // With TLS, the CA (being made since this extension was set up) is not waited for: the
      // server reads its files when they are written and holds TLS handshakes until then;
      // SMTP alone offers none, and starts without a key.
      String name = hostname;
      server = (tls ? s.tlsFilesFrom(TestCa.making().thenApply(ca -> ca.chainFile(name))) : s.withoutTls()).start();
    } catch (IOException | RuntimeException e) {
      deleteData();
      throw e;
    }
    startupTime = Duration.ofNanos(System.nanoTime() - began);
    return this;
  }

  /** The system property naming the folder the data folders go in (instead of /dev/shm or the temporary folder). */
  public static final String DATA_DIR_PROPERTY = "posta.junit.dataDir";

  /** /dev/shm is used only with more room than this: Docker gives a container 64 MB, a few large messages. */
  static final long SHM_MINIMUM = 1L << 30;

  /** Data folders not yet deleted by {@link #stop()}: deleted when the JVM exits, should stop() never run. */
  private static final Set<Path> LEFT_AT_EXIT = java.util.concurrent.ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      for (Path dir : LEFT_AT_EXIT) deleteTree(dir);
    }, "posta-junit-data-cleanup"));
  }

  /**
   * Where the data folder goes: the folder {@value #DATA_DIR_PROPERTY} names, else Linux's
   * shared-memory file system when it has more than 1 GiB free, else the JVM's temporary folder.
   * The server fsyncs its spool and mailboxes before every 250, as a real server must; on a
   * disk that is several milliseconds a message which a test's mail, deleted at {@link #stop()},
   * does not need, and on tmpfs an fsync costs nothing. A small /dev/shm (Docker's 64 MB) would
   * fill up with a test's attachments, so it is passed over.
   */
  private static Path dataParent() {
    Path shm = Path.of("/dev/shm");
    long shmUsable = 0;
    if (Files.isDirectory(shm) && Files.isWritable(shm)) {
      try {
        shmUsable = Files.getFileStore(shm).getUsableSpace();
      } catch (IOException e) {
        shmUsable = 0; // unreadable: not used
      }
    }
    return dataParent(System.getProperty(DATA_DIR_PROPERTY), shm, shmUsable, Path.of(System.getProperty("java.io.tmpdir")));
  }

  static Path dataParent(String configured, Path shm, long shmUsable, Path tmp) {
    if (configured != null && !configured.isBlank()) {
      Path dir = Path.of(configured);
      if (!Files.isDirectory(dir) || !Files.isWritable(dir)) {
        throw new IllegalArgumentException("-D" + DATA_DIR_PROPERTY + "=" + configured + ": not a folder this JVM can write in");
      }
      return dir;
    }
    return shmUsable > SHM_MINIMUM ? shm : tmp;
  }

  private Set<PostaConfig.Protocol> protocols() {
    Set<PostaConfig.Protocol> p = EnumSet.of(PostaConfig.Protocol.SMTP);
    if (submission) p.add(PostaConfig.Protocol.SUBMISSION);
    if (implicitTls) p.add(PostaConfig.Protocol.SMTPS);
    if (http) p.add(PostaConfig.Protocol.HTTP);
    if (readers) {
      p.add(PostaConfig.Protocol.IMAP);
      p.add(PostaConfig.Protocol.POP3);
    }
    return p;
  }

  /** Whether any listener offers TLS: then every one does (STARTTLS on SMTP too). */
  private boolean tls() {
    return submission || implicitTls || readers;
  }

  /** Stops the server: its listeners and threads end, its data folder is deleted. Nothing when not running. */
  public void stop() {
    synchronized (lifecycle) {
      if (server == null) return;
      try {
        server.close();
      } finally {
        server = null;
        startedByJUnit = false;
        deleteData();
        faults.clearAll();
      }
    }
  }

  private void deleteData() {
    if (dataDir == null) return;
    deleteTree(dataDir);
    LEFT_AT_EXIT.remove(dataDir);
    dataDir = null;
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    } catch (IOException e) {
      // a temporary folder left behind is no failure of the test
    }
  }

  /** How long the last {@link #start()} took, from the call to every port listening. */
  public Duration startupTime() {
    return startupTime;
  }

  /** The server, for what the extension does not offer (its queue, its configuration). */
  public PostaServer server() {
    return running();
  }

  private PostaServer running() {
    PostaServer s = server;
    if (s == null) throw new IllegalStateException("Posta is not running: register the extension with @RegisterExtension");
    return s;
  }

  // --- Where to connect --------------------------------------------------------------------

  /** The address the listeners are on: 127.0.0.1. */
  public String host() {
    return "127.0.0.1";
  }

  /** The SMTP listener's port (plain SMTP, no AUTH needed, any recipient accepted). */
  public int smtpPort() {
    return port(PostaConfig.Protocol.SMTP);
  }

  /** The submission listener's port (STARTTLS); needs {@link #withSubmission()} or {@link #withAccount}. */
  public int submissionPort() {
    return port(PostaConfig.Protocol.SUBMISSION);
  }

  /** The implicit-TLS submission listener's port (port 465's protocol); needs {@link #withImplicitTls()}. */
  public int smtpsPort() {
    return port(PostaConfig.Protocol.SMTPS);
  }

  /** The IMAP listener's port; needs {@link #withReaders()}. */
  public int imapPort() {
    return port(PostaConfig.Protocol.IMAP);
  }

  /** The POP3 listener's port; needs {@link #withReaders()}. */
  public int pop3Port() {
    return port(PostaConfig.Protocol.POP3);
  }

  /** The HTTP listener's port ({@link #withHttp()}). */
  public int httpPort() {
    return port(PostaConfig.Protocol.HTTP);
  }

  /**
   * Where capture mode's HTTP API is, without a slash at the end: {@code http://127.0.0.1:PORT/api/v1}
   * ({@link #withHttp()}). {@code GET /messages/wait?to=&subject=&timeout=10s} waits for mail,
   * {@code GET /messages/{id}} reads one, {@code DELETE /messages} resets (the README's "Capture
   * mode's HTTP API" has them all).
   */
  public String apiUrl() {
    return "http://127.0.0.1:" + httpPort() + "/api/v1";
  }

  private int port(PostaConfig.Protocol protocol) {
    return running().listeners().stream().filter(b -> b.listener().protocol() == protocol).findFirst()
        .orElseThrow(() -> new IllegalStateException("no " + protocol.name().toLowerCase(java.util.Locale.ROOT) + " listener: "
            + switch (protocol) {
              case SUBMISSION -> "use withSubmission() or withAccount(...)";
              case SMTPS -> "use withImplicitTls()";
              case HTTP -> "use withHttp()";
              default -> "use withReaders()";
            }))
        .address().getPort();
  }

  // --- TLS: the test run's CA --------------------------------------------------------------

  /**
   * The test run's CA certificate (PEM): it issued the certificate every TLS listener presents
   * (for {@code localhost}, 127.0.0.1, ::1 and {@link #withHostname the hostname}), so it is what
   * a client is told to trust: Python's {@code ssl.create_default_context(cafile=...)}, {@code
   * openssl s_client -CAfile}, {@code curl --cacert}. One CA per JVM, made on first need, valid
   * from a day before to a week after; its folder is deleted when the JVM exits.
   */
  public Path caCertificate() {
    return TestCa.get().certificateFile();
  }

  /**
   * A PKCS#12 trust store holding the CA and nothing else, password {@link #TRUST_STORE_PASSWORD}
   * ({@code javax.net.ssl.trustStore}, a Spring Boot SSL bundle); written on first use.
   */
  public Path trustStore() {
    return TestCa.get().trustStore(TRUST_STORE_PASSWORD);
  }

  /** The password of {@link #trustStore()}. */
  public static final String TRUST_STORE_PASSWORD = "posta-test";

  /**
   * A TLS client context that trusts the CA and nothing else. Its sockets check the chain; the
   * host name is the client's to check (as {@code HttpsURLConnection} does, or an {@code
   * SSLSocket} with {@code SSLParameters.setEndpointIdentificationAlgorithm("HTTPS")}).
   */
  public SSLContext sslContext() {
    return TestCa.get().clientContext();
  }

  /** The trust manager of {@link #sslContext()}: the CA and nothing else. */
  public X509TrustManager trustManager() {
    return TestCa.get().trustManager();
  }

  /**
   * Jakarta Mail (Angus Mail) settings that reach this server: {@code
   * Session.getInstance(mail.mailProperties())}.
   *
   * <ul>
   *   <li>The port: with an account, submission, with AUTH on and {@code mail.user} (Jakarta Mail
   *       wants the {@link #password()} in {@code Transport.send(message, user, password)} or an
   *       Authenticator); otherwise SMTP.
   *   <li>With TLS (any of {@link #withSubmission()}, {@link #withAccount}, {@link
   *       #withImplicitTls()}, {@link #withReaders()}): STARTTLS required, the certificate chain
   *       checked against the test CA and nothing else ({@code mail.smtp.ssl.socketFactory.class}
   *       = {@link TestCaSocketFactory}), and the host name against the certificate ({@code
   *       mail.smtp.ssl.checkserveridentity=true}): what production settings do, without a
   *       trust-everything shortcut such as {@code mail.smtp.ssl.trust=*}.
   *   <li>SMTP alone: nothing more (the server then offers no TLS).
   * </ul>
   */
  public Properties mailProperties() {
    Properties p = new Properties();
    p.setProperty("mail.transport.protocol", "smtp");
    p.setProperty("mail.smtp.host", host());
    p.setProperty("mail.smtp.port", Integer.toString(accountAddress != null ? submissionPort() : smtpPort()));
    if (tls()) {
      p.setProperty("mail.smtp.starttls.enable", "true");
      p.setProperty("mail.smtp.starttls.required", "true");
      trustTheCa(p);
    }
    login(p);
    return p;
  }

  /**
   * {@link #mailProperties()} over implicit TLS: the {@link #smtpsPort() SMTPS port}, {@code
   * mail.smtp.ssl.enable=true} (TLS from the first octet, RFC 8314), the chain checked against the
   * test CA and the host name against the certificate; AUTH with an account. Needs {@link
   * #withImplicitTls()}.
   */
  public Properties implicitTlsMailProperties() {
    Properties p = new Properties();
    p.setProperty("mail.transport.protocol", "smtp");
    p.setProperty("mail.smtp.host", host());
    p.setProperty("mail.smtp.port", Integer.toString(smtpsPort()));
    p.setProperty("mail.smtp.ssl.enable", "true");
    trustTheCa(p);
    login(p);
    return p;
  }

  /** The chain checked against the test CA alone, the host name against the certificate. */
  static void trustTheCa(Properties p) {
    p.setProperty("mail.smtp.ssl.socketFactory.class", TestCaSocketFactory.class.getName());
    p.setProperty("mail.smtp.ssl.socketFactory.fallback", "false");
    p.setProperty("mail.smtp.ssl.checkserveridentity", "true");
  }

  private void login(Properties p) {
    if (accountAddress == null) return;
    p.setProperty("mail.smtp.auth", "true");
    p.setProperty("mail.user", accountAddress);
  }

  /**
   * Spring Boot's {@code spring.mail.*} for this server, for a {@code @DynamicPropertySource}
   * ({@code mail.springMailProperties().forEach((k, v) -> registry.add((String) k, () -> v))})
   * or a test's properties: host, port, with an account username and password, and {@link
   * #mailProperties()}' TLS and AUTH settings under {@code spring.mail.properties.}.
   */
  public Properties springMailProperties() {
    return spring(mailProperties());
  }

  /** {@link #springMailProperties()} over implicit TLS ({@link #implicitTlsMailProperties()}). */
  public Properties springImplicitTlsMailProperties() {
    return spring(implicitTlsMailProperties());
  }

  private Properties spring(Properties mail) {
    Properties p = new Properties();
    p.setProperty("spring.mail.host", mail.getProperty("mail.smtp.host"));
    p.setProperty("spring.mail.port", mail.getProperty("mail.smtp.port"));
    if (accountAddress != null) {
      p.setProperty("spring.mail.username", accountAddress);
      p.setProperty("spring.mail.password", accountPassword);
    }
    for (String key : mail.stringPropertyNames()) {
      if (Set.of("mail.transport.protocol", "mail.smtp.host", "mail.smtp.port", "mail.user").contains(key)) continue;
      p.setProperty("spring.mail.properties." + key, mail.getProperty(key));
    }
    return p;
  }

  /** The test account's address, or null without one. */
  public String username() {
    return accountAddress;
  }

  /** The test account's password, or null without one. */
  public String password() {
    return accountPassword;
  }

  // --- The test domain ---------------------------------------------------------------------

  /**
   * The built-in test domain, {@value TestDomain#DOMAIN}: its SPF record allows the loopback
   * addresses, its DMARC policy is reject, and it publishes two DKIM keys whose private halves
   * are {@link #testRsaKey()} and {@link #testEd25519Key()}. Mail the application sends from
   * it, signed with one of them, passes all three.
   */
  public String testDomain() {
    return TestDomain.DOMAIN;
  }

  /** The selector of the test domain's RSA key: {@value TestDomain#RSA_SELECTOR}. */
  public String testRsaSelector() {
    return TestDomain.RSA_SELECTOR;
  }

  /** The test domain's RSA (2048 bits) private key, PKCS#8 PEM, in the server's data folder. */
  public Path testRsaKey() {
    return running().testDomainKeys().rsaPem();
  }

  /** The selector of the test domain's Ed25519 key (RFC 8463): {@value TestDomain#ED25519_SELECTOR}. */
  public String testEd25519Selector() {
    return TestDomain.ED25519_SELECTOR;
  }

  /** The test domain's Ed25519 private key, PKCS#8 PEM. */
  public Path testEd25519Key() {
    return running().testDomainKeys().ed25519Pem();
  }

  /** The same Ed25519 key as dkimpy ({@code dkimsign}, python3-dkim) reads one: its 32-octet seed in base64. */
  public Path testEd25519KeyForDkimpy() {
    return running().testDomainKeys().ed25519Dkimpy();
  }

  // --- What arrived ------------------------------------------------------------------------

  /** The server's index of captured mail, which {@link #await()} and the inboxes query. */
  CapturedMail capturedMail() {
    return running().capturedMail();
  }

  /** The messages received so far (since the start or the last {@link #reset()}), in order of delivery, in every namespace. */
  public List<ReceivedMessage> messages() {
    PostaServer s = server;
    if (s == null) return List.of();
    return s.capturedMail().find(MailQuery.ALL).stream().map(ReceivedMessage::of).toList();
  }

  /**
   * A wait for mail in any namespace: {@code mail.await().to("a@b").subject(contains("reset")).first()}
   * ({@link Await}).
   */
  public Await await() {
    return new Await(this, MailQuery.ALL, Await.DEFAULT_TIMEOUT);
  }

  /**
   * A namespace of its own, for one test: mail to its addresses, or sent with its login, is its
   * alone ({@link Inbox}). Needs a running server only when used.
   */
  public Inbox newInbox() {
    return newInbox(null);
  }

  /** An inbox of {@code test} (null: the test running on this thread, if any), whose faults its mail meets. */
  private Inbox newInbox(TestFaults.Test test) {
    Inbox inbox = new Inbox(this, "t" + inboxes.incrementAndGet());
    faults.claim(inbox.namespace(), test);
    return inbox;
  }

  /**
   * Waits until at least {@code count} messages have been received, and returns all of them.
   *
   * @throws AssertionError when {@code timeout} passes first, saying how many came and which
   */
  public List<ReceivedMessage> awaitMessages(int count, Duration timeout) {
    return await().within(timeout).count(count);
  }

  /** {@link #awaitMessages} for one, within 10 seconds: the first message received. */
  public ReceivedMessage awaitMessage() {
    return await().first();
  }

  // --- Inboxes as test parameters ----------------------------------------------------------

  /** A test method's (or lifecycle method's) {@link Inbox} parameter: a new inbox for each. */
  @Override
  public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
    return parameter.getParameter().getType() == Inbox.class;
  }

  @Override
  public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
    return newInbox(faults.running(context.getUniqueId()));
  }

  /**
   * Forgets every received message, empties every mailbox (IMAP and POP3 see them go) and clears
   * the faults.
   */
  public void reset() {
    clearFaults();
    try {
      running().clearMailboxes(); // and the index of captured mail
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // --- Faults ------------------------------------------------------------------------------

  /**
   * A new scripted fault: {@code mail.fault().atRcpt("*@bounce.example").times(2).reply("550 5.1.1 No such user")}
   * ({@link ScriptedFault} lists them all). In force from its action on, until the end of the test.
   */
  public ScriptedFault fault() {
    return new ScriptedFault(faults, faults.caller());
  }

  /**
   * The name of a JUnit resource lock ({@code @ResourceLock(PostaExtension.FAULTS_LOCK)}) for
   * tests that share a server and set faults at connect, EHLO, STARTTLS or AUTH, or faults for
   * mail in no inbox of theirs: with it on each such test (and {@code READ} on the others),
   * JUnit runs them alone.
   */
  public static final String FAULTS_LOCK = "posta-faults";

  /**
   * The next {@code count} transactions are refused at MAIL FROM with {@code reply}, such as
   * {@code "451 4.3.0 Try again later"} (a temporary failure, which an application should retry)
   * or {@code "550 5.7.1 Not allowed"}; then mail is taken again. A shortcut for {@code
   * fault().atMail().times(count).reply(reply)}.
   */
  public void refuseNext(int count, String reply) {
    faults.script(faults.caller()).refuseNext(count, Reply.parse(reply));
  }

  /** Every SMTP reply (after the greeting) is held this long; {@link Duration#ZERO} ends it. A shortcut for {@code fault().tarpit(delay)}. */
  public void delayReplies(Duration delay) {
    faults.script(faults.caller()).delayReplies(delay);
  }

  /**
   * No more faults, tarpit or rate limit for the calling test (as after each test), nor any set
   * outside a test; other tests' faults stay.
   */
  public void clearFaults() {
    TestFaults.Test test = faults.caller();
    faults.script(test).clear();
    faults.script(null).clear();
  }
}
