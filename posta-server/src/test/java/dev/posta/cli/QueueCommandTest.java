package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code posta queue} lists what waits, read-only, while the server runs. */
class QueueCommandTest {
  @TempDir Path data;

  private String queue() {
    PrintStream oldOut = System.out;
    var out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, UTF_8));
    try {
      assertThat(new CommandLine(new Posta()).execute("queue", "--data", data.toString())).isZero();
    } finally {
      System.setOut(oldOut);
    }
    return out.toString(UTF_8);
  }

  @Test
  void listsMessagesWaitingForRemoteDeliveryWithTheirPendingRecipients() throws Exception {
    try (TestServer server = TestServer.start(data).addUser("me@localhost", "pw")) {
      assertThat(queue()).isEqualTo("queue is empty\n");
      String id;
      try (SmtpWire wire = new SmtpWire(server.submissionPort())) {
        wire.ehlo();
        wire.startTls(server.clientTls());
        wire.command("EHLO client.example");
        wire.authPlain("me@localhost", "pw");
        wire.command("MAIL FROM:<me@localhost>");
        wire.command("RCPT TO:<far@remote.example>");
        wire.command("RCPT TO:<near@localhost>");
        wire.command("DATA");
        String reply = wire.command("Subject: q\r\n\r\nx\r\n.");
        id = reply.substring(reply.length() - 16);
      }
      server.awaitMail("near", 1);
      // The local copy is delivered (and marked done); the remote recipient still waits.
      long deadline = System.nanoTime() + 5_000_000_000L;
      String listing = queue();
      while (listing.contains("near@localhost") && System.nanoTime() < deadline) {
        Thread.sleep(50);
        listing = queue();
      }
      assertThat(listing).matches("(?s)" + id + "  \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  +\\d+  <me@localhost>\n"
          + "    <far@remote.example>\n"
          + "1 message\\(s\\), 1 recipient\\(s\\) waiting\n");
    }
  }
}
