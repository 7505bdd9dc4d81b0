package dev.posta.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Debian's Dovecot as the reference reader of a Maildir: its {@code imap} binary run in preauth
 * mode on stdin and stdout (as for an IMAP-over-SSH tunnel), no daemon, no port ({@link
 * Dovecot}). It answers a script of commands on the Maildir given, the way Dovecot would serve it
 * to a real client.
 */
public final class DovecotImap {
  private static final Path IMAP = Path.of("/usr/lib/dovecot/imap");

  private DovecotImap() {}

  /**
   * Runs the commands (each a line without its CRLF, tags included) against the Maildir at
   * {@code maildir}, ending with a LOGOUT; returns Dovecot's whole answer.
   *
   * @param temp the test's temporary folder, which holds both {@code maildir} and {@code work}
   * @param work a folder for Dovecot's configuration and state
   */
  public static String run(Path temp, Path maildir, Path work, List<String> commands) throws IOException, InterruptedException {
    return run(temp, maildir, work, "", commands);
  }

  /**
   * The same, with {@code extraConfig} added to Dovecot's configuration (for example a {@code
   * namespace inbox} block naming the special-use folders).
   */
  public static String run(Path temp, Path maildir, Path work, String extraConfig, List<String> commands)
      throws IOException, InterruptedException {
    return Dovecot.exec(IMAP, temp, maildir, work, extraConfig, p -> {
      try (var in = p.outputWriter(StandardCharsets.UTF_8)) {
        for (String c : commands) in.write(c + "\r\n");
        in.write("zz LOGOUT\r\n");
      }
      try (InputStream out = p.getInputStream()) {
        return new String(out.readAllBytes(), StandardCharsets.UTF_8);
      }
    });
  }

  /**
   * Runs the commands one at a time, each sent only once the one before it is answered (Dovecot
   * runs pipelined commands side by side, so their answers would interleave), and returns each
   * command's answer: its untagged lines, literals included, and its tagged line, with CRLFs.
   */
  public static List<String> answers(Path temp, Path maildir, Path work, String extraConfig, List<String> commands)
      throws IOException, InterruptedException {
    return Dovecot.exec(IMAP, temp, maildir, work, extraConfig, p -> {
      List<String> answers = new java.util.ArrayList<>();
      try (var in = p.getOutputStream(); InputStream out = p.getInputStream()) {
        String greeting = line(out);
        if (!greeting.startsWith("* PREAUTH ")) throw new IOException("Dovecot's imap greeted with " + greeting);
        for (String c : commands) {
          in.write((c + "\r\n").getBytes(StandardCharsets.UTF_8));
          in.flush();
          String tag = c.substring(0, c.indexOf(' ')) + " ";
          var answer = new StringBuilder();
          String line;
          do {
            line = line(out);
            answer.append(line);
          } while (!line.startsWith(tag));
          answers.add(answer.toString());
        }
        in.write("zz LOGOUT\r\n".getBytes(StandardCharsets.UTF_8));
        in.flush();
        out.readAllBytes();
      }
      return answers;
    });
  }

  /** One response line with its CRLF and the literals it announces. */
  private static String line(InputStream in) throws IOException {
    var line = new java.io.ByteArrayOutputStream();
    while (true) {
      int b = in.read();
      if (b < 0) throw new IOException("Dovecot's imap ended after: " + line.toString(StandardCharsets.UTF_8));
      line.write(b);
      if (b != '\n') continue;
      String text = line.toString(StandardCharsets.UTF_8);
      int open = text.lastIndexOf('{');
      if (!text.endsWith("}\r\n") || open < 0) return text;
      line.write(in.readNBytes(Integer.parseInt(text.substring(open + 1, text.length() - 3))));
    }
  }
}
