package dev.posta.pop3;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.auth.ScramClient;
import dev.posta.config.PostaConfig;
import dev.posta.testing.ImapWire;
import dev.posta.testing.Pop3Wire;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The POP3 server on the wire (RFC 1939, RFC 2449, RFC 2595, RFC 5034): exact answers for a
 * session's life, from the greeting through STLS and login, each command of the TRANSACTION
 * state, to QUIT's UPDATE state; the maildrop lock; what IMAP sees of POP3; and the answer to
 * every kind of bad input.
 */
class Pop3SessionTest {
  private static final String CAPA_BEFORE_TLS = "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
      + "PIPELINING\r\nSTLS\r\nIMPLEMENTATION Posta\r\n.\r\n";
  private static final String CAPA_UNDER_TLS = "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
      + "PIPELINING\r\nUSER\r\nSASL PLAIN SCRAM-SHA-256\r\nIMPLEMENTATION Posta\r\n.\r\n";
  private static final String CAPA_LOGGED_IN = "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
      + "PIPELINING\r\nIMPLEMENTATION Posta\r\n.\r\n";
  private static final String PLAIN_ME = base64("\0me@localhost\0secret");

  @TempDir Path data;

  private static String base64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  /** A message file written into me@localhost's INBOX as another Maildir program (a delivery agent) writes one: LF line ends. */
  private Path write(String name, String content) throws IOException {
    Path maildir = data.resolve("mail/localhost/me/Maildir");
    for (String d : new String[] {"tmp", "new", "cur"}) Files.createDirectories(maildir.resolve(d));
    return Files.writeString(maildir.resolve("new").resolve(name), content);
  }

