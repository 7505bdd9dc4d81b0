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
        """.formatted(work, maildir));
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
      try (var in = p.outputWriter(StandardCharsets.UTF_8)) {
        for (String c : commands) in.write(c + "\r\n");
        in.write("zz LOGOUT\r\n");
      }
      byte[] answer;
      try (InputStream out = p.getInputStream()) {
        answer = out.readAllBytes();
      }
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("Dovecot's imap did not end");
      }
      return new String(answer, StandardCharsets.UTF_8);
    } finally {
      chown(owner.getName(), maildir);
    }
  }

  private static void chown(String who, Path tree) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("chown", "-R", who, tree.toString()).inheritIO().start();
    if (p.waitFor() != 0) throw new IOException("chown -R " + who + " " + tree + " failed");
  }
}
