package dev.posta.e2e;

import static dev.posta.e2e.ImapClients.postaView;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * fetchmail and getmail6 download mail from Posta over POP3, each handing every message to a
 * command (as to a local delivery agent): first keeping it on the server, then, having noted the
 * messages' unique-ids (UIDL), finding nothing new on a second run, and last deleting it, after
 * which the mailbox is empty. fetchmail over STLS on the POP3 port, getmail over implicit TLS,
 * both trusting Posta's self-signed certificate. What they leave is checked over IMAP.
 */
class Pop3FetchersTest {
  private static final String GETMAIL = "/usr/bin/getmail";

  @TempDir Path temp;

  @Test
  void fetchmailKeepsThenFetchesOnlyWhatIsNewThenDeletesOverStls() throws Exception {
    try (var server = TestServer.start(temp.resolve("data")).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      ImapClients.deliver(server, "first");
      ImapClients.deliver(server, "second");
      Path out = Files.createDirectories(temp.resolve("out"));
      Path rc = temp.resolve("fetchmailrc");
      String config = """
          set no syslog
          poll localhost protocol POP3 port %d
            user "%s" there with password "%s" is "me" here
            sslproto 'TLS1.2+' sslcertck sslcertfile "%s"
            %s
            mda "/bin/sh -c 'cat > %s/message.$$'"
          """;
      Files.writeString(rc, config.formatted(server.pop3Port(), ImapClients.USER, ImapClients.PASSWORD, server.certificate(), "keep", out));
      Files.setPosixFilePermissions(rc, PosixFilePermissions.fromString("rw-------")); // fetchmail insists

      E2e.Run run = ImapClients.fetchmail(rc, temp);
      assertThat(run.exit()).as("fetchmail: 0 is mail retrieved%n%s", run).isZero();
      assertThat(run.stdout()).as("%s", run).contains("POP3> STLS", "upgrade to TLS succeeded", "POP3> UIDL", "2 messages");
      assertThat(ImapClients.fetched(out)).containsExactly("first", "second");
      assertThat(postaView(server, "INBOX")).as("kept, marked seen").containsExactly("first [\\Seen]", "second [\\Seen]");

      ImapClients.deliver(server, "third");
      run = ImapClients.fetchmail(rc, temp);
      assertThat(run.exit()).as("fetchmail%n%s", run).isZero();
      assertThat(run.stdout()).as("%s", run).contains("3 messages (2 seen)");
      assertThat(ImapClients.fetched(out)).as("only the new one").containsExactly("first", "second", "third");

      run = ImapClients.fetchmail(rc, temp);
      assertThat(run.exit()).as("fetchmail: 1 is no new mail%n%s", run).isEqualTo(1);
      assertThat(ImapClients.fetched(out)).hasSize(3);

      Files.writeString(rc, config.formatted(server.pop3Port(), ImapClients.USER, ImapClients.PASSWORD, server.certificate(),
          "fetchall nokeep", out));
      run = ImapClients.fetchmail(rc, temp);
      assertThat(run.exit()).as("fetchmail%n%s", run).isZero();
      assertThat(run.stdout()).as("%s", run).contains("POP3> DELE 1", "POP3> QUIT");
      assertThat(ImapClients.fetched(out)).containsExactly("first", "first", "second", "second", "third", "third");
      assertThat(postaView(server, "INBOX")).as("deleted at QUIT").isEmpty();
    }
  }

  @Test
  void getmailKeepsThenFetchesOnlyWhatIsNewThenDeletesOverImplicitTls() throws Exception {
    try (var server = TestServer.start(temp.resolve("data")).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      ImapClients.deliver(server, "first");
      ImapClients.deliver(server, "second");
      Path out = Files.createDirectories(temp.resolve("out"));
      Path state = Files.createDirectories(temp.resolve("getmail"));
      Path rc = state.resolve("getmailrc");
      String config = """
          [retriever]
          type = SimplePOP3SSLRetriever
          server = localhost
          port = %d
          username = %s
          password = %s
          ca_certs = %s

          [destination]
          type = MDA_external
          path = /bin/sh
          arguments = ("-c", "cat > %s/message.$$")
          allow_root_commands = true

          [options]
          read_all = %s
          delete = %s
          """;
      String[] run1 = {"false", "false"};
      Files.writeString(rc, config.formatted(server.pop3sPort(), ImapClients.USER, ImapClients.PASSWORD, server.certificate(), out, run1[0],
          run1[1]));
      E2e.Run run = getmail(state, rc);
      assertThat(run.exit()).as("getmail%n%s", run).isZero();
      assertThat(run.stdout()).as("%s", run).contains("2 messages (", "retrieved, 0 skipped");
      assertThat(ImapClients.fetched(out)).containsExactly("first", "second");
      assertThat(postaView(server, "INBOX")).as("kept, and seen (RETR)").containsExactly("first [\\Seen]", "second [\\Seen]");

      ImapClients.deliver(server, "third");
      run = getmail(state, rc);
      assertThat(run.exit()).as("getmail%n%s", run).isZero();
      assertThat(run.stdout()).as("only the new one: its unique-id was not seen before%n%s", run).contains("1 messages (", "retrieved, 2 skipped");
      assertThat(ImapClients.fetched(out)).containsExactly("first", "second", "third");

      Files.writeString(rc, config.formatted(server.pop3sPort(), ImapClients.USER, ImapClients.PASSWORD, server.certificate(), out, "true",
          "true"));
      run = getmail(state, rc);
      assertThat(run.exit()).as("getmail%n%s", run).isZero();
      assertThat(ImapClients.fetched(out)).containsExactly("first", "first", "second", "second", "third", "third");
      assertThat(postaView(server, "INBOX")).as("deleted at QUIT").isEmpty();
    }
  }

  private static E2e.Run getmail(Path state, Path rc) {
    return E2e.run(Duration.ofSeconds(30), List.of(ImapClients.program(GETMAIL, "getmail6"), "--getmaildir", state.toString(), "--rcfile",
        rc.toString()));
  }
}
