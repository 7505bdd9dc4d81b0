package dev.posta.imap;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.ImapWire;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The examples of RFC 9051 §6, replayed on a mailbox made to match them, with the exact
 * answers the RFC shows (only the hierarchy separator is Posta's "." where the RFC's server has
 * "/", and texts after OK are Posta's own, which the RFC leaves to the server).
 */
class Rfc9051ExamplesTest {
  @TempDir Path data;

  /** A mailbox of {@code count} messages, logged in and selected. */
  private static ImapWire mailbox(TestServer server, int count) throws Exception {
    var imap = new ImapWire(server.imapPort());
    imap.line();
    assertThat(imap.command("a LOGIN me@localhost secret")).startsWith("a OK ");
    for (int i = 1; i <= count; i++) {
      String m = "From: " + (i == 3 ? "Smith <smith@example.org>" : "Jones <jones@example.org>") + "\r\nSubject: " + i + "\r\n\r\nText " + i + "\r\n";
      assertThat(imap.command("b APPEND INBOX {" + m.length() + "+}\r\n" + m)).contains(" OK [APPENDUID ");
    }
    assertThat(imap.command("c SELECT INBOX")).contains("* " + count + " EXISTS\r\n");
    return imap;
  }

  @Test
  void expungeNumbersEachMessageAsTheClientCountsAfterThoseBefore() throws Exception { // §6.4.3
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret");
        var imap = mailbox(server, 11)) {
      assertThat(imap.command("d STORE 3,4,7,11 +FLAGS.SILENT (\\Deleted)")).isEqualTo("d OK Store completed.\r\n");
      assertThat(imap.command("A202 EXPUNGE")).isEqualTo("* 3 EXPUNGE\r\n* 3 EXPUNGE\r\n* 5 EXPUNGE\r\n* 8 EXPUNGE\r\nA202 OK Expunge completed.\r\n");
    }
  }

  @Test
  void searchWithReturnOptionsAnswersInOneEsearch() throws Exception { // §6.4.4
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret");
        var imap = mailbox(server, 8)) {
      imap.command("d STORE 2,3,5,8 +FLAGS.SILENT (\\Flagged)"); // 3 is from Smith
      assertThat(imap.command("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""))
          .isEqualTo("* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\nA282 OK Search completed.\r\n");
      assertThat(imap.command("A283 SEARCH RETURN () FLAGGED"))
          .isEqualTo("* ESEARCH (TAG \"A283\") ALL 2:3,5,8\r\nA283 OK Search completed.\r\n");
      assertThat(imap.command("A284 SEARCH TEXT \"string not in mailbox\"")).isEqualTo("* SEARCH\r\nA284 OK Search completed.\r\n");
    }
  }

  @Test
  void storeAnswersWithTheFlagsAsTheyAreNow() throws Exception { // §6.4.6
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret");
        var imap = mailbox(server, 4)) {
      imap.command("d STORE 2:4 +FLAGS.SILENT (\\Seen)");
      assertThat(imap.command("A003 STORE 2:4 +FLAGS (\\Deleted)")).isEqualTo("""
          * 2 FETCH (FLAGS (\\Deleted \\Seen \\Recent))\r
          * 3 FETCH (FLAGS (\\Deleted \\Seen \\Recent))\r
          * 4 FETCH (FLAGS (\\Deleted \\Seen \\Recent))\r
          A003 OK Store completed.\r
          """);
    }
  }

  @Test
  void createAndListAsTheHierarchyExamplesShow() throws Exception { // §6.3.4, §6.3.9
    try (var server = TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret");
        var imap = mailbox(server, 0)) {
      assertThat(imap.command("A003 CREATE owatagusiam.")).isEqualTo("A003 OK Create completed.\r\n");
      assertThat(imap.command("A004 CREATE owatagusiam.blurdybloop")).isEqualTo("A004 OK Create completed.\r\n");
      assertThat(imap.command("A101 LIST \"\" \"\"")).isEqualTo("* LIST (\\Noselect) \".\" \"\"\r\nA101 OK List completed.\r\n");
      assertThat(imap.command("A102 LIST owatagusiam. %")).isEqualTo(
          "* LIST (\\HasNoChildren) \".\" \"owatagusiam.blurdybloop\"\r\nA102 OK List completed.\r\n");
      assertThat(imap.command("A103 LIST \"\" owatagusiam")).isEqualTo(
          "* LIST (\\HasChildren) \".\" \"owatagusiam\"\r\nA103 OK List completed.\r\n");
    }
  }
}
