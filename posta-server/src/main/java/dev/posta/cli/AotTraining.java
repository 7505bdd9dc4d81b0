package dev.posta.cli;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;

import dev.posta.LogSettings;
import dev.posta.PostaServer;
import dev.posta.auth.ApiTokens;
import dev.posta.auth.UserStore;
import dev.posta.client.SmtpClient;
import dev.posta.client.SmtpReply;
import dev.posta.client.Timeouts;
import dev.posta.client.Transaction;
import dev.posta.client.TransactionResult;
import dev.posta.config.ConfigException;
import dev.posta.config.PostaConfig;
import dev.posta.config.PostaConfig.Protocol;
import dev.posta.web.WebServer;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The start-up training: a workload that the JDK records into Posta's ahead-of-time cache (JEP
 * 483 and 514: the classes {@code serve} loads, parsed and linked; JEP 515: the method profiles
 * of its hot paths), so that a fresh {@code posta serve} is quicker to its first banner and nearer
 * its warm speed in its first messages (JDK 25 caches no compiled code: the JIT still compiles in
 * those first seconds; posta-bench's warmstart-compare.sh). The build runs it after packaging the jar ({@code
 * posta-server/target/posta.aot}); the launcher runs it in the background when the cache is
 * missing or made for another jar or JDK.
 *
 * <p>Two JVMs. The <em>driver</em> ({@code posta aot-training --cache FILE}) starts the
 * <em>workload</em> JVM with {@code -XX:AOTCacheOutput} pointed at a temporary file beside
 * {@code FILE} and the serve JVM's options, waits for it (the JDK writes the cache as that JVM
 * exits, on a signal too), then renames the file into place and writes {@code FILE.stamp}: the
 * training's outcome ({@code complete}, {@code stopped} by a signal, {@code failed}), the jar, the
 * JDK and its version, which the launcher compares before it uses the cache. A half-written cache
 * is never at {@code FILE}. SIGTERM or SIGINT to the driver stop the workload, whose cache is
 * still written and installed (marked {@code stopped}, and the driver exits non-zero).
 *
 * <p>The workload is the real server, embedded, on a private temporary data folder that is
 * removed afterwards, on loopback ports the OS chooses, with no DNS: SMTP on the port-25 listener
 * from 20 concurrent sessions (a new connection per message in some), submission with STARTTLS
 * and AUTH, implicit TLS, local Maildir delivery, relay through a smart host that is an SMTP sink
 * in this JVM, the HTTP API, then IMAP and POP3 reading the delivered mail. Every reply is
 * checked and every message counted where it lands: a workload that did not do its work fails,
 * and so does the build (a cache trained on nothing would be a silent defect).
 */
final class AotTraining {
  /** The launcher's default serve JVM options ({@code POSTA_JAVA_OPTS} replaces them there and here). */
  static final String SERVE_JVM_OPTIONS = "-XX:+UseSerialGC -Xss512k -Xms16m -Xmx1g";
  /** Messages on the port-25 listener by default: about 15 s of training on 2 cores. */
  static final int DEFAULT_MESSAGES = 8000;
  /** Concurrent port-25 sessions, as posta-bench's and smtp-source's -s 20 load. */
  static final int SESSIONS = 20;
  private static final String DOMAIN = "localhost";
  private static final String ACCOUNT = "train@localhost";
  /** Only ever used on this JVM's own loopback server and thrown away with its data folder. */
  private static final String PASSWORD = "training password, never stored";
  private static final String RELAYED_DOMAIN = "relayed.invalid";
  /** The workload's last line of standard output, which the driver prints. */
  private static final String SUMMARY = "posta aot-training: ";

  private AotTraining() {}

  @Command(name = "aot-training", hidden = true,
      description = "Record the start-up cache from a training workload on a private temporary folder (the build and the launcher run it).")
  static final class Run implements Callable<Integer> {
    @Option(names = "--cache", paramLabel = "FILE", description = "Where the cache goes (its stamp is FILE.stamp, the workload's output FILE.log).")
    Path cache;

    @Option(names = "--messages", paramLabel = "N", description = "Messages on the port-25 listener (default: ${DEFAULT-VALUE}).")
    int messages = DEFAULT_MESSAGES;

    @Option(names = "--workload", hidden = true, description = "Run the workload in this JVM (the driver starts it so).")
    boolean workload;

