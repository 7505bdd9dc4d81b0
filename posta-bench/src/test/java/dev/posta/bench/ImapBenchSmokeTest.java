package dev.posta.bench;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.PostaServer;
import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The IMAP benchmark's tools, briefly, against a real Posta in CI: the generated mailbox is
 * served whole, the client-like load runs without errors, the SELECT/FETCH timing sees every
 * message, and clients in IDLE hear of a new one. (The comparison itself, imap-compare.sh, is
 * too long and noisy for CI.)
 */
class ImapBenchSmokeTest {
  @TempDir Path data;
  PostaServer server;
  String address;

  @BeforeEach
  void start() throws Exception {
    PostaConfig c = PostaConfig.embeddedDefaults(data);
    var s = c.submission();
    server = new PostaServer(c.toBuilder()
        .listeners(List.of(new PostaConfig.Listener(PostaConfig.Protocol.IMAP, new InetSocketAddress("127.0.0.1", 0))))
        // Every client comes from 127.0.0.1, and logins in progress from one address count against
        // the failures it has left before a lockout: room for all of them, as imap-compare.py gives.
        .submission(new PostaConfig.Submission(s.trustedNetworks(), true, s.senderMustBeOwned(), 1000, s.authLockout()))
        .build()).start();
    new UserStore(data).add("bench@localhost", "bench pass".toCharArray());
    address = "127.0.0.1:" + server.address(PostaConfig.Protocol.IMAP).getPort();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private Path fill(int messages) throws Exception {
    Path maildir = data.resolve("mail/localhost/bench/Maildir");
    BenchRun r = BenchRun.of("imap-mailbox", "--maildir", maildir.toString(), "--messages", String.valueOf(messages));
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).startsWith("wrote messages=" + messages + " ");
    return maildir;
  }

  @Test
  void theGeneratedMailboxIsServedWholeAndTheSameForTheSameSeed() throws Exception {
    Path maildir = fill(300);
    long files;
    try (Stream<Path> cur = Files.list(maildir.resolve("cur")); Stream<Path> neu = Files.list(maildir.resolve("new"))) {
      files = cur.count() + neu.count();
    }
    assertThat(files).isEqualTo(300);
    Path again = data.resolve("again");
    BenchRun.of("imap-mailbox", "--maildir", again.toString(), "--messages", "300");
    try (Stream<Path> a = Files.list(maildir.resolve("cur")).sorted(); Stream<Path> b = Files.list(again.resolve("cur")).sorted()) {
      var x = a.map(Path::getFileName).map(Path::toString).toList();
      var y = b.map(Path::getFileName).map(Path::toString).toList();
      assertThat(x).isEqualTo(y);
      assertThat(Files.readString(maildir.resolve("cur").resolve(x.get(7)))).isEqualTo(Files.readString(again.resolve("cur").resolve(y.get(7))));
    }

    BenchRun r = BenchRun.of("imap-select", "--server", address, "--user", "bench@localhost", "--password", "bench pass", "--selects", "2");
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).startsWith("exists=300 select_first_ms=").contains(" fetched=300 ");
  }

  @Test
  void clientLikeLoadRunsWithoutErrors() throws Exception {
    fill(120);
    BenchRun r = BenchRun.of("imap-load", "--server", address, "--user", "bench@localhost", "--password", "bench pass", "--clients", "3",
        "--seconds", "1.5");
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).matches("(?s)clients=3 commands=\\d+ visits=\\d+ errors=0 .*")
        .contains("LOGIN ", "SELECT ", "FETCH headers ", "FETCH BODY[] ", "APPEND ", "UID SEARCH ", "UID EXPUNGE ", "IDLE ", "LOGOUT ");
    // Every visit expunged what it appended: the inbox is as it was.
    BenchRun s = BenchRun.of("imap-select", "--server", address, "--user", "bench@localhost", "--password", "bench pass", "--selects", "0",
        "--fetches", "0");
    assertThat(s.out()).startsWith("exists=120 ");
  }

  @Test
  void idleClientsHearOfANewMessage() throws Exception {
    fill(10);
    BenchRun r = BenchRun.of("imap-idle", "--server", address, "--user", "bench@localhost", "--password", "bench pass", "--connections", "20",
        "--hold", "0", "--notify-wait", "10");
    assertThat(r.exit()).as(r.out()).isZero();
    assertThat(r.out()).startsWith("holding idle=20 failed=0 ").contains("check append=\"OK [APPENDUID ").contains(" notified=20 of 20 ");
  }

  @Test
  void argon2idHashesAreWhatPostaReads() throws Exception {
    BenchRun r = BenchRun.of("argon2id", "--password", "bench pass");
    String phc = r.out().strip();
    assertThat(dev.posta.auth.PasswordHash.verify(phc, "bench pass".toCharArray())).isTrue();
    assertThat(dev.posta.auth.PasswordHash.verify(phc, "other".toCharArray())).isFalse();
  }
}
