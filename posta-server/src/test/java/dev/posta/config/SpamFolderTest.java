package dev.posta.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code [domains."example.org"] spam-folder}: Junk by default, INBOX for none, each bad name refused with its line, printed back. */
class SpamFolderTest {
  @TempDir Path dir;

  private PostaConfig load(String toml) throws Exception {
    Path file = dir.resolve("posta.toml");
    Files.writeString(file, "hostname = \"mail.example.org\"\n" + toml);
    return ConfigLoader.load(file);
  }

  @Test
  void junkByDefaultInboxOrAnyFolderWhenSaid() throws Exception {
    PostaConfig config = load("""
        [domains."example.org"]
        [domains."example.net"]
        spam-folder = "inbox"
        [domains."example.com"]
        spam-folder = "Spam.Suspect"
        """);
    assertThat(config.domains()).extracting(PostaConfig.LocalDomain::spamFolder).containsExactly("Junk", null, "Spam.Suspect");
    String printed = ConfigPrinter.toml(config, false);
    assertThat(printed).contains("spam-folder = \"INBOX\"\n").contains("spam-folder = \"Spam.Suspect\"\n");
    Path back = Files.writeString(dir.resolve("back.toml"), printed);
    assertThat(ConfigLoader.load(back).domains()).isEqualTo(config.domains());
  }

  @Test
  void eachBadFolderIsRefusedWithItsLine() {
    assertThatThrownBy(() -> load("""
        [domains."a.example"]
        spam-folder = ""
        [domains."b.example"]
        spam-folder = "Junk*"
        [domains."c.example"]
        spam-folder = ".hidden"
        [domains."d.example"]
        spam-folder = true
        [domains."e.example"]
        spam-folder = "Junk/Suspect"
        [domains."f.example"]
        spam-folder = "Junk..Suspect"
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining(":3: domains.\"a.example\".spam-folder: expected a folder name of 1 to 200 characters, or \"INBOX\"")
        .hasMessageContaining(":5: domains.\"b.example\".spam-folder: a folder name has no control characters, '*', '%' or '\\'")
        .hasMessageContaining(":7: domains.\"c.example\".spam-folder: '.hidden' is not a folder name (no '/'; levels are separated by '.', none empty: \"Junk.Suspect\")")
        .hasMessageContaining(":11: domains.\"e.example\".spam-folder: 'Junk/Suspect' is not a folder name")
        .hasMessageContaining(":13: domains.\"f.example\".spam-folder: 'Junk..Suspect' is not a folder name")
        .hasMessageContaining(":9: domains.\"d.example\".spam-folder: ");
  }
}
