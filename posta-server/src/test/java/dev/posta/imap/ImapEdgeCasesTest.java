package dev.posta.imap;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.store.MailboxStore;
import dev.posta.testing.ImapWire;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a careful client, or a hostile one, finds at the edges: bad names and numbers get a
 * tagged answer, never a crash; a BAD changes nothing; folders vanishing under a session; the
 * rules of CONDSTORE, IMAP4rev2 and LIST-EXTENDED that are easy to miss. Each case came from a
 * review of the first version.
 */
class ImapEdgeCasesTest {
  @TempDir Path data;

  private TestServer server() {
    return TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret");
  }

  private static ImapWire login(TestServer server) throws Exception {
    var imap = new ImapWire(server.imapPort());
    imap.line();
    assertThat(imap.command("a LOGIN me@localhost secret")).startsWith("a OK ");
    return imap;
  }

  private static void deliver(TestServer server, String subject) throws Exception {
    try (var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("sender@client.example", "me@localhost");
      assertThat(smtp.data("Subject: " + subject + "\r\n\r\nHello\r\n")).startsWith("250 ");
    }
  }

  @Test
  void namesThatAreNotModifiedUtf7AndHugeNumbersGetATaggedAnswer() throws Exception {
    try (var server = server(); var imap = login(server)) {
      assertThat(imap.command("b SELECT \"&\"")).isEqualTo("b NO [CANNOT] Not a mailbox name in modified UTF-7 (RFC 3501 §5.1.3): &\r\n");
      assertThat(imap.command("c CREATE \"café\"")).isEqualTo("c NO [CANNOT] Not a mailbox name in modified UTF-7 (RFC 3501 §5.1.3): café\r\n");
      assertThat(imap.command("d LIST \"\" \"&Jjo\"")).isEqualTo("d OK List completed.\r\n");
      assertThat(imap.command("e ENABLE UTF8=ACCEPT")).isEqualTo("* ENABLED UTF8=ACCEPT\r\ne OK Enabled.\r\n");
      assertThat(imap.command("f CREATE \"café\"")).as("in UTF-8 once enabled").isEqualTo("f OK Create completed.\r\n");
      assertThat(imap.command("g CREATE " + "x".repeat(300))).isEqualTo("g NO [CANNOT] Not a valid mailbox name\r\n");
      imap.command("h SELECT INBOX");
      assertThat(imap.command("i FETCH 1 BODY.PEEK[]<1.9223372036854775807>"))
          .isEqualTo("i BAD a partial's numbers are 32-bit (RFC 9051 §9)\r\n");
      assertThat(imap.command("j NOOP")).isEqualTo("j OK NOOP completed.\r\n");
    }
  }

  @Test
  void aBadSelectLeavesTheSelectedMailboxSelectedAndArgumentsAreChecked() throws Exception {
    try (var server = server(); var imap = login(server)) {
      imap.command("b SELECT INBOX");
      assertThat(imap.command("c SELECT INBOX (QRESYNC (1 0))")).isEqualTo("c BAD QRESYNC must be enabled first\r\n");
      assertThat(imap.command("d CHECK")).isEqualTo("d OK Check completed.\r\n");
      assertThat(imap.command("e STATUS INBOX ()")).startsWith("e BAD STATUS takes one or more of ");
      assertThat(imap.command("f STATUS INBOX (MESSAGES FOO)")).startsWith("f BAD STATUS takes one or more of ");
      assertThat(imap.command("g LIST (RECURSIVEMATCH) \"\" *")).isEqualTo("g BAD RECURSIVEMATCH needs another selection option\r\n");
      assertThat(imap.command("h LIST (FOO) \"\" *")).isEqualTo("h BAD Unknown LIST selection option in [FOO]\r\n");
      assertThat(imap.command("i SEARCH RETURN (FOO) ALL")).isEqualTo("i BAD Unknown SEARCH return option in [FOO]\r\n");
    }
  }

  @Test
  void listMatchesInboxInAnyCaseAndRecursiveMatchShowsParentsOfSubscribedOnes() throws Exception {
    try (var server = server(); var imap = login(server)) {
      assertThat(imap.command("b LIST \"\" inb*")).isEqualTo("* LIST (\\HasNoChildren) \".\" \"INBOX\"\r\nb OK List completed.\r\n");
      imap.command("c CREATE Lists.Posta");
      imap.command("d SUBSCRIBE Lists.Posta");
      assertThat(imap.command("e LIST (SUBSCRIBED RECURSIVEMATCH) \"\" L%")).isEqualTo(
          "* LIST (\\NonExistent \\HasChildren) \".\" \"Lists\" (\"CHILDINFO\" (\"SUBSCRIBED\"))\r\ne OK List completed.\r\n");
      assertThat(imap.command("f LIST (SUBSCRIBED) \"\" L*")).isEqualTo(
          "* LIST (\\HasNoChildren \\Subscribed) \".\" \"Lists.Posta\"\r\nf OK List completed.\r\n");
    }
  }

