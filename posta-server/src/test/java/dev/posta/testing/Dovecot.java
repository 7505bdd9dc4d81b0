package dev.posta.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One of Debian's Dovecot mail programs ({@code imap}, {@code pop3}) run on its own in preauth
 * mode: the session on stdin and stdout, logged in as the user of the Maildir given, no daemon,
 * no port; a private configuration and state in a work folder.
 *
 * <p>Dovecot will not touch mail as root, so it runs as {@code nobody}: the Maildir and the
 * work folder are lent to that user for the run (the Maildir given back to its owner
 * afterwards), and the folders above them, up to {@code temp}, made passable.
 */
final class Dovecot {
  private Dovecot() {}

  interface Dialogue<R> {
    R talk(Process program) throws IOException;
  }

  /**
   * Runs {@code program} on {@code maildir} for one dialogue.
   *
   * @param temp the test's temporary folder, which holds both {@code maildir} and {@code work}
   * @param work a folder for Dovecot's configuration and state
   * @param extraConfig added to Dovecot's configuration
   */
  static <R> R exec(Path program, Path temp, Path maildir, Path work, String extraConfig, Dialogue<R> dialogue)
      throws IOException, InterruptedException {
    String debianPackage = "dovecot-" + program.getFileName() + "d";
    if (!Files.isExecutable(program)) {
      throw new IllegalStateException(program + " is missing: apt-get install " + debianPackage + " (.ci/run does)");
    }
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
      var builder = new ProcessBuilder("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", program.toString(), "-c",
          conf.toString()).redirectErrorStream(true);
      builder.environment().put("USER", "posta");
      builder.environment().put("HOME", work.toString());
      Process p = builder.start();
      R result;
      try {
        result = dialogue.talk(p);
      } finally {
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new IOException("Dovecot's " + program.getFileName() + " did not end");
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
