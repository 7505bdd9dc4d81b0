package dev.posta.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real S3-compatible server for a test: s3proxy (its self-contained jar, which the build copies
 * to {@code target/s3proxy.jar}, system property {@code posta.s3proxy.jar}) run as a child JVM on
 * 127.0.0.1 at a spare port, storing objects as files in a temporary folder through jclouds'
 * {@code filesystem-nio2} backend, with SigV4 authentication under the keys {@link #ACCESS_KEY}
 * and {@link #SECRET_KEY}. A child process, not in-process, so that its own Jetty and Guava stay
 * off the test's classpath. If it cannot start, the test fails with its output, never skips.
 */
public final class S3Proxy implements AutoCloseable {
  public static final String ACCESS_KEY = "posta-test";
  public static final String SECRET_KEY = "posta-test-secret";

  private static volatile S3Proxy shared;

  private final Process process;
  private final Path dir;
  private final int port;

  private S3Proxy(Path dir) throws IOException, InterruptedException {
    this.dir = dir;
    String jar = System.getProperty("posta.s3proxy.jar", "target/s3proxy.jar");
    if (!Files.isRegularFile(Path.of(jar))) {
      throw new IllegalStateException("s3proxy's jar is missing: " + jar + " (the build's process-test-classes phase copies it)");
    }
    Path data = Files.createDirectories(dir.resolve("data"));
    this.port = freePort();
    Path properties = dir.resolve("s3proxy.conf");
    Files.writeString(properties, String.join("\n",
        "s3proxy.endpoint=http://127.0.0.1:" + port,
        "s3proxy.authorization=aws-v2-or-v4",
        "s3proxy.identity=" + ACCESS_KEY,
        "s3proxy.credential=" + SECRET_KEY,
        "jclouds.provider=filesystem-nio2",
        "jclouds.filesystem.basedir=" + data,
        "jclouds.identity=unused",
        "jclouds.credential=unused",
        ""));
    Path log = dir.resolve("s3proxy.log");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    this.process = new ProcessBuilder(List.of(java, "-Xmx256m", "-XX:TieredStopAtLevel=1", "-jar", jar, "--properties", properties.toString()))
        .redirectErrorStream(true)
        .redirectOutput(log.toFile())
        .start();
    Runtime.getRuntime().addShutdownHook(new Thread(process::destroy, "s3proxy-stop"));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      if (!process.isAlive()) throw new IllegalStateException("s3proxy ended at its start:\n" + Files.readString(log, StandardCharsets.UTF_8));
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
        return;
      } catch (IOException notYet) {
        if (System.nanoTime() > deadline) {
          process.destroyForcibly();
          throw new IllegalStateException("s3proxy did not listen within 60 s:\n" + Files.readString(log, StandardCharsets.UTF_8));
        }
        Thread.sleep(100);
      }
    }
  }

  /** A server of its own, in {@code dir}. */
  public static S3Proxy start(Path dir) {
    try {
      return new S3Proxy(dir);
    } catch (IOException e) {
      throw new IllegalStateException("s3proxy cannot start", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while s3proxy started", e);
    }
  }

  /** One server for every test of the JVM, stopped when the JVM ends; use a bucket per test. */
  public static synchronized S3Proxy shared() {
    if (shared == null) {
      Path dir;
      try {
        dir = Files.createTempDirectory("posta-s3proxy");
      } catch (IOException e) {
        throw new IllegalStateException("no temporary folder for s3proxy", e);
      }
      S3Proxy started = start(dir);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        started.close();
        try (var files = Files.walk(dir)) {
          for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(f);
        } catch (IOException e) {
          System.err.println("s3proxy: " + dir + " not removed: " + e);
        }
      }, "s3proxy-remove"));
      shared = started;
    }
    return shared;
  }

  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + port);
  }

  /** Where the objects lie: one folder per bucket. */
  public Path data() {
    return dir.resolve("data");
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
