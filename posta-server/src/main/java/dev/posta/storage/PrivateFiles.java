package dev.posta.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Mail is private: other local users must not read the spool or a mailbox, whatever the umask
 * of the process. So every folder Posta creates for mail is made 0700 and every file 0600,
 * atomically at creation (passed to mkdir/open, never chmod afterwards, so there is no moment
 * when they are readable). The umask can only narrow these further. Folders that already exist
 * keep their mode: an administrator may have chosen another one. Mailboxes may be shared with a
 * group instead ({@link FileModes}), by the same means. On file systems without POSIX
 * permissions nothing is passed.
 */
public final class PrivateFiles {
  private PrivateFiles() {}

  private static final FileAttribute<?>[] NONE = new FileAttribute<?>[0];
  private static final FileAttribute<?> OWNER_ONLY_DIRECTORY =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"));
  private static final FileAttribute<?> OWNER_ONLY_FILE =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

  private static boolean posix(Path path) {
    return path.getFileSystem().supportedFileAttributeViews().contains("posix");
  }

  /** The attributes that make a new file private (0600), for {@code FileChannel.open} or {@code Files.createTempFile}. */
  public static FileAttribute<?>[] file(Path file) {
    return posix(file) ? new FileAttribute<?>[] {OWNER_ONLY_FILE} : NONE;
  }

  /** The attributes that make a new file as {@code modes} says (mail a group may share). */
  public static FileAttribute<?>[] file(Path file, FileModes modes) {
    return posix(file) ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(modes.file())} : NONE;
  }

  /**
   * Replaces {@code file} whole with {@code content}, durably and all at once: written to a
   * private temporary file beside it, fsynced, renamed over it, and the folder fsynced, so that a
   * crash leaves the old content or the new, never a mix. The temporary file goes on failure.
   */
  public static void replace(Path file, byte[] content) throws IOException {
    replace(file, content, FileModes.PRIVATE);
  }

  /** As {@link #replace(Path, byte[])}, the file made as {@code modes} says. */
  public static void replace(Path file, byte[] content, FileModes modes) throws IOException {
    Path dir = file.getParent();
    Path tmp = Files.createTempFile(dir, "." + file.getFileName() + "-", ".tmp", file(dir, modes));
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.wrap(content);
        while (buf.hasRemaining()) ch.write(buf);
        ch.force(true);
      }
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    DirectorySync.fsync(dir);
  }

  /** {@code Files.createDirectories}, each missing folder made 0700; existing ones are left as they are. */
  public static void createDirectories(Path dir) throws IOException {
    Files.createDirectories(dir, posix(dir) ? new FileAttribute<?>[] {OWNER_ONLY_DIRECTORY} : NONE);
  }

  /** {@code Files.createDirectories}, each missing folder made as {@code modes} says; existing ones are left as they are. */
  public static void createDirectories(Path dir, FileModes modes) throws IOException {
    Files.createDirectories(dir, posix(dir) ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(modes.folder())} : NONE);
  }
}