  @Test
  void afterCondstoreEveryFetchOfAChangeCarriesItsUidAndRev2SelectSaysClosedAndList() throws Exception {
    try (var server = server()) {
      deliver(server, "one");
      server.awaitMail("me", 1);
      try (var first = login(server); var second = login(server)) {
        assertThat(first.command("b ENABLE CONDSTORE IMAP4rev2")).isEqualTo("* ENABLED CONDSTORE IMAP4rev2\r\nb OK Enabled.\r\n");
        assertThat(first.command("c SELECT INBOX")).startsWith("* LIST (\\HasNoChildren) \".\" \"INBOX\"\r\n* FLAGS ");
        second.command("b SELECT INBOX");
        second.command("c STORE 1 +FLAGS.SILENT (\\Answered)");
        assertThat(first.command("d NOOP")).matches("\\* 1 FETCH \\(UID 1 FLAGS \\(\\\\Answered\\) MODSEQ \\(\\d+\\)\\)\r\nd OK NOOP completed.\r\n");
        assertThat(first.command("e STORE 1 +FLAGS (\\Draft)"))
            .matches("\\* 1 FETCH \\(UID 1 FLAGS \\(\\\\Answered \\\\Draft\\) MODSEQ \\(\\d+\\)\\)\r\ne OK Store completed.\r\n");
        assertThat(first.command("f SELECT Trash")).startsWith("* OK [CLOSED] Previous mailbox closed.\r\n* LIST (\\HasNoChildren \\Trash) \".\" \"Trash\"\r\n");
      }
    }
  }

  @Test
  void aMailboxDeletedUnderASessionEndsItWithByeAndOneRenamedByItselfIsDeselected() throws Exception {
    try (var server = server(); var first = login(server); var second = login(server)) {
      first.command("b CREATE Doomed");
      first.command("c CREATE Moving");
      first.command("d SELECT Doomed");
      assertThat(second.command("b DELETE Doomed")).isEqualTo("b OK Delete completed.\r\n");
      first.send("e NOOP\r\n");
      assertThat(first.line()).isEqualTo("* BYE The selected mailbox was deleted or renamed\r\n");
      assertThat(first.closedWithin(2000)).isTrue();

      second.command("c SELECT Moving");
      assertThat(second.command("d RENAME Moving Moved")).isEqualTo("d OK Rename completed.\r\n");
      assertThat(second.command("e FETCH 1 FLAGS")).isEqualTo("e BAD No mailbox selected\r\n");
      assertThat(second.command("f CREATE Doomed")).as("made again after its delete").isEqualTo("f OK Create completed.\r\n");
      assertThat(second.command("g SELECT Doomed")).endsWith("g OK [READ-WRITE] Select completed.\r\n");
    }
  }

