package dev.posta.capture;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.cli.Posta;
import dev.posta.config.PostaConfig;
import dev.posta.testing.SmtpPeer;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code posta dev release}: the one way out of capture mode, explicit: a copy of the message it
 * names (queue ID or Message-ID), to the address it names, through the smart host it names, with
 * the original sender; nothing else goes with it.
 */
class DevReleaseTest {
  @TempDir Path dir;

  private record Run(int exit, String out, String err) {}

  private static Run posta(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    PrintStream oldOut = System.out, oldErr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int exit = new CommandLine(Posta.class).execute(args);
      return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  private static String send(TestServer server, String messageId, String subject) throws Exception {
    try (var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("shop@app.example", "ada@customer.example");
      String reply = smtp.data("From: <shop@app.example>\r\nTo: <ada@customer.example>\r\nMessage-ID: " + messageId + "\r\nSubject: " + subject
          + "\r\n\r\nYour order ships.");
      assertThat(reply).startsWith("250 2.0.0 Ok: queued as ");
      return reply.substring(reply.length() - 16);
    }
  }

  @Test
  void aNamedMessageGoesToTheNamedAddressOnlyWhenAsked() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Path data = dir.resolve("posta-dev-data");
    int sinkPort = port;
    try (SmtpPeer sink = SmtpPeer.start(dir.resolve("sink"), o -> o.host("127.0.0.1").port(sinkPort));
        TestServer server = TestServer.start(data, c -> c.toBuilder().capture(PostaConfig.Capture.ANY_LOGIN).build())) {
      String first = send(server, "<one@app.example>", "one");
      send(server, "<two@app.example>", "two");
      dev.posta.testing.Await.await("both captured", () -> server.queued() == 0);
      try (var captured = java.nio.file.Files.list(data.resolve("mail/localhost/all/Maildir/new"))) {
        for (Path f : captured.toList()) assertThat(java.nio.file.Files.readString(f)).contains("\nAuthentication-Results: localhost;\n");
      }

      Run byQueueId = posta("dev", "release", first, "--to", "me@real.example", "--via", "127.0.0.1:" + port, "--data", data.toString());
      assertThat(byQueueId.exit()).as("%s", byQueueId).isZero();
      assertThat(byQueueId.out()).startsWith("posta dev release: " + first + " to <me@real.example> via [127.0.0.1]:" + port + "/may: sent (");
      Run byMessageId = posta("dev", "release", "two@app.example", "--to", "qa@real.example", "--via", "127.0.0.1:" + port, "--data", data.toString());
      assertThat(byMessageId.exit()).as("%s", byMessageId).isZero();

      List<SmtpPeer.Received> got = sink.awaitMessages(2, Duration.ofSeconds(15));
      assertThat(got).extracting(SmtpPeer.Received::rcptTos).containsExactly(List.of("me@real.example"), List.of("qa@real.example"));
      assertThat(got).extracting(SmtpPeer.Received::mailFrom).containsOnly("shop@app.example");
      assertThat(got.get(0).text()).contains("Subject: one\r\n").doesNotContain("Delivered-To:").doesNotContain("Return-Path:")
          .doesNotContain("Authentication-Results:"); // capture mode's, from its test zone
      assertThat(got.get(1).text()).contains("Subject: two\r\n");

      Run unknown = posta("dev", "release", "0000000000000000", "--to", "me@real.example", "--via", "127.0.0.1:" + port, "--data", data.toString());
      assertThat(unknown.exit()).isEqualTo(1);
      assertThat(unknown.err()).startsWith("posta dev release: no captured message 0000000000000000 in ");
      Thread.sleep(300);
      assertThat(sink.messages()).hasSize(2);
    }
  }
}
