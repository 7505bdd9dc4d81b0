package dev.posta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.CaptureFile;
import dev.posta.PostaServer;
import dev.posta.config.ConfigException;
import dev.posta.config.ConfigLoader;
import dev.posta.config.PostaConfig;
import dev.posta.testing.SmtpWire;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code posta dev --config FILE}: the {@code [capture]} table scripts the faults, tarpit and
 * rate limit (CaptureFile); each mistake is a {@code file:line:} problem and exit 2 before
 * anything listens; the server posta dev builds from the file answers exactly the scripted
 * replies; a real server's configuration refuses {@code [capture]}.
 */
class DevFaultsTest {
  @TempDir Path dir;

  private Path file(String toml) throws Exception {
    Path f = dir.resolve("capture.toml");
    Files.writeString(f, toml);
    return f;
  }

  private static final String SCRIPT = """
      # faults for the retry tests
      [capture]
      tarpit = "10ms"
      rate-limit = 3

      [[capture.faults]]
      stage = "rcpt"
      match = "*@bounce.example"
      reply = "550 5.1.1 No such user"
      times = 2

      [[capture.faults]]
      stage = "mid-data"
      match = "drop@*"
      action = "disconnect"
      after-octets = 10

      [[capture.faults]]
      stage = "end-of-data"
      reply = "451 4.3.0 Flaky"
      probability = 0.5
      seed = 7
      """;

  @Test
  void theCaptureTableBecomesTheFaults() throws Exception {
    var faults = CaptureFile.read(file(SCRIPT));
    assertThat(faults.describe()).containsExactly(
        "rcpt match=*@bounce.example times=2 reply=\"550 5.1.1 No such user\"",
        "mid-data match=drop@* disconnect after-octets=10",
        "end-of-data probability=0.5 seed=7 reply=\"451 4.3.0 Flaky\"",
        "tarpit: every reply held 10 ms",
        "rate limit: 3 messages accepted per minute, then 421 4.7.0");
    assertThat(DevCommand.faultLines(faults)).isEqualTo(String.join("\n",
        "  faults      3 scripted from " + dir.resolve("capture.toml") + " (each logged when it fires)",
        "              rcpt match=*@bounce.example times=2 reply=\"550 5.1.1 No such user\"",
        "              mid-data match=drop@* disconnect after-octets=10",
        "              end-of-data probability=0.5 seed=7 reply=\"451 4.3.0 Flaky\"",
        "              tarpit: every reply held 10 ms",
        "              rate limit: 3 messages accepted per minute, then 421 4.7.0"));
  }

