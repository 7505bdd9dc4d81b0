package dev.posta.pop3;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.net.AuthThrottle;
import dev.posta.store.MaildirStore;
import dev.posta.testing.Pop3Wire;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client that does not log in within the login time, or stays silent past the autologout
 * (RFC 1939 §3), is told so and let go; nothing it marked deleted is removed.
 */
class Pop3TimeoutsTest {
  @TempDir Path data;

  private Pop3Server server(MaildirStore store, Duration login, Duration autologout) throws Exception {
    var defaults = PostaConfig.embeddedDefaults(data);
    var s = defaults.submission();
    var config = defaults.toBuilder().submission(new PostaConfig.Submission(s.trustedNetworks(), true, s.senderMustBeOwned(),
        s.authFailuresBeforeLockout(), s.authLockout())).build();
    var users = new UserStore(data);
    users.add("me@localhost", "secret".toCharArray());
    return new Pop3Server(new Pop3Server.Context(config, store, null, users, new AuthThrottle(10, Duration.ofMinutes(1), Clock.systemUTC()),
        new Pop3Server.Timeouts(login, autologout)));
  }

  private static int listen(Pop3Server server) throws Exception {
    return server.listen(new PostaConfig.Listener(PostaConfig.Protocol.POP3, new InetSocketAddress("127.0.0.1", 0))).getPort();
  }

  @Test
  void aClientThatDoesNotLogInInTimeIsToldSo() throws Exception {
    try (var store = new MaildirStore(data.resolve("mail"), "h"); var server = server(store, Duration.ofMillis(500), Duration.ofMinutes(10));
        var pop = new Pop3Wire(listen(server))) {
      assertThat(pop.line()).isEqualTo("+OK Posta POP3 ready\r\n");
      long start = System.nanoTime();
      assertThat(pop.line()).isEqualTo("-ERR Login timed out\r\n");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(400), Duration.ofSeconds(5));
      assertThat(pop.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void aLoggedInClientSilentPastTheAutologoutIsToldSoAndEachCommandStartsItAgain() throws Exception {
    try (var store = new MaildirStore(data.resolve("mail"), "h"); var server = server(store, Duration.ofSeconds(30), Duration.ofMillis(1500));
        var pop = new Pop3Wire(listen(server))) {
      pop.line();
      pop.command("USER me@localhost");
      assertThat(pop.command("PASS secret")).isEqualTo("+OK Logged in: maildrop empty\r\n");
      for (int i = 0; i < 3; i++) { // 2.4 s in all, each wait shorter than the autologout
        Thread.sleep(800);
        assertThat(pop.command("NOOP")).isEqualTo("+OK\r\n");
      }
      long start = System.nanoTime();
      assertThat(pop.line()).isEqualTo("-ERR Autologout; idle for too long\r\n");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(1000), Duration.ofSeconds(6));
      assertThat(pop.closedWithin(2000)).isTrue();
    }
  }
}
