package dev.posta.milter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.testing.Rspamd;
import dev.posta.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Posta's milter client against Debian's rspamd (its proxy worker in milter mode, as a Postfix
 * setup runs it; see {@link Rspamd}), mail sent on the smtp listener by Python's smtplib: GTUBE
 * refused with rspamd's own reply, a clean message delivered with what rspamd adds, and the
 * "add header" verdict delivered marked {@code X-Spam: Yes}.
 */
class RspamdMilterTest {
  @TempDir static Path dir;
  static Rspamd rspamd;
  static TestServer server;
  static final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  static final Logger session = (Logger) LoggerFactory.getLogger("dev.posta.smtp.SmtpSession");

  @BeforeAll
  static void start() {
    rspamd = Rspamd.start(dir); // ~10 s: the server starts meanwhile
    // localhost files spam into Junk (the default); inbox.test keeps it in the inbox.
    var inboxTest = new PostaConfig.LocalDomain("inbox.test", Set.of(), true, Optional.empty(), Map.of(), null);
    server = TestServer.start(dir.resolve("posta"), c -> c.toBuilder().domains(List.of(c.domains().getFirst(), inboxTest))
        .milters(List.of(new PostaConfig.Milter("rspamd", rspamd.address(), Set.of(PostaConfig.Protocol.SMTP), true, Duration.ofSeconds(5),
            Duration.ofSeconds(30), Duration.ofSeconds(60), false))).build()).addUser("dave@localhost", "correct horse battery");
    logs.start();
    session.addAppender(logs);
    rspamd.awaitReady();
  }

  @AfterAll
  static void stop() {
    session.detachAppender(logs);
    if (server != null) server.close();
    if (rspamd != null) rspamd.close();
  }

  /** Python's smtplib sends one message: "sent", or "refused CODE TEXT" with the reply's lines joined by a newline. */
  static String smtplib(String to, String subject, String body) throws Exception {
    return smtplib(to, subject, body, "");
  }

  /** As {@link #smtplib(String, String, String)}, to several recipients (a comma between), with more header fields (CRLF after each). */
  static String smtplib(String to, String subject, String body, String extraHeaders) throws Exception {
    String script = """
        import smtplib, sys
        s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60)
        msg = "From: alice@sender.test\\r\\nTo: %s\\r\\nSubject: %s\\r\\nMessage-ID: <m@sender.test>\\r\\n%s\\r\\n%s\\r\\n" % (sys.argv[2], sys.argv[3], sys.argv[5], sys.argv[4])
        try:
            s.sendmail("alice@sender.test", sys.argv[2].split(","), msg)
            print("sent")
        except smtplib.SMTPDataError as e:
            print("refused", e.smtp_code, e.smtp_error.decode())
        s.quit()
        """;
    List<String> command = new ArrayList<>(List.of("/usr/bin/python3", "-c", script, Integer.toString(server.smtpPort()), to, subject, body, extraHeaders));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(90, TimeUnit.SECONDS)) throw new AssertionError("python3 did not end:\n" + out);
    assertThat(p.exitValue()).as(out).isZero();
    return out.strip();
  }

  @Test
  void gtubeIsRefusedWithRspamdsOwnReply() throws Exception {
    assertThat(smtplib("bob@localhost", "gtube", "This is spam.\r\n" + Rspamd.GTUBE)).isEqualTo("refused 554 5.7.1 Gtube pattern");
  }

  @Test
  void aCleanMessageIsDeliveredWithRspamdsHeaders() throws Exception {
    assertThat(smtplib("carol@localhost", "hello", "Nothing to see here.")).isEqualTo("sent");
    String delivered = server.awaitMail("carol", 1).getFirst();
    Matcher id = Pattern.compile("with ESMTP id ([0-9A-Z]+)").matcher(delivered);
    assertThat(id.find()).as(delivered).isTrue();
    // milter_headers' fields, added at the end of the header block (in an order of its choosing);
    // the queue ID is the {i} macro Posta sent.
    String added = delivered.substring(delivered.indexOf("Message-ID: <m@sender.test>\n") + 28, delivered.indexOf("\n\n"));
    assertThat(added.lines()).as(delivered).containsExactlyInAnyOrder(
        "X-Spamd-Result: default: False [0.00 / 15.00]",
        "X-Rspamd-Action: no action",
        "X-Rspamd-Server: " + Files.readString(Path.of("/proc/sys/kernel/hostname")).strip(),
        "X-Rspamd-Queue-Id: " + id.group(1),
        "X-Spam-Status: No, score=0.00");
    assertThat(delivered).endsWith("\n\nNothing to see here.\n");
  }

  @Test
  void theAddHeaderVerdictIsFiledIntoJunkOrTheInboxAsEachRecipientsDomainSays() throws Exception {
    // The sender's own verdicts (a spammer's "No") are removed before rspamd sees the message.
    assertThat(smtplib("dave@localhost,erin@inbox.test", "maybe", "Perhaps spam.\r\n" + Rspamd.GTUBE_ADD_HEADER,
        "X-Spam: No\r\nX-Spam-Status: No, score=-5\r\n")).isEqualTo("sent");
    String inInbox = server.awaitMailIn("inbox.test", "erin", "INBOX", 1).getFirst();
    assertThat(inInbox).as(inInbox).contains("Message-ID: <m@sender.test>\nX-Spam: Yes\n\nPerhaps spam.\n").doesNotContain("No");
    assertThat(server.awaitMailIn("localhost", "dave", "Junk", 1).getFirst()).isEqualTo(inInbox.replace("Delivered-To: erin@inbox.test", "Delivered-To: dave@localhost"));
    assertThat(server.mail("dave")).isEmpty();
    synchronized (logs) {
      assertThat(logs.list.stream().map(ILoggingEvent::getFormattedMessage)).anySatisfy(line -> assertThat(line)
          .contains(": milters: removed the sender's X-Spam, X-Spam-Status, rspamd added X-Spam"))
          .anySatisfy(line -> assertThat(line).contains(", msgid=<m@sender.test>, spam=marked (X-Spam: Yes by rspamd), status=queued"));
    }
    // What dave's mail client sees: the message in Junk, over IMAP.
    String script = """
        import imaplib, ssl, sys
        i = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=ssl._create_unverified_context())
        i.login("dave@localhost", "correct horse battery")
        print(i.select("INBOX")[1][0].decode(), i.select("Junk")[1][0].decode())
        print(i.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT X-SPAM)])")[1][0][1].decode().strip())
        i.logout()
        """;
    Process p = new ProcessBuilder("/usr/bin/python3", "-c", script, Integer.toString(server.imapsPort())).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(out).isEqualTo("0 1\nSubject: maybe\r\nX-Spam: Yes\n");
  }
}
