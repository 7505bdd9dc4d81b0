package dev.posta.e2e;

import static dev.posta.e2e.ImapClients.postaView;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.Await;
import dev.posta.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * mutt, in a terminal (tmux), reads mail from Posta over IMAP with STARTTLS as the README shows
 * ({@code mutt -f imap://friend%40localhost@localhost:2143/}): its index lists the subjects, a
 * message opens, and a flag set in mutt is Posta's flag too. The test reads the screen as a user
 * would (tmux capture-pane) and types as a user would (tmux send-keys).
 */
class MuttTest {
  private static final String MUTT = "/usr/bin/mutt";
  private static final String TMUX = "/usr/bin/tmux";

  @TempDir Path temp;

  /** A tmux server of this test's own, so no other tmux is touched. */
  private final String socket = "posta-mutt-" + ProcessHandle.current().pid() + "-" + System.nanoTime();

  private E2e.Run tmux(String... args) {
    List<String> command = new ArrayList<>(List.of(ImapClients.program(TMUX, "tmux"), "-L", socket));
    command.addAll(List.of(args));
    var pb = new ProcessBuilder(command);
    pb.environment().put("TERM", "xterm");
    E2e.Run run = E2e.run(pb, Duration.ofSeconds(10), "");
    assertThat(run.exit()).as("tmux %s%n%s", List.of(args), run).isZero();
    return run;
  }

  /** Waits until the screen shows {@code text}; returns the screen. */
  private String awaitScreen(String text) throws InterruptedException {
    var screen = new AtomicReference<String>("");
    try {
      Await.await("the mutt screen to show \"" + text + "\"", () -> {
        screen.set(tmux("capture-pane", "-p", "-t", "mutt").stdout());
        return screen.get().contains(text);
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "\n--- screen ---\n" + screen.get(), e);
    }
    return screen.get();
  }

  @Test
  void muttShowsTheIndexOpensAMessageAndItsFlagReachesPosta() throws Exception {
    try (var server = TestServer.start(temp.resolve("data")).addUser(ImapClients.USER, ImapClients.PASSWORD)) {
      ImapClients.deliver(server, "Lunch on Friday");
      ImapClients.deliver(server, "Quarterly report");
      ImapClients.program(MUTT, "mutt");
      Path home = Files.createDirectories(temp.resolve("home"));
      Files.createDirectories(home.resolve("Mail")); // mutt's own folder, else it asks to make it
      Path muttrc = home.resolve("muttrc");
      // What a user who trusts Posta's certificate and keeps the password in the muttrc has: no
      // question on the way. STARTTLS is mutt's default (ssl_starttls=yes); forcing TLS makes sure.
      Files.writeString(muttrc, """
          set imap_pass = "%s"
          set ssl_force_tls = yes
          set header_cache = ""
          set message_cachedir = ""
          set sort = date-sent
          """.formatted(ImapClients.PASSWORD));
      String url = "imap://me%40localhost@localhost:" + server.imapPort() + "/"; // the README's form
      try {
        tmux("new-session", "-d", "-s", "mutt", "-x", "200", "-y", "50", "env TERM=xterm HOME=" + home + " " + MUTT + " -n -F "
            + muttrc + " -e 'set certificate_file=" + server.certificate() + "' -f '" + url + "'");
        String index = awaitScreen("Quarterly report");
        assertThat(index).contains("Lunch on Friday").contains("[Msgs:2 New:2");

        tmux("send-keys", "-t", "mutt", "Enter"); // open the first message
        assertThat(awaitScreen("This is Lunch on Friday.")).contains("Subject: Lunch on Friday");
        tmux("send-keys", "-t", "mutt", "i"); // back to the index, the message now read
        awaitScreen("[Msgs:2 New:1 ");
        tmux("send-keys", "-t", "mutt", "F", "$"); // flag it, and write the changes to the server
        awaitScreen("Flag:1");
        Await.await("Posta to see the flag set in mutt", () -> {
          try {
            return postaView(server, "INBOX").equals(List.of("Lunch on Friday [\\Flagged \\Seen]", "Quarterly report []"));
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        });
        tmux("send-keys", "-t", "mutt", "q");
      } finally {
        var pb = new ProcessBuilder(TMUX, "-L", socket, "kill-server");
        E2e.run(pb, Duration.ofSeconds(10), "");
      }
    }
  }
}
