package dev.posta.imap;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.testing.ImapWire;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The IMAP server on the wire (RFC 9051): exact responses for a session's life, from the
 * greeting through login, SELECT, FETCH, STORE, SEARCH, APPEND, COPY and EXPUNGE, and what a
 * second session hears of the first's changes.
 */
class ImapSessionTest {
  private static final String PREAUTH_CAPABILITIES = "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+ ENABLE ID IDLE";
  private static final String CAPABILITIES = PREAUTH_CAPABILITIES + " NAMESPACE UIDPLUS MOVE UNSELECT CHILDREN LIST-EXTENDED"
      + " LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE CONDSTORE QRESYNC ESEARCH SEARCHRES STATUS=SIZE BINARY UTF8=ACCEPT"
      + " COMPRESS=DEFLATE APPENDLIMIT=36700160";

  @TempDir Path data;

  private static void deliver(TestServer server, String to, String subject) throws Exception {
    try (var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("sender@client.example", to);
      assertThat(smtp.data("From: Sender <sender@client.example>\r\nTo: " + to + "\r\nSubject: " + subject
          + "\r\nMessage-ID: <" + subject.replace(' ', '.') + "@client.example>\r\n\r\nHello " + subject + "\r\n"))
          .startsWith("250 2.0.0 Ok: queued as ");
    }
  }

  private static ImapWire login(TestServer server, String user) throws Exception {
    var imap = new ImapWire(server.imapPort());
    imap.line();
    assertThat(imap.command("a LOGIN " + user + " secret")).isEqualTo("a OK [CAPABILITY " + CAPABILITIES + "] Logged in\r\n");
    return imap;
  }

  @Test
  void passwordsAreRefusedInPlaintextUntilStartTls() throws Exception {
    try (var server = TestServer.start(data).addUser("me@localhost", "secret"); var imap = new ImapWire(server.imapPort())) {
      assertThat(imap.line()).isEqualTo("* OK [CAPABILITY " + PREAUTH_CAPABILITIES + " STARTTLS LOGINDISABLED] Posta IMAP ready\r\n");
      assertThat(imap.command("a LOGIN me@localhost secret"))
          .isEqualTo("a NO [PRIVACYREQUIRED] Plaintext authentication is refused without TLS; use STARTTLS first\r\n");
      assertThat(imap.command("b AUTHENTICATE PLAIN AG1lQGxvY2FsaG9zdABzZWNyZXQ="))
          .isEqualTo("b NO [PRIVACYREQUIRED] Authentication is refused without TLS; use STARTTLS first\r\n");
      assertThat(imap.command("c STARTTLS")).isEqualTo("c OK Begin TLS negotiation now.\r\n");
      imap.continueWithTls(server.clientTls());
      assertThat(imap.command("d CAPABILITY"))
          .isEqualTo("* CAPABILITY " + PREAUTH_CAPABILITIES + " AUTH=PLAIN AUTH=SCRAM-SHA-256\r\nd OK Capability completed.\r\n");
      assertThat(imap.command("e AUTHENTICATE PLAIN AG1lQGxvY2FsaG9zdABzZWNyZXQ="))
          .isEqualTo("e OK [CAPABILITY " + CAPABILITIES + "] Logged in\r\n");
    }
  }

  @Test
  void authenticateScramSha256WithAnInitialResponseProvesBothSides() throws Exception {
    try (var server = TestServer.start(data).addUser("me@localhost", "secret");
        var imap = ImapWire.tls(server.imapsPort(), server.clientTls())) {
      imap.line();
      var scram = new dev.posta.auth.ScramClient("me@localhost", "secret", "fyko+d2lbbFgONRv9qkxdawL");
      var b64 = java.util.Base64.getEncoder();
      var unb64 = java.util.Base64.getDecoder();
      imap.send("a AUTHENTICATE SCRAM-SHA-256 " + b64.encodeToString(scram.clientFirst().getBytes(java.nio.charset.StandardCharsets.UTF_8)) + "\r\n");
      String serverFirst = imap.line();
      assertThat(serverFirst).startsWith("+ ");
      String clientFinal = scram.clientFinal(new String(unb64.decode(serverFirst.substring(2).strip()), java.nio.charset.StandardCharsets.UTF_8));
      imap.send(b64.encodeToString(clientFinal.getBytes(java.nio.charset.StandardCharsets.UTF_8)) + "\r\n");
      String serverFinal = imap.line();
      assertThat(scram.serverFinalIsValid(new String(unb64.decode(serverFinal.substring(2).strip()), java.nio.charset.StandardCharsets.UTF_8)))
          .as("the server proved it knows the password: %s", serverFinal).isTrue();
      imap.send("\r\n");
      assertThat(imap.until("a")).isEqualTo("a OK [CAPABILITY " + CAPABILITIES + "] Logged in\r\n");
    }
  }

