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
 * ClamAV for a test: Debian's clamd (package {@code clamav-daemon}) and clamav-milter (package
 * {@code clamav-milter}) asking it, each on a Unix socket in the test's folder (a spare TCP port
 * could be taken by another program while they start). No signature is
 * downloaded: clamd's database is one custom signature, the EICAR test file's MD5 and size,
 * named {@code Eicar-Test-Signature} (ClamAV reports it as {@code Eicar-Test-Signature.UNOFFICIAL},
 * as every signature outside its official databases). clamav-milter rejects infected mail
 * ({@code OnInfected Reject}) with its own reply ({@code RejectMsg "Virus found: %v"}; without
 * it clamav-milter leaves the text to the MTA) and adds its X-Virus-Scanned and X-Virus-Status fields ({@code
 * AddHeader Replace}). Both start in a few seconds; {@link #awaitReady()} waits for the milter's
 * socket. If either cannot start the test fails with their logs, never skips. Close it after use;
 * a JVM shutdown hook kills both if a test does not.
 */
public final class ClamavMilter implements AutoCloseable {
  public static final Path CLAMD = Path.of("/usr/sbin/clamd");
  public static final Path MILTER = Path.of("/usr/sbin/clamav-milter");
  private static final Duration READY_WITHIN = Duration.ofSeconds(60);

  /** The EICAR anti-virus test file (68 octets). */
  public static final String EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

  private static final Set<Process> RUNNING = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(Process::destroyForcibly), "clamav-kill"));
  }

  private final Process clamd;
  private final Process milter;
  private final Path milterSocket;
  private final Path dir;

  private ClamavMilter(Process clamd, Process milter, Path milterSocket, Path dir) {
    this.clamd = clamd;
    this.milter = milter;
    this.milterSocket = milterSocket;
    this.dir = dir;
  }

  /** Starts clamd and clamav-milter with their files under {@code dir}; returns at once (see {@link #awaitReady()}). */
  public static ClamavMilter start(Path dir) {
    for (Path p : new Path[] {CLAMD, MILTER}) {
      if (!Files.isExecutable(p)) throw new AssertionError(p + " is needed (Debian: apt-get install clamav-daemon clamav-milter)");
    }
    try {
      Path db = Files.createDirectories(dir.resolve("clamav-db"));
      Files.writeString(db.resolve("test.hdb"), "44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature\n");
      Path clamdSocket = dir.resolve("clamd.sock");
      Path milterSocket = dir.resolve("milter.sock");
      Path clamdConf = dir.resolve("clamd.conf");
      Files.writeString(clamdConf, """
          Foreground yes
          DatabaseDirectory %s
          LocalSocket %s
          LogFile %s
          PidFile %s
          TemporaryDirectory %s
          """.formatted(db, clamdSocket, dir.resolve("clamd.log"), dir.resolve("clamd.pid"), dir));
      Path milterConf = dir.resolve("clamav-milter.conf");
      Files.writeString(milterConf, """
          Foreground yes
          MilterSocket unix:%s
          ClamdSocket unix:%s
          OnClean Accept
          OnInfected Reject
          RejectMsg "Virus found: %%v"
          OnFail Defer
          AddHeader Replace
          LogFile %s
          LogInfected Basic
          PidFile %s
          TemporaryDirectory %s
          """.formatted(milterSocket, clamdSocket, dir.resolve("clamav-milter.log"), dir.resolve("clamav-milter.pid"), dir)
          // clamav-milter run by root drops to its User, by default clamav, who cannot read the test's files.
          + ("root".equals(System.getProperty("user.name")) ? "User root\n" : ""));
      Process clamd = new ProcessBuilder(CLAMD.toString(), "--config-file=" + clamdConf).redirectErrorStream(true)
          .redirectOutput(dir.resolve("clamd.out").toFile()).start();
      RUNNING.add(clamd);
      awaitSocket(clamd, clamdSocket, dir);
      Process milter = new ProcessBuilder(MILTER.toString(), "--config-file=" + milterConf).redirectErrorStream(true)
          .redirectOutput(dir.resolve("clamav-milter.out").toFile()).start();
      RUNNING.add(milter);
      return new ClamavMilter(clamd, milter, milterSocket, dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void awaitSocket(Process p, Path socket, Path dir) {
    long deadline = System.nanoTime() + READY_WITHIN.toNanos();
    while (true) {
      if (!p.isAlive()) throw new AssertionError(p.info().command().orElse("clamav") + " ended (" + p.exitValue() + "):\n" + logs(dir));
      try (var s = java.nio.channels.SocketChannel.open(java.net.UnixDomainSocketAddress.of(socket))) {
        return;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline) throw new AssertionError("nothing listening on " + socket + " after " + READY_WITHIN + ":\n" + logs(dir));
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError(e);
        }
      }
    }
  }

  /** Waits until clamav-milter takes connections; fails with the logs if it ended or took too long. */
  public ClamavMilter awaitReady() {
    awaitSocket(milter, milterSocket, dir);
    return this;
  }

  /** The milter address, as {@code [[milters]] address} takes it. */
  public String address() {
    return "unix:" + milterSocket;
  }

  /** What clamd and clamav-milter wrote so far. */
  public String logs() {
    return logs(dir);
  }

  private static String logs(Path dir) {
    StringBuilder out = new StringBuilder();
    for (String name : new String[] {"clamd.out", "clamd.log", "clamav-milter.out", "clamav-milter.log"}) {
      try {
        Path p = dir.resolve(name);
        if (Files.exists(p)) out.append("--- ").append(name).append('\n').append(Files.readString(p));
      } catch (IOException e) {
        out.append(e).append('\n');
      }
    }
    return out.toString();
  }

  @Override
  public void close() {
    for (Process p : new Process[] {milter, clamd}) {
      p.destroy();
      try {
        if (!p.waitFor(10, TimeUnit.SECONDS)) p.destroyForcibly().waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      RUNNING.remove(p);
    }
  }
}
