package dev.posta.e2e;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import dev.posta.testing.SmtpPeer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What ships, used as a new user uses it: the {@code ./posta} launcher running the jar that
 * {@code package} built, in a fresh folder, driven by real clients (Python's smtplib, imaplib and
 * poplib; aiosmtpd as the smart host). The other tests run from compiled classes, where packaging bugs cannot
 * show: the shaded jar once named a host-name resolver it could not load, so every lookup threw
 * (issue 9). These run in the integration-test phase (failsafe), after the jar is built.
 */
class LauncherIT {
  private static final Path LAUNCHER = Path.of(System.getProperty("posta.launcher", "../posta")).toAbsolutePath().normalize();
  private static final Path PYTHON = Path.of("/usr/bin/python3");
  private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(60);
  private static final String RUNNING = "Posta 0.1.0 is running";

  @TempDir Path dir;

  @BeforeAll
  static void theLauncherAndItsJarAreThere() {
    assertThat(LAUNCHER).as("the launcher").isExecutable();
    assertThat(LAUNCHER.resolveSibling("posta-server/target/posta.jar")).as("the jar `package` builds").isRegularFile();
    assertThat(PYTHON).as("Debian's python3, the client").isExecutable();
  }

  @Test
  void aConfigWithoutHostnameIsCheckedAndServedUnderThisMachinesName() throws Exception {
    int smtp = freePort();
    config("""
        data = "data"
        [listeners]
        smtp = ["127.0.0.1:%d"]
        submission = []
        smtps = []
        imap = []
        imaps = []
        pop3 = []
        pop3s = []
        [domains."localhost"]
        any-local-part = true
        """.formatted(smtp));

    E2e.Run check = posta("", "check-config", "--config", "posta.toml");
    assertThat(check.exit()).as("%s", check).isZero();
    assertThat(check.stdout()).isEqualTo("posta.toml: OK (1 domain(s), 1 listener(s))\n");

    try (var server = new Serving("--config", "posta.toml")) {
      // The name comes from this machine (a lookup of its own address); whatever it is, the
      // greeting and the self-signed certificate carry the same one.
      Matcher certificate = Pattern.compile("self-signed certificate for (\\S+):").matcher(server.log());
      assertThat(certificate.find()).as("banner%n%s", server.log()).isTrue();
      E2e.Run sent = send(smtp, "app@localhost", "friend@localhost");
      assertThat(sent.lines()).containsExactly("GREETING 220 " + certificate.group(1) + " ESMTP Posta", "REFUSED {}");
      assertThat(awaitFiles(dir.resolve("data/mail/localhost/friend/Maildir/new"), 1).getFirst())
          .contains("Subject: Through the launcher\n");
    }
  }

