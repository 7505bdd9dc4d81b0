package dev.posta.imap;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.net.AuthThrottle;
import dev.posta.store.MaildirStore;
import dev.posta.testing.ImapWire;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A client that does not log in within the login time, or stays silent past the autologout, is told BYE and let go. */
class ImapTimeoutsTest {
  @TempDir Path data;

  private ImapServer server(MaildirStore store, Duration login, Duration autologout) throws Exception {
    var defaults = PostaConfig.embeddedDefaults(data);
    var s = defaults.submission();
    var config = defaults.toBuilder().submission(new PostaConfig.Submission(s.trustedNetworks(), true, s.senderMustBeOwned(),
        s.authFailuresBeforeLockout(), s.authLockout())).build();
    var users = new UserStore(data);
    users.add("me@localhost", "secret".toCharArray());
    return new ImapServer(new ImapServer.Context(config, store, null, users, new AuthThrottle(10, Duration.ofMinutes(1), Clock.systemUTC()),
        new ImapServer.Timeouts(login, autologout)));
  }

  private static int listen(ImapServer server) throws Exception {
    return server.listen(new PostaConfig.Listener(PostaConfig.Protocol.IMAP, new InetSocketAddress("127.0.0.1", 0))).getPort();
  }

  @Test
  void aClientThatDoesNotLogInInTimeIsToldBye() throws Exception {
    try (var store = new MaildirStore(data.resolve("mail"), "h"); var server = server(store, Duration.ofMillis(500), Duration.ofMinutes(30));
        var imap = new ImapWire(listen(server))) {
      imap.line();
      long start = System.nanoTime();
      assertThat(imap.line()).isEqualTo("* BYE Login timed out\r\n");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(400), Duration.ofSeconds(5));
      assertThat(imap.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void aLoggedInClientSilentPastTheAutologoutIsToldByeAndEachCommandStartsItAgain() throws Exception {
    try (var store = new MaildirStore(data.resolve("mail"), "h"); var server = server(store, Duration.ofSeconds(30), Duration.ofMillis(1500));
        var imap = new ImapWire(listen(server))) {
      imap.line();
      assertThat(imap.command("a LOGIN me@localhost secret")).startsWith("a OK ");
      for (int i = 0; i < 3; i++) { // 3 s in all, each wait shorter than the autologout
        Thread.sleep(800);
        assertThat(imap.command("n" + i + " NOOP")).isEqualTo("n" + i + " OK NOOP completed.\r\n");
      }
      long start = System.nanoTime();
      assertThat(imap.line()).isEqualTo("* BYE Autologout; idle for too long\r\n");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(1000), Duration.ofSeconds(6));
    }
  }
}
