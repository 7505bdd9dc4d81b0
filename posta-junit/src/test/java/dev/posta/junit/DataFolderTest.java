package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Where the extension puts its data folder: the folder {@code -Dposta.junit.dataDir} names (a
 * missing one is a clear error), else /dev/shm only with more than 1 GiB free (Docker's 64 MB
 * is passed over for the temporary folder), and the folder is gone after stop.
 */
class DataFolderTest {
  static final Path SHM = Path.of("/dev/shm");
  static final Path TMP = Path.of("/tmp");

  @Test
  void aSmallDevShmIsPassedOver() {
    assertThat(PostaExtension.dataParent(null, SHM, 64L << 20, TMP)).isEqualTo(TMP);
    assertThat(PostaExtension.dataParent(null, SHM, 1L << 30, TMP)).isEqualTo(TMP);
    assertThat(PostaExtension.dataParent(null, SHM, 0, TMP)).isEqualTo(TMP);
  }

  @Test
  void aLargeDevShmIsUsed() {
    assertThat(PostaExtension.dataParent(null, SHM, (1L << 30) + 1, TMP)).isEqualTo(SHM);
    assertThat(PostaExtension.dataParent("  ", SHM, 8L << 30, TMP)).isEqualTo(SHM);
  }

  @Test
  void theSystemPropertyChoosesTheFolder(@TempDir Path chosen) {
    assertThat(PostaExtension.dataParent(chosen.toString(), SHM, 8L << 30, TMP)).isEqualTo(chosen);
  }

  @Test
  void aMissingChosenFolderIsAClearError(@TempDir Path dir) {
    Path missing = dir.resolve("no-such-folder");
    assertThatThrownBy(() -> PostaExtension.dataParent(missing.toString(), SHM, 8L << 30, TMP))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("-Dposta.junit.dataDir=" + missing + ": not a folder this JVM can write in");
  }

  @Test
  void aStartedServerUsesTheChosenFolderAndStopDeletesItsData(@TempDir Path chosen) throws Exception {
    String before = System.getProperty(PostaExtension.DATA_DIR_PROPERTY);
    System.setProperty(PostaExtension.DATA_DIR_PROPERTY, chosen.toString());
    PostaExtension mail = PostaExtension.withDefaults();
    try {
      mail.start();
      Path data = mail.server().config().dataDir();
      assertThat(data.getParent()).isEqualTo(chosen);
      assertThat(data.getFileName().toString()).startsWith("posta-junit-");
      mail.stop();
      assertThat(Files.exists(data)).isFalse();
    } finally {
      mail.stop();
      if (before == null) System.clearProperty(PostaExtension.DATA_DIR_PROPERTY);
      else System.setProperty(PostaExtension.DATA_DIR_PROPERTY, before);
    }
  }
}
