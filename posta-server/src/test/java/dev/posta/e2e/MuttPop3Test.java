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
 * mutt, in a terminal (tmux), reads mail from Posta over POP3 with STLS ({@code mutt -f
 * pop://me%40localhost@localhost:2110/}): its index lists the subjects (headers by TOP), a message
 * opens (RETR), and one deleted in mutt is gone from Posta once mutt syncs (DELE, QUIT), while
 * the one read is \Seen for IMAP.
 */
class MuttPop3Test {
  @TempDir Path temp;

  @Test
  void muttListsOpensAndDeletesOverPop3() throws Exception {
    try (var server = TestServer.start(temp.resolve("data")).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      ImapClients.deliver(server, "Lunch on Friday");
      ImapClients.deliver(server, "Quarterly report");
      // The password in the muttrc, TLS forced (STLS), deletions made without a question.
      String muttrc = """
          set pop_pass = "%s"
          set ssl_force_tls = yes
          set ssl_starttls = yes
          set header_cache = ""
          set message_cachedir = ""
          set delete = yes
          set sort = date-sent
          """.formatted(ImapClients.PASSWORD);
      String url = "pop://me%40localhost@localhost:" + server.pop3Port() + "/";
      try (var mutt = new MuttScreen(temp.resolve("home"), muttrc, server.certificate(), url)) {
        String index = mutt.await("Quarterly report");
        assertThat(index).contains("Lunch on Friday").contains("[Msgs:2 ");

        mutt.keys("Enter"); // open the first message
        assertThat(mutt.await("This is Lunch on Friday.")).contains("Subject: Lunch on Friday");
        mutt.keys("i", "j", "d", "$"); // back to the index, delete the second, and sync: DELE, QUIT
        mutt.await("[Msgs:1 ");
        Await.await("Posta to lose the message deleted in mutt", () -> {
          try {
            return postaView(server, "INBOX").equals(List.of("Lunch on Friday [\\Seen]"));
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
        mutt.keys("q");
      }
    }
  }
}