  /** A FETCH that reads many messages answers in order, and leaves out a message whose file another program removed. */
  @Test
  void aFetchReadingManyMessagesAnswersInOrderAndLeavesOutOneRemovedBehindItsBack() throws Exception {
    try (var server = server(); var imap = login(server)) {
      var expected = new StringBuilder();
      var headers = new StringBuilder();
      for (int i = 1; i <= 20; i++) {
        String m = "Subject: m" + i + "\r\n\r\nbody " + i + "\r\n";
        assertThat(imap.command("b APPEND INBOX {" + m.length() + "+}\r\n" + m)).contains(" OK [APPENDUID ");
        expected.append("* ").append(i).append(" FETCH (UID ").append(i)
            .append(" ENVELOPE (NIL \"m").append(i).append("\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n");
        String field = "Subject: m" + i + "\r\n\r\n";
        if (i != 5) headers.append("* ").append(i).append(" FETCH (UID ").append(i).append(" BODY[HEADER.FIELDS (SUBJECT)] {")
            .append(field.length()).append("}\r\n").append(field).append(")\r\n");
      }
      imap.command("c SELECT INBOX");
      assertThat(imap.command("d FETCH 1:* (UID ENVELOPE)")).isEqualTo(expected + "d OK Fetch completed.\r\n");
      // Another program removes message 5's file; the index does not know yet.
      Path cur = data.resolve("mail/localhost/me/Maildir/cur");
      try (var files = java.nio.file.Files.list(cur)) {
        Path fifth = files.filter(f -> {
          try {
            return java.nio.file.Files.readString(f).startsWith("Subject: m5\n");
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }).findFirst().orElseThrow();
        java.nio.file.Files.delete(fifth);
      }
      assertThat(imap.command("e UID FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]")).isEqualTo(headers + "* 5 EXPUNGE\r\ne OK UID Fetch completed.\r\n");
    }
  }

  @Test
  void headerFetchesAndSearchesReadOnlyTheHeaderAndGetWhatAWholeReadGives() throws Exception {
    try (var server = server(); var imap = login(server)) {
      String longHeader = "Subject: long\r\n" + ("X-Filler: " + "f".repeat(70) + "\r\n").repeat(200) + "\r\nbody\r\n"; // header over 8 KiB
      String noBody = "Subject: only a header\r\nFrom: a@b.example\r\n"; // no empty line, no body
      for (String m : List.of(longHeader, noBody)) {
        assertThat(imap.command("b APPEND INBOX {" + m.length() + "+}\r\n" + m)).contains(" OK [APPENDUID ");
      }
      imap.command("c EXAMINE INBOX");
      String header = longHeader.substring(0, longHeader.indexOf("\r\n\r\n") + 4);
      assertThat(imap.command("d FETCH 1 BODY.PEEK[HEADER]"))
          .isEqualTo("* 1 FETCH (BODY[HEADER] {" + header.length() + "}\r\n" + header + ")\r\nd OK Fetch completed.\r\n");
      assertThat(imap.command("e FETCH 2 (BODY.PEEK[HEADER.FIELDS (FROM)] BODY.PEEK[TEXT])"))
          .isEqualTo("* 2 FETCH (BODY[HEADER.FIELDS (FROM)] {21}\r\nFrom: a@b.example\r\n\r\n BODY[TEXT] {0}\r\n)\r\ne OK Fetch completed.\r\n");
      assertThat(imap.command("f FETCH 2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]"))
          .isEqualTo("* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {26}\r\nSubject: only a header\r\n\r\n)\r\nf OK Fetch completed.\r\n");
      assertThat(imap.command("g SEARCH SUBJECT header")).isEqualTo("* SEARCH 2\r\ng OK Search completed.\r\n");
      assertThat(imap.command("h SEARCH HEADER X-Filler fff")).isEqualTo("* SEARCH 1\r\nh OK Search completed.\r\n");
    }
  }

  @Test
  void eachLimitAnswersAsTheReadmeSays() throws Exception {
    try (var server = TestServer.start(data, c -> {
      var l = TestServer.plaintextAuthOnLoopback(c).limits();
      return TestServer.plaintextAuthOnLoopback(c).toBuilder().limits(new dev.posta.config.PostaConfig.Limits(l.maxMessageSize(),
          l.maxRecipients(), l.maxLineLength(), l.maxConnections(), 2, l.maxErrors(), l.commandTimeout(), l.dataTimeout(), l.maxHops()))
          .build();
    }).addUser("me@localhost", "secret"); var imap = new ImapWire(server.imapPort())) {
      imap.line();
      assertThat(imap.command("a LOGIN me@localhost wrong")).isEqualTo("a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
      assertThat(imap.command("b LOGIN me@localhost secret")).startsWith("b OK ");

      try (var second = new ImapWire(server.imapPort())) {
        assertThat(second.line()).startsWith("* OK "); // counted before the third connects: they are not counted in a set order
        try (var third = new ImapWire(server.imapPort())) {
          assertThat(third.line()).isEqualTo("* BYE [UNAVAILABLE] Too many connections from 127.0.0.1, try again later\r\n");
        }
      }

      String m = "Subject: k\r\n\r\nx\r\n";
      imap.command("c APPEND INBOX {" + m.length() + "+}\r\n" + m);
      imap.command("d SELECT INBOX");
      var keywords = new StringBuilder();
      for (int i = 1; i <= 27; i++) keywords.append(i == 1 ? "" : " ").append("k").append(i);
      assertThat(imap.command("e STORE 1 +FLAGS (" + keywords + ")")).isEqualTo("e NO [LIMIT] Too many keywords in this mailbox\r\n");
      assertThat(imap.command("e2 NOOP")).as("all or none: no keyword of the refused STORE stays").isEqualTo("e2 OK NOOP completed.\r\n");

      Path maildir = data.resolve("mail/localhost/me/Maildir");
      for (int i = 0; i < MailboxStore.MAX_FOLDERS; i++) java.nio.file.Files.createDirectories(maildir.resolve(".f" + i + "/cur"));
      assertThat(imap.command("f CREATE one-too-many")).isEqualTo("f NO [LIMIT] At most 1000 mailboxes\r\n");
    }
  }

  @Test
  void beforeLoginAnAppendIsNoBiggerThanAnyCommand() throws Exception {
    try (var server = server(); var imap = new ImapWire(server.imapPort())) {
      imap.line();
      assertThat(imap.command("a APPEND INBOX {70000}")).isEqualTo("a BAD [TOOBIG] Literal of 70000 octets refused\r\n");
      assertThat(imap.command("b APPEND INBOX {5}\r\nhello")).isEqualTo("+ Ready for literal data\r\nb BAD Log in first\r\n");
    }
  }
}
