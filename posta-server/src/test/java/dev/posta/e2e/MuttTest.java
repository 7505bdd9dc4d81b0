package dev.posta.e2e;

import static dev.posta.e2e.ImapClients.postaView;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.Await;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * mutt, in a terminal (tmux), reads mail from Posta over IMAP with STARTTLS as the README shows
 * ({@code mutt -f imap://friend%40localhost@localhost:2143/}): its index lists the subjects, a
 * message opens, and a flag set in mutt is Posta's flag too. The test reads the screen as a user
 * would (tmux capture-pane) and types as a user would (tmux send-keys).
 */
class MuttTest {
  @TempDir Path temp;

  @Test
  void muttShowsTheIndexOpensAMessageAndItsFlagReachesPosta() throws Exception {
    try (var server = TestServer.start(temp.resolve("data")).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      ImapClients.deliver(server, "Lunch on Friday");
      ImapClients.deliver(server, "Quarterly report");
      // What a user who trusts Posta's certificate and keeps the password in the muttrc has: no
      // question on the way. STARTTLS is mutt's default (ssl_starttls=yes); forcing TLS makes sure.
      String muttrc = """
          set imap_pass = "%s"
          set ssl_force_tls = yes
          set header_cache = ""
          set message_cachedir = ""
          set sort = date-sent
          """.formatted(ImapClients.PASSWORD);
      String url = "imap://me%40localhost@localhost:" + server.imapPort() + "/"; // the README's form
      try (var mutt = new MuttScreen(temp.resolve("home"), muttrc, server.certificate(), url)) {
        String index = mutt.await("Quarterly report");
        assertThat(index).contains("Lunch on Friday").contains("[Msgs:2 New:2");

        mutt.keys("Enter"); // open the first message
        assertThat(mutt.await("This is Lunch on Friday.")).contains("Subject: Lunch on Friday");
        mutt.keys("i"); // back to the index, the message now read
        mutt.await("[Msgs:2 New:1 ");
        mutt.keys("F", "$"); // flag it, and write the changes to the server
        mutt.await("Flag:1");
        Await.await("Posta to see the flag set in mutt", () -> {
          try {
            return postaView(server, "INBOX").equals(List.of("Lunch on Friday [\\Flagged \\Seen]", "Quarterly report []"));
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
        mutt.keys("q");
      }
    }
  }
}