  @Test
  void theReadmeQuickTourWorksOnTheEmbeddedDefaults() throws Exception {
    String readme = Files.readString(LAUNCHER.resolveSibling("README.md"));
    Matcher addUser = Pattern.compile("echo '([^']+)' \\| \\./posta user add (\\S+)").matcher(readme);
    assertThat(addUser.find()).as("the README's `user add` line").isTrue();
    Matcher script = Pattern.compile("```python\n(.*?)```", Pattern.DOTALL).matcher(readme);
    assertThat(script.find()).as("the README's Python example").isTrue();

    E2e.Run add = posta(addUser.group(1) + "\n", "user", "add", addUser.group(2));
    assertThat(add.exit()).as("%s", add).isZero();
    assertThat(posta("", "user", "list").stdout()).isEqualTo(addUser.group(2) + "\n");

    try (var server = new Serving()) {
      assertThat(server.log()).contains("  smtp        127.0.0.1:2525\n  submission  127.0.0.1:2587\n  smtps       127.0.0.1:2465\n"
          + "  imap        127.0.0.1:2143\n  imaps       127.0.0.1:2993\n  pop3        127.0.0.1:2110\n  pop3s       127.0.0.1:2995\n"
          + "  http        127.0.0.1:8025\n")
          .contains("\n  checks      SPF, DKIM, DMARC on smtp except from loopback; DMARC reject: refused (550)\n"
              + "  defenses    smtp: screen (greet wait 6s, pipelining) except from loopback; submission: none; smtps: none\n");
      var python = new ProcessBuilder(PYTHON.toString(), "-c", script.group(1)).directory(dir.toFile());
      E2e.Run run = E2e.run(python, COMMAND_TIMEOUT, "");
      assertThat(run.exit()).as("%s", run).isZero();
      assertThat(run.stdout()).isEqualTo("Email sent successfully!\n");
      assertThat(awaitFiles(dir.resolve("posta-data/mail/localhost/friend/Maildir/new"), 1).getFirst())
          .contains("Subject: Test Email\n", "\nHello, this is a test email sent using SMTP!\n");
      await("the queue empties", () -> posta("", "queue"), q -> q.stdout().equals("queue is empty\n"));

      // Then read it over IMAP, as the tour goes on: the friend gets an account and logs in.
      assertThat(addUser.find() && script.find()).as("the README's second `user add` and its imaplib example").isTrue();
      E2e.Run friend = posta(addUser.group(1) + "\n", "user", "add", addUser.group(2));
      assertThat(friend.exit()).as("%s", friend).isZero();
      var imaplib = new ProcessBuilder(PYTHON.toString(), "-c", script.group(1)).directory(dir.toFile());
      E2e.Run read = E2e.run(imaplib, COMMAND_TIMEOUT, "");
      assertThat(read.exit()).as("%s", read).isZero();
      assertThat(read.stdout()).isEqualTo("me@localhost - Test Email\n");
      // Log lines are written in batches, within 100 ms: the client may be done before its session's lines are out.
      await("the IMAP login's log line", server::log,
          l -> Pattern.compile("ImapSession: imap\\[127\\.0\\.0\\.1\\]#\\w{8}: LOGIN succeeded: user=friend@localhost\n").matcher(l).find());

      // And collect it over POP3, with the tour's poplib example.
      assertThat(script.find()).as("the README's poplib example").isTrue();
      var poplib = new ProcessBuilder(PYTHON.toString(), "-c", script.group(1)).directory(dir.toFile());
      E2e.Run collected = E2e.run(poplib, COMMAND_TIMEOUT, "");
      assertThat(collected.exit()).as("%s", collected).isZero();
      assertThat(collected.stdout()).isEqualTo("me@localhost - Test Email\n");
      String log = await("the POP3 session's last log line", server::log, l -> l.contains("(quit)\n"));
      assertThat(log).containsPattern("Pop3Session: pop3\\[127\\.0\\.0\\.1\\]#\\w{8}: USER/PASS succeeded: user=friend@localhost, 1 message \\(")
          .containsPattern("Pop3Session: pop3\\[127\\.0\\.0\\.1\\]#\\w{8}: quit: user=friend@localhost, retrieved=1, deleted=0, left=1\n")
          .containsPattern("Pop3Session: pop3\\[127\\.0\\.0\\.1\\]#\\w{8}: disconnect from 127\\.0\\.0\\.1:\\d+ user=friend@localhost "
              + "top=0 retr=1/\\d+ del=0/1 size=\\d+ \\(quit\\)\n");

      // The HTTP listener of the embedded defaults: health, then a token each and curl as the README shows.
      E2e.Run health = E2e.run(COMMAND_TIMEOUT, List.of("curl", "-sS", "http://127.0.0.1:8025/healthz"));
      assertThat(health.stdout()).as("%s", health).isEqualTo("ok\n");
      E2e.Run token = posta("", "token", "create", "--user", "me@localhost");
      assertThat(token.exit()).as("%s", token).isZero();
      assertThat(token.stdout()).matches("posta_[A-Za-z0-9_-]{43}\n");
      E2e.Run sent = E2e.run(COMMAND_TIMEOUT, List.of("curl", "-sS", "-H", "Authorization: Bearer " + token.stdout().strip(),
          "-H", "Content-Type: application/json", "-d", "{\"from\": \"me@localhost\", \"to\": \"friend@localhost\", \"subject\": \"Over HTTP\", \"text\": \"Hi\"}",
          "http://127.0.0.1:8025/api/v1/messages"));
      assertThat(sent.stdout()).as("%s", sent).matches("\\{\"queueId\":\"[0-9A-Z]+\"}");
      String friendsToken = posta("", "token", "create", "--user", "friend@localhost").stdout().strip();
      E2e.Run listed = await("the message over HTTP in friend's inbox", () -> E2e.run(COMMAND_TIMEOUT, List.of("curl", "-sS",
          "-H", "Authorization: Bearer " + friendsToken, "http://127.0.0.1:8025/api/v1/messages?subject=over+http")),
          r -> r.stdout().contains("\"subject\":\"Over HTTP\""));
      assertThat(listed.stdout()).startsWith("{\"messages\":[{\"folder\":\"INBOX\",\"uid\":2,");

      // The web view from the shaded jar (its templates compiled in): the sign-in page, then
      // signing in as the friend with curl keeping the cookies, and the inbox's list.
      String jar = dir.resolve("cookies").toString();
      E2e.Run signInPage = E2e.run(COMMAND_TIMEOUT, List.of("curl", "-sS", "-c", jar, "-b", jar, "http://127.0.0.1:8025/signin"));
      assertThat(signInPage.stdout()).as("%s", signInPage).startsWith("<!DOCTYPE html>")
          .contains("<title>Sign in · Posta</title>", "<form method=\"post\" action=\"/signin\">");
      Matcher csrf = Pattern.compile("name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"").matcher(signInPage.stdout());
      assertThat(csrf.find()).as("the sign-in form's token").isTrue();
      E2e.Run signedIn = E2e.run(COMMAND_TIMEOUT, List.of("curl", "-sS", "-c", jar, "-b", jar, "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
          "--data-urlencode", "csrf=" + csrf.group(1), "--data-urlencode", "address=" + addUser.group(2),
          "--data-urlencode", "password=" + addUser.group(1), "http://127.0.0.1:8025/signin"));
      assertThat(signedIn.stdout()).as("%s", signedIn).isEqualTo("303 http://127.0.0.1:8025/mail/INBOX");
      E2e.Run inbox = E2e.run(COMMAND_TIMEOUT, List.of("curl", "-sS", "-b", jar, "http://127.0.0.1:8025/mail/INBOX"));
      assertThat(inbox.stdout()).as("%s", inbox).contains("<h1>Inbox <small>2 messages</small></h1>",
          "<a href=\"/mail/INBOX/2\">Over HTTP</a>", "<a href=\"/mail/INBOX/1\">Test Email</a>");
      await("the web sign-in's log line", server::log, l -> l.contains("WebServer: http[127.0.0.1]: web sign-in succeeded: user=" + addUser.group(2) + "\n"));
    }
  }

  @Test
  void mailRelaysThroughASmartHostGivenByName() throws Exception {
    try (SmtpPeer peer = SmtpPeer.start(dir)) {
      int smtp = freePort();
      config(relayingTo("localhost", peer.port(), smtp));
      try (var server = new Serving("--config", "posta.toml")) {
        assertThat(server.log()).contains("  outbound    through smart host localhost:" + peer.port() + " (TLS none)\n");
        assertThat(send(smtp, "app@localhost", "friend@example.net").lines()).containsExactly(
            "GREETING 220 mx.posta.test ESMTP Posta", "REFUSED {}");
        SmtpPeer.Received got = peer.awaitMessages(1, Duration.ofSeconds(30)).getFirst();
        assertThat(got.mailFrom()).isEqualTo("app@localhost");
        assertThat(got.rcptTos()).containsExactly("friend@example.net");
        assertThat(got.text()).contains("Subject: Through the launcher\r\n");
        await("the queue empties", () -> posta("", "queue", "--config", "posta.toml"), q -> q.stdout().equals("queue is empty\n"));
        var sent = Pattern.compile("RemoteDelivery: [0-9A-F]{16}: to=<friend@example.net>, relay=\\[localhost]:" + peer.port()
            + "/none, dsn=2\\.0\\.0, status=sent \\(delivered to localhost\\[127\\.0\\.0\\.1]:" + peer.port() + ": 250 2\\.0\\.0 Ok: queued as 0001\\)\n");
        await("the delivery's log line", server::log, l -> sent.matcher(l).find()); // log lines are written in batches, within 100 ms
      }
    }
  }

  @Test
  void aMessageThatCannotLeaveShowsWhyInPostaQueueWhileServingAndAfter() throws Exception {
    int smtp = freePort();
    int nobody = freePort();
    config(relayingTo("localhost", nobody, smtp));
    Pattern deferred = Pattern.compile("""
        -Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------
        [0-9A-F]{16} +\\d+ \\w{3} \\w{3} \\d\\d \\d\\d:\\d\\d:\\d\\d  app@localhost
         +\\(cannot connect to localhost\\[127\\.0\\.0\\.1]:%d: Connection refused\\)
         +\\(attempt 1, next \\w{3} \\w{3} \\d\\d \\d\\d:\\d\\d:\\d\\d\\)
         +friend@example\\.net

        -- 1 Kbytes in 1 Request\\.
        """.formatted(nobody));
    try (var server = new Serving("--config", "posta.toml")) {
      send(smtp, "app@localhost", "friend@example.net");
      E2e.Run listed = await("the attempt is recorded", () -> posta("", "queue", "--config", "posta.toml"),
          q -> q.stdout().contains("(attempt 1,"));
      assertThat(listed.stdout()).matches(deferred);
      // The log says the same, under the message's queue ID: the server that failed, then the recipient's fate.
      String queueId = listed.stdout().lines().skip(1).findFirst().orElseThrow().substring(0, 16);
      String log = await("the attempt's log lines", server::log, l -> l.contains(queueId + ": to=<friend@example.net>"));
      assertThat(log).containsPattern("RemoteDelivery: " + queueId + ": to \\S+: cannot connect to localhost\\[127\\.0\\.0\\.1]:" + nobody
          + ": Connection refused\n");
    }
    E2e.Run stopped = posta("", "queue", "--config", "posta.toml");
    assertThat(stopped.exit()).isZero();
    assertThat(stopped.stdout()).matches(deferred);
  }

  /**
   * A spam run cleaned up with one command, as an administrator would: the messages from one
   * sender deleted through the running server in one control request (the server logs one
   * request and a line per message), then the rest by IDs piped in, with no server running; and
   * {@code config show}'s text taken back by {@code check-config}.
   */
  @Test
  void aBulkDeleteThroughTheLauncherWhileServingAndAfter() throws Exception {
    int smtp = freePort();
    int nobody = freePort();
    // SMTP only: IMAP and POP3 at their standard ports would collide with anything else on this machine that has them.
    config(relayingTo("localhost", nobody, smtp).replace("smtps = []\n", "smtps = []\nimap = []\nimaps = []\npop3 = []\npop3s = []\n"));
    try (var server = new Serving("--config", "posta.toml")) {
      send(smtp, "spam@example.com", "friend@example.net");
      send(smtp, "spam@example.com", "other@example.org");
      send(smtp, "app@localhost", "friend@example.net");
      E2e.Run json = await("all three tried", () -> posta("", "queue", "list", "--json", "--config", "posta.toml"),
          q -> q.stdout().lines().filter(l -> l.contains("\"attempts\": 1,") && !l.contains("\"active\"")).count() == 3);
      assertThat(json.stdout()).contains("\"sender\": \"spam@example.com\"", "\"sender\": \"app@localhost\"");

      E2e.Run deleted = posta("", "queue", "delete", "--from", "spam@example.com", "--config", "posta.toml");
      assertThat(deleted).extracting(E2e.Run::exit, E2e.Run::stdout, E2e.Run::stderr).containsExactly(0, "Deleted: 2 messages\n", "");
      await("the server's log lines", server::log, l -> l.split("deleted by the administrator", -1).length == 3);
      assertThat(server.log().split("control: queue delete --from <spam@example.com>", -1)).as("one request").hasSize(2);
    }
    E2e.Run left = posta("", "queue", "list", "--json", "--config", "posta.toml");
    assertThat(left.stdout()).contains("\"sender\": \"app@localhost\"").doesNotContain("spam@");
    String id = left.stdout().replaceAll("(?s).*\"queue_id\": \"([0-9A-F]{16})\".*", "$1");
    E2e.Run piped = posta(id + "\n", "queue", "delete", "-", "--config", "posta.toml");
    assertThat(piped).extracting(E2e.Run::exit, E2e.Run::stdout, E2e.Run::stderr).containsExactly(0, "Deleted: 1 message\n", "");
    assertThat(posta("", "queue", "--config", "posta.toml").stdout()).isEqualTo("queue is empty\n");

    E2e.Run shown = posta("", "config", "show", "--config", "posta.toml");
    assertThat(shown.stdout()).startsWith("hostname = \"mx.posta.test\"\ndata = \"" + dir.resolve("data") + "\"\n\n[listeners]\n");
    Files.writeString(dir.resolve("shown.toml"), shown.stdout());
    assertThat(posta("", "check-config", "shown.toml").stdout()).isEqualTo("shown.toml: OK (1 domain(s), 1 listener(s))\n");
  }

  /**
   * DKIM as an administrator meets it: {@code posta dkim keygen} makes the key and prints the
   * record; a configured selector without its key stops check-config and serve with the
   * setting's file:line; with the key there, mail submitted with AUTH is signed (the banner and
   * the log say so), and dkimpy accepts the signature with the record keygen printed, served by
   * a DNS server on loopback.
   */
  @Test
  void dkimKeygenThenSignedSubmissionThroughTheLauncher() throws Exception {
    int smtp = freePort();
    int submission = freePort();
    String toml = """
        hostname = "mx.posta.test"
        data = "data"
        [listeners]
        smtp = ["127.0.0.1:%d"]
        submission = ["127.0.0.1:%d"]
        smtps = []
        imap = []
        imaps = []
        pop3 = []
        pop3s = []
        [submission]
        plaintext-auth-on-loopback = true
        [domains."localhost"]
        any-local-part = true
        [dkim.selectors]
        "posta.test" = ["%s"]
        """;
    config(toml.formatted(smtp, submission, "missing"));
    Path missing = dir.resolve("data/dkim/posta.test/missing.pem");
    String problem = "posta.toml:16: dkim.selectors.\"posta.test\": no key file " + missing
        + " for selector missing (make one with: posta dkim keygen posta.test --selector missing)";
    E2e.Run check = posta("", "check-config", "--config", "posta.toml");
    assertThat(check.exit()).as("%s", check).isEqualTo(2);
    assertThat(check.stderr()).contains(problem + "\n");
    E2e.Run refused = posta("", "serve", "--config", "posta.toml");
    assertThat(refused.exit()).as("%s", refused).isEqualTo(1);
    assertThat(refused.stderr()).contains("posta: cannot start: unusable DKIM keys:\n  " + problem + "\n");

    E2e.Run keygen = posta("", "dkim", "keygen", "posta.test", "--selector", "s1", "--config", "posta.toml");
    assertThat(keygen.exit()).as("%s", keygen).isZero();
    Path key = dir.resolve("data/dkim/posta.test/s1.pem");
    assertThat(java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(key))).isEqualTo("rw-------");
    Matcher record = Pattern.compile("\ns1\\._domainkey\\.posta\\.test\\. IN TXT \\( \"([^\"]{255})\"\n\t\"([^\"]+)\" \\)\n\\z")
        .matcher(keygen.stdout());
    assertThat(record.find()).as(keygen.stdout()).isTrue();
    E2e.Run again = posta("", "dkim", "keygen", "posta.test", "--selector", "s1", "--config", "posta.toml");
    assertThat(again.exit()).isEqualTo(1);
    assertThat(again.stderr()).isEqualTo("posta dkim keygen: " + key + " exists already: choose another --selector\n");

    config(toml.formatted(smtp, submission, "s1"));
    E2e.Run added = posta("signing pass\n", "user", "add", "sender@posta.test", "--config", "posta.toml");
    assertThat(added.exit()).as("%s", added).isZero();
    try (var server = new Serving("--config", "posta.toml");
        var dns = dev.posta.testing.Dnsmasq.start(dir, z -> z.txt("s1._domainkey.posta.test", record.group(1), record.group(2)))) {
      assertThat(server.log()).contains("  dkim        posta.test (s1 rsa-sha256)\n");
      E2e.Run sent = E2e.run(COMMAND_TIMEOUT, List.of(PYTHON.toString(), E2e.resource("submit_with_auth.py").toString(),
          Integer.toString(submission), "sender@posta.test", "signing pass", "sender@posta.test", "friend@localhost"));
      assertThat(sent.stdout()).as("%s", sent).isEqualTo("REFUSED {}\n");
      String delivered = awaitFiles(dir.resolve("data/mail/localhost/friend/Maildir/new"), 1).getFirst();
      assertThat(delivered).containsSubsequence("\nDKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=posta.test; s=s1;\n\tt=",
          "\nReceived: from ", "\nSubject: Signed through the launcher\n");
      var dkimpy = dev.posta.testing.Dkimpy.verify(dns.port(), delivered.getBytes(java.nio.charset.StandardCharsets.UTF_8), dir.resolve("signed.eml"));
      assertThat(dkimpy.out()).as("%s", dkimpy).isEqualTo("0 pass d=posta.test s=s1\n");
      await("the queued line", server::log, l -> l.contains(", dkim=signed (d=posta.test s=s1), status=queued"));
    }
  }

