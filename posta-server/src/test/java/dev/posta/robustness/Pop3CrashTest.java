package dev.posta.robustness;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.auth.UserStore;
import dev.posta.testing.PostaProcess;
import dev.posta.testing.Pop3Wire;
import dev.posta.testing.SmtpWire;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * RFC 1939 §6: only QUIT's UPDATE state removes what DELE marked. Posta runs as a process of its
 * own and is killed with SIGKILL between a session's DELEs and its QUIT: after the restart every
 * message is there, under the unique-id it had, and nothing is left locked; the deletions of a
 * session that did QUIT stay done through the next kill.
 */
class Pop3CrashTest {
  @TempDir Path temp;

  private final List<PostaProcess> servers = new ArrayList<>();

  @AfterEach
  void killEverything() throws InterruptedException {
    for (PostaProcess p : servers) p.close();
  }

  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void aKillBetweenDeleAndQuitLosesNothing() throws Exception {
    Path data = temp.resolve("data");
    int smtp = PostaProcess.freePort();
    int pop3 = PostaProcess.freePort();
    Path config = temp.resolve("posta.toml");
    Files.writeString(config, """
        hostname = "localhost"
        data = "%s"
        [listeners]
        smtp = ["127.0.0.1:%d"]
        submission = []
        smtps = []
        imap = []
        imaps = []
        pop3 = ["127.0.0.1:%d"]
        pop3s = []
        [submission]
        plaintext-auth-on-loopback = true
        [domains."localhost"]
        any-local-part = true
        """.formatted(data, smtp, pop3));
    new UserStore(data).add("me@localhost", "secret".toCharArray());
    Path maildir = data.resolve("mail/localhost/me/Maildir");

    start(config, pop3);
    for (String subject : List.of("one", "two", "three")) {
      try (var wire = new SmtpWire(smtp)) {
        wire.ehlo();
        wire.envelope("sender@client.example", "me@localhost");
        assertThat(wire.data("Subject: " + subject + "\r\n\r\nThis is " + subject + ".\r\n")).startsWith("250 2.0.0 Ok: queued as ");
      }
    }
    awaitFiles(maildir, 3);

    String loggedIn;
    String uidl;
    try (var pop = login(pop3)) {
      loggedIn = pop.command("STAT");
      assertThat(loggedIn).startsWith("+OK 3 ");
      uidl = pop.multiLine("UIDL");
      assertThat(pop.multiLine("RETR 1")).contains("Subject: one\r\n");
      for (int n = 1; n <= 3; n++) assertThat(pop.command("DELE " + n)).isEqualTo("+OK Message " + n + " deleted\r\n");
      assertThat(pop.command("STAT")).isEqualTo("+OK 0 0\r\n");
      servers.getLast().killMinus9();
    }

    start(config, pop3);
    try (var pop = login(pop3)) {
      assertThat(pop.command("STAT")).as("every message still there").isEqualTo(loggedIn);
      assertThat(pop.multiLine("UIDL")).as("under the same unique-ids").isEqualTo(uidl);
      assertThat(pop.multiLine("TOP 1 0")).contains("Subject: one\r\n");
      for (int n = 2; n <= 3; n++) assertThat(pop.command("DELE " + n)).isEqualTo("+OK Message " + n + " deleted\r\n");
      assertThat(pop.command("QUIT")).isEqualTo("+OK Bye (1 message left)\r\n");
    }
    assertThat(files(maildir)).as("the message retrieved before the kill is not \\Seen: that waits for QUIT too").hasSize(1)
        .allMatch(f -> !f.contains(":2,S"));
    servers.getLast().killMinus9();

    start(config, pop3);
    try (var pop = login(pop3)) {
      assertThat(pop.multiLine("UIDL")).as("the QUIT's deletions stayed done")
          .isEqualTo("+OK Unique-ID listing follows\r\n1 " + uidl.split("\r\n")[1].substring(2) + "\r\n.\r\n");
      assertThat(pop.command("QUIT")).isEqualTo("+OK Bye (1 message left)\r\n");
    }
  }

  private void start(Path config, int port) throws Exception {
    servers.add(PostaProcess.start(config, temp.resolve("server-" + (servers.size() + 1)), port));
  }

  private static Pop3Wire login(int port) throws IOException {
    var pop = new Pop3Wire(port);
    assertThat(pop.line()).isEqualTo("+OK Posta POP3 ready\r\n");
    assertThat(pop.command("USER me@localhost")).isEqualTo("+OK Send the password\r\n");
    assertThat(pop.command("PASS secret")).startsWith("+OK Logged in: ");
    return pop;
  }

  /** The message files of the Maildir, new/ and cur/, by name. */
  private static List<String> files(Path maildir) throws IOException {
    List<String> names = new ArrayList<>();
    for (String sub : List.of("new", "cur")) {
      try (Stream<Path> list = Files.list(maildir.resolve(sub))) {
        list.forEach(p -> names.add(p.getFileName().toString()));
      }
    }
    return names;
  }

  private static void awaitFiles(Path maildir, int n) throws Exception {
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (!Files.isDirectory(maildir.resolve("new")) || files(maildir).size() < n) {
      assertThat(System.nanoTime()).as("%d messages delivered within 20 s", n).isLessThan(deadline);
      Thread.sleep(50);
    }
  }
}
