package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code posta send} against a real server: STARTTLS, AUTH, the -v transcript, the MIME it builds. */
class SendCommandTest {
  @TempDir Path dir;

  record Run(int exit, String out, String err) {}

  private Run send(Map<String, String> env, String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    SendCommand command = new SendCommand();
    command.env = env;
    command.out = new PrintStream(out, true, UTF_8);
    command.err = new PrintStream(err, true, UTF_8);
    int exit = new CommandLine(command).execute(args);
    return new Run(exit, out.toString(UTF_8), err.toString(UTF_8));
  }

  @Test
  void withStartTlsAndAuthTheTranscriptShowsTheConversationButNoSecret() throws Exception {
    try (TestServer server = TestServer.start(dir.resolve("data")).addUser("me@localhost", "correct horse battery")) {
      Path html = Files.writeString(dir.resolve("page.html"), "<p>Hello <b>there</b></p>\n");
      Path attachment = Files.writeString(dir.resolve("notes.txt"), "attached text\n");
      Run run = send(Map.of("SMTP_PASSWORD", "correct horse battery"), "--to", "friend@localhost", "--subject", "Hi there",
          "--body", "Plain hello", "--html", html.toString(), "--attach", attachment.toString(),
          "--server", "localhost:" + server.submissionPort(), "--starttls", "--cafile", server.certificate().toString(),
          "--user", "me@localhost", "--password-env", "SMTP_PASSWORD", "--helo", "client.example", "-v");
      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.err()).isEmpty();
      List<String> lines = run.out().lines().toList();
      assertThat(lines.subList(0, 3)).containsExactly("=== Connecting to localhost:" + server.submissionPort(), "<- 220 localhost ESMTP Posta",
          "-> EHLO client.example");
      assertThat(lines).containsSubsequence("<- 250-STARTTLS", "-> STARTTLS", "<- 220 2.0.0 Ready to start TLS");
      assertThat(lines).anyMatch(l -> l.startsWith("=== TLS started: TLSv1.3 with cipher "));
      assertThat(lines).containsSubsequence("-> EHLO client.example", "<- 250-AUTH SCRAM-SHA-256 PLAIN LOGIN", "-> AUTH PLAIN ****",
          "<- 235 2.7.0 Authentication successful", "<- 250 2.1.0 Sender OK", "<- 250 2.1.5 Recipient OK");
      assertThat(lines).anyMatch(l -> l.matches("-> MAIL FROM:<me@localhost> BODY=8BITMIME SIZE=\\d+"));
      assertThat(lines).contains("-> RCPT TO:<friend@localhost>");
      assertThat(lines).anyMatch(l -> l.matches("<- 250 2\\.0\\.0 Ok: queued as [0-9A-F]{16}"));
      assertThat(lines.subList(lines.size() - 2, lines.size())).containsExactly("-> QUIT", "<- 221 2.0.0 Bye");
      assertThat(run.out()).doesNotContain("correct horse").doesNotContain("AHVzZX"); // no password, no base64 of it

      String mail = server.awaitMail("friend", 1).getFirst();
      assertThat(mail).contains("\nFrom: me@localhost\n", "\nTo: friend@localhost\n", "\nSubject: Hi there\n", "Content-Type: multipart/mixed",
          "Content-Type: multipart/alternative", "Content-Type: text/plain; charset=UTF-8", "Plain hello",
          "Content-Type: text/html; charset=UTF-8", "Hello <b>there</b>", "Content-Disposition: attachment; filename=notes.txt",
          "YXR0YWNoZWQgdGV4dAo=");
      assertThat(mail).containsPattern("Received: from client\\.example \\(\\[127\\.0\\.0\\.1\\]\\)\n\t\\(using TLSv1\\.3");
    }
  }

  @Test
  void aWrongPasswordOrARefusalFails() throws Exception {
    try (TestServer server = TestServer.start(dir.resolve("data")).addUser("me@localhost", "correct horse battery")) {
      Path password = Files.writeString(dir.resolve("pw"), "wrong password\n");
      Run run = send(Map.of(), "--to", "friend@localhost", "--server", "localhost:" + server.submissionPort(), "--starttls",
          "--cafile", server.certificate().toString(), "--user", "me@localhost", "--password-file", password.toString());
      assertThat(run.exit()).isEqualTo(1);
      assertThat(run.err()).isEqualTo("posta send: authentication as me@localhost failed: 535 5.7.8 Authentication credentials invalid\n");

      Run plain = send(Map.of(), "--to", "friend@localhost", "--server", "127.0.0.1:" + server.smtpPort(), "--body", "no TLS needed");
      assertThat(plain.exit()).as("%s", plain).isZero();
      assertThat(plain.out()).matches("posta send: 250 2\\.0\\.0 Ok: queued as [0-9A-F]{16}\n");

      Run noPassword = send(Map.of(), "--to", "friend@localhost", "--server", "127.0.0.1:" + server.smtpPort(), "--user", "me@localhost");
      assertThat(noPassword.exit()).isEqualTo(2);
      assertThat(noPassword.err()).contains("no terminal to ask on; give --password-file or --password-env");
    }
  }
}
