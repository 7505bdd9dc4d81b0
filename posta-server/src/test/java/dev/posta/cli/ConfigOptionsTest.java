package dev.posta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which configuration a command reads when {@code --config} is not given. */
class ConfigOptionsTest {
  @TempDir Path dir;

  @Test
  void postaConfigFirstThenTheSystemFileWhenItExistsThenTheEmbeddedDefaults() throws Exception {
    Path system = dir.resolve("etc/posta/posta.toml");
    assertThat(ConfigOptions.defaultFile(Map.of(), system)).isNull();
    assertThat(ConfigOptions.defaultFile(Map.of("POSTA_CONFIG", ""), system)).isNull();
    Files.createDirectories(system.getParent());
    Files.writeString(system, "");
    assertThat(ConfigOptions.defaultFile(Map.of(), system)).isEqualTo(system);
    // Named, it is read even when missing, so that a typo is an error rather than another server's file.
    assertThat(ConfigOptions.defaultFile(Map.of("POSTA_CONFIG", "/srv/missing.toml"), system)).isEqualTo(Path.of("/srv/missing.toml"));
  }
}
