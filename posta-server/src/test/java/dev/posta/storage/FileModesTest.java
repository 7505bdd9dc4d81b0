package dev.posta.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;

/** A mailbox mode, and the folder mode that goes with it. */
class FileModesTest {
  private static String file(int mode) {
    return PosixFilePermissions.toString(FileModes.of(mode).file());
  }

  private static String folder(int mode) {
    return PosixFilePermissions.toString(FileModes.of(mode).folder());
  }

  @Test
  void aFolderMaySearchWhereTheFileMayBeRead() {
    assertThat(file(0600) + " " + folder(0600)).isEqualTo("rw------- rwx------");
    assertThat(file(0640) + " " + folder(0640)).isEqualTo("rw-r----- rwxr-x---");
    assertThat(file(0660) + " " + folder(0660)).isEqualTo("rw-rw---- rwxrwx---");
    assertThat(file(0644) + " " + folder(0644)).isEqualTo("rw-r--r-- rwxr-xr-x");
    assertThat(FileModes.PRIVATE).isEqualTo(FileModes.of(0600));
  }

  @Test
  void modesThatCannotBeAMailFilesAreRefused() {
    for (int mode : new int[] {0700, 0400, 0200, 04600, 0641}) {
      assertThatThrownBy(() -> FileModes.of(mode)).hasMessage(String.format(
          "%04o is not a mode for mail files: the owner reads and writes (06xx), and nobody executes them, as 0600, 0640 or 0660", mode));
    }
  }
}
