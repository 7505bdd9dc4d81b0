package dev.posta.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * Debian's rspamd (package {@code rspamd}) for a test: its proxy worker speaking the milter
 * protocol (as a Postfix setup runs it) on a Unix socket in the test's folder (a spare TCP port
 * could be taken by another program during the ~10 s rspamd takes to bind it), scanning itself
 * ({@code self_scan}). Nothing reaches the network: of rspamd's modules only milter_headers is
 * loaded (no fuzzy, RBL or map fetches: only rspamd's core checks run, GTUBE among them), and its
 * DNS asks a loopback port where nothing listens. milter_headers adds X-Spamd-Result,
 * X-Rspamd-Action, -Server, -Queue-Id and X-Spam-Status to what it scans, for loopback clients
 * too ({@code skip_local = false}). The score thresholds are Debian's ({@code actions.conf}: reject 15,
 * add_header 6, greylist 4) and the test patterns are on ({@code enable_test_patterns}), so the
 * "add header" GTUBE pattern ({@link #GTUBE_ADD_HEADER}) gets that action. Starting takes ~10 s
 * (it compiles its regular expressions): start it once per test class, in parallel with other
 * work, and {@link #awaitReady()} before the first message. If it cannot start the test fails
 * with its output, never skips. Close it after use; a JVM shutdown hook kills it if a test does
 * not.
 */
public final class Rspamd implements AutoCloseable {
  public static final Path BINARY = Path.of("/usr/bin/rspamd");
  private static final Duration READY_WITHIN = Duration.ofSeconds(60);

  /** GTUBE (SpamAssassin's test string): rspamd's action "reject", message "Gtube pattern". */
  public static final String GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";
  /** rspamd's test pattern for the action "add header" (with {@code enable_test_patterns}). */
  public static final String GTUBE_ADD_HEADER = "YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X";

  private static final Set<Process> RUNNING = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(Process::destroyForcibly), "rspamd-kill"));
  }

  private final Process process;
  private final Path socket;
  private final Path log;

  private Rspamd(Process process, Path socket, Path log) {
    this.process = process;
    this.socket = socket;
    this.log = log;
  }

  /** Starts rspamd with its files under {@code dir}; returns at once (see {@link #awaitReady()}). */
  public static Rspamd start(Path dir) {
    if (!Files.isExecutable(BINARY)) throw new AssertionError(BINARY + " is needed (Debian: apt-get install rspamd)");
    try {
      Path db = Files.createDirectories(dir.resolve("rspamd-db"));
      Path run = Files.createDirectories(dir.resolve("rspamd-run"));
      Path socket = run.resolve("milter.sock");
      Path config = dir.resolve("rspamd.conf");
      Files.writeString(config, """
          options {
            pidfile = "%1$s/rspamd.pid";
            dns { nameserver = ["127.0.0.1:9"]; timeout = 1s; retransmits = 1; }
            control_socket = "%1$s/rspamd.sock mode=0600";
            hs_cache_dir = "%2$s/";
            local_addrs = [];
            enable_test_patterns = true;
          }
          logging { type = "console"; level = "info"; }
          .include "$CONFDIR/metrics.conf"
          .include "$CONFDIR/actions.conf"
          modules { path = "${PLUGINSDIR}/milter_headers.lua"; }
          milter_headers {
            extended_spam_headers = true; skip_local = false; skip_authenticated = false;
            use = ["x-spamd-result", "x-rspamd-server", "x-rspamd-queue-id", "x-spam-status", "x-rspamd-action"];
          }
          worker "rspamd_proxy" {
            bind_socket = "%3$s mode=0600";
            milter = yes; timeout = 120s; count = 1;
            upstream "local" { default = yes; self_scan = yes; }
            spam_header = "X-Spam"; reject_message = "Spam message rejected";
          }
          """.formatted(run, db, socket));
      Path log = dir.resolve("rspamd.log");
      Process p = new ProcessBuilder(BINARY.toString(), "-f", "-i", "-c", config.toString(), "--var", "DBDIR=" + db, "--var", "RUNDIR=" + run)
          .redirectErrorStream(true).redirectOutput(log.toFile()).start();
      RUNNING.add(p);
      return new Rspamd(p, socket, log);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Waits until the milter socket takes connections; fails with rspamd's output if it ended or took too long. */
  public Rspamd awaitReady() {
    long deadline = System.nanoTime() + READY_WITHIN.toNanos();
    while (true) {
      if (!process.isAlive()) throw new AssertionError("rspamd ended (" + process.exitValue() + "):\n" + output());
      try (var s = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(socket))) {
        return this;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline) throw new AssertionError("rspamd not listening after " + READY_WITHIN + ":\n" + output());
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError(e);
        }
      }
    }
  }

  /** The milter address, as {@code [[milters]] address} takes it. */
  public String address() {
    return "unix:" + socket;
  }

  /** What rspamd logged so far. */
  public String output() {
    try {
      return Files.readString(log);
    } catch (IOException e) {
      return e.toString();
    }
  }

  @Override
  public void close() {
    process.destroy(); // SIGTERM: the main process ends its workers
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly().waitFor();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    RUNNING.remove(process);
  }
}
