package dev.posta.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Debian's Dovecot as the reference POP3 server: its {@code pop3} binary in preauth mode ({@link
 * Dovecot}), in the TRANSACTION state from the start, answering commands on the Maildir given as
 * it would serve them to a real client.
 */
public final class DovecotPop3 {
  private static final Path POP3 = Path.of("/usr/lib/dovecot/pop3");

  private DovecotPop3() {}

  /**
   * Runs the commands one at a time (each a line without its CRLF), then QUIT; returns each
   * command's answer with its CRLFs, a multi-line one whole ({@link Pop3Wire#isMultiLine}).
   *
   * @param temp the test's temporary folder, which holds both {@code maildir} and {@code work}
   * @param work a folder for Dovecot's configuration and state
   */
  public static List<String> answers(Path temp, Path maildir, Path work, List<String> commands) throws IOException, InterruptedException {
    return Dovecot.exec(POP3, temp, maildir, work, "", p -> {
      List<String> answers = new ArrayList<>();
      try (OutputStream in = p.getOutputStream(); InputStream out = p.getInputStream()) {
        for (String c : commands) {
          in.write((c + "\r\n").getBytes(StandardCharsets.UTF_8));
          in.flush();
          answers.add(Pop3Wire.answer(out, Pop3Wire.isMultiLine(c)));
        }
        in.write("QUIT\r\n".getBytes(StandardCharsets.UTF_8));
        in.flush();
        out.readAllBytes();
      }
      return answers;
    });
  }
}