  @Test
  void implicitTlsGreetsWithoutStartTlsAndTakesLogin() throws Exception {
    try (var server = TestServer.start(data).addUser("me@localhost", "secret");
        var imap = ImapWire.tls(server.imapsPort(), server.clientTls())) {
      assertThat(imap.line()).isEqualTo("* OK [CAPABILITY " + PREAUTH_CAPABILITIES + " AUTH=PLAIN AUTH=SCRAM-SHA-256] Posta IMAP ready\r\n");
      assertThat(imap.command("a LOGIN me@localhost secret")).isEqualTo("a OK [CAPABILITY " + CAPABILITIES + "] Logged in\r\n");
      assertThat(imap.command("b LOGOUT")).isEqualTo("* BYE Logging out\r\nb OK Logout completed.\r\n");
    }
  }

  @Test
  void firstLoginMakesTheSpecialFoldersAndListShowsTheirUses() throws Exception {
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret");
        var imap = login(server, "me@localhost")) {
      assertThat(imap.command("b LIST \"\" *")).isEqualTo("""
          * LIST (\\HasNoChildren) "." "INBOX"\r
          * LIST (\\HasNoChildren \\Archive) "." "Archive"\r
          * LIST (\\HasNoChildren \\Drafts) "." "Drafts"\r
          * LIST (\\HasNoChildren \\Junk) "." "Junk"\r
          * LIST (\\HasNoChildren \\Sent) "." "Sent"\r
          * LIST (\\HasNoChildren \\Trash) "." "Trash"\r
          b OK List completed.\r
          """);
      assertThat(imap.command("c LIST (SPECIAL-USE) \"\" * RETURN (SUBSCRIBED)")).isEqualTo("""
          * LIST (\\HasNoChildren \\Subscribed \\Archive) "." "Archive"\r
          * LIST (\\HasNoChildren \\Subscribed \\Drafts) "." "Drafts"\r
          * LIST (\\HasNoChildren \\Subscribed \\Junk) "." "Junk"\r
          * LIST (\\HasNoChildren \\Subscribed \\Sent) "." "Sent"\r
          * LIST (\\HasNoChildren \\Subscribed \\Trash) "." "Trash"\r
          c OK List completed.\r
          """);
      assertThat(imap.command("d CREATE Work.Projects")).isEqualTo("d OK Create completed.\r\n");
      assertThat(imap.command("e LIST \"\" W%")).isEqualTo("* LIST (\\NonExistent \\HasChildren) \".\" \"Work\"\r\ne OK List completed.\r\n");
      assertThat(imap.command("f LIST \"\" \"\"")).isEqualTo("* LIST (\\Noselect) \".\" \"\"\r\nf OK List completed.\r\n");
      assertThat(imap.command("g NAMESPACE")).isEqualTo("* NAMESPACE ((\"\" \".\")) NIL NIL\r\ng OK Namespace completed.\r\n");
    }
  }

  @Test
  void selectFetchStoreSearchAndExpungeAnswerExactly() throws Exception {
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret")) {
      deliver(server, "me@localhost", "first");
      deliver(server, "me@localhost", "second");
      server.awaitMail("me", 2);
      try (var imap = login(server, "me@localhost")) {
        String select = imap.command("b SELECT INBOX");
        Matcher m = Pattern.compile("\\* OK \\[UIDVALIDITY (\\d+)] UIDs valid\r\n").matcher(select);
        assertThat(m.find()).as(select).isTrue();
        assertThat(select).isEqualTo("""
            * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r
            * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r
            * 2 EXISTS\r
            * 2 RECENT\r
            * OK [UNSEEN 1] First unseen.\r
            * OK [UIDVALIDITY %s] UIDs valid\r
            * OK [UIDNEXT 3] Predicted next UID\r
            b OK [READ-WRITE] Select completed.\r
            """.formatted(m.group(1)));
        assertThat(imap.command("c FETCH 1:* (UID FLAGS)")).isEqualTo("""
            * 1 FETCH (UID 1 FLAGS (\\Recent))\r
            * 2 FETCH (UID 2 FLAGS (\\Recent))\r
            c OK Fetch completed.\r
            """);
        assertThat(imap.command("d STORE 2 +FLAGS (\\Seen $Work)")).isEqualTo("""
            * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)\r
            * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted.\r
            * 2 FETCH (FLAGS (\\Seen \\Recent $Work))\r
            d OK Store completed.\r
            """);
        assertThat(imap.command("e SEARCH UNSEEN")).isEqualTo("* SEARCH 1\r\ne OK Search completed.\r\n");
        assertThat(imap.command("f UID SEARCH RETURN (MIN MAX COUNT) KEYWORD $Work"))
            .isEqualTo("* ESEARCH (TAG \"f\") UID MIN 2 MAX 2 COUNT 1\r\nf OK UID Search completed.\r\n");
        assertThat(imap.command("g UID STORE 1 +FLAGS.SILENT (\\Deleted)")).isEqualTo("g OK UID Store completed.\r\n");
        assertThat(imap.command("h EXPUNGE")).isEqualTo("* 1 EXPUNGE\r\nh OK Expunge completed.\r\n");
        assertThat(imap.command("i FETCH 1 (UID FLAGS)")).isEqualTo("* 1 FETCH (UID 2 FLAGS (\\Seen \\Recent $Work))\r\ni OK Fetch completed.\r\n");
        assertThat(imap.command("j FETCH 2 FLAGS")).isEqualTo("j BAD Invalid message set\r\n");
      }
      // Flags live in the file names, as every Maildir reader sees them.
      assertThat(server.server().config().dataDir().resolve("mail/localhost/me/Maildir/cur").toFile().list())
          .singleElement().asString().endsWith(":2,Sa");
    }
  }

  @Test
  void envelopeAndStructureAreParsedOnceAndKeptInTheFoldersCache() throws Exception {
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret")) {
      deliver(server, "me@localhost", "cached");
      server.awaitMail("me", 1);
      String expected = "* 1 FETCH (ENVELOPE (NIL \"cached\" ((\"Sender\" NIL \"sender\" \"client.example\"))"
          + " ((\"Sender\" NIL \"sender\" \"client.example\")) ((\"Sender\" NIL \"sender\" \"client.example\"))"
          + " ((NIL NIL \"me\" \"localhost\")) NIL NIL NIL \"<cached@client.example>\")"
          + " BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 16 2))\r\nb OK Fetch completed.\r\n";
      Path cache = data.resolve("mail/localhost/me/Maildir/posta-cache");
      try (var imap = login(server, "me@localhost")) {
        imap.command("a EXAMINE INBOX");
        assertThat(cache).doesNotExist();
        assertThat(imap.command("b FETCH 1 (ENVELOPE BODY)")).isEqualTo(expected);
      }
      try (var imap = login(server, "me@localhost")) { // served from the cache now
        imap.command("a EXAMINE INBOX");
        assertThat(imap.command("b FETCH 1 (ENVELOPE BODY)")).isEqualTo(expected);
      }
      deliver(server, "me@localhost", "listed");
      server.awaitMail("me", 2);
      try (var imap = login(server, "me@localhost")) { // an ENVELOPE alone reads the header; BODY later reads the rest
        imap.command("a EXAMINE INBOX");
        assertThat(imap.command("b FETCH 2 ENVELOPE")).contains("\"listed\"").endsWith("b OK Fetch completed.\r\n");
        assertThat(imap.command("c FETCH 2 BODY")).isEqualTo(
            "* 2 FETCH (BODY (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 16 2))\r\nc OK Fetch completed.\r\n");
        assertThat(imap.command("d FETCH 2 ENVELOPE")).contains("\"listed\"").endsWith("d OK Fetch completed.\r\n");
      }
    }
    // Written when the folder closes (with the server here), gathered until then.
    assertThat(java.nio.file.Files.readString(data.resolve("mail/localhost/me/Maildir/posta-cache"), java.nio.charset.StandardCharsets.ISO_8859_1))
        .contains("\"<cached@client.example>\"");
  }

  @Test
  void appendTakesALiteralAndAnswersAppendUid() throws Exception {
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret");
        var imap = login(server, "me@localhost")) {
      String message = "Subject: draft\r\n\r\nNot sent yet\r\n";
      imap.send("b APPEND Drafts (\\Draft) \"06-Dec-2026 10:00:00 +0000\" {" + message.length() + "}\r\n");
      assertThat(imap.line()).isEqualTo("+ Ready for literal data\r\n");
      imap.send(message + "\r\n");
      String appended = imap.until("b");
      assertThat(appended).matches("b OK \\[APPENDUID \\d+ 1] Append completed.\r\n");
      assertThat(imap.command("c EXAMINE Drafts")).contains("* 1 EXISTS\r\n").endsWith("c OK [READ-ONLY] Examine completed.\r\n");
      assertThat(imap.command("d FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE BODY[])")).isEqualTo(
          "* 1 FETCH (FLAGS (\\Draft) INTERNALDATE \"06-Dec-2026 10:00:00 +0000\" RFC822.SIZE " + message.length()
              + " BODY[] {" + message.length() + "}\r\n" + message + ")\r\nd OK Fetch completed.\r\n");
      assertThat(imap.command("e STORE 1 +FLAGS (\\Seen)")).isEqualTo("e NO [READ-ONLY] Mailbox is read-only\r\n");
      assertThat(imap.command("f APPEND Nowhere {1+}\r\nx")).isEqualTo("f NO [TRYCREATE] Mailbox doesn't exist\r\n");
    }
  }

  @Test
  void aLargeAppendIsStreamedIntoTheFolderAndSavedOnlyWhenTheCommandEndsWell() throws Exception {
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret");
        var imap = login(server, "me@localhost")) {
      String big = "Subject: big\r\n\r\n" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!?\r\n".repeat(4000);
      imap.send("b APPEND INBOX {" + big.length() + "}\r\n");
      assertThat(imap.line()).isEqualTo("+ Ready for literal data\r\n");
      imap.send(big + "\r\n");
      assertThat(imap.until("b")).matches("b OK \\[APPENDUID \\d+ 1] Append completed.\r\n");

      assertThat(imap.command("c APPEND INBOX {" + big.length() + "+}\r\n" + big + " junk"))
          .isEqualTo("c BAD APPEND takes one message\r\n");
      assertThat(imap.command("d APPEND Nowhere {" + big.length() + "+}\r\n" + big))
          .as("refused, its message read and dropped").isEqualTo("d NO [TRYCREATE] Mailbox doesn't exist\r\n");
      assertThat(imap.command("e APPEND INBOX (\\Flagged) {" + big.length() + "+}\r\n" + big)).matches("e OK \\[APPENDUID \\d+ 2] Append completed.\r\n");

      assertThat(imap.command("f SELECT INBOX")).contains("* 2 EXISTS\r\n");
      assertThat(imap.command("g FETCH 1:* (RFC822.SIZE FLAGS)")).isEqualTo("* 1 FETCH (RFC822.SIZE " + big.length() + " FLAGS (\\Recent))\r\n"
          + "* 2 FETCH (RFC822.SIZE " + big.length() + " FLAGS (\\Flagged \\Recent))\r\ng OK Fetch completed.\r\n");
      assertThat(imap.command("h FETCH 2 BODY.PEEK[]")).isEqualTo("* 2 FETCH (BODY[] {" + big.length() + "}\r\n" + big + ")\r\nh OK Fetch completed.\r\n");
      assertThat(data.resolve("mail/localhost/me/Maildir/tmp").toFile().list()).as("nothing left behind").isEmpty();

      // MULTIAPPEND (RFC 3502) is not offered: a second message announced cannot be told from commands.
      assertThat(imap.command("i APPEND INBOX {" + big.length() + "+}\r\n" + big + " {1+}\r\nx"))
          .isEqualTo("i BAD APPEND takes one message\r\n");
      assertThat(imap.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void aSecondSessionHearsOfNewMailFlagsAndExpungesAndIdleHearsOfDeliveryAtOnce() throws Exception {
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret")) {
      deliver(server, "me@localhost", "one");
      server.awaitMail("me", 1);
      try (var first = login(server, "me@localhost"); var second = login(server, "me@localhost")) {
        first.command("b SELECT INBOX");
        assertThat(second.command("b EXAMINE INBOX")).contains("* 1 EXISTS\r\n* 0 RECENT\r\n");
        assertThat(first.command("c STORE 1 +FLAGS.SILENT (\\Flagged)")).isEqualTo("c OK Store completed.\r\n");
        assertThat(second.command("c NOOP")).isEqualTo("* 1 FETCH (FLAGS (\\Flagged))\r\nc OK NOOP completed.\r\n");

        second.send("d IDLE\r\n");
        assertThat(second.line()).isEqualTo("+ idling\r\n");
        long start = System.nanoTime();
        deliver(server, "me@localhost", "two");
        assertThat(second.line()).isEqualTo("* 2 EXISTS\r\n");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
        assertThat(second.line()).isEqualTo("* 0 RECENT\r\n"); // the selecting session claimed it
        second.send("DONE\r\n");
        assertThat(second.until("d")).isEqualTo("d OK Idle completed.\r\n");

        assertThat(first.command("e NOOP")).isEqualTo("* 2 EXISTS\r\n* 2 RECENT\r\ne OK NOOP completed.\r\n");
        assertThat(first.command("f STORE 1 +FLAGS.SILENT (\\Deleted)")).isEqualTo("f OK Store completed.\r\n");
        assertThat(first.command("g EXPUNGE")).isEqualTo("* 1 EXPUNGE\r\ng OK Expunge completed.\r\n");
        assertThat(second.command("h FETCH 1:* UID"))
            .as("no EXPUNGE while FETCH numbers by sequence")
            .isEqualTo("* 2 FETCH (UID 2)\r\nh OK Fetch completed.\r\n"); // the expunged one has nothing left to show
        assertThat(second.command("i NOOP")).isEqualTo("* 1 EXPUNGE\r\ni OK NOOP completed.\r\n");
      }
    }
  }

  @Test
  void aNewKeywordIsToldInFlagsToEverySessionBeforeAnyMessageShowsIt() throws Exception {
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret")) {
      deliver(server, "me@localhost", "one");
      server.awaitMail("me", 1);
      try (var first = login(server, "me@localhost"); var second = login(server, "me@localhost")) {
        first.command("b SELECT INBOX");
        second.command("b EXAMINE INBOX");
        // RFC 9051 §7.3.5: the client keeps the folder's flags from FLAGS; Dovecot tells a new one so.
        assertThat(first.command("c STORE 1 +FLAGS (Urgent)")).isEqualTo("""
            * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Urgent)\r
            * OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Urgent \\*)] Flags permitted.\r
            * 1 FETCH (FLAGS (\\Recent Urgent))\r
            c OK Store completed.\r
            """);
        assertThat(first.command("d STORE 1 +FLAGS (Urgent \\Seen)")).as("told once")
            .isEqualTo("* 1 FETCH (FLAGS (\\Seen \\Recent Urgent))\r\nd OK Store completed.\r\n");
        assertThat(second.command("c NOOP")).isEqualTo("""
            * FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Urgent)\r
            * OK [PERMANENTFLAGS ()] Flags permitted.\r
            * 1 FETCH (FLAGS (\\Seen Urgent))\r
            c OK NOOP completed.\r
            """);
      }
    }
  }

  @Test
  void selectingAnotherFolderClosesTheFirstWithClosedForEveryClient() throws Exception {
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret");
        var imap = login(server, "me@localhost")) {
      assertThat(imap.command("b SELECT INBOX")).doesNotContain("CLOSED");
      // RFC 9051 §6.3.2 (and RFC 7162 §3.2.11): the boundary between the two folders' responses,
      // also for a client that enabled nothing, as Dovecot sends it.
      assertThat(imap.command("c EXAMINE Drafts")).startsWith("* OK [CLOSED] Previous mailbox closed.\r\n* FLAGS (");
      assertThat(imap.command("d SELECT Nowhere"))
          .isEqualTo("* OK [CLOSED] Previous mailbox closed.\r\nd NO [NONEXISTENT] Mailbox doesn't exist: Nowhere\r\n");
      assertThat(imap.command("e SELECT INBOX")).as("nothing was selected after the failed SELECT").doesNotContain("CLOSED");
    }
  }

  @Test
  void condstoreAndQresyncReportModSeqsAndVanishedUids() throws Exception {
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret")) {
      for (String s : List.of("a", "b", "c")) deliver(server, "me@localhost", s);
      server.awaitMail("me", 3);
      try (var imap = login(server, "me@localhost")) {
        assertThat(imap.command("b ENABLE QRESYNC")).isEqualTo("* ENABLED QRESYNC CONDSTORE\r\nb OK Enabled.\r\n");
        String select = imap.command("c SELECT INBOX");
        Matcher v = Pattern.compile("UIDVALIDITY (\\d+)]").matcher(select);
        Matcher h = Pattern.compile("\\[HIGHESTMODSEQ (\\d+)]").matcher(select);
        assertThat(v.find() && h.find()).as(select).isTrue();
        long highest = Long.parseLong(h.group(1));
        String stored = imap.command("d UID STORE 2 (UNCHANGEDSINCE " + highest + ") +FLAGS (\\Answered)");
        assertThat(stored).isEqualTo("* 2 FETCH (UID 2 FLAGS (\\Answered \\Recent) MODSEQ (" + (highest + 1) + "))\r\nd OK UID Store completed.\r\n");
        assertThat(imap.command("e UID STORE 2 (UNCHANGEDSINCE " + highest + ") +FLAGS (\\Flagged)"))
            .isEqualTo("e OK [MODIFIED 2] Conditional store failed\r\n");
        imap.command("f UID STORE 3 +FLAGS.SILENT (\\Deleted)");
        assertThat(imap.command("g UID EXPUNGE 3")).isEqualTo("* VANISHED 3\r\ng OK Expunge completed.\r\n");
        assertThat(imap.command("h UID FETCH 1:* FLAGS (CHANGEDSINCE " + highest + " VANISHED)")).isEqualTo(
            "* VANISHED (EARLIER) 3\r\n* 2 FETCH (UID 2 FLAGS (\\Answered \\Recent) MODSEQ (" + (highest + 1) + "))\r\nh OK UID Fetch completed.\r\n");
        imap.command("i UNSELECT");
        String resync = imap.command("j SELECT INBOX (QRESYNC (" + v.group(1) + " " + highest + " 1:3))");
        assertThat(resync).contains("* VANISHED (EARLIER) 3\r\n")
            .contains("* 2 FETCH (UID 2 FLAGS (\\Answered) MODSEQ (" + (highest + 1) + "))\r\n")
            .endsWith("j OK [READ-WRITE] Select completed.\r\n");
      }
    }
  }

  @Test
  void compressDeflateCompressesBothWaysFromTheOkOn() throws Exception {
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret")) {
      deliver(server, "me@localhost", "squeezed");
      server.awaitMail("me", 1);
      try (var imap = login(server, "me@localhost")) {
        assertThat(imap.command("b COMPRESS DEFLATE")).isEqualTo("b OK DEFLATE active\r\n");
        imap.compress();
        assertThat(imap.command("c EXAMINE INBOX")).contains("* 1 EXISTS\r\n").endsWith("c OK [READ-ONLY] Examine completed.\r\n");
        assertThat(imap.command("d FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]"))
            .isEqualTo("* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {21}\r\nSubject: squeezed\r\n\r\n)\r\nd OK Fetch completed.\r\n");
        assertThat(imap.command("e COMPRESS DEFLATE")).isEqualTo("e NO [COMPRESSIONACTIVE] DEFLATE active already\r\n");
      }
    }
  }

  @Test
  void badCommandsEndTheSessionAtTheLimit() throws Exception {
    try (var server = TestServer.start(data); var imap = new ImapWire(server.imapPort())) {
      imap.line();
      for (int i = 1; i < 10; i++) assertThat(imap.command("t" + i + " FROB")).isEqualTo("t" + i + " BAD Unknown command FROB\r\n");
      assertThat(imap.command("t10 FROB")).isEqualTo("t10 BAD Unknown command FROB\r\n");
      assertThat(imap.line()).isEqualTo("* BYE Too many invalid commands\r\n");
      assertThat(imap.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void failedSmtpLoginsCountAgainstImapLoginsFromTheSameAddress() throws Exception {
    try (var server = TestServer.start(data, c -> {
      var s = c.submission();
      return c.toBuilder().submission(new PostaConfig.Submission(s.trustedNetworks(), true, s.senderMustBeOwned(), 2, Duration.ofMinutes(5)))
          .build();
    }).addUser("me@localhost", "secret")) {
      for (int i = 0; i < 2; i++) {
        try (var smtp = new SmtpWire(server.submissionPort())) {
          smtp.ehlo();
          assertThat(smtp.authPlain("me@localhost", "wrong")).isEqualTo("535 5.7.8 Authentication credentials invalid");
        }
      }
      try (var imap = new ImapWire(server.imapPort())) {
        imap.line();
        assertThat(imap.command("a LOGIN me@localhost secret"))
            .isEqualTo("a NO [UNAVAILABLE] Too many failed logins from 127.0.0.1, try again later\r\n");
        assertThat(imap.line()).isEqualTo("* BYE Too many failed logins\r\n");
        assertThat(imap.closedWithin(2000)).isTrue();
      }
    }
  }
}
