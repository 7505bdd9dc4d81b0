package dev.posta.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One owner for the data folder: the user the server runs as (a {@code posta} system user under
 * systemd). A command run by anyone else, root typically, would leave files the server cannot
 * read (every login failing while the command said "added") or that Dovecot refuses, so the
 * commands that write there ask first and refuse, before they write anything.
 */
final class DataFolderOwner {
  private DataFolderOwner() {}

  /**
   * Why the current user must not write into {@code dataDir}; null when it may: it owns the
   * folder, or the folder does not exist yet (it will own what it makes).
   */
  static String refusal(Path dataDir) throws IOException {
    if (!Files.exists(dataDir)) return null;
    String owner = Files.getOwner(dataDir).getName();
    String me = System.getProperty("user.name");
    if (owner.equals(me)) return null;
    return "the data folder " + dataDir + " belongs to " + owner + ", not " + me
        + ": run this as " + owner + " (sudo -u " + owner + " posta ...), so that the server can read what it writes";
  }
}
