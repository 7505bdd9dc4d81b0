package dev.posta.milter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.testing.ClamavMilter;
import dev.posta.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Posta's milter client against Debian's clamav-milter asking clamd (see {@link ClamavMilter}:
 * one custom signature, nothing downloaded), mail sent on the smtp listener by Python's smtplib
 * as a MIME message with an attachment: EICAR refused with clamav-milter's own reply, a clean
 * message delivered with its X-Virus-Scanned and X-Virus-Status fields.
 */
class ClamavMilterTest {
  @TempDir static Path dir;
  static ClamavMilter clamav;
  static TestServer server;

  @BeforeAll
  static void start() {
    clamav = ClamavMilter.start(dir);
    server = TestServer.start(dir.resolve("posta"), c -> c.toBuilder().milters(List.of(new PostaConfig.Milter("clamav", clamav.address(),
        Set.of(PostaConfig.Protocol.SMTP), true, Duration.ofSeconds(5), Duration.ofSeconds(30), Duration.ofSeconds(60), false))).build());
    clamav.awaitReady();
  }

  @AfterAll
  static void stop() {
    if (server != null) server.close();
    if (clamav != null) clamav.close();
  }

  /** smtplib sends a message with {@code attachment} as a file: "sent", or "refused CODE TEXT". */
  static String sendWithAttachment(String to, String attachment) throws Exception {
    String script = """
        import smtplib, sys
        from email.message import EmailMessage
        m = EmailMessage()
        m["From"] = "alice@sender.test"
        m["To"] = sys.argv[2]
        m["Subject"] = "the file"
        m["Message-ID"] = "<file@sender.test>"
        m.set_content("Here it is.\\n")
        m.add_attachment(sys.argv[3].encode(), maintype="application", subtype="octet-stream", filename="file.com")
        s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60)
        try:
            s.send_message(m)
            print("sent")
        except smtplib.SMTPDataError as e:
            print("refused", e.smtp_code, e.smtp_error.decode())
        s.quit()
        """;
    Process p = new ProcessBuilder("/usr/bin/python3", "-c", script, Integer.toString(server.smtpPort()), to, attachment)
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(90, TimeUnit.SECONDS)) throw new AssertionError("python3 did not end:\n" + out);
    assertThat(p.exitValue()).as(out).isZero();
    return out.strip();
  }

  @Test
  void eicarInAnAttachmentIsRefusedWithClamavMiltersReply() throws Exception {
    assertThat(sendWithAttachment("bob@localhost", ClamavMilter.EICAR)).as(clamav.logs()).isEqualTo("refused 550 5.7.1 Virus found: Eicar-Test-Signature.UNOFFICIAL");
  }

  @Test
  void aCleanMessageIsDeliveredWithTheScanFields() throws Exception {
    assertThat(sendWithAttachment("carol@localhost", "harmless octets")).as(clamav.logs()).isEqualTo("sent");
    String delivered = server.awaitMail("carol", 1).getFirst();
    String hostname = java.nio.file.Files.readString(Path.of("/proc/sys/kernel/hostname")).strip();
    // At the end of the header block, as clamav-milter adds them.
    assertThat(delivered).as(delivered).containsPattern("\nContent-Type: multipart/mixed; boundary=\"[^\"]+\"\n"
        + "X-Virus-Scanned: clamav-milter [0-9.]+ at " + java.util.regex.Pattern.quote(hostname) + "\nX-Virus-Status: Clean\n\n");
  }
}
