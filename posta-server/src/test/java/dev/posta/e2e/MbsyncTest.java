package dev.posta.e2e;

import static dev.posta.e2e.ImapClients.maildirFile;
import static dev.posta.e2e.ImapClients.maildirView;
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
 * mbsync (isync) keeps a local Maildir in step with Posta both ways, over implicit TLS and over
 * STARTTLS, trusting Posta's self-signed certificate through CertificateFile: it pulls INBOX and
 * every folder, pushes back local flag changes, deletions and new messages, and a second run
 * finds nothing to do. What mbsync relies on: UIDs that stay, UIDPLUS, flags and EXPUNGE.
 */
class MbsyncTest {
  private static final String MBSYNC = "/usr/bin/mbsync";

  @TempDir Path temp;

  private E2e.Run mbsync(Path config) {
    E2e.Run run = E2e.run(Duration.ofSeconds(30), List.of(ImapClients.program(MBSYNC, "isync"), "-c", config.toString(), "-a"));
    assertThat(run.exit()).as("mbsync%n%s", run).isZero();
    return run;
  }

  private Path config(TestServer server, Path local, boolean implicitTls) throws Exception {
    Files.createDirectories(local); // mbsync makes the folders, not the store's root
    Path config = temp.resolve("mbsyncrc");
    Files.writeString(config, """
        IMAPAccount posta
        Host localhost
        Port %d
        User %s
        Pass "%s"
        SSLType %s
        CertificateFile %s

        IMAPStore posta-far
        Account posta

        MaildirStore posta-near
        Path %s/
        Inbox %s/INBOX
        SubFolders Verbatim

        Channel posta
        Far :posta-far:
        Near :posta-near:
        Patterns *
        Create Both
        Expunge Both
        SyncState *
        """.formatted(implicitTls ? server.imapsPort() : server.imapPort(), ImapClients.USER, ImapClients.PASSWORD,
        implicitTls ? "IMAPS" : "STARTTLS", server.certificate(), local, local));
    return config;
  }

  @Test
  void syncsBothWaysOverImplicitTlsAndASecondRunChangesNothing() throws Exception {
    try (var server = TestServer.start(temp.resolve("data")).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      for (int i = 1; i <= 3; i++) ImapClients.deliver(server, "message " + i);
      try (var imap = ImapClients.session(server)) {
        assertThat(imap.command("b CREATE Work")).isEqualTo("b OK Create completed.\r\n");
        String work = "From: boss@example.org\r\nSubject: plan\r\n\r\nThe plan.\r\n";
        assertThat(imap.command("c APPEND Work (\\Seen) {" + work.length() + "+}\r\n" + work)).startsWith("c OK [APPENDUID ");
      }
      Path local = temp.resolve("local");
      Path config = config(server, local, true);

      mbsync(config);
      assertThat(maildirView(local.resolve("INBOX"))).containsExactly("message 1 []", "message 2 []", "message 3 []");
      assertThat(maildirView(local.resolve("Work"))).containsExactly("plan [S]");
      for (String special : List.of("Archive", "Drafts", "Junk", "Sent", "Trash")) {
        assertThat(local.resolve(special).resolve("cur")).as(special).isDirectory();
      }

      // Read and flag one, delete another, save a sent message: as a mail reader does to the Maildir.
      ImapClients.setLocalFlags(maildirFile(local.resolve("INBOX"), "message 1"), "FS");
      Files.delete(maildirFile(local.resolve("INBOX"), "message 2"));
      ImapClients.writeLocal(local.resolve("Sent"), "1796556000.1_1.laptop:2,S", "sent from the laptop");
      mbsync(config);
      assertThat(postaView(server, "INBOX")).containsExactly("message 1 [\\Flagged \\Seen]", "message 3 []");
      assertThat(postaView(server, "Sent")).containsExactly("sent from the laptop [\\Seen]");
      assertThat(postaView(server, "Work")).containsExactly("plan [\\Seen]");

      // Nothing changed since: the next run changes nothing on either side.
      List<String> before = List.of(ImapClients.status(server, "INBOX"), ImapClients.status(server, "Sent"), ImapClients.status(server, "Work"));
      List<Path> localBefore = files(local);
      mbsync(config);
      assertThat(List.of(ImapClients.status(server, "INBOX"), ImapClients.status(server, "Sent"), ImapClients.status(server, "Work")))
          .isEqualTo(before);
      assertThat(files(local)).isEqualTo(localBefore);

      // Mail delivered between two runs arrives with the next.
      ImapClients.deliver(server, "message 4");
      mbsync(config);
      assertThat(maildirView(local.resolve("INBOX"))).containsExactly("message 1 [FS]", "message 3 []", "message 4 []");
    }
  }

  @Test
  void syncsOverStartTlsAndPushesAFlagChangeMadeOnBothSides() throws Exception {
    try (var server = TestServer.start(temp.resolve("data")).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      ImapClients.deliver(server, "one");
      ImapClients.deliver(server, "two");
      Path local = temp.resolve("local");
      Path config = config(server, local, false);
      mbsync(config);
      assertThat(maildirView(local.resolve("INBOX"))).containsExactly("one []", "two []");

      // Flagged on the server (another client), answered locally: both changes meet.
      try (var imap = ImapClients.session(server)) {
        imap.command("b SELECT INBOX");
        assertThat(imap.command("c STORE 1 +FLAGS.SILENT (\\Flagged)")).isEqualTo("c OK Store completed.\r\n");
      }
      ImapClients.setLocalFlags(maildirFile(local.resolve("INBOX"), "two"), "RS");
      mbsync(config);
      assertThat(maildirView(local.resolve("INBOX"))).containsExactly("one [F]", "two [RS]");
      assertThat(postaView(server, "INBOX")).containsExactly("one [\\Flagged]", "two [\\Answered \\Seen]");
    }
  }

  /** Every file under the local folders, mbsync's state files included. */
  private static List<Path> files(Path local) throws Exception {
    try (var tree = Files.walk(local)) {
      return tree.filter(Files::isRegularFile).sorted().toList();
    }
  }
}
