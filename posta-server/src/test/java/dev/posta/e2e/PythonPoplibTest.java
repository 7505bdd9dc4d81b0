package dev.posta.e2e;

import static dev.posta.e2e.ImapClients.postaView;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Python's poplib as the POP3 client (src/test/resources/e2e/pop3/poplib_session.py prints each
 * answer as poplib returns it): STLS then USER/PASS and every command of a download, AUTH PLAIN
 * after STLS, and implicit TLS on the POP3S port.
 */
class PythonPoplibTest {
  private static final Path PYTHON = Path.of("/usr/bin/python3");
  private static final String CAPA_BEFORE_TLS = "['AUTH-RESP-CODE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'STLS', 'TOP', 'UIDL']";
  private static final String CAPA_UNDER_TLS = "['AUTH-RESP-CODE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER']";

  @TempDir Path temp;

  private static E2e.Run poplib(TestServer server, String mode, int port) {
    assertThat(Files.isExecutable(PYTHON)).as("%s is needed for the poplib tests", PYTHON).isTrue();
    E2e.Run run = E2e.run(Duration.ofSeconds(30), List.of(PYTHON.toString(), E2e.resource("pop3/poplib_session.py").toString(), mode,
        Integer.toString(port), server.certificate().toString(), ImapClients.USER, ImapClients.PASSWORD));
    assertThat(run.exit()).as("poplib_session.py %s%n%s", mode, run).isZero();
    return run;
  }

  @Test
  void stlsThenUserAndPassAndADownload() throws Exception {
    try (var server = TestServer.start(temp).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      ImapClients.deliver(server, "first");
      ImapClients.deliver(server, "second");
      E2e.Run run = poplib(server, "stls", server.pop3Port());
      assertThat(run.stdout()).matches("""
          welcome b'\\+OK Posta POP3 ready'
          capa %s
          stls b'\\+OK Begin TLS negotiation'
          capa %s
          user b'\\+OK Send the password'
          pass b'\\+OK Logged in: 2 messages \\((\\d+) octets\\)'
          stat \\(2, \\1\\)
          list b'\\+OK 2 messages \\(\\1 octets\\)' \\[b'1 (\\d+)', b'2 \\d+'\\]
          uidl b'\\+OK Unique-ID listing follows' \\[b'1 00000001([0-9a-f]{8})', b'2 00000002\\3'\\]
          retr b'\\+OK \\2 octets' \\2 \\[b'Subject: first'\\] \\[b'This is first.', b''\\]
          top b'\\+OK Top of message follows' \\[b'Message-ID: <second@client.example>', b''\\]
          dele b'\\+OK Message 1 deleted'
          quit b'\\+OK Bye \\(1 message left\\)'
          """.formatted(CAPA_BEFORE_TLS.replace("[", "\\[").replace("]", "\\]"), CAPA_UNDER_TLS.replace("[", "\\[").replace("]", "\\]")));
      assertThat(postaView(server, "INBOX")).as("the first deleted; the second only TOP-read: not seen").containsExactly("second []");
    }
  }

  @Test
  void authPlainAfterStlsWithAndWithoutAnInitialResponse() throws Exception {
    try (var server = TestServer.start(temp).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      ImapClients.deliver(server, "first");
      E2e.Run run = poplib(server, "auth", server.pop3Port());
      assertThat(run.stdout()).matches("""
          welcome b'\\+OK Posta POP3 ready'
          capa .*
          stls b'\\+OK Begin TLS negotiation'
          capa .*
          wrong b'-ERR \\[AUTH\\] Authentication failed'
          continuation b'\\+ '
          auth b'\\+OK Logged in: 1 message \\((\\d+) octets\\)'
          stat \\(1, \\1\\)
          quit b'\\+OK Bye \\(1 message left\\)'
          """);
    }
  }

  @Test
  void implicitTlsOnThePop3sPort() throws Exception {
    try (var server = TestServer.start(temp).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      E2e.Run run = poplib(server, "pop3s", server.pop3sPort());
      assertThat(run.stdout()).isEqualTo("""
          capa %s
          user b'+OK Send the password'
          pass b'+OK Logged in: maildrop empty'
          stat (0, 0)
          quit b'+OK Bye (maildrop empty)'
          """.formatted(CAPA_UNDER_TLS));
    }
  }
}