  private static TestServer plaintextOnLoopback(Path data) {
    return TestServer.start(data, TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret");
  }

  /** A session logged in with USER/PASS in plaintext (the server allows it on loopback). */
  private static Pop3Wire login(TestServer server) throws IOException {
    var pop = new Pop3Wire(server.pop3Port());
    assertThat(pop.line()).isEqualTo("+OK Posta POP3 ready\r\n");
    assertThat(pop.command("USER me@localhost")).isEqualTo("+OK Send the password\r\n");
    assertThat(pop.command("PASS secret")).startsWith("+OK Logged in: ");
    return pop;
  }

  @Test
  void passwordsAreRefusedInPlaintextUntilStlsAndCapaShowsWhatCanBeUsedNow() throws Exception {
    try (var server = TestServer.start(data).addUser("me@localhost", "secret"); var pop = new Pop3Wire(server.pop3Port())) {
      assertThat(pop.line()).isEqualTo("+OK Posta POP3 ready\r\n");
      assertThat(pop.multiLine("CAPA")).isEqualTo(CAPA_BEFORE_TLS);
      assertThat(pop.command("USER me@localhost"))
          .isEqualTo("-ERR [AUTH] Plaintext authentication is refused without TLS; use STLS first\r\n");
      assertThat(pop.command("PASS secret")).isEqualTo("-ERR [AUTH] Plaintext authentication is refused without TLS; use STLS first\r\n");
      assertThat(pop.command("AUTH PLAIN " + PLAIN_ME)).isEqualTo("-ERR [AUTH] Authentication is refused without TLS; use STLS first\r\n");
      assertThat(pop.command("STAT")).isEqualTo("-ERR Log in first\r\n");
      assertThat(pop.command("STLS")).isEqualTo("+OK Begin TLS negotiation\r\n");
      pop.continueWithTls(server.clientTls());
      assertThat(pop.multiLine("CAPA")).isEqualTo(CAPA_UNDER_TLS);
      assertThat(pop.command("STLS")).isEqualTo("-ERR Command not permitted when TLS active\r\n");
      assertThat(pop.command("PASS secret")).isEqualTo("-ERR Give USER first\r\n");
      assertThat(pop.command("USER me@localhost")).isEqualTo("+OK Send the password\r\n");
      assertThat(pop.command("PASS wrong")).isEqualTo("-ERR [AUTH] Authentication failed\r\n");
      assertThat(pop.command("PASS secret")).as("PASS follows its own USER").isEqualTo("-ERR Give USER first\r\n");
      assertThat(pop.command("USER me@localhost")).isEqualTo("+OK Send the password\r\n");
      assertThat(pop.command("PASS secret")).isEqualTo("+OK Logged in: maildrop empty\r\n");
      assertThat(pop.multiLine("CAPA")).isEqualTo(CAPA_LOGGED_IN);
      assertThat(pop.command("USER me@localhost")).isEqualTo("-ERR Already logged in\r\n");
      assertThat(pop.command("AUTH PLAIN " + PLAIN_ME)).isEqualTo("-ERR Already logged in\r\n");
      assertThat(pop.command("STLS")).isEqualTo("-ERR Already logged in\r\n");
      assertThat(pop.command("QUIT")).isEqualTo("+OK Bye (maildrop empty)\r\n");
      assertThat(pop.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void implicitTlsGreetsAndOffersPasswordsAtOnce() throws Exception {
    try (var server = TestServer.start(data).addUser("me@localhost", "secret"); var pop = Pop3Wire.tls(server.pop3sPort(), server.clientTls())) {
      assertThat(pop.line()).isEqualTo("+OK Posta POP3 ready\r\n");
      assertThat(pop.multiLine("CAPA")).isEqualTo(CAPA_UNDER_TLS);
      assertThat(pop.command("AUTH PLAIN " + PLAIN_ME)).isEqualTo("+OK Logged in: maildrop empty\r\n");
      assertThat(pop.command("QUIT")).isEqualTo("+OK Bye (maildrop empty)\r\n");
    }
  }

  @Test
  void authPlainWithAndWithoutAnInitialResponseAndItsRefusals() throws Exception {
    try (var server = TestServer.start(data).addUser("me@localhost", "secret"); var pop = Pop3Wire.tls(server.pop3sPort(), server.clientTls())) {
      pop.line();
      assertThat(pop.command("AUTH LOGIN")).isEqualTo("-ERR Unsupported authentication mechanism\r\n");
      assertThat(pop.command("AUTH CRAM-MD5")).isEqualTo("-ERR Unsupported authentication mechanism\r\n");
      assertThat(pop.command("AUTH PLAIN !!!")).isEqualTo("-ERR Invalid base64 in the initial response\r\n");
      assertThat(pop.command("AUTH PLAIN")).isEqualTo("+ \r\n");
      assertThat(pop.command("*")).isEqualTo("-ERR Authentication aborted\r\n");
      assertThat(pop.command("AUTH PLAIN " + base64("\0me@localhost\0wrong"))).isEqualTo("-ERR [AUTH] Authentication failed\r\n");
      assertThat(pop.command("AUTH PLAIN " + base64("no separators"))).isEqualTo("-ERR Malformed authentication message\r\n");
      assertThat(pop.command("AUTH plain")).isEqualTo("+ \r\n");
      assertThat(pop.command(PLAIN_ME)).isEqualTo("+OK Logged in: maildrop empty\r\n");
    }
  }

  @Test
  void authScramSha256WithAnInitialResponseProvesBothSides() throws Exception {
    try (var server = TestServer.start(data).addUser("me@localhost", "secret"); var pop = Pop3Wire.tls(server.pop3sPort(), server.clientTls())) {
      pop.line();
      var scram = new ScramClient("me@localhost", "secret", "fyko+d2lbbFgONRv9qkxdawL");
      String serverFirst = pop.command("AUTH SCRAM-SHA-256 " + base64(scram.clientFirst()));
      assertThat(serverFirst).startsWith("+ ").endsWith("\r\n");
      String clientFinal = scram.clientFinal(new String(Base64.getDecoder().decode(serverFirst.substring(2).strip()), StandardCharsets.UTF_8));
      String serverFinal = pop.command(base64(clientFinal));
      assertThat(serverFinal).startsWith("+ ");
      assertThat(scram.serverFinalIsValid(new String(Base64.getDecoder().decode(serverFinal.substring(2).strip()), StandardCharsets.UTF_8)))
          .as("the server proved it knows the password: %s", serverFinal).isTrue();
      assertThat(pop.command("")).isEqualTo("+OK Logged in: maildrop empty\r\n"); // RFC 5034 §4: the empty answer to the last challenge
    }
  }

  @Test
  void eachCommandOfTheTransactionStateAnswersExactly() throws Exception {
    // Written as a delivery agent writes them: LF line ends. One has lines that start with "."
    // and must be byte-stuffed; one ends without a newline; one is 1 MiB, streamed.
    String dots = "Subject: dots\n\n.leading dot\n..two dots\n.\nend\n";
    String tail = "Subject: tail\n\nno newline at the end";
    String big = "Subject: big\n\n" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.\n".repeat(16_384);
    write("1700000001.M1P1Q1.test", dots);
    write("1700000002.M2P1Q2.test", tail);
    write("1700000003.M3P1Q3.test", big);
    long dotsSize = dots.length() + 6, tailSize = tail.length() + 2, bigSize = big.length() + 16_386;
    long all = dotsSize + tailSize + bigSize;
    try (var server = plaintextOnLoopback(data); var pop = new Pop3Wire(server.pop3Port())) {
      pop.line();
      pop.command("USER me@localhost");
      assertThat(pop.command("PASS secret")).isEqualTo("+OK Logged in: 3 messages (" + all + " octets)\r\n");
      assertThat(pop.command("STAT")).isEqualTo("+OK 3 " + all + "\r\n");
      assertThat(pop.multiLine("LIST"))
          .isEqualTo("+OK 3 messages (" + all + " octets)\r\n1 " + dotsSize + "\r\n2 " + tailSize + "\r\n3 " + bigSize + "\r\n.\r\n");
      assertThat(pop.command("LIST 2")).isEqualTo("+OK 2 " + tailSize + "\r\n");
      assertThat(pop.command("LIST 4")).isEqualTo("-ERR No such message\r\n");
      String uidl = pop.multiLine("UIDL");
      Matcher validity = Pattern.compile("^\\+OK Unique-ID listing follows\r\n1 00000001([0-9a-f]{8})\r\n").matcher(uidl);
      assertThat(validity.find()).as(uidl).isTrue();
      String v = validity.group(1);
      assertThat(uidl).isEqualTo("+OK Unique-ID listing follows\r\n1 00000001" + v + "\r\n2 00000002" + v + "\r\n3 00000003" + v + "\r\n.\r\n");
      assertThat(pop.command("UIDL 3")).isEqualTo("+OK 3 00000003" + v + "\r\n");

      assertThat(pop.multiLine("RETR 1")).isEqualTo("+OK " + dotsSize + " octets\r\nSubject: dots\r\n\r\n..leading dot\r\n...two dots\r\n..\r\nend\r\n.\r\n");
      assertThat(pop.multiLine("RETR 2")).isEqualTo("+OK " + tailSize + " octets\r\nSubject: tail\r\n\r\nno newline at the end\r\n.\r\n");
      assertThat(pop.multiLine("RETR 3")).isEqualTo("+OK " + bigSize + " octets\r\n" + big.replace("\n", "\r\n") + ".\r\n");
      assertThat(pop.multiLine("TOP 1 0")).isEqualTo("+OK Top of message follows\r\nSubject: dots\r\n\r\n.\r\n");
      assertThat(pop.multiLine("TOP 1 2")).isEqualTo("+OK Top of message follows\r\nSubject: dots\r\n\r\n..leading dot\r\n...two dots\r\n.\r\n");
      assertThat(pop.multiLine("TOP 2 5")).isEqualTo("+OK Top of message follows\r\nSubject: tail\r\n\r\nno newline at the end\r\n.\r\n");

      assertThat(pop.command("DELE 1")).isEqualTo("+OK Message 1 deleted\r\n");
      assertThat(pop.command("DELE 1")).isEqualTo("-ERR Message 1 already deleted\r\n");
      assertThat(pop.command("RETR 1")).isEqualTo("-ERR Message 1 is deleted\r\n");
      assertThat(pop.command("TOP 1 0")).isEqualTo("-ERR Message 1 is deleted\r\n");
      assertThat(pop.command("UIDL 1")).isEqualTo("-ERR Message 1 is deleted\r\n");
      assertThat(pop.command("STAT")).isEqualTo("+OK 2 " + (tailSize + bigSize) + "\r\n");
      assertThat(pop.multiLine("LIST")).isEqualTo("+OK 2 messages (" + (tailSize + bigSize) + " octets)\r\n2 " + tailSize + "\r\n3 " + bigSize + "\r\n.\r\n");
      assertThat(pop.command("RSET")).isEqualTo("+OK 3 messages (" + all + " octets)\r\n");
      assertThat(pop.command("STAT")).isEqualTo("+OK 3 " + all + "\r\n");
      assertThat(pop.command("NOOP")).isEqualTo("+OK\r\n");
      assertThat(pop.command("DELE 1")).isEqualTo("+OK Message 1 deleted\r\n");
      assertThat(pop.command("DELE 3")).isEqualTo("+OK Message 3 deleted\r\n");
      assertThat(pop.command("DELE 9")).isEqualTo("-ERR No such message\r\n");
      assertThat(pop.command("QUIT")).isEqualTo("+OK Bye (1 message left)\r\n");
      assertThat(pop.closedWithin(2000)).isTrue();

      // The next session finds what QUIT left, under the same unique-id.
      try (var next = login(server)) {
        assertThat(next.command("STAT")).isEqualTo("+OK 1 " + tailSize + "\r\n");
        assertThat(next.multiLine("UIDL")).isEqualTo("+OK Unique-ID listing follows\r\n1 00000002" + v + "\r\n.\r\n");
        assertThat(next.command("QUIT")).isEqualTo("+OK Bye (1 message left)\r\n");
      }
      assertThat(data.resolve("mail/localhost/me/Maildir/cur").toFile().list()).as("retrieved and kept: \\Seen")
          .containsExactly("1700000002.M2P1Q2.test:2,S");
    }
  }

  @Test
  void nothingIsDeletedWithoutQuitAndASecondSessionFindsTheMaildropInUse() throws Exception {
    write("1700000001.M1P1Q1.test", "Subject: one\n\nOne\n");
    try (var server = plaintextOnLoopback(data)) {
      var first = login(server);
      assertThat(first.command("DELE 1")).isEqualTo("+OK Message 1 deleted\r\n");
      try (var second = new Pop3Wire(server.pop3Port())) {
        second.line();
        second.command("USER me@localhost");
        assertThat(second.command("PASS secret")).isEqualTo("-ERR [IN-USE] Mailbox is in use by another POP3 session\r\n");
        assertThat(second.command("STAT")).as("still in AUTHORIZATION").isEqualTo("-ERR Log in first\r\n");
        assertThat(second.command("AUTH PLAIN " + PLAIN_ME)).isEqualTo("-ERR [IN-USE] Mailbox is in use by another POP3 session\r\n");

        first.close(); // dropped without QUIT: the lock goes, the deletion does not happen
        String again = "";
        for (int i = 0; i < 100 && !again.startsWith("+OK"); i++) {
          if (i > 0) Thread.sleep(20); // the server notices the closed connection
          again = second.command("AUTH PLAIN " + PLAIN_ME);
        }
        assertThat(again).isEqualTo("+OK Logged in: 1 message (" + ("Subject: one\n\nOne\n".length() + 3) + " octets)\r\n");
        assertThat(second.command("QUIT")).isEqualTo("+OK Bye (1 message left)\r\n");
      }
    }
  }

  @Test
  void mailArrivingDuringASessionWaitsForTheNextOne() throws Exception {
    try (var server = plaintextOnLoopback(data)) {
      deliver(server, "first");
      server.awaitMail("me", 1);
      try (var pop = login(server)) {
        assertThat(pop.command("STAT")).startsWith("+OK 1 ");
        deliver(server, "second");
        server.awaitMail("me", 2);
        assertThat(pop.command("STAT")).startsWith("+OK 1 ");
        assertThat(pop.command("RETR 2")).isEqualTo("-ERR No such message\r\n");
        assertThat(pop.command("QUIT")).isEqualTo("+OK Bye (1 message left)\r\n");
      }
      try (var pop = login(server)) {
        assertThat(pop.command("STAT")).startsWith("+OK 2 ");
      }
    }
  }

  @Test
  void imapSeesPop3DeletionsAsExpungesAndRetrievedMailAsSeen() throws Exception {
    try (var server = plaintextOnLoopback(data)) {
      for (String s : new String[] {"one", "two", "three"}) deliver(server, s);
      server.awaitMail("me", 3);
      try (var imap = new ImapWire(server.imapPort())) {
        imap.line();
        assertThat(imap.command("a LOGIN me@localhost secret")).startsWith("a OK ");
        assertThat(imap.command("b SELECT INBOX")).contains("* 3 EXISTS\r\n");
        try (var pop = login(server)) {
          assertThat(pop.multiLine("RETR 1")).contains("Subject: one\r\n");
          assertThat(pop.multiLine("TOP 2 0")).contains("Subject: two\r\n");
          assertThat(pop.command("DELE 3")).isEqualTo("+OK Message 3 deleted\r\n");
          assertThat(imap.command("c NOOP")).as("nothing happens before QUIT").isEqualTo("c OK NOOP completed.\r\n");
          assertThat(pop.command("QUIT")).isEqualTo("+OK Bye (2 messages left)\r\n");
        }
        assertThat(imap.command("d NOOP")).isEqualTo("* 3 EXPUNGE\r\n* 1 FETCH (FLAGS (\\Seen \\Recent))\r\nd OK NOOP completed.\r\n");
        assertThat(imap.command("e FETCH 1:* (FLAGS)")).isEqualTo("* 1 FETCH (FLAGS (\\Seen \\Recent))\r\n* 2 FETCH (FLAGS (\\Recent))\r\n"
            + "e OK Fetch completed.\r\n");

        // A message IMAP expunges under a POP3 session keeps its number there, but is gone.
        try (var pop = login(server)) {
          assertThat(imap.command("f STORE 2 +FLAGS.SILENT (\\Deleted)")).isEqualTo("f OK Store completed.\r\n");
          assertThat(imap.command("g EXPUNGE")).isEqualTo("* 2 EXPUNGE\r\ng OK Expunge completed.\r\n");
          assertThat(pop.command("RETR 2")).isEqualTo("-ERR Message 2 was removed by another session\r\n");
          assertThat(pop.command("DELE 2")).isEqualTo("+OK Message 2 deleted\r\n");
          assertThat(pop.command("QUIT")).isEqualTo("+OK Bye (1 message left)\r\n");
        }
      }
    }
  }

  @Test
  void pipelinedCommandsAreAnsweredInOrder() throws Exception {
    write("1700000001.M1P1Q1.test", "Subject: one\n\nOne\n");
    try (var server = plaintextOnLoopback(data); var pop = new Pop3Wire(server.pop3Port())) {
      pop.line();
      pop.send("USER me@localhost\r\nPASS secret\r\nSTAT\r\nTOP 1 0\r\nNOOP\r\nQUIT\r\n");
      assertThat(pop.line()).isEqualTo("+OK Send the password\r\n");
      assertThat(pop.line()).isEqualTo("+OK Logged in: 1 message (21 octets)\r\n");
      assertThat(pop.line()).isEqualTo("+OK 1 21\r\n");
      assertThat(pop.multiLine()).isEqualTo("+OK Top of message follows\r\nSubject: one\r\n\r\n.\r\n");
      assertThat(pop.line()).isEqualTo("+OK\r\n");
      assertThat(pop.line()).isEqualTo("+OK Bye (1 message left)\r\n");
    }
  }

  @Test
  void commandsPipelinedAfterStlsAreDroppedNotRun() throws Exception {
    try (var server = TestServer.start(data).addUser("me@localhost", "secret"); var pop = new Pop3Wire(server.pop3Port())) {
      pop.line();
      pop.send("STLS\r\nUSER me@localhost\r\n"); // CVE-2011-0411: what came in plaintext must not run under TLS
      assertThat(pop.line()).isEqualTo("+OK Begin TLS negotiation\r\n");
      pop.continueWithTls(server.clientTls());
      assertThat(pop.command("PASS secret")).isEqualTo("-ERR Give USER first\r\n");
    }
  }

  @Test
  void badInputGetsAClearAnswerAndTooManyRefusalsEndTheSession() throws Exception {
    try (var server = TestServer.start(data).addUser("me@localhost", "secret"); var pop = new Pop3Wire(server.pop3Port())) {
      pop.line();
      assertThat(pop.command("X".repeat(254))).isEqualTo("-ERR Line too long (at most 255 octets)\r\n");
      assertThat(pop.command("FROB")).isEqualTo("-ERR Unknown command FROB\r\n");
      assertThat(pop.command("APOP me@localhost c4c9334bac560ecc979e58001b3e22fb")).isEqualTo("-ERR Unknown command APOP\r\n");
      assertThat(pop.command("")).isEqualTo("-ERR Empty command\r\n");
      assertThat(pop.command("RETR")).isEqualTo("-ERR RETR takes a message number\r\n");
      assertThat(pop.command("TOP 1")).isEqualTo("-ERR TOP takes a message number and a number of lines\r\n");
      assertThat(pop.command("LIST x")).isEqualTo("-ERR Invalid message number: x\r\n");
      assertThat(pop.command("CAPA now")).isEqualTo("-ERR CAPA takes no arguments\r\n");
      assertThat(pop.command("NOOP")).isEqualTo("-ERR Log in first\r\n");
      assertThat(pop.multiLine("CAPA")).as("a line of 255 octets with its CRLF is not too long")
          .isEqualTo(pop.multiLine("CAPA" + " ".repeat(249)));
      assertThat(pop.command("DELE 1")).isEqualTo("-ERR Log in first\r\n");
      assertThat(pop.line()).isEqualTo("-ERR Too many invalid commands; closing the connection\r\n");
      assertThat(pop.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void failedSmtpLoginsCountAgainstPop3LoginsFromTheSameAddress() throws Exception {
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
      try (var pop = new Pop3Wire(server.pop3Port())) {
        pop.line();
        pop.command("USER me@localhost");
        assertThat(pop.command("PASS secret")).isEqualTo("-ERR [SYS/TEMP] Too many failed logins from 127.0.0.1, try again later\r\n");
        assertThat(pop.closedWithin(2000)).isTrue();
      }
    }
  }

  @Test
  void aLoginInProgressHoldsItsAddresssLastGuessAndAWrongPasswordIsRefused() throws Exception {
    try (var server = TestServer.start(data, c -> {
      var s = c.submission();
      return c.toBuilder().submission(new PostaConfig.Submission(s.trustedNetworks(), true, s.senderMustBeOwned(), 1, Duration.ofMinutes(5)))
          .build();
    }).addUser("me@localhost", "secret"); var first = new Pop3Wire(server.pop3Port()); var second = new Pop3Wire(server.pop3Port())) {
      first.line();
      second.line();
      assertThat(first.command("AUTH PLAIN")).as("its slot taken, waiting for the response").isEqualTo("+ \r\n");
      assertThat(second.command("AUTH PLAIN " + PLAIN_ME))
          .isEqualTo("-ERR [SYS/TEMP] Too many logins in progress from 127.0.0.1, try again later\r\n");
      assertThat(first.command(base64("\0me@localhost\0wrong"))).isEqualTo("-ERR [AUTH] Authentication failed\r\n");
      assertThat(second.command("AUTH PLAIN " + PLAIN_ME)).as("the one failure allowed is used up")
          .isEqualTo("-ERR [SYS/TEMP] Too many failed logins from 127.0.0.1, try again later\r\n");
    }
  }

  @Test
  void aLineOfTheSaslExchangeTooLongEndsTheSession() throws Exception {
    try (var server = plaintextOnLoopback(data); var pop = new Pop3Wire(server.pop3Port())) {
      pop.line();
      assertThat(pop.command("AUTH PLAIN")).isEqualTo("+ \r\n");
      assertThat(pop.command("A".repeat(12289))).isEqualTo("-ERR Authentication line too long\r\n");
      assertThat(pop.closedWithin(2000)).isTrue();
    }
  }

  @Test
  void aStoppingServerTellsItsSessionsAndDeletesNothing() throws Exception {
    write("1700000001.M1P1Q1.test", "Subject: one\n\nOne\n");
    try (var server = plaintextOnLoopback(data); var pop = login(server)) {
      assertThat(pop.command("DELE 1")).isEqualTo("+OK Message 1 deleted\r\n");
      server.close();
      assertThat(pop.rest(2000)).isEqualTo("-ERR [SYS/TEMP] Server shutting down\r\n");
    }
    assertThat(data.resolve("mail/localhost/me/Maildir/new/1700000001.M1P1Q1.test")).exists();
  }

  @Test
  void aClientOverTheConnectionLimitIsRefusedWithItsReason() throws Exception {
    try (var server = TestServer.start(data, c -> {
      var l = c.limits();
      return c.toBuilder().limits(new PostaConfig.Limits(l.maxMessageSize(), l.maxRecipients(), l.maxLineLength(), l.maxConnections(), 1,
          l.maxErrors(), l.commandTimeout(), l.dataTimeout(), l.maxHops())).build();
    }); var first = new Pop3Wire(server.pop3Port())) {
      assertThat(first.line()).isEqualTo("+OK Posta POP3 ready\r\n");
      try (var second = new Pop3Wire(server.pop3Port())) {
        assertThat(second.line()).isEqualTo("-ERR [SYS/TEMP] Too many connections from 127.0.0.1, try again later\r\n");
        assertThat(second.closedWithin(2000)).isTrue();
      }
    }
  }

  private static void deliver(TestServer server, String subject) throws IOException {
    try (var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("sender@client.example", "me@localhost");
      assertThat(smtp.data("From: sender@client.example\r\nSubject: " + subject + "\r\n\r\nThis is " + subject + ".\r\n"))
          .startsWith("250 2.0.0 Ok: queued as ");
    }
  }
}
