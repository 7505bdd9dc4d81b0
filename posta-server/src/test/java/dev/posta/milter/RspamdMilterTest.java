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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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

  @BeforeAll
  static void start() {
    rspamd = Rspamd.start(dir); // ~10 s: the server starts meanwhile
    server = TestServer.start(dir.resolve("posta"), c -> c.toBuilder().milters(List.of(new PostaConfig.Milter("rspamd", rspamd.address(),
        Set.of(PostaConfig.Protocol.SMTP), true, Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofSeconds(60), false))).build());
    rspamd.awaitReady();
  }

  @AfterAll
  static void stop() {
    if (server != null) server.close();
    if (rspamd != null) rspamd.close();
  }

  /** Python's smtplib sends one message: "sent", or "refused CODE TEXT" with the reply's lines joined by a newline. */
  static String smtplib(String to, String subject, String body) throws Exception {
    String script = """
        import smtplib, sys
        s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60)
        msg = "From: alice@sender.test\\r\\nTo: %s\\r\\nSubject: %s\\r\\nMessage-ID: <m@sender.test>\\r\\n\\r\\n%s\\r\\n" % (sys.argv[2], sys.argv[3], sys.argv[4])
        try:
            s.sendmail("alice@sender.test", [sys.argv[2]], msg)
            print("sent")
        except smtplib.SMTPDataError as e:
            print("refused", e.smtp_code, e.smtp_error.decode())
        s.quit()
        """;
    List<String> command = new ArrayList<>(List.of("/usr/bin/python3", "-c", script, Integer.toString(server.smtpPort()), to, subject, body));
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
  void theAddHeaderVerdictIsDeliveredMarked() throws Exception {
    assertThat(smtplib("dave@localhost", "maybe", "Perhaps spam.\r\n" + Rspamd.GTUBE_ADD_HEADER)).isEqualTo("sent");
    String delivered = server.awaitMail("dave", 1).getFirst();
    assertThat(delivered).as(delivered).contains("Message-ID: <m@sender.test>\nX-Spam: Yes\n\nPerhaps spam.\n");
  }
}
