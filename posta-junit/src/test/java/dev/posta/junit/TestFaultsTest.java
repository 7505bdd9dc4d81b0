package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.PostaConfig;
import dev.posta.smtp.Fault;
import dev.posta.smtp.Faults;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * Whose fault an attempt meets when tests share a server ({@link TestFaults}), as the SMTP
 * session asks: by the inbox its login or a recipient's tag names; an unclaimed attempt meets
 * the faults of a test running alone and of none while several run (each passed-over fault
 * noted); a fault at a stage before any identity is refused while another test runs.
 */
class TestFaultsTest {
  private final TestFaults faults = new TestFaults();

  {
    faults.fileBy(new PostaConfig.Capture(true, Map.of()));
  }

  private static Faults.Party to(String... recipients) {
    return new Faults.Party(null, List.of(recipients));
  }

  private static String reply(Faults.Fired fired) {
    return fired == null ? null : ((Fault.Action.Answer) fired.action()).reply().toString();
  }

  @Test
  void aTestRunningAloneMeetsItsFaultsWithoutAnInbox() {
    TestFaults.Test a = faults.begin("[a]", "a()");
    faults.add(a, Fault.reply(Fault.Stage.RCPT, "450 4.2.0 Busy"));
    faults.add(a, Fault.reply(Fault.Stage.EHLO, "554 5.7.0 No"));
    assertThat(reply(faults.at(Fault.Stage.EHLO, List.of(), Faults.Party.UNKNOWN))).isEqualTo("554 5.7.0 No");
    Faults.Fired fired = faults.at(Fault.Stage.RCPT, List.of("ada@example.com"), to("ada@example.com"));
    assertThat(reply(fired)).isEqualTo("450 4.2.0 Busy");
    assertThat(fired.why()).isEqualTo("a()'s fault 1 (rcpt reply=\"450 4.2.0 Busy\"): attempt 1");
    assertThat(faults.end(a)).isEmpty();
    assertThat(faults.at(Fault.Stage.RCPT, List.of("ada@example.com"), to("ada@example.com"))).as("gone with its test").isNull();
  }

  @Test
  void withTestsAlongsideEachMeetsItsOwnByInboxAndAnUnclaimedAttemptMeetsNone() {
    TestFaults.Test a = faults.begin("[a]", "a()");
    faults.claim("t1", a);
    faults.add(a, new Fault(Fault.Stage.RCPT, null, 1, 1, null, new Fault.Action.Answer(dev.posta.smtp.Reply.parse("450 4.2.0 Busy for a"))));
    TestFaults.Test b = faults.begin("[b]", "b()");
    faults.claim("t2", b);
    faults.add(b, Fault.reply(Fault.Stage.MAIL, "451 4.3.0 Sender busy for b"));
    b.script.rateLimit(1, Duration.ofMinutes(1));

    assertThat(faults.at(Fault.Stage.RCPT, List.of("x@y.example"), to("x@y.example"))).as("an untagged recipient is no test's").isNull();
    assertThat(faults.at(Fault.Stage.RCPT, List.of("ada+t2@y.example"), to("ada+t2@y.example"))).as("b's mail meets b's faults only").isNull();
    assertThat(reply(faults.at(Fault.Stage.RCPT, List.of("ada+t1@y.example"), to("ada+t1@y.example")))).isEqualTo("450 4.2.0 Busy for a");
    assertThat(faults.at(Fault.Stage.RCPT, List.of("ada+t1@y.example"), to("ada+t1@y.example"))).as("times(1): once").isNull();

    // MAIL knows its test by the login only: an inbox's login is claimed, none is not.
    assertThat(faults.at(Fault.Stage.MAIL, List.of("app@x.example"), Faults.Party.UNKNOWN)).isNull();
    Faults.Party bLogin = new Faults.Party("inbox+t2@posta.test", List.of());
    assertThat(reply(faults.at(Fault.Stage.MAIL, List.of("app@x.example"), bLogin))).isEqualTo("451 4.3.0 Sender busy for b");
    faults.accepted(to("x@y.example")); // an unclaimed message counts for nobody's rate limit
    assertThat(faults.rateLimited(bLogin)).isNull();
    faults.accepted(new Faults.Party("inbox+t2@posta.test", List.of("x@y.example")));
    assertThat(reply(faults.rateLimited(bLogin))).isEqualTo("421 4.7.0 Too many messages (1 in 60 seconds), closing connection");
    assertThat(faults.rateLimited(Faults.Party.UNKNOWN)).as("MAIL without a login is no test's").isNull();

    assertThat(faults.end(a)).as("the untagged recipient came while a's fault was pending").containsExactly(
        "an attempt at rcpt <x@y.example> that no running test's inbox claims came while 2 tests ran on this server: it met none of"
            + " their faults, so not its fault rcpt times=1 reply=\"450 4.2.0 Busy for a\"");
    assertThat(faults.end(b)).containsExactly(
        "an attempt at mail <app@x.example> that no running test's inbox claims came while 2 tests ran on this server: it met none of their"
            + " faults, so not its fault mail reply=\"451 4.3.0 Sender busy for b\"",
        "an attempt at mail that no running test's inbox claims came while 2 tests ran on this server: it met none of their faults,"
            + " so not its rate limit");
  }

