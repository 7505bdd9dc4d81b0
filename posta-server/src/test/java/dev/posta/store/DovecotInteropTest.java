package dev.posta.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.DovecotImap;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dovecot (the reference) reads the Maildir Posta writes, and Posta reads what Dovecot does to
 * it: the same messages, the same flags, the same sizes as IMAP serves them.
 */
class DovecotInteropTest {
  private static final Pattern FETCH = Pattern.compile("\\* \\d+ FETCH \\(UID \\d+ FLAGS \\(([^)]*)\\) RFC822\\.SIZE (\\d+) BODY\\[HEADER\\.FIELDS \\(SUBJECT\\)\\] \\{\\d+\\}\r\nSubject: ([^\r]*)");

  @TempDir Path temp;

  private static void content(java.nio.channels.WritableByteChannel out, String text) throws java.io.IOException {
    out.write(ByteBuffer.wrap(text.getBytes(UTF_8)));
  }

  /** Dovecot's view: subject, flags (without \Recent, which is its own) and size, per message. */
  private List<String> dovecotSees(Path maildir) throws Exception {
    String answer = DovecotImap.run(temp, maildir, temp.resolve("dovecot"),
        List.of("a SELECT INBOX", "b FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])"));
    assertThat(answer).contains("b OK Fetch completed");
    Matcher m = FETCH.matcher(answer);
    List<String> seen = new java.util.ArrayList<>();
    while (m.find()) {
      String flags = m.group(1).replace("\\Recent", "").trim().replaceAll(" +", " ");
      seen.add(m.group(3) + " [" + flags + "] " + m.group(2));
    }
    return seen;
  }

  private static List<String> postaSees(MaildirFolder f, List<String> subjects) {
    List<String> seen = new java.util.ArrayList<>();
    List<MessageInfo> messages = f.messages();
    for (int i = 0; i < messages.size(); i++) {
      MessageInfo m = messages.get(i);
      seen.add(subjects.get(i) + " [" + String.join(" ", Flags.names(m.flags())) + "] " + m.size());
    }
    return seen;
  }

  @Test
  void dovecotAndPostaAgreeOnMessagesFlagsAndSizesBothWays() throws Exception {
    MailboxId carol = new MailboxId("example.org", "carol");
    try (MaildirStore store = new MaildirStore(temp.resolve("mail"), "h")) {
      for (String subject : List.of("one", "two")) {
        store.deliver(carol, "INBOX", "1A225B91F2A0000" + subject.length() + "_" + subject, Instant.now(), "Return-Path: <a@b.example>\r\n".getBytes(UTF_8),
            out -> content(out, "Subject: " + subject + "\r\n\r\nline\r\nline\r\n"), false);
      }
      MaildirFolder inbox = store.open(carol, "INBOX").folder();
      inbox.setFlags(1, Flags.SEEN | Flags.FLAGGED);
      inbox.setFlags(2, Flags.DELETED);
      inbox.append(out -> content(out, "Subject: three\r\n\r\ndraft\r\n"), Flags.DRAFT | Flags.ANSWERED, Instant.parse("2026-01-02T03:04:05Z"));
      List<String> subjects = List.of("one", "two", "three");
      Path maildir = store.folderPath(carol, "INBOX");

      List<String> dovecot = dovecotSees(maildir).stream().map(DovecotInteropTest::sortedFlags).toList();
      assertThat(dovecot).containsExactly(
          "one [\\Flagged \\Seen] " + inbox.messages().get(0).size(),
          "two [\\Deleted] " + inbox.messages().get(1).size(),
          "three [\\Answered \\Draft] " + inbox.messages().get(2).size());
      assertThat(postaSees(inbox, subjects).stream().map(DovecotInteropTest::sortedFlags).toList()).containsExactlyElementsOf(dovecot);

      // Dovecot changes flags as a client of it would; Posta's next look sees the same.
      DovecotImap.run(temp, maildir, temp.resolve("dovecot"),
          List.of("a SELECT INBOX", "b STORE 1 -FLAGS (\\Flagged)", "c STORE 2 FLAGS (\\Answered)", "d STORE 3 +FLAGS (\\Seen)"));
      assertThat(inbox.sync()).isTrue();
      assertThat(postaSees(inbox, subjects).stream().map(DovecotInteropTest::sortedFlags).toList())
          .containsExactlyElementsOf(dovecotSees(maildir).stream().map(DovecotInteropTest::sortedFlags).toList());
      assertThat(inbox.messages()).extracting(MessageInfo::flags)
          .containsExactly(Flags.SEEN, Flags.ANSWERED, Flags.ANSWERED | Flags.DRAFT | Flags.SEEN);
    }
  }

  /** "subject [flags] size" with the flags in alphabetical order, as the two servers may order them differently. */
  private static String sortedFlags(String line) {
    int open = line.indexOf('[');
    int close = line.indexOf(']');
    String flags = String.join(" ", java.util.Arrays.stream(line.substring(open + 1, close).split(" ")).filter(f -> !f.isEmpty()).sorted().toList());
    return line.substring(0, open + 1) + flags + line.substring(close);
  }

  @Test
  void keywordsAreDovecotsLettersBothWays() throws Exception {
    MailboxId dave = new MailboxId("example.org", "dave");
    try (MaildirStore store = new MaildirStore(temp.resolve("mail"), "h")) {
      for (String subject : List.of("one", "two")) {
        store.deliver(dave, "INBOX", "1A225B91F2A0000" + subject.length() + "_k" + subject, Instant.now(), new byte[0],
            out -> content(out, "Subject: " + subject + "\r\n\r\nx\r\n"), false);
      }
      MaildirFolder inbox = store.open(dave, "INBOX").folder();
      inbox.setFlags(1, Flags.SEEN | inbox.keywordBits(List.of("$Label1", "Junk")));
      Path maildir = store.folderPath(dave, "INBOX");
      String answer = DovecotImap.run(temp, maildir, temp.resolve("dovecot-k"),
          List.of("a SELECT INBOX", "b FETCH 1:2 FLAGS", "c STORE 2 +FLAGS (NonJunk junk)"));
      assertThat(answer).contains("* 1 FETCH (FLAGS (\\Seen \\Recent $Label1 Junk))");
      assertThat(inbox.sync()).isTrue();
      MessageInfo two = inbox.messages().get(1);
      assertThat(inbox.keywordsOf(two.flags())).as("Dovecot's new keyword, and its match of junk to Junk").containsExactly("Junk", "NonJunk");
      assertThat(inbox.keywords()).containsExactly("$Label1", "Junk", "NonJunk");
      assertThat(two.flags() & Flags.SYSTEM).isZero();
    }
  }
}