  /**
   * The log as an administrator reads it (issue 15), from the jar as built: under systemd
   * (JOURNAL_STREAM set) text lines have no timestamp but their syslog priority; one grep for the
   * session ID gives a STARTTLS+AUTH submission from connect to disconnect, one for its queue ID
   * the message's life; the start and stop lines frame it. Then {@code [log] format = "json"}:
   * every line is a JSON object (Python's json reads them) with the session and queue IDs.
   */
  @Test
  void theLogTellsASubmissionsStoryByOneGrepInTextForJournaldAndInJson() throws Exception {
    int submission = freePort();
    String toml = """
        data = "data"
        [listeners]
        smtp = []
        submission = ["127.0.0.1:%d"]
        smtps = []
        imap = []
        imaps = []
        pop3 = []
        pop3s = []
        [domains."localhost"]
        any-local-part = true
        [log]
        format = "%s"
        """;
    config(toml.formatted(submission, "text"));
    E2e.Run added = posta("a story to follow\n", "user", "add", "me@localhost", "--config", "posta.toml");
    assertThat(added.exit()).as("%s", added).isZero();
    List<String> submit = List.of(PYTHON.toString(), E2e.resource("submit_with_starttls.py").toString(), Integer.toString(submission),
        "me@localhost", "a story to follow", "me@localhost", "friend@localhost");
    String log;
    try (var server = new Serving(java.util.Map.of("JOURNAL_STREAM", "8:4242"), "--config", "posta.toml")) {
      E2e.Run sent = E2e.run(COMMAND_TIMEOUT, concat(submit, "<story-1@app.example>"));
      assertThat(sent.stdout()).as("%s", sent).isEqualTo("REFUSED {}\n");
      log = await("the message removed from the queue", server::log, l -> l.contains(": removed\n"));
    }
    log = Files.readString(dir.resolve("serve-" + SERVES.get() + ".log"));
    Matcher queued = Pattern.compile("#(\\w{8}): ([0-9A-F]{16}): from=<me@localhost>").matcher(log);
    assertThat(queued.find()).as(log).isTrue();
    String session = queued.group(1);
    String queueId = queued.group(2);
    String prefix = "<6>INFO  SmtpSession: smtp\\[127\\.0\\.0\\.1\\]#" + session + ": ";
    assertThat(grep(log, "#" + session + ": ")).satisfiesExactly(
        l -> assertThat(l).matches(prefix + "connect from 127\\.0\\.0\\.1:\\d+ to 127\\.0\\.0\\.1:" + submission + " \\(submission\\)"),
        l -> assertThat(l).matches(prefix + "TLS established: TLSv1\\.3 with cipher TLS_\\w+"),
        l -> assertThat(l).matches(prefix + "AUTH PLAIN succeeded: user=me@localhost"),
        l -> assertThat(l).matches(prefix + queueId + ": from=<me@localhost>, size=\\d+, nrcpt=1, helo=<app\\.example>, "
            + "sasl_username=me@localhost, msgid=<story-1@app\\.example>, status=queued"),
        l -> assertThat(l).matches(prefix + "disconnect from 127\\.0\\.0\\.1:\\d+ "
            + "ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8 \\(QUIT\\)"));
    assertThat(grep(log, queueId)).hasSize(3).last().isEqualTo("<6>INFO  QueueManager: " + queueId + ": removed");
    assertThat(grep(log, queueId).get(1))
        .isEqualTo("<6>INFO  LocalDelivery: " + queueId + ": to=<friend@localhost>, mailbox=friend@localhost, status=delivered (maildir)");
    assertThat(grep(log, "INFO  Posta: ")).satisfiesExactly(
        l -> assertThat(l).isEqualTo("<6>INFO  Posta: posta 0.1.0 started: config posta.toml, data " + dir.resolve("data") + ", listeners submission 127.0.0.1:"
            + submission + ", 0 message(s) in the queue"),
        l -> assertThat(l).matches("<6>INFO  Posta: posta stopping: shutdown requested after \\d+s"),
        l -> assertThat(l).isEqualTo("<6>INFO  Posta: posta stopped: 0 message(s) left in the queue"));
    assertThat(log).doesNotContainPattern("(?m)^\\d{4}-\\d\\d-\\d\\dT.*(INFO|WARN|ERROR)");

    config(toml.formatted(submission, "json"));
    try (var server = new Serving("--config", "posta.toml")) {
      E2e.Run sent = E2e.run(COMMAND_TIMEOUT, concat(submit, "<story-2@app.example>"));
      assertThat(sent.stdout()).as("%s", sent).isEqualTo("REFUSED {}\n");
      log = await("the message removed from the queue", server::log, l -> l.contains(": removed\"}\n") || l.contains(": removed\","));
    }
    log = Files.readString(dir.resolve("serve-" + SERVES.get() + ".log"));
    // Every log line (those that are not the banner, which goes to standard output) is one JSON object.
    String json = String.join("\n", log.lines().filter(l -> l.startsWith("{")).toList());
    E2e.Run parsed = E2e.run(new ProcessBuilder(PYTHON.toString(), "-c", """
        import json, sys
        for line in sys.stdin:
            o = json.loads(line)
            assert set(o) <= {'time', 'level', 'logger', 'message', 'session', 'protocol', 'client', 'queue_id', 'exception'}, o
            print(o['level'], o['logger'], o.get('session', '-'), o.get('queue_id', '-'), o['message'], sep='|')
        """), COMMAND_TIMEOUT, json + "\n");
    assertThat(parsed.exit()).as("%s", parsed).isZero();
    Matcher queuedJson = Pattern.compile("(?m)^INFO\\|dev\\.posta\\.smtp\\.SmtpSession\\|(\\w{8})\\|([0-9A-F]{16})\\|smtp\\[127\\.0\\.0\\.1\\]#\\1: \\2: "
        + "from=<me@localhost>, size=\\d+, nrcpt=1, helo=<app\\.example>, sasl_username=me@localhost, msgid=<story-2@app\\.example>, status=queued$")
        .matcher(parsed.stdout());
    assertThat(queuedJson.find()).as(parsed.stdout()).isTrue();
    assertThat(parsed.stdout()).contains("INFO|dev.posta.delivery.LocalDelivery|-|" + queuedJson.group(2) + "|" + queuedJson.group(2)
        + ": to=<friend@localhost>, mailbox=friend@localhost, status=delivered (maildir)\n");
    assertThat(parsed.stdout().lines().filter(l -> l.contains("|" + queuedJson.group(1) + "|")).count()).isEqualTo(5);
  }

