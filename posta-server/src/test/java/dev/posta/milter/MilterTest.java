package dev.posta.milter;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.posta.config.PostaConfig;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Posta's milter client against a real milter: Debian's python3-milter (libmilter underneath)
 * running {@code test_milter.py}, which does what each message asks (see its header). Each test
 * checks the exact SMTP replies a client sees, the delivered Maildir file, and what the milter
 * was sent (its log: one JSON line per callback, with the macros it saw).
 */
class MilterTest {
  private static final Path PYTHON = Path.of("/usr/bin/python3");
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path data;
  @TempDir Path run;

  private Process milter;
  private Path milterLog;
  private String unixAddress;

  @BeforeEach
  void startMilter() throws Exception {
    Path socket = run.resolve("milter.sock");
    unixAddress = "unix:" + socket;
    milter = startMilter("unix:" + socket);
    await(() -> Files.exists(socket), "the milter's socket");
  }

  private Process startMilter(String libmilterSocket) throws IOException {
    assertThat(Files.isExecutable(PYTHON)).as("%s with python3-milter is needed", PYTHON).isTrue();
    milterLog = run.resolve("milter.log");
    Path script = Path.of("src/test/resources/milter/test_milter.py").toAbsolutePath();
    return new ProcessBuilder(PYTHON.toString(), script.toString(), libmilterSocket, milterLog.toString())
        .redirectErrorStream(true).redirectOutput(run.resolve("milter.out").toFile()).start();
  }

  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  private final Logger sessionLog = (Logger) LoggerFactory.getLogger("dev.posta.smtp.SmtpSession");
  private final Logger milterLogger = (Logger) LoggerFactory.getLogger("dev.posta.milter");

  @BeforeEach
  void captureLogs() {
    logs.start();
    sessionLog.addAppender(logs);
    milterLogger.addAppender(logs);
  }

  @AfterEach
  void stopCapturing() {
    sessionLog.detachAppender(logs);
    milterLogger.detachAppender(logs);
  }

  /** The log lines of the sessions and the milter client so far. */
  private List<String> sessionLines() {
    synchronized (logs) {
      return List.copyOf(logs.list).stream().map(ILoggingEvent::getFormattedMessage).toList();
    }
  }

  @AfterEach
  void stopMilter() throws Exception {
    if (milter != null) {
      milter.destroyForcibly(); // libmilter takes 5 s to stop on SIGTERM; nothing of it needs saving
      milter.waitFor();
    }
  }

  private static PostaConfig.Milter milter(String address, boolean tempfail, Duration commandTimeout, boolean hold) {
    return new PostaConfig.Milter("test", address, Set.of(PostaConfig.Protocol.SMTP), tempfail, Duration.ofSeconds(2), commandTimeout,
        Duration.ofSeconds(10), hold);
  }

  private UnaryOperator<PostaConfig> with(PostaConfig.Milter... milters) {
    return c -> c.toBuilder().milters(List.of(milters)).build();
  }

  private TestServer server() {
    return TestServer.start(data, with(milter(unixAddress, true, Duration.ofSeconds(10), false)));
  }

  /** The lines the milter logged so far, as JSON. */
  private List<JsonNode> logged() throws IOException {
    if (!Files.exists(milterLog)) return List.of();
    List<JsonNode> out = new ArrayList<>();
    for (String line : Files.readAllLines(milterLog)) out.add(JSON.readTree(line));
    return out;
  }

  private JsonNode stage(String name) throws Exception {
    await(() -> logged().stream().anyMatch(n -> n.get("stage").asText().equals(name)), "the milter's " + name + " line");
    return logged().stream().filter(n -> n.get("stage").asText().equals(name)).toList().getLast();
  }

  private static String send(SmtpWire smtp, String from, String to, String subject, String extraHeaders) throws IOException {
    smtp.envelope(from, to);
    return smtp.data("From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: " + subject + "\r\n" + extraHeaders
        + "Message-ID: <m1@client.example>\r\n\r\nHello milter.\r\n");
  }

  @Test
  void aMessageThatPassesIsDeliveredAndTheMilterSawEachStageWithPostfixsMacros() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      assertThat(smtp.ehlo()).startsWith("250-");
      String reply = send(smtp, "alice@client.example", "bob@localhost", "hello", "");
      assertThat(reply).matches("250 2\\.0\\.0 Ok: queued as [0-9A-Z]+");
      String queueId = reply.substring(reply.lastIndexOf(' ') + 1);
      assertThat(server.awaitMail("bob", 1).getFirst()).contains("Subject: hello\n").contains("Hello milter.");

