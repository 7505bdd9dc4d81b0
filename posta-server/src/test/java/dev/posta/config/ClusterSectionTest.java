package dev.posta.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.PostaConfig.Cluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code [cluster]} section: embedded without it, every key read, bad values on their lines, the password never printed. */
class ClusterSectionTest {
  private static final String PREAMBLE = "hostname = \"mail.example.org\"\n[domains.\"example.org\"]\n";

  @TempDir Path dir;
  /** A database that answers: a node reads the cluster's shared configuration with its file. */
  private static final dev.posta.testing.Postgres POSTGRES = dev.posta.testing.Postgres.shared();
  private static final String DATABASE = POSTGRES.newDatabase();

  private PostaConfig load(String toml) throws Exception {
    return ConfigLoader.load(Files.writeString(dir.resolve("posta.toml"), PREAMBLE + toml));
  }

  @Test
  void withoutTheSectionTheNodeIsEmbeddedAndNamedByItsHostName() throws Exception {
    Cluster c = load("").cluster();
    assertThat(c).isEqualTo(new Cluster(Optional.empty(), "mail.example.org", 16));
    assertThat(c.clustered()).isFalse();
    assertThat(ConfigPrinter.toml(load(""), false)).doesNotContain("[cluster]");
    assertThat(ConfigPrinter.toml(load(""), true))
        .contains("[cluster]\n# database: not set (embedded: the state is in the data folder)\nnode = \"mail.example.org\"\npool-size = 16\n");
  }

  @Test
  void everyKeyIsRead() throws Exception {
    PostaConfig config = load("""
        [cluster]
        database = "%s"
        node = "n1"
        pool-size = 40
        """.formatted(DATABASE));
    assertThat(config.cluster()).isEqualTo(new Cluster(Optional.of(DATABASE), "n1", 40));
    assertThat(config.cluster().clustered()).isTrue();
    assertThat(ConfigPrinter.toml(config, false))
        .contains("[cluster]\ndatabase = \"" + DATABASE + "\"\nnode = \"n1\"\npool-size = 40\n");
  }

  @Test
  void aPasswordInTheUrlIsNeverPrinted() throws Exception {
    // The test server trusts every connection from the loopback, whatever the password.
    PostaConfig config = load("[cluster]\ndatabase = \"" + DATABASE.replace("posta@", "posta:s3cret@") + "\"\n");
    String printed = ConfigPrinter.toml(config, true);
    assertThat(printed).doesNotContain("s3cret")
        .contains("[cluster]\n# database: set in " + dir.resolve("posta.toml") + " with its password, not shown\n");
  }

  @Test
  void badValuesAreProblemsOnTheirLines() {
    assertThatThrownBy(() -> load("""
        [cluster]
        database = "mysql://root:hunter2@db/mail"
        node = "node one"
        pool-size = 1
        replicas = 2
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage(String.join("\n",
            "%1$s:4: cluster.database: not a PostgreSQL URL (postgresql://user:password@host:port/database): mysql://root:***@db/mail",
            "%1$s:5: cluster.node: 'node one' is not a node name: letters, digits, '.', '_' and '-', at most 63",
            "%1$s:6: cluster.pool-size: must be between 8 and 500, got 1",
            "%1$s:7: unknown key 'replicas' in [cluster]").formatted(dir.resolve("posta.toml")));
  }
}