  private static List<String> concat(List<String> command, String last) {
    List<String> all = new ArrayList<>(command);
    all.add(last);
    return all;
  }

  /** The lines of {@code log} that contain {@code text}, in order. */
  private static List<String> grep(String log, String text) {
    return log.lines().filter(l -> l.contains(text)).toList();
  }

  /**
   * Mail from another server, checked by the jar as built: a forged From of a domain whose DMARC
   * policy is reject is refused, but delivered to Junk for the domain whose
   * {@code [sender-checks.domains]} table says quarantine; mail whose SPF passes arrives with its
   * Authentication-Results field. The sender domains' records are in dnsmasq, the server's
   * resolver by {@code [outbound] dns-servers}; loopback clients are checked because
   * {@code skip-networks} is emptied.
   */
  @Test
  void senderChecksThroughTheLauncher() throws Exception {
    int smtp = freePort();
    try (var dns = dev.posta.testing.Dnsmasq.start(dir, z -> z
        .txt("good.test", "v=spf1 ip4:127.0.0.1 -all").txt("_dmarc.good.test", "v=DMARC1; p=reject")
        .txt("bank.test", "v=spf1 -all").txt("_dmarc.bank.test", "v=DMARC1; p=reject"))) {
      config("""
          hostname = "mx.posta.test"
          data = "data"
          [listeners]
          smtp = ["127.0.0.1:%d"]
          submission = []
          smtps = []
          imap = []
          imaps = []
          pop3 = []
          pop3s = []
          [outbound]
          dns-servers = ["%s"]
          [sender-checks]
          skip-networks = []
          [sender-checks.domains."lists.test"]
          dmarc-reject = "quarantine"
          [domains."localhost"]
          any-local-part = true
          [domains."lists.test"]
          any-local-part = true
          """.formatted(smtp, dns.address()));
      try (var server = new Serving("--config", "posta.toml")) {
        assertThat(server.log()).contains(
            "\n  checks      SPF, DKIM, DMARC on smtp; lists.test: DMARC reject: to Junk; other domains: DMARC reject: refused (550)\n");
        // One domain quarantines what the others refuse.
        assertThat(send(smtp, "ceo@bank.test", "list@lists.test").stdout()).endsWith("\nREFUSED {}\n");
        assertThat(awaitFiles(dir.resolve("data/mail/lists.test/list/Maildir/.Junk/new"), 1).getFirst())
            .contains("\tdmarc=fail (p=reject dis=reject; no aligned SPF or DKIM pass) header.from=bank.test\n");
        assertThat(send(smtp, "ceo@bank.test", "friend@localhost").stdout())
            .endsWith("\nDATA 550 5.7.1 Message refused: it fails DMARC, and bank.test's DMARC policy is reject\n");
        assertThat(send(smtp, "alice@good.test", "friend@localhost").stdout()).endsWith("\nREFUSED {}\n");
        String delivered = awaitFiles(dir.resolve("data/mail/localhost/friend/Maildir/new"), 1).getFirst();
        assertThat(delivered).containsSubsequence("\nAuthentication-Results: mx.posta.test;\n",
            "\tspf=pass (good.test: ip4:127.0.0.1 matched 127.0.0.1) smtp.mailfrom=good.test;\n\tdkim=none;\n",
            "\tdmarc=pass (p=reject dis=accept; SPF pass for good.test) header.from=good.test\nReceived: from ");
        await("the refusal's line", server::log, l -> l.contains("refused: DMARC policy reject of bank.test (no aligned SPF or DKIM pass)"));
      }
    }
  }

  /**
   * The service user story, as {@code dist/systemd/posta.service} runs Posta (without systemd,
   * which cannot run here): as an unprivileged user with CAP_NET_BIND_SERVICE alone, on the
   * standard ports 25, 587 and 465, in a private network namespace; root may not add a user
   * into the service's data folder, the service's user may, and Python's smtplib submits on
   * 587 (STARTTLS) and 465 and relays on 25 into a Maildir the service's user owns. Another
   * user's cron job mails through a sendmail symlink (not as another sender), with the server
   * running and, through the drop folder, with it stopped.
   */
  @Test
  void servesAsItsOwnUserOnTheStandardPorts() throws Exception {
    Path script = E2e.resource("service_user.sh");
    E2e.Run run = E2e.run(COMMAND_TIMEOUT.multipliedBy(2),
        List.of("unshare", "--net", "bash", script.toString(), LAUNCHER.toString(), dir.toString()));
    Path data = dir.resolve("data");
    assertThat(run.stdout()).as("%s", run).isEqualTo(String.join("\n",
        "root: posta user add: the data folder " + data + " belongs to nobody, not root: run this as nobody (sudo -u nobody posta ...),"
            + " so that the server can read what it writes",
        "service: added alice@posta.test",
        "serve: Posta 0.1.0 is running",
        "server user: nobody",
        "587: {}",
        "465: {}",
        "25: {}",
        "delivered: 3, owned by nobody ",
        "cron as daemon: 0",
        "cron's mail: Return-Path: <daemon@posta.test>",
        "-f as daemon: 77 sendmail: refused: 553 5.7.1 <alice@posta.test>: Sender address rejected: not owned by user daemon@posta.test",
        "stopped: 143",
        "while down as daemon: 0",
        "waiting: daemon 644",
        "after the restart: 5 delivered, 0 waiting; maildrop[daemon]: ID: from=<daemon@posta.test>",
        "stopped: 143",
        ""));
  }

  /** The build's start-up cache and its stamp, beside the jar (cli/AotTraining). */
  private static final Path BUILT_JAR = LAUNCHER.resolveSibling("posta-server/target/posta.jar");
  private static final Path BUILT_CACHE = LAUNCHER.resolveSibling("posta-server/target/posta.aot");

  /** What a stamp says of a cache made by this JDK for {@code jar}: its lines after the outcome. */
  private static List<String> stampFor(Path jar, String outcome) throws IOException {
    return List.of(outcome, jar.toRealPath().toString(), Path.of(System.getProperty("java.home")).toRealPath().toString(),
        System.getProperty("java.runtime.version"));
  }

  /** Whether the JVM {@code pid} has {@code file} mapped: the JDK uses that cache. */
  private static boolean maps(long pid, Path file) throws IOException {
    return Files.readAllLines(Path.of("/proc/" + pid + "/maps")).stream().anyMatch(l -> l.endsWith(" " + file));
  }

  private static final String SMTP_ONLY = """
      hostname = "localhost"
      data = "%s"
      [listeners]
      smtp = ["127.0.0.1:%d"]
      submission = []
      smtps = []
      imap = []
      imaps = []
      pop3 = []
      pop3s = []
      http = []
      [domains.localhost]
      """;

  /**
   * {@code package} trains the start-up cache (an embedded server's workload recorded by the JDK)
   * and the first {@code serve} after the build starts from it: the JVM has the file mapped, and
   * neither the launcher nor the JDK says a word about it; {@code serve --help} trains nothing.
   */
  @Test
  void theFirstServeAfterTheBuildStartsFromTheBuildsTrainedCache() throws Exception {
    assertThat(BUILT_CACHE).as("the cache `package` trained").isNotEmptyFile();
    assertThat(Files.readAllLines(BUILT_CACHE.resolveSibling("posta.aot.stamp"))).isEqualTo(stampFor(BUILT_JAR, "complete"));
    assertThat(Files.readString(BUILT_CACHE.resolveSibling("posta.aot.log"))).containsPattern(
        "posta aot-training: trained on \\d+ local and \\d+ relayed message\\(s\\) \\(SMTP \\d+, submission \\d+, smtps \\d+, HTTP API \\d+\\) in [\\d.]+ s, "
            + "then \\d+ message\\(s\\) read over IMAP and POP3");
    E2e.Run helped = posta("", "serve", "--help");
    assertThat(helped.stdout()).as("%s", helped).startsWith("Usage: posta serve ");
    assertThat(helped.stderr()).isEmpty();

    Files.writeString(dir.resolve("posta.toml"), SMTP_ONLY.formatted("data", freePort()));
    try (var server = new Serving("--config", "posta.toml")) {
      assertThat(server.process.info().arguments().orElseThrow()).contains("-XX:AOTCache=" + BUILT_CACHE.toRealPath());
      assertThat(maps(server.process.pid(), BUILT_CACHE.toRealPath())).as("the JVM maps " + BUILT_CACHE).isTrue();
      assertThat(server.process.descendants()).as("no training: the build's cache is valid").isEmpty();
      assertThat(server.log().lines().filter(l -> !l.matches("\\d{4}-\\d\\d-\\d\\dT\\S+ (INFO|WARN) .*"))).as(server.log())
          .allMatch(l -> l.startsWith("Posta ") || l.startsWith("  "), "banner lines");
    }
  }

