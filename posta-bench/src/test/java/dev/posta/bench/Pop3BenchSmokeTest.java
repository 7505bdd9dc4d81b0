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
 * The POP3 benchmark's load generator, briefly, against a real Posta in CI: clients each keep
 * then empty a generated mailbox of their own, and the counts it prints are what the mailboxes
 * held. (The comparison itself, pop3-compare.sh, is too long and noisy for CI.)
 */
class Pop3BenchSmokeTest {
  private static final int CLIENTS = 3;
  private static final int MESSAGES = 40;

  @TempDir Path data;
  PostaServer server;
  String address;

  @BeforeEach
  void start() throws Exception {
    PostaConfig c = PostaConfig.embeddedDefaults(data);
    var s = c.submission();
    server = new PostaServer(c.toBuilder()
        .listeners(List.of(new PostaConfig.Listener(PostaConfig.Protocol.POP3, new InetSocketAddress("127.0.0.1", 0))))
        .submission(new PostaConfig.Submission(s.trustedNetworks(), true, s.senderMustBeOwned(), 1000, s.authLockout()))
        .build()).start();
    var users = new UserStore(data);
    for (int i = 1; i <= CLIENTS; i++) {
      users.add("bench" + i + "@localhost", "bench pass".toCharArray());
      BenchRun r = BenchRun.of("imap-mailbox", "--maildir", maildir(i).toString(), "--messages", String.valueOf(MESSAGES), "--seed",
          String.valueOf(i));
      assertThat(r.exit()).as(r.out()).isZero();
    }
    address = "127.0.0.1:" + server.address(PostaConfig.Protocol.POP3).getPort();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private Path maildir(int user) {
    return data.resolve("mail/localhost/bench" + user + "/Maildir");
  }

  private long files(int user) throws Exception {
    long n = 0;
    for (String sub : List.of("new", "cur")) {
      try (Stream<Path> list = Files.list(maildir(user).resolve(sub))) {
        n += list.count();
      }
    }
    return n;
  }

  @Test
  void clientsKeepThenEmptyTheirMailboxes() throws Exception {
    BenchRun kept = BenchRun.of("pop3-load", "--server", address, "--password", "bench pass", "--clients", String.valueOf(CLIENTS),
        "--rounds", "warm-keep,keep");
    assertThat(kept.exit()).as(kept.out()).isZero();
    assertThat(kept.out()).as("the warm-up round is not printed")
        .matches("clients=3 keep=true messages=120 octets=\\d+ errors=0 [^\n]*\n(  \\S+ +n=[^\n]*\n)+").contains("RETR ", "UIDL ", "login ")
        .doesNotContain("DELE ");
    for (int i = 1; i <= CLIENTS; i++) assertThat(files(i)).as("kept").isEqualTo(MESSAGES);

    BenchRun emptied = BenchRun.of("pop3-load", "--server", address, "--password", "bench pass", "--clients", String.valueOf(CLIENTS), "--json");
    assertThat(emptied.exit()).as(emptied.out()).isZero();
    assertThat(emptied.out()).matches("(?s)\\{\"clients\":3,\"keep\":false,\"messages\":120,\"octets\":\\d+,\"errors\":0,.*\"DELE\":.*");
    for (int i = 1; i <= CLIENTS; i++) assertThat(files(i)).as("deleted at QUIT").isZero();

    BenchRun none = BenchRun.of("pop3-load", "--server", address, "--password", "bench pass", "--clients", String.valueOf(CLIENTS));
    assertThat(none.out()).startsWith("clients=3 keep=false messages=0 ");
  }
}