    @Override
    public Integer call() throws Exception {
      if (messages < SESSIONS || messages > 1_000_000) {
        System.err.println("posta aot-training: --messages " + messages + ": from " + SESSIONS + " to 1000000");
        return 2;
      }
      if (workload) return workload(messages, System.out);
      if (cache == null) {
        System.err.println("posta aot-training: --cache FILE is needed");
        return 2;
      }
      return drive(cache.toAbsolutePath(), messages);
    }
  }

  // --- The driver ------------------------------------------------------------------------------

  /** What the stamp's first line says of the cache beside it. */
  enum Outcome { COMPLETE, STOPPED, FAILED }

  /** The most a training may take (it takes 10 to 80 s): past it, it is killed and counts as failed. */
  static final java.time.Duration DEADLINE = java.time.Duration.ofMinutes(10);

  static int drive(Path cache, int messages) throws IOException, InterruptedException, java.net.URISyntaxException {
    Path jar = Path.of(AotTraining.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toRealPath();
    if (!jar.toString().endsWith(".jar")) {
      System.err.println("posta aot-training: runs from the application jar (java -jar posta.jar), not from " + jar);
      return 2;
    }
    Path folder = cache.getParent();
    Files.createDirectories(folder);
    String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    Path written = folder.resolve(cache.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
    Path log = folder.resolve(cache.getFileName() + ".log");
    List<String> command = new ArrayList<>(List.of(java));
    String options = System.getenv("POSTA_JAVA_OPTS");
    command.addAll(List.of((options == null || options.isBlank() ? SERVE_JVM_OPTIONS : options).trim().split("\\s+")));
    command.addAll(List.of(
        "-XX:AOTCacheOutput=" + written,
        // Temurin 25.0.3 caches adapters whose names it then cannot match, and warns about each at
        // every start: without adapters the cache holds classes and profiles only, and is quiet.
        "-XX:+UnlockDiagnosticVMOptions", "-XX:-AOTAdapterCaching",
        "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
        "-jar", jar.toString(), "aot-training", "--workload", "--messages", Integer.toString(messages)));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().remove("POSTA_ARGV0"); // never sendmail: the workload is serve's
    pb.environment().remove("JAVA_TOOL_OPTIONS");
    long t0 = System.nanoTime();
    String trainedJar = jarIdentity(jar);
    Process workload = pb.start();
    var finished = new Finish(workload, cache, written, log, jar, trainedJar, t0);
    // A signal to the driver (systemd stopping the service, Ctrl-C in a build) stops the workload
    // too, and the cache it writes as it exits is still installed.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> finished.complete(true)));
    if (!workload.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
      // A workload that hangs must not hang the build (or a service's background) with it.
      System.err.println("posta aot-training: the workload did not end within " + DEADLINE.toMinutes() + " minutes; it is killed");
      workload.destroyForcibly();
    }
    return finished.complete(false);
  }

  /** The jar as it is now (its size and time), to tell a rebuild during the training. */
  private static String jarIdentity(Path jar) {
    try {
      return Files.size(jar) + " " + Files.getLastModifiedTime(jar).toMillis();
    } catch (IOException e) {
      return "gone";
    }
  }

  /** The driver's one ending, by the workload's exit or by a signal, whichever comes first. */
  private static final class Finish {
    private final Process workload;
    private final Path cache;
    private final Path written;
    private final Path log;
    private final Path jar;
    private final String trainedJar;
    private final long started;
    private Integer status;

    Finish(Process workload, Path cache, Path written, Path log, Path jar, String trainedJar, long started) {
      this.workload = workload;
      this.cache = cache;
      this.written = written;
      this.log = log;
      this.jar = jar;
      this.trainedJar = trainedJar;
      this.started = started;
    }

    synchronized int complete(boolean signalled) {
      if (status != null) return status;
      try {
        if (signalled && workload.isAlive()) workload.destroy(); // SIGTERM: it stops and writes its cache
        if (!workload.waitFor(120, TimeUnit.SECONDS)) {
          workload.destroyForcibly();
          workload.waitFor();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      int exit = workload.exitValue();
      Outcome outcome = exit == 0 ? Outcome.COMPLETE : signalled || exit == 143 || exit == 130 ? Outcome.STOPPED : Outcome.FAILED;
      boolean made = false;
      if (!trainedJar.equals(jarIdentity(jar))) {
        // Rebuilt meanwhile (a background training outlived its jar): this cache is of the old one,
        // and the new jar's own (the build's) must not be replaced by it, nor its stamp.
        System.err.println("posta aot-training: " + jar + " changed while it trained; its cache is dropped");
        try {
          Files.deleteIfExists(written);
        } catch (IOException ignored) {
          // a leftover .tmp beside the cache: the next training's name differs
        }
        return status = 1;
      }
      try {
        if (outcome != Outcome.FAILED && Files.size(written) > 0) {
          move(written, cache);
          made = true;
        }
      } catch (IOException e) {
        // not written: the JDK says why in the log
      }
      try {
        Files.deleteIfExists(written);
        // A training stopped before its cache was written leaves no stamp: the next serve trains again.
        if (made || outcome == Outcome.FAILED) {
          Path stampTmp = cache.resolveSibling(cache.getFileName() + ".stamp." + ProcessHandle.current().pid() + ".tmp");
          Outcome stamped = made ? outcome : Outcome.FAILED;
          Files.writeString(stampTmp, String.join("\n", stamped.name().toLowerCase(java.util.Locale.ROOT), jar.toString(),
              Path.of(System.getProperty("java.home")).toRealPath().toString(), System.getProperty("java.runtime.version")) + "\n");
          move(stampTmp, cache.resolveSibling(cache.getFileName() + ".stamp"));
        }
      } catch (IOException e) {
        System.err.println("posta aot-training: cannot write " + cache + ".stamp: " + e.getMessage());
      }
      String summary = lastSummary(log);
      double seconds = (System.nanoTime() - started) / 1e9;
      if (made && outcome == Outcome.COMPLETE) {
        System.out.printf("%s; cache %s (%d MiB), %.1f s in all%n", summary, cache, sizeMiB(cache), seconds);
        status = 0;
      } else {
        System.err.printf("posta aot-training: the workload %s (exit %d after %.1f s); %s%n", outcome == Outcome.STOPPED ? "was stopped by a signal" : "failed",
            exit, seconds, made ? "the cache of what it ran is " + cache + " (stamped stopped)" : "no cache was made");
        // Its last words before the JDK's own (which writes its cache of the failed run all the same).
        if (outcome == Outcome.FAILED) {
          List<String> own = tail(log, Integer.MAX_VALUE).stream().filter(l -> !l.matches("\\[[0-9.]+s\\]\\[\\w+ *\\]\\[.*")
              && !l.startsWith("Temporary AOTConfiguration") && !l.startsWith("Launching child process") && !l.startsWith("Picked up JAVA_TOOL_OPTIONS")
              && !l.startsWith("Reading AOTConfiguration") && !l.startsWith("AOTCache creation") && !l.startsWith("Removed temporary AOT")).toList();
          own.subList(Math.max(0, own.size() - 40), own.size()).forEach(l -> System.err.println("  | " + l));
        }
        System.err.println("posta aot-training: its output is in " + log);
        status = outcome == Outcome.STOPPED ? 143 : 1;
      }
      System.out.flush();
      return status;
    }
  }

  private static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING); // beside it: the same file system, so not reached
    }
  }

  private static long sizeMiB(Path file) {
    try {
      return Files.size(file) >> 20;
    } catch (IOException e) {
      return 0;
    }
  }

  private static String lastSummary(Path log) {
    return tail(log, Integer.MAX_VALUE).stream().filter(l -> l.startsWith(SUMMARY)).reduce((a, b) -> b).orElse("posta aot-training: no summary");
  }

  private static List<String> tail(Path log, int n) {
    try (Stream<String> lines = Files.lines(log, UTF_8)) {
      List<String> all = lines.toList();
      return all.subList(Math.max(0, all.size() - n), all.size());
    } catch (IOException | java.io.UncheckedIOException e) {
      return List.of();
    }
  }

  // --- The workload ----------------------------------------------------------------------------

  /** Runs the training on a private folder; 0 when every message arrived where it was sent. */
  static int workload(int messages, PrintStream out) throws Exception {
    long t0 = System.nanoTime();
    Path dir = Files.createTempDirectory("posta-aot-training");
    AtomicBoolean stopping = new AtomicBoolean();
    var serving = new java.util.concurrent.atomic.AtomicReference<PostaServer>();
    Sink sink = new Sink();
    Runnable cleanUp = () -> {
      if (!stopping.compareAndSet(false, true)) return;
      PostaServer s = serving.getAndSet(null);
      if (s != null) s.close();
      sink.close();
      LogSettings.flush();
      deleteTree(dir);
    };
    // SIGTERM or SIGINT: the server closes and the folder goes; the JDK then writes the cache.
    Thread hook = new Thread(cleanUp);
    Runtime.getRuntime().addShutdownHook(hook);
    try {
      Path data = dir.resolve("data");
      Path toml = dir.resolve("posta.toml");
      Files.writeString(toml, """
          # The start-up training's server: loopback only, its own smart host, no DNS.
          hostname = "localhost"
          data = "data"
          [submission]
          plaintext-auth-on-loopback = true
          [limits]
          max-connections-per-ip = 200
          [relay]
          host = "127.0.0.1"
          port = %d
          tls = "none"
          [domains."localhost"]
          any-local-part = true
          """.formatted(sink.port()));
      PostaConfig config;
      try {
        config = ConfigOptions.load(toml, null);
      } catch (ConfigException e) {
        throw new IllegalStateException("the training's configuration: " + e.getMessage(), e);
      }
      InetAddress loopback = InetAddress.getLoopbackAddress();
      List<PostaConfig.Listener> listeners = new ArrayList<>();
      for (Protocol p : List.of(Protocol.SMTP, Protocol.SUBMISSION, Protocol.SMTPS, Protocol.IMAP, Protocol.POP3, Protocol.HTTP)) {
        listeners.add(new PostaConfig.Listener(p, new InetSocketAddress(loopback, 0))); // the OS chooses the port
      }
      config = config.toBuilder().listeners(listeners).build();
      LogSettings.apply(config.log());
      new UserStore(data).add(ACCOUNT, PASSWORD.toCharArray());
      String token = new ApiTokens(data).create(ACCOUNT, "training").secret();
      PostaServer server = new PostaServer(config).web(WebServer::new).start();
      serving.set(server);
      out.println("posta aot-training: serving in " + dir + ": " + server.listeners().stream()
          .map(b -> b.listener().protocol().name().toLowerCase(java.util.Locale.ROOT) + " " + b.address().getPort()).toList());
      SSLContext tls = trusting(server.tls().certificate());

      Counts sent = new Counts();
      int submitted = Math.max(10, messages / 10);
      int implicit = Math.max(4, messages / 25);
      int api = Math.max(4, messages / 50);
      try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
        List<Future<?>> work = new ArrayList<>();
        for (int s = 0; s < SESSIONS; s++) {
          int session = s;
          int share = messages / SESSIONS + (s < messages % SESSIONS ? 1 : 0);
          // Some clients open a connection per message, as many MTAs on port 25 do.
          work.add(pool.submit(() -> port25(server.address(Protocol.SMTP), session, share, session >= SESSIONS - 4, sent, stopping)));
        }
        for (int s = 0; s < 4; s++) {
          int share = submitted / 4 + (s < submitted % 4 ? 1 : 0);
          int session = s;
          work.add(pool.submit(() -> submission(server.address(Protocol.SUBMISSION), tls, false, session, share, sent, stopping)));
        }
        for (int s = 0; s < 2; s++) {
          int share = implicit / 2 + (s < implicit % 2 ? 1 : 0);
          int session = s;
          work.add(pool.submit(() -> submission(server.address(Protocol.SMTPS), tls, true, session, share, sent, stopping)));
        }
        work.add(pool.submit(() -> http(server.address(Protocol.HTTP), token, api, sent, stopping)));
        for (Future<?> f : work) f.get();
      }
      long local = sent.local.get();
      long relayed = sent.relayed.get();
      awaitDelivery(server, data, local, sink, relayed, stopping);
      double smtpSeconds = (System.nanoTime() - t0) / 1e9;

      // Reading: IMAP and POP3 sessions on the training account's mailbox.
      int reads;
      try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
        List<Future<Integer>> readers = new ArrayList<>();
        for (int s = 0; s < 6; s++) readers.add(pool.submit(() -> imap(server.address(Protocol.IMAP), stopping)));
        // POP3 one session at a time: a maildrop is locked while a session has it (RFC 1939 §8).
        readers.add(pool.submit(() -> {
          int retrieved = 0;
          for (int s = 0; s < 4; s++) retrieved += pop3(server.address(Protocol.POP3), stopping);
          return retrieved;
        }));
        reads = 0;
        for (Future<Integer> f : readers) reads += f.get();
      }
      String summary = "%strained on %d local and %d relayed message(s) (SMTP %d, submission %d, smtps %d, HTTP API %d) in %.1f s, "
          .formatted(SUMMARY, local, relayed, messages, submitted, implicit, api, smtpSeconds)
          + "then %d message(s) read over IMAP and POP3; %.1f s".formatted(reads, (System.nanoTime() - t0) / 1e9);
      cleanUp.run(); // the server's last log lines first: the summary is a line of its own
      out.println(summary);
      out.flush();
      return 0;
    } catch (Exception e) {
      if (stopping.get()) return 143; // stopped by a signal: the hook closed what this was using
      throw e;
    } finally {
      cleanUp.run();
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException e) {
        // shutting down: the hook has run
      }
    }
  }

  /** Messages handed in, by where they are to land. */
  private static final class Counts {
    final AtomicInteger local = new AtomicInteger();
    final AtomicInteger relayed = new AtomicInteger();
    final AtomicInteger training = new AtomicInteger(); // to the account IMAP and POP3 read
  }

  private static Timeouts timeouts() {
    return Timeouts.all(Duration.ofSeconds(60));
  }

  /** Mail from another server: port 25, no AUTH, to local mailboxes, 1 KiB mostly. */
  private static Void port25(InetSocketAddress smtp, int session, int count, boolean perMessage, Counts sent, AtomicBoolean stopping)
      throws IOException {
    SmtpClient client = null;
    try {
      for (int i = 0; i < count && !stopping.get(); i++) {
        if (client == null) {
          client = SmtpClient.connect(smtp, timeouts());
          expect(client.hello("mx" + session + ".sender.invalid"), 250, "EHLO");
        }
        int n = session * 1_000_000 + i;
        List<String> to = new ArrayList<>();
        to.add("user" + (n % 50) + "@" + DOMAIN);
        if (i % 10 == 0) to.add(ACCOUNT);
        if (i % 25 == 0) to.add("list" + (n % 7) + "@" + DOMAIN);
        int size = i % 200 == 199 ? 100 * 1024 : 1024;
        send(client, "sender" + session + "@sender.invalid", to, message("sender" + session + "@sender.invalid", to, n, size));
        sent.local.addAndGet(to.size());
        if (to.contains(ACCOUNT)) sent.training.incrementAndGet();
        if (perMessage) {
          client.quit();
          client.close();
          client = null;
        } else if (i % 100 == 99) {
          client.reset(); // RSET now and then, as a client that gave up a transaction
        }
      }
      if (client != null) client.quit();
      return null;
    } finally {
      if (client != null) client.close();
    }
  }

  /** Mail from the account's own programs: STARTTLS (or implicit TLS) and AUTH, half of it to be relayed. */
  private static Void submission(InetSocketAddress address, SSLContext tls, boolean implicit, int session, int count, Counts sent,
      AtomicBoolean stopping) throws IOException {
    try (SmtpClient client = implicit ? SmtpClient.connectImplicitTls(address, tls, "localhost", false, timeouts())
        : SmtpClient.connect(address, timeouts())) {
      expect(client.hello("laptop" + session + ".invalid"), 250, "EHLO");
      if (!implicit) {
        client.startTls(tls, "localhost", false);
        expect(client.hello("laptop" + session + ".invalid"), 250, "EHLO after STARTTLS");
      }
      client.authenticate(ACCOUNT, PASSWORD);
      for (int i = 0; i < count && !stopping.get(); i++) {
        boolean relay = i % 2 == 0;
        List<String> to = relay ? List.of("friend" + (i % 9) + "@" + RELAYED_DOMAIN) : List.of("user" + (i % 50) + "@" + DOMAIN);
        send(client, ACCOUNT, to, message(ACCOUNT, to, session * 1_000_000 + i, 2048));
        (relay ? sent.relayed : sent.local).incrementAndGet();
      }
      client.quit();
    }
    return null;
  }

  /** The HTTP API's send, as an application's, with its token. */
  private static Void http(InetSocketAddress address, String token, int count, Counts sent, AtomicBoolean stopping) throws Exception {
    try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(30)).build()) {
      URI base = URI.create("http://127.0.0.1:" + address.getPort());
      HttpResponse<String> health = http.send(HttpRequest.newBuilder(base.resolve("/healthz")).build(), HttpResponse.BodyHandlers.ofString());
      if (health.statusCode() != 200) throw new IllegalStateException("GET /healthz: " + health.statusCode() + " " + health.body());
      for (int i = 0; i < count && !stopping.get(); i++) {
        String body = "{\"from\": \"" + ACCOUNT + "\", \"to\": \"user" + (i % 50) + "@" + DOMAIN + "\", \"subject\": \"Over HTTP " + i
            + "\", \"text\": \"" + "An application's message. ".repeat(20) + "\"}";
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(base.resolve("/api/v1/messages")).header("Authorization", "Bearer " + token)
            .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() / 100 != 2 || !r.body().contains("\"queueId\"")) {
          throw new IllegalStateException("POST /api/v1/messages: " + r.statusCode() + " " + r.body());
        }
        sent.local.incrementAndGet();
      }
    }
    return null;
  }

  private static void send(SmtpClient client, String from, List<String> to, byte[] text) throws IOException {
    TransactionResult r = client.send(new Transaction(from, List.of(), to.stream().map(Transaction.Recipient::new).toList(), text.length,
        channel -> {
          ByteBuffer b = ByteBuffer.wrap(text);
          while (b.hasRemaining()) channel.write(b);
        }));
    expect(r.mail(), 250, "MAIL FROM");
    for (SmtpReply rcpt : r.recipients()) expect(rcpt, 250, "RCPT TO");
    expect(r.data(), 250, "the message's text");
  }

  private static void expect(SmtpReply reply, int code, String what) {
    if (reply == null || reply.code() != code) throw new IllegalStateException(what + ": expected " + code + ", got " + reply);
  }

  /** A plain message of about {@code size} octets, CRLF lines. */
  static byte[] message(String from, List<String> to, int n, int size) {
    var s = new StringBuilder(size + 256);
    s.append("From: <").append(from).append(">\r\nTo: ").append(String.join(", ", to)).append("\r\nSubject: training message ").append(n)
        .append("\r\nDate: Mon, 7 Dec 2026 12:00:00 +0000\r\nMessage-ID: <").append(n).append(".training@sender.invalid>\r\n")
        .append("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n");
    String line = "The quick brown fox jumps over the lazy dog, message " + n + ", for the start-up training.\r\n";
    while (s.length() < size) s.append(line);
    return s.toString().getBytes(US_ASCII);
  }

  /** Waits until every local message is in a Maildir and every relayed one reached the sink. */
  private static void awaitDelivery(PostaServer server, Path data, long local, Sink sink, long relayed, AtomicBoolean stopping)
      throws IOException, InterruptedException {
    Path mail = data.resolve("mail").resolve(DOMAIN);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    while (true) {
      long delivered = countDelivered(mail);
      if (delivered == local && sink.received() == relayed && server.mailQueue().size() == 0) return;
      if (delivered > local || sink.received() > relayed) {
        throw new IllegalStateException("more arrived than was sent: " + delivered + " of " + local + " local, " + sink.received() + " of " + relayed + " relayed");
      }
      if (stopping.get()) throw new IllegalStateException("stopped");
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("after 180 s, " + delivered + " of " + local + " local message(s) delivered, " + sink.received() + " of "
            + relayed + " relayed, " + server.mailQueue().size() + " in the queue");
      }
      Thread.sleep(50);
    }
  }

  private static long countDelivered(Path mail) throws IOException {
    if (!Files.isDirectory(mail)) return 0;
    long n = 0;
    try (Stream<Path> boxes = Files.list(mail)) {
      for (Path box : boxes.toList()) {
        Path folder = box.resolve("Maildir/new");
        if (!Files.isDirectory(folder)) continue;
        try (Stream<Path> files = Files.list(folder)) {
          n += files.count();
        }
      }
    }
    return n;
  }

  // --- Readers ---------------------------------------------------------------------------------

  /** One IMAP session on the account's inbox: what a mail program does when it opens it. Returns the messages read whole. */
  private static int imap(InetSocketAddress address, AtomicBoolean stopping) throws IOException {
    try (Socket socket = new Socket(address.getAddress(), address.getPort())) {
      socket.setSoTimeout(60_000);
      var in = new BufferedInputStream(socket.getInputStream(), 65536);
      OutputStream out = socket.getOutputStream();
      Imap imap = new Imap(in, out);
      imap.greeting();
      imap.command("CAPABILITY");
      imap.command("LOGIN \"" + ACCOUNT + "\" \"" + PASSWORD + "\"");
      String selected = imap.command("SELECT INBOX");
      int exists = exists(selected);
      if (exists == 0) throw new IllegalStateException("IMAP: the training inbox is empty:\n" + selected);
      imap.command("FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)");
      imap.command("UID SEARCH UNSEEN");
      int read = 0;
      for (int i = 1; i <= Math.min(exists, 60) && !stopping.get(); i++) {
        String body = imap.command("FETCH " + i + " (BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)] BODY[])");
        if (!body.contains("Subject: training message")) throw new IllegalStateException("IMAP FETCH " + i + ": " + body.lines().findFirst().orElse(""));
        read++;
      }
      imap.command("STORE 1:10 +FLAGS (\\Seen \\Flagged)");
      imap.command("FETCH 1:* (FLAGS)");
      imap.command("STATUS INBOX (MESSAGES UNSEEN UIDNEXT)");
      imap.command("NOOP");
      imap.command("LOGOUT");
      return read;
    }
  }

  private static int exists(String response) {
    for (String line : response.split("\r\n")) {
      if (line.startsWith("* ") && line.endsWith(" EXISTS")) return Integer.parseInt(line.substring(2, line.length() - 7));
    }
    return 0;
  }

  /** A minimal IMAP client: tagged commands, responses read to their tagged OK, literals taken whole. */
  private static final class Imap {
    private final InputStream in;
    private final OutputStream out;
    private int tag;

    Imap(InputStream in, OutputStream out) {
      this.in = in;
      this.out = out;
    }

    void greeting() throws IOException {
      String line = line(in);
      if (!line.startsWith("* OK")) throw new IllegalStateException("IMAP greeting: " + line);
    }

    String command(String command) throws IOException {
      String t = "t" + (++tag);
      out.write((t + " " + command + "\r\n").getBytes(UTF_8));
      out.flush();
      var response = new StringBuilder();
      while (true) {
        String line = line(in);
        response.append(line).append("\r\n");
        int open = line.lastIndexOf('{');
        if (line.endsWith("}") && open >= 0) {
          int n = Integer.parseInt(line.substring(open + 1, line.length() - 1));
          response.append(new String(in.readNBytes(n), UTF_8));
          continue;
        }
        if (line.startsWith(t + " ")) {
          if (!line.startsWith(t + " OK")) throw new IllegalStateException("IMAP " + command.split(" ")[0] + ": " + line);
          return response.toString();
        }
      }
    }
  }

  /** One POP3 session on the account's mailbox, as fetchmail downloads and keeps it. Returns the messages retrieved. */
  private static int pop3(InetSocketAddress address, AtomicBoolean stopping) throws IOException {
    try (Socket socket = new Socket(address.getAddress(), address.getPort())) {
      socket.setSoTimeout(60_000);
      var in = new BufferedInputStream(socket.getInputStream(), 65536);
      OutputStream out = socket.getOutputStream();
      pop(in, out, null, false);
      pop(in, out, "CAPA", true);
      pop(in, out, "USER " + ACCOUNT, false);
      for (int tries = 1; ; tries++) {
        try {
          pop(in, out, "PASS " + PASSWORD, false);
          break;
        } catch (IllegalStateException e) {
          // The last session's lock goes when its connection is closed on the server's side,
          // a moment after its QUIT was answered; a mail program tries again too.
          if (!e.getMessage().contains("[IN-USE]") || tries == 100) throw e;
          sleep(50);
          pop(in, out, "USER " + ACCOUNT, false);
        }
      }
      String stat = pop(in, out, "STAT", false);
      int count = Integer.parseInt(stat.split(" ")[1]);
      pop(in, out, "UIDL", true);
      pop(in, out, "LIST", true);
      int read = 0;
      for (int i = 1; i <= Math.min(count, 60) && !stopping.get(); i++) {
        String text = pop(in, out, "RETR " + i, true);
        if (!text.contains("Subject: training message")) throw new IllegalStateException("POP3 RETR " + i + ": " + text.lines().findFirst().orElse(""));
        read++;
      }
      pop(in, out, "TOP 1 5", true);
      pop(in, out, "QUIT", false);
      return read;
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  private static String pop(InputStream in, OutputStream out, String command, boolean multiline) throws IOException {
    if (command != null) {
      out.write((command + "\r\n").getBytes(UTF_8));
      out.flush();
    }
    String first = line(in);
    if (!first.startsWith("+OK")) throw new IllegalStateException("POP3 " + (command == null ? "greeting" : command.split(" ")[0]) + ": " + first);
    if (!multiline) return first;
    var text = new StringBuilder(first).append("\r\n");
    for (String line = line(in); !line.equals("."); line = line(in)) text.append(line).append("\r\n");
    return text.toString();
  }

  /** One CRLF line, without it. */
  private static String line(InputStream in) throws IOException {
    var b = new ByteArrayOutputStream(128);
    for (int c = in.read(); ; c = in.read()) {
      if (c < 0) throw new IOException("the server closed the connection");
      if (c == '\n') break;
      b.write(c);
    }
    byte[] bytes = b.toByteArray();
    int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
    return new String(bytes, 0, n, UTF_8);
  }

  /** A context that trusts exactly this server's own certificate. */
  private static SSLContext trusting(java.security.cert.X509Certificate certificate) throws Exception {
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    trust.setCertificateEntry("training", certificate);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, tmf.getTrustManagers(), null);
    return context;
  }

  private static void deleteTree(Path dir) {
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | java.io.UncheckedIOException e) {
      // gone already, or going: nothing else is in it
    }
  }

  // --- The smart host --------------------------------------------------------------------------

  /**
   * The smart host the training relays to: an SMTP sink on a loopback port of this JVM that
   * takes every message (PIPELINING, 8BITMIME, SIZE offered) and counts it.
   */
  private static final class Sink implements AutoCloseable {
    private final ServerSocket listener;
    private final AtomicInteger received = new AtomicInteger();
    private final List<Socket> open = java.util.Collections.synchronizedList(new ArrayList<>());

    Sink() throws IOException {
      listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      Thread.ofVirtual().name("training-sink").start(this::accept);
    }

    int port() {
      return listener.getLocalPort();
    }

    int received() {
      return received.get();
    }

    private void accept() {
      while (!listener.isClosed()) {
        try {
          Socket s = listener.accept();
          open.add(s);
          Thread.ofVirtual().start(() -> session(s));
        } catch (IOException e) {
          return; // closed
        }
      }
    }

    private void session(Socket s) {
      try (s) {
        var in = new BufferedInputStream(s.getInputStream(), 65536);
        OutputStream out = s.getOutputStream();
        reply(out, "220 sink.invalid ESMTP training sink");
        while (true) {
          String line = line(in);
          String verb = line.length() >= 4 ? line.substring(0, 4).toUpperCase(java.util.Locale.ROOT) : line;
          switch (verb) {
            case "EHLO" -> reply(out, "250-sink.invalid\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 104857600");
            case "HELO", "MAIL", "RCPT", "RSET", "NOOP" -> reply(out, "250 2.0.0 Ok");
            case "DATA" -> {
              reply(out, "354 End data with <CR><LF>.<CR><LF>");
              for (String l = line(in); !l.equals("."); l = line(in)) {
                // taken and dropped
              }
              received.incrementAndGet();
              reply(out, "250 2.0.0 Ok: queued");
            }
            case "QUIT" -> {
              reply(out, "221 2.0.0 Bye");
              return;
            }
            default -> reply(out, "502 5.5.2 Not in the training sink");
          }
        }
      } catch (IOException e) {
        // the client went away
      } finally {
        open.remove(s);
      }
    }

    private static void reply(OutputStream out, String text) throws IOException {
      out.write((text + "\r\n").getBytes(US_ASCII));
      out.flush();
    }

    @Override
    public void close() {
      try {
        listener.close();
      } catch (IOException e) {
        // closing
      }
      synchronized (open) {
        for (Socket s : open) {
          try {
            s.close();
          } catch (IOException e) {
            // closing
          }
        }
      }
    }
  }
}
