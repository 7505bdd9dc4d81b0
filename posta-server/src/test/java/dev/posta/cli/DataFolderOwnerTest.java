package dev.posta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Only the data folder's owner writes into it. */
class DataFolderOwnerTest {
  @TempDir Path dir;

  @Test
  void aFolderOfOursOrNoneYetMayBeWrittenAnotherUsersMayNot() throws Exception {
    String me = System.getProperty("user.name");
    assertThat(DataFolderOwner.refusal(dir)).isNull();
    assertThat(DataFolderOwner.refusal(dir.resolve("not yet"))).isNull();
    // Root (as in CI) gives a folder away; anyone else finds one of root's.
    Path theirs;
    String owner;
    if (me.equals("root")) {
      theirs = Files.createDirectory(dir.resolve("theirs"));
      Files.setOwner(theirs, FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByName("nobody"));
      owner = "nobody";
    } else {
      theirs = Path.of("/");
      owner = "root";
    }
    assertThat(DataFolderOwner.refusal(theirs)).isEqualTo("the data folder " + theirs + " belongs to " + owner + ", not " + me
        + ": run this as " + owner + " (sudo -u " + owner + " posta ...), so that the server can read what it writes");
  }
}
