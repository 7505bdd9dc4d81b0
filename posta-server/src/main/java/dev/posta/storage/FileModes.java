package dev.posta.storage;

import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

/**
 * The permissions mail files and their folders are made with: private by default (0600 and
 * 0700), or shared with a group, for another reader of the same Maildirs (Dovecot running
 * under a group Posta's user is in): a folder gets the file's bits, and the search bit
 * wherever it may read.
 *
 * @param file a file's permissions, at most read and write for each class
 * @param folder a folder's: the file's, and execute where the file's may be read
 */
public record FileModes(Set<PosixFilePermission> file, Set<PosixFilePermission> folder) {
  /** Only the owner: 0600 files, 0700 folders. */
  public static final FileModes PRIVATE = of(0600);

  public FileModes {
    file = Set.copyOf(file);
    folder = Set.copyOf(folder);
  }

  /**
   * From an octal mode such as {@code 0640}: the file's permissions, and the folder's derived.
   *
   * @throws IllegalArgumentException for a mode with execute, set-id or sticky bits, or one the
   *     owner could not read and write
   */
  public static FileModes of(int mode) {
    if ((mode & ~0666) != 0 || (mode & 0600) != 0600) {
      throw new IllegalArgumentException(String.format("%04o is not a mode for mail files: the owner reads and writes (06xx), "
          + "and nobody executes them, as 0600, 0640 or 0660", mode));
    }
    Set<PosixFilePermission> file = EnumSet.noneOf(PosixFilePermission.class);
    Set<PosixFilePermission> folder = EnumSet.noneOf(PosixFilePermission.class);
    PosixFilePermission[][] classes = {
        {PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_EXECUTE},
        {PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE},
        {PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE}};
    for (int c = 0; c < 3; c++) {
      int bits = (mode >> (6 - 3 * c)) & 7;
      if ((bits & 4) != 0) {
        file.add(classes[c][0]);
        folder.add(classes[c][0]);
        folder.add(classes[c][2]);
      }
      if ((bits & 2) != 0) {
        file.add(classes[c][1]);
        folder.add(classes[c][1]);
      }
    }
    return new FileModes(file, folder);
  }
}
