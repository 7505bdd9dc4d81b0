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
 * getmail6 and fetchmail retrieve mail from Posta over IMAP, each handing every message to a
 * command (as to a local delivery agent): first keeping it on the server, then deleting it, after
 * which the mailbox is empty. getmail over implicit TLS, fetchmail over STARTTLS, both trusting
 * Posta's self-signed certificate.
 */
class MailFetchersTest {
  private static final String GETMAIL = "/usr/bin/getmail";

  @TempDir Path temp;

  @Test
  void getmailRetrievesOverImplicitTlsKeepingThenDeleting() throws Exception {
    try (var server = TestServer.start(temp.resolve("data")).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      ImapClients.deliver(server, "first");
      ImapClients.deliver(server, "second");
      Path out = Files.createDirectories(temp.resolve("out"));
      Path state = Files.createDirectories(temp.resolve("getmail"));
      Path rc = state.resolve("getmailrc");
      String config = """
          [retriever]
          type = SimpleIMAPSSLRetriever
          server = localhost
          port = %d
          username = %s
          password = %s
          ca_certs = %s
          mailboxes = ("INBOX",)

          [destination]
          type = MDA_external
          path = /bin/sh
          arguments = ("-c", "cat > %s/message.$$")
          allow_root_commands = true

          [options]
          read_all = true
          delete = %s
          """;
      Files.writeString(rc, config.formatted(server.imapsPort(), ImapClients.USER, ImapClients.PASSWORD, server.certificate(), out, "false"));
      E2e.Run run = E2e.run(Duration.ofSeconds(30), List.of(ImapClients.program(GETMAIL, "getmail6"), "--getmaildir", state.toString(),
          "--rcfile", rc.toString()));
      assertThat(run.exit()).as("getmail%n%s", run).isZero();
      assertThat(run.stdout()).as("%s", run).contains("2 messages (", "retrieved, 0 skipped");
      assertThat(ImapClients.fetched(out)).containsExactly("first", "second");
      assertThat(postaView(server, "INBOX")).as("kept, and unseen: getmail reads with BODY.PEEK").containsExactly("first []", "second []");

      Files.writeString(rc, config.formatted(server.imapsPort(), ImapClients.USER, ImapClients.PASSWORD, server.certificate(), out, "true"));
      run = E2e.run(Duration.ofSeconds(30), List.of(GETMAIL, "--getmaildir", state.toString(), "--rcfile", rc.toString()));
      assertThat(run.exit()).as("getmail%n%s", run).isZero();
      assertThat(ImapClients.fetched(out)).hasSize(4).containsExactly("first", "first", "second", "second");
      assertThat(postaView(server, "INBOX")).as("deleted").isEmpty();
    }
  }

  @Test
  void fetchmailRetrievesOverStartTlsKeepingThenDeleting() throws Exception {
    try (var server = TestServer.start(temp.resolve("data")).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      ImapClients.deliver(server, "first");
      ImapClients.deliver(server, "second");
      Path out = Files.createDirectories(temp.resolve("out"));
      Path rc = temp.resolve("fetchmailrc");
      String config = """
          set no syslog
          poll localhost protocol IMAP port %d
            user "%s" there with password "%s" is "me" here
            sslproto 'TLS1.2+' sslcertck sslcertfile "%s"
            %s
            mda "/bin/sh -c 'cat > %s/message.$$'"
          """;
      Files.writeString(rc, config.formatted(server.imapPort(), ImapClients.USER, ImapClients.PASSWORD, server.certificate(), "keep", out));
      Files.setPosixFilePermissions(rc, PosixFilePermissions.fromString("rw-------")); // fetchmail insists

      E2e.Run run = ImapClients.fetchmail(rc, temp);
      assertThat(run.exit()).as("fetchmail: 0 is mail retrieved%n%s", run).isZero();
      assertThat(run.stdout()).as("%s", run).contains("IMAP> A0001 STARTTLS", "upgrade to TLS succeeded");
      assertThat(ImapClients.fetched(out)).containsExactly("first", "second");
      assertThat(postaView(server, "INBOX")).as("kept, marked seen").containsExactly("first [\\Seen]", "second [\\Seen]");

      run = ImapClients.fetchmail(rc, temp);
      assertThat(run.exit()).as("fetchmail: 1 is no new mail%n%s", run).isEqualTo(1);

      Files.writeString(rc, config.formatted(server.imapPort(), ImapClients.USER, ImapClients.PASSWORD, server.certificate(),
          "fetchall nokeep", out));
      run = ImapClients.fetchmail(rc, temp);
      assertThat(run.exit()).as("fetchmail%n%s", run).isZero();
      assertThat(ImapClients.fetched(out)).containsExactly("first", "first", "second", "second");
      assertThat(postaView(server, "INBOX")).as("deleted and expunged").isEmpty();
    }
  }
}