  @Test
  void aFaultBeforeAnyIdentityIsRefusedWhileAnotherTestRuns() {
    TestFaults.Test a = faults.begin("[a]", "a()");
    faults.add(a, Fault.reply(Fault.Stage.CONNECT, "421 4.3.2 Not now"));
    faults.begin("[b]", "b()");
    assertThatThrownBy(() -> faults.add(a, Fault.reply(Fault.Stage.STARTTLS, "454 4.7.0 TLS not available")))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("a fault at starttls (starttls reply=\"454 4.7.0 TLS not available\") cannot tell this test's connections from those of"
            + " the other tests running on this server now [b()]: the session knows whose mail it is only after AUTH or RCPT. Run this"
            + " test alone (@ResourceLock(\"posta-faults\") on every test of the server), or give it a server of its own (the extension"
            + " on an instance field)");
    assertThat(faults.at(Fault.Stage.CONNECT, List.of(), Faults.Party.UNKNOWN)).as("a's connect fault, set alone, no longer knows its test")
        .isNull();
  }

  @Test
  void aFaultSetOnAThreadOfNoTestWhileSeveralRunIsRefused() throws Exception {
    faults.begin("[a]", "a()");
    assertThat(CompletableFuture.supplyAsync(faults::caller).get().name).as("one test running: its own").isEqualTo("a()");
    faults.begin("[b]", "b()");
    assertThat(faults.caller().name).as("on b's thread").isEqualTo("b()");
    assertThatThrownBy(() -> {
      try {
        CompletableFuture.supplyAsync(faults::caller).join();
      } catch (java.util.concurrent.CompletionException e) {
        throw e.getCause();
      }
    }).isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("a fault was set on thread ")
        .hasMessageContaining(", which runs none of the 2 tests running on this server now [")
        .hasMessageEndingWith("], so whose it is cannot be told: set it on the"
            + " test's own thread (as JUnit runs the test method), or outside the tests (@BeforeAll: the whole server's)");
  }

  @Test
  void aFaultSetOutsideTheTestsIsTheWholeServersUntilTheyEnd() {
    faults.add(null, Fault.reply(Fault.Stage.RCPT, "550 5.1.1 No such user"));
    TestFaults.Test a = faults.begin("[a]", "a()");
    TestFaults.Test b = faults.begin("[b]", "b()");
    faults.claim("t1", a);
    assertThat(reply(faults.at(Fault.Stage.RCPT, List.of("x+t1@y.example"), to("x+t1@y.example")))).isEqualTo("550 5.1.1 No such user");
    assertThat(reply(faults.at(Fault.Stage.RCPT, List.of("x@y.example"), to("x@y.example")))).isEqualTo("550 5.1.1 No such user");
    assertThat(faults.serverWide().faults()).hasSize(1);
    faults.end(a);
    assertThat(faults.serverWide().faults()).as("b still runs").hasSize(1);
    faults.end(b);
    assertThat(faults.serverWide().isEmpty()).isTrue();
  }
}
