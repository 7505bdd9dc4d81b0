package dev.posta.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The session's command sequence and limits over a real socket: each row is a dialogue of
 * command lines and the exact reply (code and enhanced status) each must get.
 */
class SmtpSessionTest {
  @TempDir static Path data;
  static TestServer server;

  /** Domain example.org has only alice, bob, an alias and postmaster routing; 3 recipients max. */
  @BeforeAll
  static void start() {
    server = TestServer.start(data, c -> new PostaConfig(
        "mx.example.org", c.dataDir(), c.listeners(),
        new PostaConfig.Limits(10_000, 3, 1000, 1000, 50, 10, Duration.ofMinutes(5), Duration.ofMinutes(3), PostaConfig.Limits.DEFAULT_MAX_HOPS),
        List.of(
            new PostaConfig.LocalDomain("example.org", Set.of("alice", "bob"), false, Optional.empty(),
                Map.of("sales", List.of("alice@example.org", "bob@example.org"))),
            new PostaConfig.LocalDomain("localhost", Set.of(), true, Optional.empty(), Map.of())),
        "alice@example.org", Optional.empty(), c.tls(), c.submission(), c.delivery()));
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  static Stream<Arguments> dialogues() {
    return Stream.of(
        dialogue("MAIL before EHLO", "MAIL FROM:<a@b.example>", "503 5.5.1"),
        dialogue("RCPT before MAIL", "EHLO c", "250", "RCPT TO:<alice@example.org>", "503 5.5.1"),
        dialogue("DATA before MAIL", "EHLO c", "250", "DATA", "503 5.5.1"),
        dialogue("DATA before RCPT", "EHLO c", "250", "MAIL FROM:<a@b.example>", "250 2.1.0", "DATA", "503 5.5.1"),
        dialogue("nested MAIL", "EHLO c", "250", "MAIL FROM:<a@b.example>", "250 2.1.0", "MAIL FROM:<a@b.example>", "503 5.5.1"),
        dialogue("RSET ends the transaction", "EHLO c", "250", "MAIL FROM:<a@b.example>", "250 2.1.0", "RSET", "250 2.0.0",
            "RCPT TO:<alice@example.org>", "503 5.5.1", "MAIL FROM:<>", "250 2.1.0"),
        dialogue("EHLO resets the transaction", "EHLO c", "250", "MAIL FROM:<a@b.example>", "250 2.1.0", "EHLO c", "250",
            "RCPT TO:<alice@example.org>", "503 5.5.1"),
        dialogue("HELO reply has no enhanced code", "HELO c", "250 mx.example.org"),
        dialogue("known local user", "EHLO c", "250", "MAIL FROM:<a@b.example>", "250 2.1.0", "RCPT TO:<alice@example.org>", "250 2.1.5"),
        dialogue("local part case-insensitive", "EHLO c", "250", "MAIL FROM:<>", "250 2.1.0", "RCPT TO:<Alice@Example.ORG>", "250 2.1.5"),
        dialogue("recipient delimiter", "EHLO c", "250", "MAIL FROM:<>", "250 2.1.0", "RCPT TO:<bob+news@example.org>", "250 2.1.5"),
        dialogue("alias", "EHLO c", "250", "MAIL FROM:<>", "250 2.1.0", "RCPT TO:<sales@example.org>", "250 2.1.5"),
        dialogue("unknown local user refused at RCPT", "EHLO c", "250", "MAIL FROM:<a@b.example>", "250 2.1.0",
            "RCPT TO:<carol@example.org>", "550 5.1.1"),
        dialogue("postmaster of every local domain", "EHLO c", "250", "MAIL FROM:<>", "250 2.1.0",
            "RCPT TO:<postmaster@example.org>", "250 2.1.5", "RCPT TO:<Postmaster>", "250 2.1.5"),
        dialogue("relay refused", "EHLO c", "250", "MAIL FROM:<a@b.example>", "250 2.1.0", "RCPT TO:<x@elsewhere.example>", "554 5.7.1"),
        dialogue("address literal is not local", "EHLO c", "250", "MAIL FROM:<>", "250 2.1.0", "RCPT TO:<x@[127.0.0.1]>", "554 5.7.1"),
        dialogue("too many recipients", "EHLO c", "250", "MAIL FROM:<>", "250 2.1.0",
            "RCPT TO:<a@localhost>", "250 2.1.5", "RCPT TO:<b@localhost>", "250 2.1.5", "RCPT TO:<c@localhost>", "250 2.1.5",
            "RCPT TO:<d@localhost>", "452 4.5.3"),
        dialogue("declared size over the limit", "EHLO c", "250", "MAIL FROM:<a@b.example> SIZE=10001", "552 5.3.4",
            "MAIL FROM:<a@b.example> SIZE=10000", "250 2.1.0"),
        dialogue("UTF-8 sender needs SMTPUTF8", "EHLO c", "250", "MAIL FROM:<用户@b.example>", "553 5.6.7",
            "MAIL FROM:<用户@b.example> SMTPUTF8", "250 2.1.0", "RCPT TO:<用户@localhost>", "250 2.1.5"),
        dialogue("UTF-8 recipient needs SMTPUTF8", "EHLO c", "250", "MAIL FROM:<a@b.example>", "250 2.1.0",
            "RCPT TO:<用户@localhost>", "553 5.6.7"),
        dialogue("8BITMIME and DSN parameters", "EHLO c", "250", "MAIL FROM:<a@b.example> BODY=8BITMIME RET=HDRS ENVID=x1", "250 2.1.0",
            "RCPT TO:<alice@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;alice@example.org", "250 2.1.5"),
        dialogue("NOOP VRFY HELP EXPN", "NOOP", "250 2.0.0", "VRFY alice", "252 2.5.2", "HELP", "214 2.0.0", "EXPN staff", "502 5.5.1"),
        dialogue("unknown command", "XYZZY", "500 5.5.1"),
        dialogue("command line over 512 octets", "NOOP " + "x".repeat(507), "500 5.5.2", "NOOP " + "x".repeat(505), "250 2.0.0"),
        dialogue("QUIT", "QUIT", "221 2.0.0"));
  }

  static Arguments dialogue(String name, String... steps) {
    return Arguments.of(name, List.of(steps));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("dialogues")
  void replies(String name, List<String> steps) throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      assertThat(wire.reply()).isEqualTo("220 mx.example.org ESMTP Posta");
      List<String> got = new ArrayList<>();
      List<String> want = new ArrayList<>();
      for (int i = 0; i < steps.size(); i += 2) {
        String reply = wire.command(steps.get(i));
        String last = reply.substring(reply.lastIndexOf('\n') + 1);
        want.add(steps.get(i) + " -> " + steps.get(i + 1));
        got.add(steps.get(i) + " -> " + (last.startsWith(steps.get(i + 1)) ? steps.get(i + 1) : last));
      }
      assertThat(got).isEqualTo(want);
    }
  }