  /**
   * A checkout moved elsewhere with its cache: the cache's stamp names the other jar, so this one
   * serves without it (one line says so, the JDK says nothing) and the build's training makes a
   * cache for this jar in the background, which the next serve starts from. The same when the
   * cache is missing.
   */
  @Test
  void aCacheMadeForAnotherJarIsNotUsedAndTheTrainingMakesOneForThisJar() throws Exception {
    Path checkout = dir.resolve("moved");
    Path jar = checkout.resolve("posta-server/target/posta.jar");
    Files.createDirectories(jar.getParent());
    Files.copy(LAUNCHER, checkout.resolve("posta"), java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
    for (String source : List.of("posta-server/src/main", "posta-client/src/main")) Files.createDirectories(checkout.resolve(source));
    for (String source : List.of("pom.xml", "posta-server/pom.xml", "posta-client/pom.xml")) Files.writeString(checkout.resolve(source), "");
    try (var sources = Files.walk(checkout)) {
      for (Path p : sources.toList()) Files.setLastModifiedTime(p, java.nio.file.attribute.FileTime.fromMillis(946_684_800_000L)); // 2000: older than the jar
    }
    for (String built : List.of("posta.jar", "posta.aot", "posta.aot.stamp")) {
      Files.copy(BUILT_JAR.resolveSibling(built), jar.resolveSibling(built), java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
    }
    Path cache = jar.resolveSibling("posta.aot");
    Path launcher = checkout.resolve("posta");
    Files.writeString(dir.resolve("posta.toml"), SMTP_ONLY.formatted("data", freePort()));
    var env = java.util.Map.of("POSTA_AOT_TRAINING_MESSAGES", "400");
    try (var server = new Serving(launcher, env, "serve", RUNNING, "--config", "posta.toml")) {
      assertThat(server.process.info().arguments().orElseThrow()).noneMatch(a -> a.startsWith("-XX:AOTCache"));
      assertThat(server.process.children().toList()).as("the training is no child of the server's JVM, which would never reap it").isEmpty();
      assertThat(server.log().lines().findFirst()).hasValue("posta: no start-up cache for this jar and JDK yet: this serve starts without one, "
          + "and a training makes it in the background into " + cache.toRealPath() + " (its output: " + cache.toRealPath() + ".log)");
      assertThat(server.log().lines().filter(l -> !l.matches("\\d{4}-\\d\\d-\\d\\dT\\S+ (INFO|WARN) .*")).skip(1)).as(server.log())
          .allMatch(l -> l.startsWith("Posta ") || l.startsWith("  "), "banner lines");
    }
    String jarPath = jar.toRealPath().toString();
    // The training runs at low priority beside whatever else runs: minutes on a busy machine.
    List<String> made = await("the training's stamp", Duration.ofMinutes(5), () -> {
      try {
        return Files.exists(cache.resolveSibling("posta.aot.stamp")) ? Files.readAllLines(cache.resolveSibling("posta.aot.stamp")) : List.<String>of();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, stamp -> stamp.size() > 1 && stamp.get(1).equals(jarPath) && isUnlocked(cache)); // this jar's, and the training has ended
    assertThat(made).isEqualTo(stampFor(jar, "complete"));
    try (var leftovers = Files.list(jar.getParent())) {
      assertThat(leftovers.map(p -> p.getFileName().toString()).sorted())
          .containsExactly("posta.aot", "posta.aot.lock", "posta.aot.log", "posta.aot.stamp", "posta.jar");
    }
    try (var server = new Serving(launcher, env, "serve", RUNNING, "--config", "posta.toml")) {
      assertThat(maps(server.process.pid(), cache.toRealPath())).as("the JVM maps the new cache").isTrue();
      assertThat(server.log().lines().filter(l -> !l.matches("\\d{4}-\\d\\d-\\d\\dT\\S+ (INFO|WARN) .*"))).as(server.log())
          .allMatch(l -> l.startsWith("Posta ") || l.startsWith("  "), "banner lines");
    }
  }

  /** Whether no training holds the lock beside {@code cache} (flock would fail otherwise). */
  private static boolean isUnlocked(Path cache) {
    E2e.Run flock = E2e.run(COMMAND_TIMEOUT, List.of("flock", "-n", cache.resolveSibling("posta.aot.lock").toString(), "true"));
    return flock.exit() == 0;
  }

  /**
   * The training stopped by SIGTERM (systemd stopping the service, Ctrl-C in a build): the
   * workload's server closes, its temporary folder goes, the JDK still writes the cache of what
   * it ran, and the driver renames it into place whole, stamped {@code stopped}; nothing
   * half-written is left. The JDK takes that cache.
   */
  @Test
  void aTrainingStoppedBySigtermStillWritesItsCacheWhole() throws Exception {
    Path tmp = Files.createDirectories(dir.resolve("tmp"));
    Path cache = dir.resolve("stopped/posta.aot");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process training = new ProcessBuilder(java, "-Djava.io.tmpdir=" + tmp, "-jar", BUILT_JAR.toString(), "aot-training", "--cache", cache.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("training.out").toFile()).start();
    try {
      Path log = cache.resolveSibling("posta.aot.log");
      await("the workload's server", Duration.ofMinutes(2), () -> Files.exists(log) ? readString(log) : "",
          l -> l.contains("posta aot-training: serving in " + tmp));
      sleep(2000); // mail flowing
      assertThat(training.isAlive()).isTrue();
      training.destroy(); // SIGTERM
      assertThat(training.waitFor(120, SECONDS)).isTrue();
    } finally {
      training.destroyForcibly();
    }
    assertThat(training.exitValue()).isEqualTo(143);
    assertThat(readString(dir.resolve("training.out"))).contains("posta aot-training: the workload was stopped by a signal (exit 143 after ")
        .contains("the cache of what it ran is " + cache + " (stamped stopped)\n");
    assertThat(Files.readAllLines(cache.resolveSibling("posta.aot.stamp"))).isEqualTo(stampFor(BUILT_JAR, "stopped"));
    try (var files = Files.list(cache.getParent())) {
      assertThat(files.map(p -> p.getFileName().toString()).sorted()).containsExactly("posta.aot", "posta.aot.log", "posta.aot.stamp");
    }
    try (var left = Files.list(tmp)) {
      assertThat(left).as("the workload's temporary folder, removed").isEmpty();
    }
    E2e.Run used = E2e.run(COMMAND_TIMEOUT, List.of(java, "-XX:+UseSerialGC", "-Xss512k", "-Xms16m", "-Xmx1g", "-XX:AOTCache=" + cache, "-Xlog:class+load=info",
        "-jar", BUILT_JAR.toString(), "--version"));
    assertThat(used.stdout()).contains("dev.posta.cli.Posta source: shared objects file\n", "\nPosta 0.1.0\n");
  }

  /** The default JVM options of the training's workload are serve's in the launcher: the JDK's cache is made for those. */
  @Test
  void theTrainingRunsWithServesJvmOptions() throws IOException {
    assertThat(Files.readString(LAUNCHER)).contains("read -r -a java_opts <<< \"${POSTA_JAVA_OPTS:--XX:+UseSerialGC -Xss512k -Xms16m -Xmx1g}\"");
    assertThat(readString(BUILT_CACHE.resolveSibling("posta.aot.log")))
        .contains("JAVA_TOOL_OPTIONS: -Djava.class.path=" + BUILT_JAR.toRealPath() + " -XX:+UseSerialGC -Xss512k -Xms16m -Xmx1g ");
  }

  private static String readString(Path file) {
    try {
      return Files.readString(file);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * {@code posta reload} and SIGHUP through the launcher and the built jar, as {@code systemctl
   * reload} sends it: a mailbox and a listener added to the file are served without a restart,
   * and a broken file is refused with its {@code file:line} problems (by posta reload before it
   * asks; by the server, which serves on, when a SIGHUP comes anyway).
   */
  @Test
  void sighupReadsTheConfigurationAgain() throws Exception {
    int first = freePort();
    int second = freePort();
    String toml = """
        hostname = "mx.posta.test"
        data = "data"
        [listeners]
        smtp = [%s]
        submission = []
        smtps = []
        imap = []
        imaps = []
        pop3 = []
        pop3s = []
        [domains."shop.test"]
        mailboxes = [%s]
        """;
    config(toml.formatted("\"127.0.0.1:" + first + "\"", "\"alice\""));
    try (var server = new Serving("--config", "posta.toml")) {
      try (var wire = new dev.posta.testing.SmtpWire(first)) {
        wire.ehlo();
        assertThat(wire.command("MAIL FROM:<x@elsewhere.test>")).isEqualTo("250 2.1.0 Sender OK");
        assertThat(wire.command("RCPT TO:<bob@shop.test>")).isEqualTo("550 5.1.1 <bob@shop.test>: Recipient address rejected: no such user here");
      }
      config(toml.formatted("\"127.0.0.1:" + first + "\", \"127.0.0.1:" + second + "\"", "\"alice\", \"bob\""));
      E2e.Run reload = posta("", "reload", "--config", "posta.toml");
      long jvm = server.process.pid(); // the launcher execs the JVM
      assertThat(reload.stdout()).as("%s", reload)
          .isEqualTo("posta reload: asked the server (pid " + jvm + ") to read posta.toml again; its log says what changed\n");
      try {
        await("the reload's line", server::log, l -> l.contains(" reload: reloaded posta.toml: "));
      } catch (AssertionError e) {
        // Seen twice in full builds and never alone: the server's threads say where the reload stands.
        throw new AssertionError(e.getMessage() + "\nthe server's threads:\n" + threadDump(jvm), e);
      }
      assertThat(server.log()).contains(" reload: reloaded posta.toml: listeners: +smtp 127.0.0.1:" + second
          + "; domains.\"shop.test\".mailboxes: +bob\n");
      assertThat(send(second, "x@elsewhere.test", "bob@shop.test").stdout()).endsWith("\nREFUSED {}\n");
      awaitFiles(dir.resolve("data/mail/shop.test/bob/Maildir/new"), 1);

      Files.writeString(dir.resolve("posta.toml"), "[limits]\nmax-message-size = \"big\"\n", java.nio.file.StandardOpenOption.APPEND);
      // posta reload checks the file first and leaves the server alone; a SIGHUP is refused by the server.
      E2e.Run refused = E2e.run(launcher(List.of(LAUNCHER.toString(), "reload", "--config", "posta.toml")), COMMAND_TIMEOUT, "");
      assertThat(refused.exit()).isEqualTo(2);
      assertThat(refused.stderr()).endsWith("posta reload: not asked: the server keeps its configuration\n");
      hangUp(server);
      await("the refusal's line", server::log, l -> l.contains(" reload: reload refused, the running configuration is kept:\n"));
      assertThat(server.log()).contains(" reload: reload refused, the running configuration is kept:\nposta.toml:14: limits.max-message-size: expected a size like \"35M\", \"35MiB\", \"512K\" or \"1G\", got \"big\"\n");
      assertThat(send(second, "x@elsewhere.test", "bob@shop.test").stdout()).endsWith("\nREFUSED {}\n");
      awaitFiles(dir.resolve("data/mail/shop.test/bob/Maildir/new"), 2);

      // [log] is read again too: the reload's own line is the first in JSON.
      config(toml.formatted("\"127.0.0.1:" + first + "\", \"127.0.0.1:" + second + "\"", "\"alice\", \"bob\"") + "[log]\nformat = \"json\"\n");
      hangUp(server);
      String log = await("the reload's line", server::log, l -> l.contains("reloaded posta.toml: log.format"));
      assertThat(log.lines().filter(l -> l.contains("reloaded posta.toml: log.format")))
          .singleElement(org.assertj.core.api.InstanceOfAssertFactories.STRING)
          .matches("\\{\"time\":\"[^\"]+\",\"level\":\"INFO\",\"logger\":\"dev\\.posta\\.reload\",\"message\":\"reloaded posta\\.toml: log\\.format: TEXT -> JSON\"\\}");
    }
  }

  private static void hangUp(Serving server) throws Exception {
    Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(server.process.pid())).inheritIO().start();
    assertThat(kill.waitFor()).isZero();
  }

  /**
   * Publishing DNS as the README shows it: {@code posta dkim keygen}, then {@code posta dns}
   * prints the zone records (the key keygen made among them, read back by dnsjava's zone
   * parser), and {@code posta dns check} finds them all OK once dnsmasq serves them, and exits 1
   * while they are not published.
   */
  @Test
  void dnsPrintsTheRecordsToPublishAndCheckFindsThemServed() throws Exception {
    config("""
        hostname = "mail.posta.test"
        data = "data"
        [domains."posta.test"]
        """);
    E2e.Run keygen = posta("", "dkim", "keygen", "posta.test", "--selector", "s1", "--config", "posta.toml");
    assertThat(keygen.exit()).as("%s", keygen).isZero();
    E2e.Run printed = posta("", "dns", "posta.test", "--address", "192.0.2.10", "--config", "posta.toml");
    assertThat(printed.exit()).as("%s", printed).isZero();
    assertThat(printed.stderr()).isEmpty();
    assertThat(printed.stdout()).startsWith("; DNS records for posta.test, for Posta on mail.posta.test to receive its mail and to send mail\n")
        .contains("\nposta.test. 3600 IN MX 10 mail.posta.test.\n", "\nmail.posta.test. 3600 IN A 192.0.2.10\n",
            "\nposta.test. 3600 IN TXT \"v=spf1 ip4:192.0.2.10 -all\"\n",
            "\n_dmarc.posta.test. 3600 IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@posta.test\"\n",
            "\n;   10.2.0.192.in-addr.arpa. 3600 IN PTR mail.posta.test.\n");
    List<org.xbill.DNS.Record> records = new ArrayList<>();
    try (var master = new org.xbill.DNS.Master(new java.io.ByteArrayInputStream(printed.stdout().getBytes(java.nio.charset.StandardCharsets.UTF_8)))) {
      for (var r = master.nextRecord(); r != null; r = master.nextRecord()) records.add(r);
    }
    assertThat(records).hasSize(5);
    // The DKIM record is the one keygen printed, TTL aside.
    String keygenRecord = keygen.stdout().substring(keygen.stdout().indexOf("\ns1._domainkey.") + 1);
    assertThat(printed.stdout()).contains(keygenRecord.replace(". IN TXT", ". 3600 IN TXT"));

    E2e.Run unpublished;
    try (var dns = dev.posta.testing.Dnsmasq.start(dir, z -> z.a("other.test", "192.0.2.99"))) {
      unpublished = posta("", "dns", "check", "posta.test", "--address", "192.0.2.10", "--dns-server", dns.address(), "--config", "posta.toml");
    }
    assertThat(unpublished.exit()).as("%s", unpublished).isEqualTo(1);
    assertThat(unpublished.stdout()).startsWith("MISSING  MX     posta.test: no MX record\n")
        .endsWith("\n6 of 6 records of posta.test to fix; run posta dns check posta.test again after.\n");

    try (var dns = dev.posta.testing.Dnsmasq.start(dir, z -> {
      for (var r : records) {
        String name = r.getName().toString(true);
        switch (r) {
          case org.xbill.DNS.MXRecord mx -> z.mx(name, mx.getTarget().toString(true), mx.getPriority());
          case org.xbill.DNS.ARecord a -> z.a(name, a.getAddress().getHostAddress());
          case org.xbill.DNS.TXTRecord t -> z.txt(name, t.getStrings().toArray(String[]::new));
          default -> throw new AssertionError("posta dns printed " + r);
        }
      }
      return z.ptr("192.0.2.10", "mail.posta.test");
    })) {
      E2e.Run check = posta("", "dns", "check", "posta.test", "--address", "192.0.2.10", "--dns-server", dns.address(), "--config", "posta.toml");
      assertThat(check.exit()).as("%s", check).isZero();
      assertThat(check.stdout()).isEqualTo("""
          OK       MX     posta.test: mail goes to mail.posta.test
          OK       A      mail.posta.test: 192.0.2.10
          OK       SPF    posta.test: "v=spf1 ip4:192.0.2.10 -all" passes 192.0.2.10
          OK       DKIM   s1._domainkey.posta.test: the public key of %s
          OK       DMARC  _dmarc.posta.test: p=none (monitoring: move to p=quarantine once the reports show only your mail)
          OK       PTR    192.0.2.10: mail.posta.test, which resolves back to 192.0.2.10
          All 6 records of posta.test are OK.
          """.formatted(dir.resolve("data/dkim/posta.test/s1.pem")));
    }
  }

  // --- Helpers ----------------------------------------------------------------------------

  /** A config that relays all remote mail to {@code host}:{@code port} in plain text. */
  @Test
  void devCapturesAnyAddressAndServesItOverImapAndPop3() throws Exception {
    int smtp = freePort(), imap = freePort(), pop3 = freePort(), http = freePort();
    String[] listen = {"--listen", "smtp=127.0.0.1:" + smtp, "--listen", "submission=", "--listen", "smtps=", "--listen", "imap=127.0.0.1:" + imap,
        "--listen", "imaps=", "--listen", "pop3=127.0.0.1:" + pop3, "--listen", "pop3s=", "--listen", "http=127.0.0.1:" + http};
    String banner = "in capture mode (posta dev): takes mail for any address, RELAYS NOTHING";
    try (var dev = new Serving("dev", banner, java.util.Map.of(), listen)) {
      assertThat(dev.log()).contains("  smtp        127.0.0.1:" + smtp + "\n  imap        127.0.0.1:" + imap + "\n  pop3        127.0.0.1:" + pop3
              + "\n  http        127.0.0.1:" + http + "\n")
          .contains("  api         /api/v1/messages, /api/v1/messages/wait?to=ADDRESS&timeout=10s: no token needed in capture mode\n")
          .contains("  outbound    none: no message is ever relayed, to any domain")
          .contains("  data        " + dir.resolve("posta-dev-data") + " (posta dev --reset empties it)\n");
      // the banner names the certificate to trust; a client checking the chain and the name with it gets through STARTTLS
      Path trust = dir.resolve("posta-dev-data/tls/self-signed.crt");
      assertThat(dev.log()).contains("  trust       " + trust + " (a client's CA file:");
      String send = """
          import smtplib, ssl
          from email.message import EmailMessage
          m = EmailMessage()
          m["From"] = "shop@app.example"
          m["To"] = "ada@gmail.com, bob@corp.example"
          m["Subject"] = "Your order"
          m.set_content("Thanks!")
          with smtplib.SMTP("localhost", %d) as s:
              s.starttls(context=ssl.create_default_context(cafile="%s"))
              print(s.send_message(m))
          """.formatted(smtp, trust);
      E2e.Run sent = E2e.run(new ProcessBuilder(PYTHON.toString(), "-c", send).directory(dir.toFile()), COMMAND_TIMEOUT, "");
      assertThat(sent.stdout()).as("%s", sent).isEqualTo("{}\n");
      String read = """
          import imaplib, poplib, time
          for _ in range(100):
              i = imaplib.IMAP4("127.0.0.1", %d)
              i.login("ada@gmail.com", "any password")
              n = int(i.select("INBOX")[1][0])
              if n: break
              i.logout(); time.sleep(0.1)
          print(i.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0][1])
          i.logout()
          p = poplib.POP3("127.0.0.1", %d)
          p.user("all@localhost"); print(p.pass_("x"))
          p.quit()
          """.formatted(imap, pop3);
      E2e.Run got = E2e.run(new ProcessBuilder(PYTHON.toString(), "-c", read).directory(dir.toFile()), COMMAND_TIMEOUT, "");
      assertThat(got.stdout()).as("%s", got).startsWith("b'Subject: Your order\\r\\n\\r\\n'\nb'+OK Logged in: 1 message (");
      assertThat(awaitFiles(dir.resolve("posta-dev-data/mail/corp.example/bob/Maildir/new"), 1)).hasSize(1);

      // The README's capture API: curl waits on the wait endpoint while swaks sends the mail it waits for.
      Process curl = new ProcessBuilder("curl", "-sS", "-w", "\n%{http_code}\n",
          "http://127.0.0.1:" + http + "/api/v1/messages/wait?to=ada%2Bsignup@example.com&subject=Confirm&timeout=20s")
          .redirectErrorStream(true).start();
      try {
        E2e.Run swaks = E2e.run(COMMAND_TIMEOUT, List.of("swaks", "--server", "127.0.0.1:" + smtp, "--from", "app@app.example",
            "--to", "ada+signup@example.com", "--header", "Subject: Confirm your address", "--body", "Your code is 7351."));
        assertThat(swaks.exit()).as("%s", swaks).isZero();
        assertThat(curl.waitFor(30, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        String waited = new String(curl.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertThat(waited).endsWith("\n200\n").contains("\"subject\":\"Confirm your address\"").contains("\"code\":\"7351\"")
            .contains("\"namespace\":\"signup\"").contains("\"envelopeRecipients\":[\"ada+signup@example.com\"]");
      } finally {
        curl.destroyForcibly();
      }
      E2e.Run timedOut = E2e.run(COMMAND_TIMEOUT, List.of("curl", "-sS", "-w", "\n%{http_code}\n",
          "http://127.0.0.1:" + http + "/api/v1/messages/wait?namespace=nobody&timeout=200ms"));
      assertThat(timedOut.stdout()).isEqualTo("{\"error\":{\"status\":404,\"message\":\"no message matching namespace nobody within 200ms "
          + "(0 matched; 0 message(s) in namespace nobody)\",\"matched\":[],\"arrived\":[]}}\n404\n");
    }
    try (var again = new Serving("dev", "RELAYS NOTHING", java.util.Map.of(), concat(List.of(listen), "--reset").toArray(String[]::new))) {
      // ada's, bob's, and the copy in all@localhost; ada+signup's and its copy in all@localhost
      assertThat(again.log()).contains("posta dev: --reset removed 5 message(s)\n");
    }
    E2e.Run open = posta("", "dev", "--data", dir.resolve("other").toString(), "--listen", "smtp=0.0.0.0:" + smtp);
    assertThat(open.exit()).isEqualTo(2);
    assertThat(open.stderr()).startsWith("posta dev: refusing to listen on smtp=0.0.0.0:" + smtp + ": in capture mode anyone who reaches it")
        .contains("Add --allow-remote");
  }

  /**
   * {@code posta dev --config FILE}: the file's {@code [capture]} faults are listed in the banner,
   * smtplib gets exactly the scripted reply twice and then the message goes through, and the log
   * says of each fault why it fired; a mistake in the file stops it with {@code file:line}.
   */
  @Test
  void devScriptsFaultsFromItsConfigFile() throws Exception {
    int smtp = freePort();
    Path capture = dir.resolve("capture.toml");
    Files.writeString(capture, """
        [capture]
        [[capture.faults]]
        stage = "rcpt"
        match = "*@bounce.example"
        reply = "550 5.1.1 No such user"
        times = 2
        """);
    String[] args = {"--config", capture.toString(), "--data", dir.resolve("dev-faults").toString(), "--listen", "smtp=127.0.0.1:" + smtp,
        "--listen", "submission=", "--listen", "smtps=", "--listen", "imap=", "--listen", "imaps=", "--listen", "pop3=", "--listen", "pop3s=", "--listen", "http="};
    try (var dev = new Serving("dev", "RELAYS NOTHING", java.util.Map.of(), args)) {
      await("the banner's fault lines", dev::log, log -> log.contains("times=2 reply="));
      assertThat(dev.log()).contains("  faults      1 scripted from " + capture + " (each logged when it fires)\n"
          + "              rcpt match=*@bounce.example times=2 reply=\"550 5.1.1 No such user\"\n");
      String send = """
          import smtplib
          for attempt in range(3):
              with smtplib.SMTP("127.0.0.1", %d) as s:
                  try:
                      print(s.sendmail("app@shop.example", ["x@bounce.example"], "Subject: retry\\r\\n\\r\\nbody\\r\\n"))
                  except smtplib.SMTPRecipientsRefused as e:
                      print(e.recipients)
          """.formatted(smtp);
      E2e.Run sent = E2e.run(new ProcessBuilder(PYTHON.toString(), "-c", send).directory(dir.toFile()), COMMAND_TIMEOUT, "");
      assertThat(sent.stdout()).as("%s", sent).isEqualTo("""
          {'x@bounce.example': (550, b'5.1.1 No such user')}
          {'x@bounce.example': (550, b'5.1.1 No such user')}
          {}
          """);
      // The server's log reaches this test through a pipe: the line may come after the client's reply.
      java.util.regex.Pattern fired = java.util.regex.Pattern.compile(
          "smtp\\[127\\.0\\.0\\.1\\]#\\w{8}: [0-9A-F]{16}: scripted fault at rcpt: answered 550 5\\.1\\.1 No such user: "
          + "fault 1 \\(rcpt match=\\*@bounce\\.example times=2 reply=\"550 5\\.1\\.1 No such user\"\\): attempt 2, fired 2 of 2, "
          + "<x@bounce\\.example> matches \\*@bounce\\.example");
      await("the second fault's log line", dev::log, log -> fired.matcher(log).find());
      assertThat(awaitFiles(dir.resolve("dev-faults/mail/bounce.example/x/Maildir/new"), 1)).hasSize(1);
    }
    Files.writeString(capture, "[capture]\n[[capture.faults]]\nstage = \"rcpt\"\nreply = \"250 OK\"\n");
    List<String> devArgs = new ArrayList<>(List.of("dev"));
    devArgs.addAll(List.of(args));
    E2e.Run bad = posta("", devArgs.toArray(String[]::new));
    assertThat(bad.exit()).isEqualTo(2);
    assertThat(bad.stderr()).isEqualTo("posta dev: --config " + capture + ":\n  " + capture + ":4: [[capture.faults]] #1: a fault's reply is a 4xx or 5xx, not 250 OK\n");
  }

  private static String relayingTo(String host, int port, int smtp) {
    return """
        hostname = "mx.posta.test"
        data = "data"
        [listeners]
        smtp = ["127.0.0.1:%d"]
        submission = []
        smtps = []
        [submission]
        trusted-networks = ["127.0.0.0/8"]
        [relay]
        host = "%s"
        port = %d
        tls = "none"
        [domains."localhost"]
        any-local-part = true
        """.formatted(smtp, host, port);
  }

  /**
   * Cron's way: a job's output piped to {@code sendmail -t}, through a symlink named sendmail to
   * the launcher in another folder, with To: in the message. With the server running, the mail is
   * delivered at once; with it stopped, sendmail still exits 0, mailq (another symlink) shows it
   * waiting, and the next start delivers it.
   */
  @Test
  void cronMailThroughASendmailSymlinkArrivesWhetherTheServerRunsOrNot() throws Exception {
    int smtp = freePort();
    config("""
        hostname = "localhost"
        data = "data"
        [listeners]
        smtp = ["127.0.0.1:%d"]
        submission = []
        smtps = []
        imap = []
        imaps = []
        pop3 = []
        pop3s = []
        [domains."localhost"]
        any-local-part = true
        """.formatted(smtp));
    Path bin = Files.createDirectories(dir.resolve("bin"));
    Path sendmail = Files.createSymbolicLink(bin.resolve("sendmail"), LAUNCHER);
    Path mailq = Files.createSymbolicLink(bin.resolve("mailq"), LAUNCHER);
    var env = java.util.Map.of("POSTA_CONFIG", dir.resolve("posta.toml").toString());
    Path inbox = dir.resolve("data/mail/localhost/friend/Maildir/new");

    try (var server = new Serving(env)) {
      E2e.Run cron = shell(env, "printf 'To: friend@localhost\\nSubject: Cron <me@host> nightly\\n\\nall done\\n' | " + sendmail + " -t");
      assertThat(cron.exit()).as("%s", cron).isZero();
      assertThat(cron.stdout() + cron.stderr()).isEmpty();
      assertThat(awaitFiles(inbox, 1).getFirst()).contains("\nSubject: Cron <me@host> nightly\n").endsWith("\n\nall done\n");
    }

    E2e.Run down = shell(env, "printf 'Subject: while it was down\\n\\nwaited\\n' | " + sendmail + " -oi friend@localhost");
    assertThat(down.exit()).as("%s", down).isZero();
    assertThat(down.stdout() + down.stderr()).isEmpty();
    E2e.Run waiting = shell(env, mailq.toString());
    assertThat(waiting.exit()).as("%s", waiting).isZero();
    assertThat(waiting.stdout()).startsWith("queue is empty\n\nIn the drop folder, taken in when the server runs (1):\n").contains("friend@localhost");
    try (var server = new Serving(env)) {
      assertThat(awaitFiles(inbox, 2)).anyMatch(m -> m.contains("\nSubject: while it was down\n"));
    }
  }

  /** Runs a shell command line in the test's folder, as cron runs a job. */
  private E2e.Run shell(java.util.Map<String, String> env, String line) {
    ProcessBuilder pb = launcher(List.of("/bin/sh", "-c", line));
    pb.environment().putAll(env);
    return E2e.run(pb, COMMAND_TIMEOUT, "");
  }

  private void config(String toml) throws IOException {
    Files.writeString(dir.resolve("posta.toml"), toml);
  }

  /** Runs {@code ./posta ARGS} in the test's folder, with {@code input} on its standard input. */
  private E2e.Run posta(String input, String... args) {
    List<String> command = new ArrayList<>(List.of(LAUNCHER.toString()));
    command.addAll(List.of(args));
    E2e.Run run = E2e.run(launcher(command), COMMAND_TIMEOUT, input);
    assertThat(run.stderr()).as("ran the jar as built%n%s", run).doesNotContain("posta: building");
    return run;
  }

  private ProcessBuilder launcher(List<String> command) {
    var pb = new ProcessBuilder(command).directory(dir.toFile());
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    return pb;
  }

  /** One message from app code (smtplib) to the SMTP listener on {@code port}. */
  private E2e.Run send(int port, String from, String to) {
    Path script = E2e.resource("send_one.py");
    E2e.Run run = E2e.run(COMMAND_TIMEOUT, List.of(PYTHON.toString(), script.toString(), "127.0.0.1", Integer.toString(port), from, to));
    assertThat(run.exit()).as("%s", run).isZero();
    return run;
  }

  private static int freePort() throws IOException {
    try (var socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return socket.getLocalPort();
    }
  }

  /** The files of a Maildir folder once there are {@code n}, as text, oldest name first. */
  private static List<String> awaitFiles(Path folder, int n) {
    return await(n + " file(s) in " + folder, () -> {
      if (!Files.isDirectory(folder)) return List.<String>of();
      try (Stream<Path> files = Files.list(folder)) {
        List<String> out = new ArrayList<>();
        for (Path p : files.sorted().toList()) out.add(Files.readString(p));
        return out;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, files -> files.size() >= n);
  }

  /** {@code jcmd PID Thread.print}: what every thread of a running JVM is doing. */
  private static String threadDump(long pid) {
    Path jcmd = Path.of(ProcessHandle.current().info().command().orElseThrow()).resolveSibling("jcmd");
    try {
      Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), "Thread.print").redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS);
      return out;
    } catch (IOException | InterruptedException e) {
      return "(no thread dump: " + e + ")";
    }
  }

  /** Polls {@code probe} until {@code done} holds (30 s at most) and returns what it saw last. */
  private static <T> T await(String what, java.util.function.Supplier<T> probe, Predicate<T> done) {
    return await(what, Duration.ofSeconds(30), probe, done);
  }

  private static <T> T await(String what, Duration atMost, java.util.function.Supplier<T> probe, Predicate<T> done) {
    long deadline = System.nanoTime() + atMost.toNanos();
    for (T seen = probe.get(); ; seen = probe.get()) {
      if (done.test(seen)) return seen;
      if (System.nanoTime() > deadline) fail("after " + atMost.toSeconds() + " s, still not " + what + "; last seen:\n" + seen);
      sleep(100);
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  private static final AtomicInteger SERVES = new AtomicInteger();

  /** {@code ./posta serve ARGS} in the test's folder, standard output and error in one log file. */
  private final class Serving implements AutoCloseable {
    final Process process;
    final Path log;

    Serving(String... args) throws IOException {
      this(java.util.Map.of(), args);
    }

    /** With these variables added to the launcher's environment. */
    Serving(java.util.Map<String, String> env, String... args) throws IOException {
      this("serve", RUNNING, env, args);
    }

    /** {@code ./posta SUBCOMMAND ARGS} ({@code serve} or {@code dev}), running once its log shows {@code running}. */
    Serving(String subcommand, String running, java.util.Map<String, String> env, String... args) throws IOException {
      this(LAUNCHER, env, subcommand, running, args);
    }

    /** {@code launcher SUBCOMMAND ARGS}: another copy of the launcher. */
    Serving(Path launcher, java.util.Map<String, String> env, String subcommand, String running, String... args) throws IOException {
      List<String> command = new ArrayList<>(List.of(launcher.toString(), subcommand));
      command.addAll(List.of(args));
      log = dir.resolve("serve-" + SERVES.incrementAndGet() + ".log");
      ProcessBuilder pb = launcher(command).redirectErrorStream(true).redirectOutput(log.toFile());
      pb.environment().putAll(env);
      process = pb.start();
      long deadline = System.nanoTime() + COMMAND_TIMEOUT.toNanos();
      while (!log().contains(running)) {
        if (!process.isAlive()) fail("./posta serve exited with " + process.exitValue() + " before it ran:\n" + log());
        if (System.nanoTime() > deadline) {
          process.destroyForcibly();
          fail("./posta serve did not start within " + COMMAND_TIMEOUT + ":\n" + log());
        }
        sleep(50);
      }
    }

    String log() {
      try {
        return Files.readString(log);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    /** Stops it as Ctrl-C and systemd do (SIGTERM): it must end on its own, without an error. */
    @Override
    public void close() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(COMMAND_TIMEOUT.toSeconds(), SECONDS)) {
        process.destroyForcibly();
        fail("./posta serve did not stop within " + COMMAND_TIMEOUT + " of SIGTERM:\n" + log());
      }
      assertThat(process.exitValue()).as("exit status after SIGTERM (128 + 15)%n%s", log()).isEqualTo(143);
      // No stack trace, no error logged, no JVM complaint (about the start-up cache either).
      assertThat(log()).doesNotContain("Exception in thread", "\tat ", " ERROR ", "<3>ERROR", "\"level\":\"ERROR\"", "[error]");
    }
  }
}
