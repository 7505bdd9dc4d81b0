package dev.posta.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.PostaServer;
import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A short run of the load generator against a real Posta, in CI: the numbers it prints must
 * add up to what arrived in the mailbox. (The benchmark itself is too long and noisy for CI.)
 */
class LoadSmokeTest {
  @TempDir Path data;
  PostaServer server;

  @BeforeEach
  void start() throws Exception {
    PostaConfig c = PostaConfig.embeddedDefaults(data);
    server = new PostaServer(c.toBuilder().listeners(List.of(
            new PostaConfig.Listener(PostaConfig.Protocol.SMTP, new InetSocketAddress("127.0.0.1", 0)),
            new PostaConfig.Listener(PostaConfig.Protocol.SUBMISSION, new InetSocketAddress("127.0.0.1", 0))))
        .delivery(c.delivery().toBuilder().dns(List.of("127.0.0.1:9"), 25).build()).build()).start();
    new UserStore(data).add("bench@localhost", "bench pass".toCharArray());
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private String port(PostaConfig.Protocol p) {
    return "127.0.0.1:" + server.address(p).getPort();
  }

  private long delivered(String user) throws Exception {
    Path dir = data.resolve("mail/localhost").resolve(user).resolve("Maildir/new");
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (true) {
      boolean empty = server.queue().size() == 0; // first: a delivery may finish while we count
      long n = 0;
      if (Files.isDirectory(dir)) {
        try (Stream<Path> files = Files.list(dir)) {
          n = files.count();
        }
      }
      if (empty || System.nanoTime() > deadline) return n;
      Thread.sleep(20);
    }
  }

  @Test
  void loadReportsEveryMessageAndTheyAllArrive() throws Exception {
    BenchRun r = BenchRun.of("load", "--server", port(PostaConfig.Protocol.SMTP), "--sessions", "4", "--messages", "200", "--size", "2048",
        "--to", "load@localhost");
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).matches("sent=200 errors=0 seconds=[0-9.]+ rate=[0-9.]+ p50_ms=[0-9.]+ p90_ms=[0-9.]+ p99_ms=[0-9.]+ max_ms=[0-9.]+\n");
    assertThat(delivered("load")).isEqualTo(200);
    Path one;
    try (Stream<Path> files = Files.list(data.resolve("mail/localhost/load/Maildir/new"))) {
      one = files.findFirst().orElseThrow();
    }
    // The size asked for, give or take the Received:/Return-Path: the server adds and CRLF -> LF.
    assertThat(Files.size(one)).isBetween(1900L, 2600L);
  }

  @Test
  void loadOverStartTlsWithAuthAndANewConnectionPerMessage() throws Exception {
    long before = System.currentTimeMillis();
    BenchRun r = BenchRun.of("load", "--server", port(PostaConfig.Protocol.SUBMISSION), "--sessions", "3", "--messages", "30",
        "--starttls", "--user", "bench@localhost", "--password", "bench pass", "--from", "bench@localhost",
        "--per-connection", "1", "--recipients", "2", "--json");
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).startsWith("{\"sent\":30,\"errors\":0,");
    // When the first session began, for timing end-to-end delivery from there (compare.py).
    var started = java.util.regex.Pattern.compile("\"started_ms\":(\\d+)}").matcher(r.out());
    assertThat(started.find()).as(r.out()).isTrue();
    assertThat(Long.parseLong(started.group(1))).isBetween(before, System.currentTimeMillis());
    assertThat(delivered("load1")).isEqualTo(30);
    assertThat(delivered("load2")).isEqualTo(30);
  }

  @Test
  void spreadSendsEachMessageToOneMailboxInTurn() throws Exception {
    BenchRun r = BenchRun.of("load", "--server", port(PostaConfig.Protocol.SMTP), "--sessions", "2", "--messages", "7",
        "--to", "spread@localhost", "--spread", "3");
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).startsWith("sent=7 errors=0 ");
    assertThat(List.of(delivered("spread1"), delivered("spread2"), delivered("spread3"))).containsExactly(3L, 2L, 2L);
  }

  @Test
  void aMessageFileIsSentAsItIsEveryTime(@TempDir Path dir) throws Exception {
    String message = "From: <signed@example.com>\r\nTo: <load@localhost>\r\nSubject: the same each time\r\n"
        + "Message-ID: <once@example.com>\r\n\r\n..a line that starts with a dot\r\nThe end.\r\n";
    Path file = Files.writeString(dir.resolve("signed.eml"), message);
    BenchRun r = BenchRun.of("load", "--server", port(PostaConfig.Protocol.SMTP), "--sessions", "2", "--messages", "6",
        "--message", file.toString(), "--from", "signed@example.com");
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).startsWith("sent=6 errors=0 ");
    assertThat(delivered("load")).isEqualTo(6);
    try (Stream<Path> files = Files.list(data.resolve("mail/localhost/load/Maildir/new"))) {
      for (Path one : files.toList()) {
        // The Maildir has LF lines, after the fields the server adds at the top.
        assertThat(Files.readString(one)).endsWith(message.replace("\r\n", "\n"));
      }
    }
    // Bare LF lines are refused before anything is sent.
    Path bare = Files.writeString(dir.resolve("bare.eml"), message.replace("\r\n", "\n"));
    assertThat(BenchRun.of("load", "--server", port(PostaConfig.Protocol.SMTP), "--messages", "1", "--message", bare.toString()).exit())
        .isEqualTo(2);
  }

  @Test
  void errorsAreCountedAndTheExitCodeSaysSo() {
    // Relaying to another domain without AUTH is refused: every message is an error.
    BenchRun r = BenchRun.of("load", "--server", port(PostaConfig.Protocol.SMTP), "--sessions", "2", "--messages", "10",
        "--to", "someone@elsewhere.example");
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.out()).startsWith("sent=0 errors=10 ").contains("first_error=\"message ").contains("554 5.7.1");
  }

  @Test
  void idleHoldsSessionsAndTheServerStillServes() {
    BenchRun r = BenchRun.of("idle", "--server", port(PostaConfig.Protocol.SMTP), "--connections", "40", "--hold", "0");
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).startsWith("holding open=40 failed=0 ").contains("check reply=\"250 2.0.0 Ok: queued as ");
  }
}