  @Test
  void ehloAdvertisesTheExtensions() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      assertThat(wire.ehlo().split("\n")).containsExactly(
          "250-mx.example.org greets client.example",
          "250-PIPELINING",
          "250-SIZE 10000",
          "250-8BITMIME",
          "250-SMTPUTF8",
          "250-ENHANCEDSTATUSCODES",
          "250-CHUNKING",
          "250-DSN",
          "250-STARTTLS",
          "250 HELP");
    }
  }

  @Test
  void messageOverTheSizeLimitIsRefusedAfterData() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      assertThat(wire.command("MAIL FROM:<a@b.example>")).startsWith("250 2.1.0");
      assertThat(wire.command("RCPT TO:<big@localhost>")).startsWith("250 2.1.5");
      assertThat(wire.command("DATA")).startsWith("354");
      String line = "x".repeat(98) + "\r\n";
      assertThat(wire.command(line.repeat(101) + ".")).startsWith("552 5.3.4");
      // The session is still in step: a new transaction works.
      assertThat(wire.command("MAIL FROM:<a@b.example>")).startsWith("250 2.1.0");
    }
    assertThat(server.mail("big")).isEmpty();
  }

  /** RFC 5321 §6.3: max-hops (100) Received: fields, ours included; one more is a loop. */
  @Test
  void aMessageWithMoreHopsThanMaxHopsIsRefusedAsALoop() throws Exception {
    String hop = "Received: from relay.example by other.example with ESMTP;\r\n\tSun, 6 Dec 2026 03:00:00 +0000\r\n";
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.command("MAIL FROM:<a@b.example>");
      wire.command("RCPT TO:<hops@localhost>");
      assertThat(wire.command("DATA")).startsWith("354");
      assertThat(wire.command(hop.repeat(99) + "Subject: 99 hops and ours\r\n\r\nx\r\n.")).matches("250 2\\.0\\.0 Ok: queued as [0-9A-F]{16}");
      wire.command("MAIL FROM:<a@b.example>");
      wire.command("RCPT TO:<hops@localhost>");
      assertThat(wire.command("DATA")).startsWith("354");
      assertThat(wire.command(hop.repeat(100) + "Subject: one more\r\n\r\nx\r\n."))
          .isEqualTo("554 5.4.6 Too many hops (101 Received: header fields): mail loop?");
      // BDAT counts the same way.
      wire.command("MAIL FROM:<a@b.example>");
      wire.command("RCPT TO:<hops@localhost>");
      byte[] chunk = (hop.repeat(100) + "Subject: by BDAT\r\n\r\nx\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      wire.send("BDAT " + chunk.length + " LAST\r\n").send(chunk);
      assertThat(wire.reply()).isEqualTo("554 5.4.6 Too many hops (101 Received: header fields): mail loop?");
      assertThat(wire.command("NOOP")).startsWith("250 2.0.0");
    }
    List<String> mail = server.awaitMail("hops", 1);
    assertThat(mail).singleElement().satisfies(m -> assertThat(m).contains("Subject: 99 hops and ours\n"));
  }

  @Test
  void textLineOverTheLimitIsRefusedAfterData() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.command("MAIL FROM:<a@b.example>");
      wire.command("RCPT TO:<longline@localhost>");
      assertThat(wire.command("DATA")).startsWith("354");
      // max-line-length is 1000 here (the default is 64 KiB: LongLineMailTest), CRLF included.
      assertThat(wire.command("Subject: x\r\n\r\n" + "y".repeat(998) + "\r\n" + "z".repeat(999) + "\r\n."))
          .isEqualTo("550 5.6.0 Message has a line longer than 1000 octets");
      assertThat(wire.command("NOOP")).startsWith("250 2.0.0");
    }
    assertThat(server.mail("longline")).isEmpty();
  }

  @Test
  void textLineOverTheLimitIsRefusedAfterBdatToo() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.command("MAIL FROM:<a@b.example>");
      wire.command("RCPT TO:<longbdat@localhost>");
      byte[] chunk = ("Subject: x\r\n\r\n" + "y".repeat(998) + "\r\n" + "z".repeat(999) + "\r\n")
          .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      wire.send("BDAT " + chunk.length + " LAST\r\n").send(chunk);
      assertThat(wire.reply()).isEqualTo("550 5.6.0 Message has a line longer than 1000 octets");
      assertThat(wire.command("NOOP")).startsWith("250 2.0.0");
      wire.command("MAIL FROM:<a@b.example>");
      wire.command("RCPT TO:<longbdat@localhost>");
      byte[] within = ("Subject: y\r\n\r\n" + "y".repeat(998) + "\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      wire.send("BDAT " + within.length + " LAST\r\n").send(within);
      assertThat(wire.reply()).startsWith("250 2.0.0 Ok: queued as ");
    }
    assertThat(server.awaitMail("longbdat", 1)).singleElement().satisfies(m -> assertThat(m).contains("Subject: y\n\n" + "y".repeat(998) + "\n"));
  }

  @Test
  void dotStuffingIsUndoneAndTraceHeadersAdded() throws Exception {
    String id;
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.command("MAIL FROM:<sender@b.example>");
      wire.command("RCPT TO:<dots@localhost>");
      wire.command("DATA");
      String reply = wire.command("Subject: dots\r\n\r\n..leading dot\r\n..\r\n.");
      assertThat(reply).matches("250 2\\.0\\.0 Ok: queued as [0-9A-F]{16}");
      id = reply.substring(reply.length() - 16);
    }
    List<String> mail = server.awaitMail("dots", 1);
    assertThat(mail).hasSize(1);
    assertThat(mail.getFirst())
        // Maildir files have LF line endings (what mutt and Dovecot expect), not SMTP's CRLF.
        .startsWith("Return-Path: <sender@b.example>\nDelivered-To: dots@localhost\nReceived: from client.example ([127.0.0.1])\n"
            + "\tby mx.example.org (Posta) with ESMTP id " + id + "\n\tfor <dots@localhost>;\n\t")
        .endsWith("Subject: dots\n\n.leading dot\n.\n")
        .doesNotContain("\r");
  }

  @Test
  void bdatBeforeRcptIsReadAndRefused() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.send("BDAT 12\r\nQUIT\r\nQUIT\r\n");
      // The 12 octets are chunk data, not commands: one 503, and the session is in step.
      assertThat(wire.reply()).startsWith("503 5.5.1");
      assertThat(wire.command("NOOP")).startsWith("250 2.0.0");
    }
  }

  @Test
  void dataIsRefusedDuringBdat() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.command("MAIL FROM:<a@b.example>");
      wire.command("RCPT TO:<chunks@localhost>");
      assertThat(wire.send("BDAT 3\r\nabc").reply()).isEqualTo("250 2.0.0 3 octets received");
      assertThat(wire.command("DATA")).startsWith("503 5.5.1");
      assertThat(wire.command("MAIL FROM:<a@b.example>")).startsWith("503 5.5.1");
      assertThat(wire.command("RSET")).startsWith("250 2.0.0");
      assertThat(wire.command("MAIL FROM:<a@b.example>")).startsWith("250 2.1.0");
    }
  }

  @Test
  void bdatOverTheSizeLimitIsRefusedAtLast() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.command("MAIL FROM:<a@b.example>");
      wire.command("RCPT TO:<bigchunks@localhost>");
      assertThat(wire.send("BDAT 6000\r\n" + "x".repeat(6000)).reply()).isEqualTo("250 2.0.0 6000 octets received");
      assertThat(wire.send("BDAT 6000 LAST\r\n" + "x".repeat(6000)).reply()).startsWith("552 5.3.4");
      assertThat(wire.command("NOOP")).startsWith("250 2.0.0");
    }
    assertThat(server.mail("bigchunks")).isEmpty();
  }

  @Test
  void tooManyErrorsEndTheSession() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.reply();
      for (int i = 0; i < 9; i++) assertThat(wire.command("BOGUS")).startsWith("500 5.5.1");
      assertThat(wire.command("BOGUS")).isEqualTo("500 5.5.1 Command unrecognized");
      assertThat(wire.reply()).isEqualTo("421 4.7.0 Too many errors, closing connection");
      assertThat(wire.isClosedByServer()).isTrue();
    }
  }

  @Test
  void httpRequestEndsTheSessionAtOnce() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.reply();
      wire.send("POST / HTTP/1.1\r\nHost: x\r\n\r\nMAIL FROM:<a@b.example>\r\n");
      assertThat(wire.reply()).startsWith("554 5.7.0");
      assertThat(wire.reply()).isNull();
    }
  }

  @Test
  void bareLfInCommandIsRefusedAndNotExecuted() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.send("MAIL FROM:<a@b.example>\n");
      assertThat(wire.reply()).startsWith("500 5.5.2");
      assertThat(wire.command("RCPT TO:<alice@example.org>")).startsWith("503 5.5.1");
    }
  }

  @Test
  void pipelinedRepliesComeInOrder() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<p1@localhost>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<p2@localhost>\r\nDATA\r\n");
      assertThat(List.of(wire.code(), wire.code(), wire.code(), wire.code(), wire.code())).containsExactly(250, 250, 550, 250, 354);
      assertThat(wire.command("Subject: p\r\n\r\nbody\r\n.")).startsWith("250 2.0.0");
    }
    assertThat(server.awaitMail("p1", 1)).hasSize(1);
    assertThat(server.awaitMail("p2", 1)).hasSize(1);
  }

  @Test
  void repliesAreNotHeldBackWhileWaitingForBdatData() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      // RFC 2920 §3.2: before blocking for the chunk, the server sends what it owes.
      wire.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<flush@localhost>\r\nBDAT 10 LAST\r\n");
      assertThat(wire.reply()).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.reply()).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.send("0123456789").reply()).startsWith("250 2.0.0 Ok: queued as ");
    }
  }

  @Test
  void dotAddedForTransparencyDoesNotCountTowardsTheLineLimit() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.command("MAIL FROM:<a@b.example>");
      wire.command("RCPT TO:<stuffed@localhost>");
      wire.command("DATA");
      // 998 octets of text plus CRLF is the limit; the leading dot is the client's stuffing.
      assertThat(wire.command("Subject: a\r\n\r\n.." + "x".repeat(997) + "\r\n.")).startsWith("250 2.0.0");
    }
  }

  @Test
  void aliasDeliversOnceToEachMailbox() throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      wire.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<sales@example.org>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n");
      assertThat(List.of(wire.code(), wire.code(), wire.code(), wire.code())).containsExactly(250, 250, 250, 354);
      assertThat(wire.command("Subject: to sales\r\n\r\nhi\r\n.")).startsWith("250 2.0.0");
    }
    Path alice = data.resolve("mail/example.org/alice/Maildir/new");
    Path bob = data.resolve("mail/example.org/bob/Maildir/new");
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (count(bob) < 1 && System.nanoTime() < deadline) Thread.sleep(20);
    // alice is named twice (directly and through the alias) but gets one copy, like bob.
    assertThat(count(bob)).isEqualTo(1);
    assertThat(grepCount(alice, "Subject: to sales")).isEqualTo(1);
  }

  private static long count(Path dir) throws Exception {
    if (!java.nio.file.Files.isDirectory(dir)) return 0;
    try (var s = java.nio.file.Files.list(dir)) {
      return s.count();
    }
  }

  private static long grepCount(Path dir, String text) throws Exception {
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (true) {
      long n;
      try (var s = java.nio.file.Files.list(dir)) {
        n = s.filter(p -> {
          try {
            return java.nio.file.Files.readString(p).contains(text);
          } catch (java.io.IOException e) {
            return false;
          }
        }).count();
      } catch (java.nio.file.NoSuchFileException e) {
        n = 0;
      }
      if (n >= 2 || System.nanoTime() > deadline) return n;
      Thread.sleep(20);
    }
  }
}
