package dev.posta.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * A real PostgreSQL for a test: Debian's {@code postgresql} server, made with {@code initdb} in a
 * temporary folder and started on 127.0.0.1 at a spare port, its socket in the same folder; nothing
 * of the machine's own clusters is touched. Each {@link #newDatabase} is an empty database of its
 * own, so tests sharing one server never see each other's rows.
 *
 * <p>PostgreSQL refuses to run as root: when the test runs as root (CI), the server runs as the
 * {@code postgres} user that Debian's package makes, through {@code setpriv}. Close it after use; a
 * JVM shutdown hook stops it if a test does not. If it cannot start, the test fails with the
 * server's own log, never skips.
 */
public final class Postgres implements AutoCloseable {
  private static final Set<Postgres> RUNNING = ConcurrentHashMap.newKeySet();
  private static final AtomicInteger DATABASES = new AtomicInteger();
  private static volatile Postgres shared;

  static {
    // The shared server's folder goes with it: a gigabyte or more once a test run has made its
    // databases, and left behind by every run it filled the disk.
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      RUNNING.forEach(Postgres::close);
      Postgres s = shared;
      if (s != null) deleteQuietly(s.dir);
    }, "postgres-stop"));
  }

  private final Path dir;
  private final Path bin;
  private final int port;
  private final boolean asRoot;
  private final Process server;

  private Postgres(Path dir) throws IOException, InterruptedException {
    this.dir = dir;
    this.bin = binaries();
    this.asRoot = "root".equals(System.getProperty("user.name"));
    Path data = dir.resolve("data");
    if (asRoot) {
      // The server's user must own its folder, and reach it through the test's temporary folders.
      Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
      for (Path p = dir.getParent(); p != null && p.startsWith(System.getProperty("java.io.tmpdir")); p = p.getParent()) {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
      }
      run(List.of("chown", "postgres:postgres", dir.toString()), false);
    }
    run(List.of(bin.resolve("initdb").toString(), "-D", data.toString(), "-U", "posta", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
        "--no-sync"), true);
    port = freePort();
    List<String> command = new ArrayList<>(List.of(bin.resolve("postgres").toString(), "-D", data.toString(), "-p", String.valueOf(port), "-k",
        dir.toString(), "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200", "-c", "shared_buffers=64MB",
        "-c", "logging_collector=off", "-c", "log_min_messages=warning"));
    ProcessBuilder pb = new ProcessBuilder(asUser(command)).redirectErrorStream(true).redirectOutput(dir.resolve("server.log").toFile());
    server = pb.start();
    RUNNING.add(this);
    awaitReady();
  }

  /** A new server in {@code dir} (a test's temporary folder). */
  public static Postgres start(Path dir) {
    try {
      return new Postgres(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  /**
   * One server for every test of this JVM that needs only a database of its own (each asks
   * {@link #newDatabase}): started once, stopped when the JVM ends.
   */
  public static synchronized Postgres shared() {
    if (shared == null) {
      try {
        shared = start(Files.createTempDirectory("posta-postgres"));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return shared;
  }

  /** An empty database of its own; returns its URL in libpq's form, as {@code [cluster] database} takes it. */
  public String newDatabase() {
    String name = "posta_test_" + DATABASES.incrementAndGet();
    try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", "posta", "");
         Statement s = c.createStatement()) {
      s.execute("create database " + name);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot make a database: " + e.getMessage() + "\n" + log(), e);
    }
    return url(name);
  }

  /** The URL of a database of this server. */
  public String url(String database) {
    return "postgresql://posta@127.0.0.1:" + port + "/" + database;
  }

  public int port() {
    return port;
  }

  /** The server's log so far (for a failure's message). */
  public String log() {
    try {
      return Files.readString(dir.resolve("server.log"), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "(no server log: " + e + ")";
    }
  }

  private void awaitReady() throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (System.nanoTime() < deadline) {
      if (!server.isAlive()) throw new IllegalStateException("PostgreSQL ended at its start:\n" + log());
      try (Connection c = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:" + port + "/postgres", "posta", "")) {
        return;
      } catch (SQLException notYet) {
        Thread.sleep(50);
      }
    }
    throw new IllegalStateException("PostgreSQL did not accept connections within 30 s:\n" + log());
  }

  private List<String> asUser(List<String> command) {
    if (!asRoot) return command;
    List<String> wrapped = new ArrayList<>(List.of("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"));
    wrapped.addAll(command);
    return wrapped;
  }

  private void run(List<String> command, boolean asServerUser) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(asServerUser ? asUser(command) : command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", command) + " failed:\n" + output);
    }
  }

  /** Debian's server binaries: the newest {@code /usr/lib/postgresql/N/bin}. */
  private static Path binaries() throws IOException {
    Path root = Path.of("/usr/lib/postgresql");
    if (!Files.isDirectory(root)) throw new IllegalStateException("PostgreSQL is not installed (Debian: apt-get install postgresql)");
    try (Stream<Path> versions = Files.list(root)) {
      return versions.filter(p -> Files.isExecutable(p.resolve("bin/postgres")))
          .max(Comparator.comparingInt(p -> Integer.parseInt(p.getFileName().toString().replaceAll("\\D", "0"))))
          .map(p -> p.resolve("bin"))
          .orElseThrow(() -> new IllegalStateException("no PostgreSQL server under " + root));
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Stops the server with a fast shutdown (SIGINT: sessions ended, what was committed kept; SIGTERM would wait for every client). */
  @Override
  public void close() {
    try {
      new ProcessBuilder("kill", "-INT", String.valueOf(server.pid())).start().waitFor();
      if (!server.waitFor(30, TimeUnit.SECONDS)) server.destroyForcibly();
    } catch (IOException e) {
      server.destroyForcibly();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    RUNNING.remove(this);
  }

  private static void deleteQuietly(Path dir) {
    try (var files = Files.walk(dir)) {
      for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(f);
    } catch (IOException e) {
      System.err.println("postgres: " + dir + " not removed: " + e);
    }
  }
}