  @Test
  void everyMistakeIsNamedByFileAndLine() throws Exception {
    Path f = file("""
        hostname = "mx.example.org"
        [capture]
        tarpit = "soon"
        rate-limit = 0
        burst = 1

        [[capture.faults]]
        stage = "rcpt"
        reply = "250 OK"

        [[capture.faults]]
        stage = "helo"
        reply = "550 x"

        [[capture.faults]]
        stage = "auth"
        match = "*@x.example"
        reply = "535 5.7.8 No"

        [[capture.faults]]
        stage = "mail"
        reply = "451 4.3.0 x"
        probability = 2.0

        [[capture.faults]]
        stage = "data"
        """);
    assertThatThrownBy(() -> CaptureFile.read(f)).isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).containsExactly(
        f + ":1: posta dev reads only [capture] from its file, not 'hostname' (a real server's settings never mix into capture mode)",
        f + ":3: capture.tarpit: 'soon' is not a duration like \"500ms\", \"2s\" or \"1m\"",
        f + ":4: capture.rate-limit is the messages accepted per minute, a whole number from 1 to 1000000",
        f + ":5: unknown key capture.burst (known: dns, faults, tarpit, rate-limit)",
        f + ":9: [[capture.faults]] #1: a fault's reply is a 4xx or 5xx, not 250 OK",
        f + ":12: [[capture.faults]] #2: unknown stage 'helo' (one of connect, ehlo, starttls, auth, mail, rcpt, data, mid-data, end-of-data)",
        f + ":17: [[capture.faults]] #3: a fault at auth has no address to match (match is for mail, rcpt, data, mid-data, end-of-data)",
        f + ":23: [[capture.faults]] #4: probability must be over 0 and at most 1, not 2.0",
        f + ":25: [[capture.faults]] #5: a fault needs one of reply (\"451 4.3.0 Try again later\"), action (\"refuse\", \"disconnect\") or delay (\"2s\")"));
  }

  @Test
  void postaDevStopsWithTheProblemsBeforeListening() throws Exception {
    Path f = file("[capture]\n[[capture.faults]]\nstage = \"rcpt\"\nreply = \"55 x\"\n");
    var err = new ByteArrayOutputStream();
    PrintStream old = System.err;
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    int exit;
    try {
      exit = new CommandLine(Posta.class).execute("dev", "--config", f.toString(), "--data", dir.resolve("data").toString());
    } finally {
      System.setErr(old);
    }
    assertThat(exit).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .isEqualTo("posta dev: --config " + f + ":\n  " + f + ":4: [[capture.faults]] #1: not an SMTP reply (like \"451 4.3.0 Try again later\"): 55 x\n");
    assertThat(dir.resolve("data")).doesNotExist();
  }

  @Test
  void aRealServersConfigurationRefusesCapture() throws Exception {
    Path f = file("data = \"" + dir.resolve("d") + "\"\n[capture]\ntarpit = \"1s\"\n[domains.\"example.org\"]\nmailboxes = [\"ada\"]\n");
    assertThatThrownBy(() -> ConfigLoader.load(f)).isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems())
        .containsExactly(f + ":2: [capture] is for posta dev --config only (its test DNS zone, its scripted faults); a real server has neither"));
  }

  @Test
  void theServerPostaDevBuildsAnswersAsScripted() throws Exception {
    var devCommand = new DevCommand();
    devCommand.data = dir.resolve("posta-dev-data");
    PostaConfig config = devCommand.config().toBuilder()
        .listeners(List.of(new PostaConfig.Listener(PostaConfig.Protocol.SMTP, new InetSocketAddress("127.0.0.1", 0)))).build();
    try (PostaServer server = new PostaServer(config).faults(CaptureFile.read(file(SCRIPT))).withoutTls().start()) {
      int port = server.address(PostaConfig.Protocol.SMTP).getPort();
      for (int attempt = 1; attempt <= 3; attempt++) {
        try (var smtp = new SmtpWire(port)) {
          smtp.ehlo();
          assertThat(smtp.command("MAIL FROM:<app@shop.example>")).isEqualTo("250 2.1.0 Sender OK");
          assertThat(smtp.command("RCPT TO:<x@bounce.example>")).isEqualTo(attempt <= 2 ? "550 5.1.1 No such user" : "250 2.1.5 Recipient OK");
        }
      }
      try (var smtp = new SmtpWire(port)) { // mid-DATA: dropped after 10 octets, no reply, nothing delivered
        smtp.ehlo();
        smtp.envelope("app@shop.example", "drop@customer.example");
        assertThat(smtp.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
        smtp.send("Subject: dropped\r\n\r\nnever stored\r\n");
        assertThat(smtp.isClosedByServer()).isTrue();
      }
      // end-of-data with probability 0.5 and seed 7: the same answers every run; 421 after 3 accepted
      StringBuilder answers = new StringBuilder();
      for (int i = 0; i < 12 && !answers.toString().contains("421"); i++) {
        try (var smtp = new SmtpWire(port)) {
          smtp.ehlo();
          String mail = smtp.command("MAIL FROM:<app@shop.example>");
          if (!mail.startsWith("250")) {
            answers.append(mail);
            break;
          }
          assertThat(smtp.command("RCPT TO:<ada@customer.example>")).isEqualTo("250 2.1.5 Recipient OK");
          String reply = smtp.data("Subject: " + i + "\r\n\r\nbody");
          answers.append(reply.startsWith("250") ? "250" : reply).append(", ");
        }
      }
      String first = answers.toString();
      assertThat(first).contains("451 4.3.0 Flaky").endsWith("421 4.7.0 Too many messages (3 in 60 seconds), closing connection");
      assertThat(first.split("250", -1)).hasSize(4); // three accepted
      dev.posta.testing.Await.await("the three delivered", () -> server.queue().size() == 0);
      Path drop = devCommand.data.resolve("mail/customer.example/drop");
      assertThat(drop).doesNotExist();
    }
  }
}
