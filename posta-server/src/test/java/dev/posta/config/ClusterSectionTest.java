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

  @Test
  void blobsInAnS3StoreAreReadAndPrintedWithoutTheSecretKey() throws Exception {
    PostaConfig config = load("""
        [cluster]
        database = "%s"
        node = "n1"
        blobs = "s3"
        s3-endpoint = "http://127.0.0.1:9000"
        s3-bucket = "posta-mail"
        s3-access-key = "AKIAEXAMPLE"
        s3-secret-key = "wJalrXUtnFEMI"
        blob-sweep-every = "5m"
        blob-sweep-age = "2h"
        """.formatted(DATABASE));
    Cluster.Blobs blobs = config.cluster().blobs();
    assertThat(blobs).isEqualTo(new Cluster.Blobs(Optional.of(new Cluster.S3(java.net.URI.create("http://127.0.0.1:9000"), "us-east-1", "posta-mail",
        "AKIAEXAMPLE", "wJalrXUtnFEMI")), java.time.Duration.ofMinutes(5), java.time.Duration.ofHours(2)));
    assertThat(blobs.store()).isEqualTo("s3");
    assertThat(blobs.s3().orElseThrow().toString())
        .isEqualTo("S3[endpoint=http://127.0.0.1:9000, region=us-east-1, bucket=posta-mail, access-key=AKIAEXAMPLE, secret-key=***]");
    String printed = ConfigPrinter.toml(config, false);
    assertThat(printed).doesNotContain("wJalrXUtnFEMI")
        .contains("node = \"n1\"\nblobs = \"s3\"\ns3-endpoint = \"http://127.0.0.1:9000\"\ns3-region = \"us-east-1\"\n"
            + "s3-bucket = \"posta-mail\"\ns3-access-key = \"AKIAEXAMPLE\"\n# s3-secret-key: set in " + dir.resolve("posta.toml") + ", not shown\n"
            + "blob-sweep-every = \"5m\"\nblob-sweep-age = \"2h\"\n");
    // A reload's log line says the secret changed, never what it is.
    PostaConfig rotated = config.toBuilder().cluster(new Cluster(config.cluster().database(), "n1", 16, 0, new Cluster.Blobs(
        Optional.of(new Cluster.S3(java.net.URI.create("http://127.0.0.1:9000"), "us-east-1", "posta-mail", "AKIAEXAMPLE", "n3wSecret")),
        java.time.Duration.ofMinutes(5), java.time.Duration.ofHours(2)))).build();
    assertThat(ConfigChanges.between(config, rotated)).containsExactly("cluster.blobs.s3.secret-key: changed");
    assertThat(config.cluster().sameNode(rotated.cluster())).isFalse();
  }

  @Test
  void withoutBlobsTheDatabaseKeepsTheContent() throws Exception {
    Cluster c = load("[cluster]\ndatabase = \"" + DATABASE + "\"\n").cluster();
    assertThat(c.blobs()).isEqualTo(Cluster.Blobs.DATABASE);
    assertThat(ConfigPrinter.toml(load("[cluster]\ndatabase = \"" + DATABASE + "\"\n"), true))
        .contains("blobs = \"database\"\nblob-sweep-every = \"10m\"\nblob-sweep-age = \"1h\"\n");
  }

  @Test
  void badBlobSettingsAreProblemsOnTheirLines() {
    assertThatThrownBy(() -> load("""
        [cluster]
        blobs = "s3"
        s3-endpoint = "ftp://store.example"
        s3-bucket = "Posta_Mail"
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage(String.join("\n",
            "%1$s:4: cluster.blobs: \"s3\" needs s3-access-key, s3-secret-key",
            "%1$s:5: cluster.s3-endpoint: expected an http:// or https:// URL like \"https://s3.eu-central-1.amazonaws.com\", got \"ftp://store.example\"",
            "%1$s:6: cluster.s3-bucket: 'Posta_Mail' is not a bucket name: 3 to 63 lower-case letters, digits, '.' and '-'").formatted(dir.resolve("posta.toml")));
    assertThatThrownBy(() -> load("""
        [cluster]
        blobs = "disk"
        s3-bucket = "posta-mail"
        blob-sweep-age = "1m"
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage(String.join("\n",
            "%1$s:4: cluster.blobs: expected \"database\" or \"s3\", got \"disk\"",
            "%1$s:5: cluster.s3-bucket: only with blobs = \"s3\"",
            "%1$s:6: cluster.blob-sweep-age: must be between 10m and 365d, got 1m").formatted(dir.resolve("posta.toml")));
  }
}