      JsonNode connect = stage("connect");
      assertThat(connect.get("hostname").asText()).isEqualTo("[127.0.0.1]");
      assertThat(connect.get("macros").get("j").asText()).isEqualTo(server.server().config().hostname());
      assertThat(connect.get("macros").get("{client_addr}").asText()).isEqualTo("127.0.0.1");
      assertThat(connect.get("macros").get("{client_port}").asText()).isEqualTo(Integer.toString(smtp.socket().getLocalPort()));
      assertThat(connect.get("macros").get("_").asText()).isEqualTo("unknown [127.0.0.1]");
      assertThat(connect.get("macros").get("{daemon_addr}").asText()).isEqualTo("127.0.0.1");
      assertThat(stage("hello").get("name").asText()).isEqualTo("client.example");
      JsonNode from = stage("envfrom");
      assertThat(from.get("sender").asText()).isEqualTo("<alice@client.example>");
      assertThat(from.get("macros").get("i").asText()).isEqualTo(queueId);
      assertThat(from.get("macros").get("{mail_addr}").asText()).isEqualTo("alice@client.example");
      JsonNode rcpt = stage("envrcpt");
      assertThat(rcpt.get("rcpt").asText()).isEqualTo("<bob@localhost>");
      assertThat(rcpt.get("macros").get("{rcpt_addr}").asText()).isEqualTo("bob@localhost");
      assertThat(rcpt.get("macros").get("{rcpt_mailer}").asText()).isEqualTo("local");
      JsonNode eom = stage("eom");
      assertThat(eom.get("macros").get("i").asText()).isEqualTo(queueId);
      // As Postfix's milters, it is not shown our Received field (the client's facts come as macros): the client's fields only.
      assertThat(eom.get("headers").toString()).isEqualTo(
          "[[\"From\",\"<alice@client.example>\"],[\"To\",\"<bob@localhost>\"],[\"Subject\",\"hello\"],[\"Message-ID\",\"<m1@client.example>\"]]");
      assertThat(eom.get("body").asText()).as("%s", eom).isEqualTo("Hello milter.\r\n\r\n");
    }
  }

  @Test
  void refusalsAtEachCommandAreAnsweredExactly() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.reply();
      assertThat(smtp.command("EHLO reject.example")).isEqualTo("550 5.7.1 Command rejected");
      assertThat(smtp.command("EHLO client.example")).startsWith("250-");
      assertThat(smtp.command("MAIL FROM:<mailreject@client.example>")).isEqualTo("550 5.7.1 Command rejected");
      assertThat(smtp.command("MAIL FROM:<mailtempfail@client.example>")).isEqualTo("451 4.7.1 Service unavailable - try again later");
      assertThat(smtp.command("MAIL FROM:<alice@client.example>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(smtp.command("RCPT TO:<rcptreject@localhost>")).isEqualTo("550 5.7.1 No such luck for this recipient");
      assertThat(smtp.command("RCPT TO:<rcpttempfail@localhost>")).isEqualTo("451 4.7.1 Service unavailable - try again later");
      assertThat(smtp.command("RCPT TO:<multiline@localhost>")).isEqualTo("550-5.7.1 first line\n550 5.7.1 second line");
      assertThat(smtp.command("RCPT TO:<bob@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(smtp.command("RSET")).isEqualTo("250 2.0.0 OK");
      await(() -> stage("abort") != null, "the milter told of the abort");
    }
  }

  @Test
  void endOfMessageRefusalsAndDiscard() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      assertThat(send(smtp, "alice@client.example", "bob@localhost", "reject", "")).isEqualTo("550 5.7.1 Message content rejected");
      assertThat(send(smtp, "alice@client.example", "bob@localhost", "tempfail", ""))
          .isEqualTo("451 4.7.1 Service unavailable - try again later");
      assertThat(send(smtp, "alice@client.example", "bob@localhost", "replycode", ""))
          .isEqualTo("554 5.7.0 Spam detected by the test milter");
      String discarded = send(smtp, "alice@client.example", "bob@localhost", "discard", "");
      assertThat(discarded).matches("250 2\\.0\\.0 Ok: queued as [0-9A-Z]+");
      String id = discarded.substring(discarded.lastIndexOf(' ') + 1);
      assertThat(sessionLines()).anyMatch(l -> l.matches(".*: " + id + ": milter test: from=<alice@client\\.example>, size=\\d+, nrcpt=1: discarded, delivered to nobody"));
      assertThat(sessionLines()).noneMatch(l -> l.contains(": " + id + ": from=<") && l.endsWith("status=queued"));
      assertThat(server.queued()).isZero();
    }
  }

  /** The message as delivered after the milter acted on its subject; each call to a recipient of its own. */
  private String deliveredAfter(String subject, String extraHeaders, String to) throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      assertThat(send(smtp, "alice@client.example", to + "@localhost", subject, extraHeaders)).matches("250 2\\.0\\.0 Ok: queued as [0-9A-Z]+");
      return server.awaitMail(to, 1).getFirst();
    }
  }

  @Test
  void headerChangesAreInTheDeliveredMessage() throws Exception {
    assertThat(deliveredAfter("addheader", "", "a1")).contains("Message-ID: <m1@client.example>\nX-Milter: added by the test\n\nHello milter.");
    // Index 0 is the top of the fields the milter was shown: under our own Received field, which it was not.
    assertThat(deliveredAfter("insheader", "", "a2")).contains("\nX-Milter-First: inserted at the top\nFrom: <alice@client.example>\n")
        .startsWith("Return-Path: <alice@client.example>\nDelivered-To: a2@localhost\nReceived: from client.example");
  }

  @Test
  void changeAndDeleteHeaderAndReplaceBody() throws Exception {
    String changed = deliveredAfter("chgheader", "", "a3");
    assertThat(changed).contains("Subject: changed by the test milter\n").doesNotContain("Subject: chgheader");
    String deleted = deliveredAfter("delheader", "X-Remove-Me: yes\r\nX-Keep: yes\r\n", "a4");
    assertThat(deleted).contains("X-Keep: yes\n").doesNotContain("X-Remove-Me");
    String body = deliveredAfter("replbody", "", "a5");
    assertThat(body).endsWith("\n\nA body the milter wrote.\n").doesNotContain("Hello milter.");
  }

  @Test
  void senderAndRecipientChanges() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      assertThat(send(smtp, "alice@client.example", "bob@localhost", "chgfrom", "")).startsWith("250 2.0.0");
      assertThat(server.awaitMail("bob", 1).getFirst()).startsWith("Return-Path: <changed@client.example>\n");
      assertThat(send(smtp, "alice@client.example", "bob@localhost", "addrcpt carol@localhost", "")).startsWith("250 2.0.0");
      assertThat(server.awaitMail("carol", 1)).hasSize(1);
      assertThat(server.awaitMail("bob", 2)).hasSize(2);
      smtp.command("MAIL FROM:<alice@client.example>");
      smtp.command("RCPT TO:<bob@localhost>");
      smtp.command("RCPT TO:<dave@localhost>");
      assertThat(smtp.data("Subject: delrcpt bob@localhost\r\n\r\nHi.")).startsWith("250 2.0.0");
      assertThat(server.awaitMail("dave", 1)).hasSize(1);
      await(() -> server.queued() == 0, "the message's delivery finished");
      assertThat(server.mail("bob")).hasSize(2);
    }
  }

  @Test
  void quarantineFilesIntoJunk() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      assertThat(send(smtp, "alice@client.example", "bob@localhost", "quarantine", "")).startsWith("250 2.0.0");
      Path junk = server.server().config().dataDir().resolve("mail/localhost/bob/Maildir/.Junk/new");
      await(() -> Files.isDirectory(junk) && filesIn(junk) == 1, "the message in bob's Junk");
      assertThat(server.mail("bob")).isEmpty();
    }
  }

  @Test
  void quarantineMayHoldInTheQueue() throws Exception {
    try (var server = TestServer.start(data, with(milter(unixAddress, true, Duration.ofSeconds(10), true)));
        var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      String reply = send(smtp, "alice@client.example", "bob@localhost", "quarantine", "");
      assertThat(reply).startsWith("250 2.0.0");
      String id = reply.substring(reply.lastIndexOf(' ') + 1);
      Thread.sleep(300);
      assertThat(server.mail("bob")).isEmpty();
      assertThat(server.queued()).isEqualTo(1);
      var listing = new dev.posta.queue.QueueControl(server.server().queue()).list();
      assertThat(listing).singleElement().satisfies(m -> {
        assertThat(m.id().toString()).isEqualTo(id);
        assertThat(m.state()).isEqualTo(dev.posta.queue.QueueControl.State.HELD);
      });
      // What an operator sees: posta queue list (through the running server's control socket), the held mark "!" after the ID.
      assertThat(postaQueue("list")).matches(
          "-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
              + id + "! +\\d+ \\w{3} \\w{3} \\d\\d \\d\\d:\\d\\d:\\d\\d +alice@client\\.example\n"
              + " {44}bob@localhost\n\n-- 1 Kbytes in 1 Request\\.\n");
    }
  }

  /**
   * A cluster node ({@code [cluster] database}, a real PostgreSQL): the milter's quarantine holds
   * the message in the cluster's queue; {@code posta queue} with the node's configuration (no
   * control socket: it acts on the database) lists it held, releases it, and the node delivers it
   * to the database's mailbox store, once.
   */
  @Test
  void quarantineHeldInTheClustersQueueIsReleasedByPostaQueueAndDelivered() throws Exception {
    String url = dev.posta.testing.Postgres.shared().newDatabase();
    UnaryOperator<PostaConfig> cluster = c -> c.toBuilder().cluster(new PostaConfig.Cluster(java.util.Optional.of(url), "n1", 8)).build();
    Path config = run.resolve("node.toml");
    Files.writeString(config, """
        hostname = "localhost"
        data = "%s"

        [domains."localhost"]

        [cluster]
        database = "%s"
        node = "n1"
        """.formatted(data, url), StandardCharsets.UTF_8);
    try (var server = TestServer.start(data, c -> cluster.apply(with(milter(unixAddress, true, Duration.ofSeconds(10), true)).apply(c)));
        var smtp = new SmtpWire(server.smtpPort())) {
      assertThat(server.server().mailQueue()).isInstanceOf(dev.posta.queue.ClusterQueue.class);
      smtp.ehlo();
      String reply = send(smtp, "alice@client.example", "bob@localhost", "quarantine", "");
      assertThat(reply).startsWith("250 2.0.0");
      String id = reply.substring(reply.lastIndexOf(' ') + 1);
      Thread.sleep(300);
      assertThat(rows(url, "select count(*) from deliveries")).isEqualTo("0");
      assertThat(postaQueue("--config", config.toString(), "list")).matches(
          "-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
              + id + "! +\\d+ \\w{3} \\w{3} \\d\\d \\d\\d:\\d\\d:\\d\\d +alice@client\\.example\n"
              + " {44}bob@localhost\n\n-- 1 Kbytes in 1 Request\\.\n");

      assertThat(postaQueue("--config", config.toString(), "release", id)).isEqualTo(id + ": released, due now\n");

      await(() -> rows(url, "select count(*) from deliveries where delivery_id like '" + id + "_%'").equals("1"), "delivered once");
      assertThat(rows(url, "select recipient || ' ' || outcome || ' ' || node from queue_history where queue_id = '" + id + "'"))
          .isEqualTo("bob@localhost delivered n1");
      assertThat(postaQueue("--config", config.toString())).isEqualTo("queue is empty\n");
    }
  }

  /** The first column of the first row {@code sql} gives, as text. */
  private static String rows(String url, String sql) throws Exception {
    try (var db = dev.posta.database.Database.open(url, "test", 1); var c = db.connection(); var s = c.createStatement();
        var r = s.executeQuery(sql)) {
      return r.next() ? r.getString(1) : null;
    }
  }

  /** {@code posta queue --data <the server's folder> args...} run in this JVM as the command line runs it; its standard output. */
  private String postaQueue(String... args) {
    java.io.PrintStream oldOut = System.out;
    var out = new java.io.ByteArrayOutputStream();
    System.setOut(new java.io.PrintStream(out, true, StandardCharsets.UTF_8));
    try {
      List<String> all = new ArrayList<>(List.of("queue", "--data", data.toString()));
      all.addAll(List.of(args));
      assertThat(new picocli.CommandLine(new dev.posta.cli.Posta()).execute(all.toArray(String[]::new))).isZero();
      return out.toString(StandardCharsets.UTF_8);
    } finally {
      System.setOut(oldOut);
    }
  }

  @Test
  void aMilterThatIsDownTempfailsTheConnectionOrIsSkipped() throws Exception {
    String nowhere = "unix:" + run.resolve("nobody-listens.sock");
    try (var server = TestServer.start(data, with(milter(nowhere, true, Duration.ofSeconds(2), false)));
        var smtp = new SmtpWire(server.smtpPort())) {
      assertThat(smtp.reply()).isEqualTo("421 4.7.1 Service unavailable - try again later");
      assertThat(smtp.isClosedByServer()).isTrue();
    }
    try (var server = TestServer.start(data, with(milter(nowhere, false, Duration.ofSeconds(2), false)));
        var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      assertThat(send(smtp, "alice@client.example", "bob@localhost", "hello", "")).startsWith("250 2.0.0");
      assertThat(server.awaitMail("bob", 1)).hasSize(1);
    }
  }

  @Test
  void aMilterThatRejectsTheConnectionGets554AndThe503sOfRfc5321UntilQuit() throws Exception {
    Named refuser = named("connectreject");
    try (var server = TestServer.start(data, with(chained(refuser, true))); var smtp = new SmtpWire(server.smtpPort())) {
      // RFC 5321 §3.1: 554 in place of the 220; the server then waits for QUIT, answering 503 to anything else.
      assertThat(smtp.reply()).isEqualTo("554 5.7.1 Service unavailable");
      assertThat(smtp.command("EHLO client.example")).isEqualTo("503 5.5.1 Bad sequence of commands: refused at the greeting; send QUIT");
      assertThat(smtp.command("MAIL FROM:<alice@client.example>")).isEqualTo("503 5.5.1 Bad sequence of commands: refused at the greeting; send QUIT");
      assertThat(smtp.command("QUIT")).isEqualTo("221 2.0.0 Bye");
      assertThat(smtp.isClosedByServer()).isTrue();
    }
    assertThat(sessionLines()).anyMatch(l -> l.endsWith(": milter connectreject: connect from [127.0.0.1]: refused (reject): 554 5.7.1 Service unavailable"));
    assertThat(refuser.stages()).containsExactly("connect");
  }

  @Test
  void aMilterThatTempfailsTheConnectionGets421AndTheConnectionEnds() throws Exception {
    Named refuser = named("connecttempfail");
    try (var server = TestServer.start(data, with(chained(refuser, true))); var smtp = new SmtpWire(server.smtpPort())) {
      assertThat(smtp.reply()).isEqualTo("421 4.7.1 Service unavailable - try again later");
      assertThat(smtp.isClosedByServer()).isTrue();
    }
    // The milter's own answer, not a failure to reach it (which aMilterThatIsDownTempfailsTheConnectionOrIsSkipped covers).
    assertThat(sessionLines()).anyMatch(l -> l.endsWith(": milter connecttempfail: connect from [127.0.0.1]: refused (tempfail): "
        + "421 4.7.1 Service unavailable - try again later"));
    assertThat(refuser.stages()).containsExactly("connect");
  }

  @Test
  void refusalsAtDataAreAnsweredExactlyAndEndTheTransaction() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("datareject@client.example", "bob@localhost");
      assertThat(smtp.command("DATA")).isEqualTo("550 5.7.1 Command rejected");
      // No 354 was sent: the next line is a command, and a new MAIL is not "nested" (the transaction was reset).
      smtp.envelope("datatempfail@client.example", "bob@localhost");
      assertThat(smtp.command("DATA")).isEqualTo("451 4.7.1 Service unavailable - try again later");
      smtp.envelope("alice@client.example", "bob@localhost");
      assertThat(smtp.data("Subject: hello\r\n\r\nPast DATA.")).startsWith("250 2.0.0");
      assertThat(server.awaitMail("bob", 1)).hasSize(1);
      await(() -> logged().stream().anyMatch(n -> n.get("stage").asText().equals("eom")), "the milter's eom");
      // (libmilter calls no abort callback for a message its own milter refused: none is seen after a refused DATA.)
      assertThat(logged().stream().map(n -> n.get("stage").asText()).toList()).containsExactly(
          "connect", "hello", "envfrom", "envrcpt", "data", "envfrom", "envrcpt", "data", "envfrom", "envrcpt", "data", "eom");
    }
    assertThat(sessionLines()).anyMatch(l -> l.matches(".*: [0-9A-F]{16}: milter test: from=<datareject@client\\.example>, data: refused \\(reject\\): "
        + "550 5\\.7\\.1 Command rejected"));
  }

  @Test
  void aMilterThatAcceptsAtMailIsAskedNothingMoreOfThatMessageWhichIsDeliveredUnchanged() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      // "addheader" would have the milter add a field at the end of the message: it never gets there.
      assertThat(send(smtp, "mailaccept@client.example", "bob@localhost", "addheader", "")).startsWith("250 2.0.0");
      assertThat(server.awaitMail("bob", 1).getFirst()).contains("Subject: addheader\nMessage-ID: <m1@client.example>\n\nHello milter.\n")
          .doesNotContain("X-Milter");
      assertThat(logged().stream().map(n -> n.get("stage").asText()).toList()).containsExactly("connect", "hello", "envfrom");
      // The next message is asked of it again, from MAIL on.
      assertThat(send(smtp, "alice@client.example", "bob@localhost", "addheader", "")).startsWith("250 2.0.0");
      assertThat(server.awaitMail("bob", 2)).anyMatch(m -> m.contains("X-Milter: added by the test\n"));
      assertThat(logged().stream().map(n -> n.get("stage").asText()).toList())
          .containsExactly("connect", "hello", "envfrom", "envfrom", "envrcpt", "data", "eom");
    }
  }

  @Test
  void aMilterThatTimesOutGetsTheDefaultActionForTheRestOfTheSession() throws Exception {
    try (var server = TestServer.start(data, with(milter(unixAddress, true, Duration.ofSeconds(1), false)));
        var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      assertThat(smtp.command("MAIL FROM:<alice@client.example>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(smtp.command("RCPT TO:<sleep@localhost>")).isEqualTo("451 4.7.1 Service unavailable - try again later");
      assertThat(smtp.command("RCPT TO:<bob@localhost>")).isEqualTo("451 4.7.1 Service unavailable - try again later");
    }
  }

  @Test
  void aMilterOverTcp() throws Exception {
    stopMilter();
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    milter = startMilter("inet:" + port + "@127.0.0.1");
    int p = port;
    await(() -> {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress("127.0.0.1", p), 200);
        return true;
      } catch (IOException e) {
        return false;
      }
    }, "the milter's TCP port");
    try (var server = TestServer.start(data, with(milter("inet:127.0.0.1:" + port, true, Duration.ofSeconds(10), false)));
        var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      assertThat(send(smtp, "alice@client.example", "bob@localhost", "addheader", "")).startsWith("250 2.0.0");
      assertThat(server.awaitMail("bob", 1).getFirst()).contains("X-Milter: added by the test\n");
    }
  }

  @Test
  void aMessageSentWithBdatIsFilteredToo() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("alice@client.example", "bob@localhost");
      String message = "Subject: addheader\r\n\r\nChunked.\r\n";
      assertThat(smtp.command("BDAT " + message.length() + " LAST\r\n" + message.stripTrailing()))
          .matches("250 2\\.0\\.0 Ok: queued as [0-9A-Z]+");
      assertThat(server.awaitMail("bob", 1).getFirst()).contains("Subject: addheader\nX-Milter: added by the test\n\nChunked.\n");
    }
  }

  @Test
  void onSubmissionTheMilterIsToldOfTlsAndTheLogin() throws Exception {
    var onSubmission = new PostaConfig.Milter("test", unixAddress, Set.of(PostaConfig.Protocol.SUBMISSION), true, Duration.ofSeconds(2),
        Duration.ofSeconds(10), Duration.ofSeconds(10), false);
    try (var server = TestServer.start(data, with(onSubmission)).addUser("me@localhost", "correct horse battery");
        var smtp = new SmtpWire(server.submissionPort())) {
      smtp.ehlo();
      var tls = smtp.startTls(server.clientTls());
      assertThat(smtp.command("EHLO client.example")).startsWith("250-");
      assertThat(smtp.authPlain("me@localhost", "correct horse battery")).startsWith("235 ");
      assertThat(send(smtp, "me@localhost", "bob@localhost", "hello", "")).startsWith("250 2.0.0");
      JsonNode hello = stage("hello");
      assertThat(hello.get("macros").get("{tls_version}").asText()).isEqualTo(tls.getSession().getProtocol());
      assertThat(hello.get("macros").get("{cipher}").asText()).isEqualTo(tls.getSession().getCipherSuite());
      JsonNode from = stage("envfrom");
      assertThat(from.get("macros").get("{auth_authen}").asText()).isEqualTo("me@localhost");
      assertThat(from.get("macros").get("{auth_type}").asText()).isEqualTo("PLAIN");
    }
  }

  @Test
  void aMessageLargerThanTheSpoolsMemoryLimitIsSentInBodyChunksAndChanged() throws Exception {
    String line = "0123456789".repeat(7) + "\r\n"; // 72 octets
    String body = line.repeat(5000); // 360,000 octets: spilled to a file, six BODY chunks of at most 65,535
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("alice@client.example", "bob@localhost");
      assertThat(smtp.data("Subject: addheader\r\n\r\n" + body.stripTrailing())).startsWith("250 2.0.0");
      String delivered = server.awaitMail("bob", 1).getFirst();
      assertThat(delivered).contains("Subject: addheader\nX-Milter: added by the test\n\n");
      assertThat(delivered.substring(delivered.indexOf("\n\n") + 2)).isEqualTo(body.replace("\r\n", "\n"));
      assertThat(stage("eom").get("body").asText()).isEqualTo(body);
    }
  }

  @Test
  void aSignedMessageAMilterChangedIsSignedAgainAndDkimpyAcceptsIt() throws Exception {
    var key = dev.posta.mailauth.dkim.DkimKeyFiles.generate(data, "posta.test", "sel-rsa", dev.posta.mailauth.dkim.DkimAlgorithm.KeyType.RSA);
    try (var dns = dev.posta.testing.Dnsmasq.start(run, z -> z.txt("sel-rsa._domainkey.posta.test",
        dev.posta.mailauth.dkim.DkimKeyFiles.txtStrings(key.publicKey()).toArray(String[]::new)))) {
      var onSubmission = new PostaConfig.Milter("test", unixAddress, Set.of(PostaConfig.Protocol.SUBMISSION), true, Duration.ofSeconds(2),
          Duration.ofSeconds(10), Duration.ofSeconds(10), false);
      try (var server = TestServer.start(data, c -> TestServer.plaintextAuthOnLoopback(with(onSubmission).apply(c)))
          .addUser("sender@posta.test", "correct horse battery"); var smtp = new SmtpWire(server.submissionPort())) {
        smtp.ehlo();
        assertThat(smtp.authPlain("sender@posta.test", "correct horse battery")).startsWith("235 ");
        smtp.envelope("sender@posta.test", "bob@localhost");
        assertThat(smtp.data("From: <sender@posta.test>\r\nTo: <bob@localhost>\r\nSubject: chgheader\r\n\r\nSigned, then changed."))
            .startsWith("250 2.0.0");
        String delivered = server.awaitMail("bob", 1).getFirst();
        assertThat(delivered).contains("Subject: changed by the test milter\n");
        assertThat(delivered.split("\nDKIM-Signature: ", -1)).as("one signature, the new one: %s", delivered).hasSize(2);
        var verified = dev.posta.testing.Dkimpy.verify(dns.port(), delivered.replace("\n", "\r\n").getBytes(StandardCharsets.UTF_8),
            run.resolve("delivered.eml"));
        assertThat(verified.out()).as("%s", verified).isEqualTo("0 pass d=posta.test s=sel-rsa\n");
      }
    }
  }

  /** One more test milter, named {@code name} (it acts on "X-Action-name:"), on its own socket and log. */
  private record Named(String name, String address, Path log, Process process) {
    List<JsonNode> logged() throws IOException {
      if (!Files.exists(log)) return List.of();
      List<JsonNode> out = new ArrayList<>();
      for (String line : Files.readAllLines(log)) out.add(JSON.readTree(line));
      return out;
    }

    List<String> stages() throws IOException {
      return logged().stream().map(n -> n.get("stage").asText()).toList();
    }
  }

  private final List<Process> more = new ArrayList<>();

  @AfterEach
  void stopMore() throws Exception {
    for (Process p : more) {
      p.destroyForcibly();
      p.waitFor();
    }
  }

  private Named named(String name) throws Exception {
    Path socket = run.resolve(name + ".sock");
    Path log = run.resolve(name + ".log");
    Path script = Path.of("src/test/resources/milter/test_milter.py").toAbsolutePath();
    Process p = new ProcessBuilder(PYTHON.toString(), script.toString(), "unix:" + socket, log.toString(), name)
        .redirectErrorStream(true).redirectOutput(run.resolve(name + ".out").toFile()).start();
    more.add(p);
    await(() -> Files.exists(socket), "milter " + name + "'s socket");
    return new Named(name, "unix:" + socket, log, p);
  }

  private static PostaConfig.Milter chained(Named m, boolean tempfail) {
    return new PostaConfig.Milter(m.name(), m.address(), Set.of(PostaConfig.Protocol.SMTP), tempfail, Duration.ofSeconds(2),
        Duration.ofSeconds(2), Duration.ofSeconds(10), false);
  }

  @Test
  void aDiscardAtMailAsksNoMilterMoreInThatTransaction() throws Exception {
    Named one = named("one");
    Named two = named("two");
    try (var server = TestServer.start(data, with(chained(one, true), chained(two, true))); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      assertThat(smtp.command("MAIL FROM:<maildiscard@client.example>")).isEqualTo("250 2.1.0 Sender OK");
      // Milter two never heard of MAIL: asked about RCPT, libmilter would drop it unanswered and this wait out the timeout.
      assertThat(smtp.command("RCPT TO:<bob@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
      String reply = smtp.data("Subject: hello\r\n\r\nDiscarded at MAIL.");
      assertThat(reply).matches("250 2\\.0\\.0 Ok: queued as [0-9A-Z]+");
      String id = reply.substring(reply.lastIndexOf(' ') + 1);
      assertThat(sessionLines()).anyMatch(l -> l.endsWith(": " + id + ": milter one: from=<maildiscard@client.example>: discard"));
      // (libmilter does not call the abort callback of a milter that discarded at MAIL: its ABORT is not seen here.)
      assertThat(one.stages()).containsExactly("connect", "hello", "envfrom");
      assertThat(two.stages()).containsExactly("connect", "hello");
      // The next transaction is asked of both again, from MAIL on.
      assertThat(send(smtp, "alice@client.example", "bob@localhost", "hello", "")).startsWith("250 2.0.0");
      await(() -> two.stages().contains("eom"), "milter two's end of message");
      assertThat(two.stages()).containsExactly("connect", "hello", "envfrom", "envrcpt", "data", "eom");
      assertThat(one.stages()).containsExactly("connect", "hello", "envfrom", "envfrom", "envrcpt", "data", "eom");
      assertThat(server.awaitMail("bob", 1)).singleElement().asString().contains("Subject: hello\n");
    }
  }

  @Test
  void aRefusalByTheFirstMilterAtTheEndOfTheMessageAbortsTheSecond() throws Exception {
    Named one = named("one");
    Named two = named("two");
    try (var server = TestServer.start(data, with(chained(one, true), chained(two, true))); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("alice@client.example", "bob@localhost");
      assertThat(smtp.data("X-Action-one: reject\r\nSubject: hello\r\n\r\nRefused by one.")).isEqualTo("550 5.7.1 Message content rejected");
      await(() -> two.stages().contains("abort"), "milter two's abort");
      assertThat(two.stages()).containsExactly("connect", "hello", "envfrom", "envrcpt", "data", "abort");
      assertThat(one.stages()).containsExactly("connect", "hello", "envfrom", "envrcpt", "data", "eom");
    }
  }

  @Test
  void recipientChangesApplyInTheOrderAskedMilterAfterMilter() throws Exception {
    Named one = named("one");
    Named two = named("two");
    try (var server = TestServer.start(data, with(chained(one, true), chained(two, true))); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("alice@client.example", "bob@localhost");
      String reply = smtp.data("X-Action-one: addrcpt carol@localhost\r\nX-Action-two: delrcpt carol@localhost\r\nSubject: hello\r\n\r\nFor bob.");
      assertThat(reply).startsWith("250 2.0.0");
      String id = reply.substring(reply.lastIndexOf(' ') + 1);
      assertThat(sessionLines()).anyMatch(l -> l.endsWith(": " + id + ": milters: one added recipient <carol@localhost>, two deleted recipient <carol@localhost>"));
      assertThat(sessionLines()).anyMatch(l -> l.contains(": " + id + ": from=<alice@client.example>, size=") && l.contains(", nrcpt=1,"));
      assertThat(server.awaitMail("bob", 1)).hasSize(1);
    }
  }

  @Test
  void aMilterThatFailsAtTheEndOfTheMessageLeavesNoneOfItsChanges() throws Exception {
    var accepting = new PostaConfig.Milter("test", unixAddress, Set.of(PostaConfig.Protocol.SMTP), false, Duration.ofSeconds(2),
        Duration.ofSeconds(2), Duration.ofSeconds(1), false);
    try (var server = TestServer.start(data, with(accepting)); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      // It deletes bob and sends the first chunk of a new body, then times out: on-failure accept takes the message as it came.
      assertThat(send(smtp, "alice@client.example", "bob@localhost", "partial bob@localhost", "")).startsWith("250 2.0.0");
      assertThat(server.awaitMail("bob", 1).getFirst()).contains("\n\nHello milter.\n").doesNotContain("never finished");
      assertThat(sessionLines()).anyMatch(l -> l.matches(".*\\[127\\.0\\.0\\.1\\]#\\w+: milter test: failed at end of message: timed out .*; on-failure accept: .*"));
      assertThat(sessionLines()).noneMatch(l -> l.contains("milters: test"));
    }
  }

  @Test
  void aNulInTheHeaderIsRefusedBeforeAnyMilterAndOneInTheBodyIsShownAsItIs() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("alice@client.example", "bob@localhost");
      assertThat(smtp.data("Subject: a\0b\r\n\r\nHello.")).isEqualTo("550 5.6.0 Malformed message: a NUL octet in the header");
      assertThat(smtp.command("RSET")).isEqualTo("250 2.0.0 OK"); // the session goes on
      assertThat(logged().stream().map(n -> n.get("stage").asText())).doesNotContain("eom");
      smtp.envelope("alice@client.example", "bob@localhost");
      assertThat(smtp.data("Subject: addheader\r\n\r\nA\0B")).startsWith("250 2.0.0");
      assertThat(stage("eom").get("body").asText()).isEqualTo("A\0B\r\n");
      assertThat(server.awaitMail("bob", 1).getFirst()).contains("X-Milter: added by the test\n\nA\0B\n");
    }
  }

  @Test
  void eightBitFieldsKeepTheirOctetsAndMailParametersAreSentAsTheClientGaveThem() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      assertThat(smtp.command("MAIL FROM:<alice@client.example> SIZE=200 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=abc")).startsWith("250 ");
      assertThat(smtp.command("RCPT TO:<bob@localhost>")).startsWith("250 ");
      assertThat(smtp.command("DATA")).startsWith("354 ");
      byte[] latin1Subject = "Subject: addheader caf\u00e9\r\n".getBytes(StandardCharsets.ISO_8859_1); // é as the one octet 0xE9
      var message = new java.io.ByteArrayOutputStream();
      message.writeBytes("From: <alice@client.example>\r\n".getBytes(StandardCharsets.US_ASCII));
      message.writeBytes(latin1Subject);
      message.writeBytes("X-Utf8: \u00e9t\u00e9\r\n\r\nBody.\r\n.\r\n".getBytes(StandardCharsets.UTF_8));
      smtp.send(message.toByteArray());
      assertThat(smtp.reply()).startsWith("250 2.0.0");
      assertThat(stage("envfrom").get("args").toString()).isEqualTo("[\"SIZE=200\",\"BODY=8BITMIME\",\"SMTPUTF8\",\"RET=HDRS\",\"ENVID=abc\"]");
      await(() -> filesIn(server.newMail("bob")) == 1, "bob's message");
      byte[] delivered;
      try (Stream<Path> files = Files.list(server.newMail("bob"))) {
        delivered = Files.readAllBytes(files.findFirst().orElseThrow());
      }
      String octets = new String(delivered, StandardCharsets.ISO_8859_1);
      assertThat(octets).contains("X-Milter: added by the test").contains(new String(latin1Subject, StandardCharsets.ISO_8859_1).replace("\r\n", "\n"))
          .contains(new String("X-Utf8: \u00e9t\u00e9\n".getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1));
    }
  }

  @Test
  void theQueuedLineSizeIsOfTheMessageAsTheMiltersLeftIt() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      String plain = send(smtp, "alice@client.example", "bob@localhost", "hello", "");
      String added = send(smtp, "alice@client.example", "bob@localhost", "addheader", "");
      long plainSize = queuedSize(plain);
      // "addheader" is 4 octets longer than "hello"; the milter added "X-Milter: added by the test\r\n", 29 more.
      assertThat(queuedSize(added)).isEqualTo(plainSize + 4 + 29);
    }
  }

  private long queuedSize(String reply) {
    String id = reply.substring(reply.lastIndexOf(' ') + 1);
    String line = sessionLines().stream().filter(l -> l.contains(": " + id + ": from=<") && l.endsWith("status=queued")).findFirst().orElseThrow();
    var m = java.util.regex.Pattern.compile(", size=(\\d+),").matcher(line);
    assertThat(m.find()).as(line).isTrue();
    return Long.parseLong(m.group(1));
  }

  @Test
  void aNulInAHeloNameNeverReachesAMilter() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.smtpPort())) {
      smtp.reply();
      String reply = smtp.command("EHLO a\0b.example");
      assertThat(smtp.command("NOOP")).startsWith("250 "); // the session lives, whatever EHLO was answered
      assertThat(reply).startsWith("250-");
      assertThat(stage("hello").get("name").asText()).isEqualTo("a?b.example"); // the session's own sanitizing, not a broken packet
    }
  }

  @Test
  void submissionIsNotFilteredByDefault() throws Exception {
    try (var server = server(); var smtp = new SmtpWire(server.submissionPort())) {
      smtp.reply();
      assertThat(smtp.command("EHLO reject.example")).startsWith("250-");
    }
    assertThat(logged()).isEmpty();
  }

  private static long filesIn(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.count();
    }
  }

  private interface Condition {
    boolean holds() throws Exception;
  }

  private static void await(Condition c, String what) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (!c.holds()) {
      if (System.nanoTime() > deadline) throw new AssertionError("no " + what + " after 10 s");
      Thread.sleep(20);
    }
  }
}
