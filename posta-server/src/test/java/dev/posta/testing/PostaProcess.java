package dev.posta.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * {@code posta serve} in a JVM of its own, from the test classpath, to be killed as a crash kills
 * it: SIGKILL, no shutdown hook, nothing flushed. Its standard output and error go to files, so
 * they never block it.
 */
public final class PostaProcess implements AutoCloseable {
  /** A Unix process killed by signal 9 has exit value 128 + 9. */
  private static final int KILLED_BY_SIGKILL = 137;
  /**
   * Generous: a JVM started while three others and the database are under load, on a machine
   * shared with other builds, was seen to take 20 s before its first log line.
   */
  private static final Duration START_TIMEOUT = Duration.ofSeconds(60);

  private final Process process;

  private PostaProcess(Process process) {
    this.process = process;
  }

  /**
   * Starts a server on {@code config} and waits until it is running and takes connections on
   * {@code port}.
   *
   * @param logs where its output goes: {@code logs.out} and {@code logs.err}
   */
  public static PostaProcess start(Path config, Path logs, int port) throws IOException, InterruptedException {
    String java = ProcessHandle.current().info().command().orElseThrow(() -> new AssertionError("no java command"));
    Path out = Path.of(logs + ".out");
    Path err = Path.of(logs + ".err");
    Process p = new ProcessBuilder(
            java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
            "-cp", System.getProperty("java.class.path"),
            "dev.posta.cli.Posta", "serve", "--config", config.toString())
        .redirectOutput(out.toFile())
        .redirectError(err.toFile())
        .start();
    p.getOutputStream().close();
    var server = new PostaProcess(p);
    long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
    while (true) {
      if (!p.isAlive()) fail("%s exited with %d before it was ready; stderr:%n%s", logs, p.exitValue(), Files.readString(err));
      if (Files.readString(out).contains("Posta 0.1.0 is running") && canConnect(port)) return server;
      if (System.nanoTime() > deadline) {
        server.close();
        fail("%s not ready after %s; stderr:%n%s", logs, START_TIMEOUT, Files.readString(err));
      }
      Thread.sleep(20);
    }
  }

  /** SIGKILL, and its exit checked to be from it. */
  public void killMinus9() throws InterruptedException {
    process.destroyForcibly(); // SIGKILL on Linux: no shutdown hook runs, nothing is flushed
    assertThat(process.waitFor(10, TimeUnit.SECONDS)).as("server exited after SIGKILL").isTrue();
    assertThat(process.exitValue()).as("exit value of a process killed by SIGKILL").isEqualTo(KILLED_BY_SIGKILL);
  }

  /**
   * Waits for it to exit of its own accord (as a node that lost its name does) and gives its exit
   * value; fails when it still runs after {@code bound}.
   */
  public int awaitExit(Duration bound) throws InterruptedException {
    if (!process.waitFor(bound.toMillis(), TimeUnit.MILLISECONDS)) fail("still running after %s", bound);
    return process.exitValue();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** Kills it if it still runs (a test's clean-up). */
  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  private static boolean canConnect(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * A free port below the ephemeral range. A port from that range could, while the server is
   * down, be handed to a retrying client as its own source port (a TCP self-connect) or to
   * another test's listener, and the restart could not bind it.
   */
  /**
   * The head of a test configuration: hostname {@code localhost}, the data folder {@code data},
   * and the SMTP listener alone, on 127.0.0.1 at {@code port}; the test's sections follow it.
   */
  public static String smtpOnly(Path data, int port) {
    return """
        hostname = "localhost"
        data = "%s"

        [listeners]
        smtp = ["127.0.0.1:%d"]
        submission = []
        smtps = []
        imap = []
        imaps = []
        pop3 = []
        pop3s = []

        """.formatted(data.toAbsolutePath().toString().replace("\\", "\\\\").replace("\"", "\\\""), port);
  }

  public static int freePort() throws IOException {
    int ephemeralLow = 32768;
    try {
      String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).trim();
      ephemeralLow = Integer.parseInt(range.split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      // not Linux: assume the IANA range starts higher than the default used here
    }
    var random = new java.util.Random();
    int low = 10_000;
    for (int attempt = 0; attempt < 100 && ephemeralLow - low > 100; attempt++) {
      int port = low + random.nextInt(ephemeralLow - low);
      try (ServerSocket s = new ServerSocket(port, 1, java.net.InetAddress.getLoopbackAddress())) {
        return s.getLocalPort();
      } catch (IOException taken) {
        // try another
      }
    }
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
