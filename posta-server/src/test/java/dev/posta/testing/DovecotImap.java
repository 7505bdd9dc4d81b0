package dev.posta.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Debian's Dovecot as the reference reader of a Maildir: its {@code imap} binary run in preauth
 * mode on stdin and stdout (as for an IMAP-over-SSH tunnel), no daemon, no port. It answers a
 * script of commands on the Maildir given, the way Dovecot would serve it to a real client.
 *
 * <p>Dovecot will not touch mail as root, so it runs as {@code nobody}: the Maildir and the
 * work folder are lent to that user for the run (the Maildir given back to its owner
 * afterwards), and the folders above them, up to {@code temp}, made passable.
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
    return exec(temp, maildir, work, extraConfig, p -> {
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
    return exec(temp, maildir, work, extraConfig, p -> {
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

  private interface Dialogue<R> {
    R talk(Process imap) throws IOException;
  }

  private static <R> R exec(Path temp, Path maildir, Path work, String extraConfig, Dialogue<R> dialogue)
      throws IOException, InterruptedException {
    if (!Files.isExecutable(IMAP)) throw new IllegalStateException(IMAP + " is missing: apt-get install dovecot-imapd (.ci/run does)");
    Files.createDirectories(work);
    Path conf = work.resolve("dovecot.conf");
    Files.writeString(conf, """
        base_dir = %1$s/run
        state_dir = %1$s/state
        log_path = %1$s/dovecot.log
        ssl = no
        mail_location = maildir:%2$s
        mail_uid = nobody
        mail_gid = nogroup
        """.formatted(work, maildir) + extraConfig);
    for (Path dir : List.of(maildir.getParent(), work)) {
      for (Path d = dir; d != null && d.startsWith(temp); d = d.getParent()) {
        Files.setPosixFilePermissions(d, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x"));
      }
    }
    var owner = Files.getOwner(maildir);
    chown("nobody:nogroup", maildir);
    chown("nobody:nogroup", work);
    try {
      var builder = new ProcessBuilder("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", IMAP.toString(), "-c", conf.toString())
          .redirectErrorStream(true);
      builder.environment().put("USER", "posta");
      builder.environment().put("HOME", work.toString());
      Process p = builder.start();
      R result;
      try {
        result = dialogue.talk(p);
      } finally {
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new IOException("Dovecot's imap did not end");
        }
      }
      return result;
    } finally {
      chown(owner.getName(), maildir);
    }
  }

  private static void chown(String who, Path tree) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("chown", "-R", who, tree.toString()).inheritIO().start();
    if (p.waitFor() != 0) throw new IOException("chown -R " + who + " " + tree + " failed");
  }
}
