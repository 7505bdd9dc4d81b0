package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.ConfigException;
import dev.posta.config.ConfigLoader;
import dev.posta.config.PostaConfig;
import dev.posta.database.Database;
import dev.posta.database.SharedConfiguration;
import dev.posta.testing.Postgres;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The configuration a cluster's nodes share, against a real PostgreSQL: read with a node's own
 * file as one, problems said where they are, {@code posta cluster config push} and {@code show},
 * and a running node hearing of a new version.
 */
class ClusterConfigTest {
  private static final String SHARED = """
      [domains."shop.test"]
      mailboxes = ["alice"]

      [queue]
      first-retry = "2m"
      """;

  @TempDir Path dir;
  private String url;
  private Path node;

  record Run(int status, String out, String err) {}

  @BeforeEach
  void nodeFile() throws Exception {
    url = Postgres.shared().newDatabase();
    node = Files.writeString(dir.resolve("node.toml"), """
        hostname = "mx1.shop.test"
        data = "data"
        [listeners]
        smtp = ["127.0.0.1:2525"]
        [cluster]
        database = "%s"
        node = "mx1"
        """.formatted(url));
  }

  Run run(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    var command = new ClusterCommand(new PrintStream(out, true, UTF_8), new PrintStream(err, true, UTF_8));
    int status = new CommandLine(command).setErr(new java.io.PrintWriter(new PrintStream(err, true, UTF_8), true)).execute(args);
    return new Run(status, out.toString(UTF_8), err.toString(UTF_8));
  }

  @Test
  void aPushedConfigurationIsReadWithEachNodesOwnFile() throws Exception {
    Path shared = Files.writeString(dir.resolve("shared.toml"), SHARED);
    Run push = run("config", "push", shared.toString(), "--config", node.toString());
    assertThat(push).isEqualTo(new Run(0, "posta cluster config push: stored " + shared + " as version 1; the running nodes take it within seconds\n", ""));

    PostaConfig config = ConfigLoader.load(node);
    assertThat(config.hostname()).isEqualTo("mx1.shop.test"); // the node's own
    assertThat(config.domains()).extracting(PostaConfig.LocalDomain::name).containsExactly("shop.test"); // shared
    assertThat(config.delivery().firstRetry()).isEqualTo(Duration.ofMinutes(2));
    assertThat(config.cluster().sharedVersion()).isEqualTo(1);

    Run show = run("config", "show", "--config", node.toString());
    assertThat(show.status()).isZero();
    assertThat(show.out()).matches("(?s)# shared configuration version 1, pushed \\S+ by \\S+@mx1\n\\Q" + SHARED + "\\E");
  }

  @Test
  void beforeTheFirstPushANodeReadsItsWholeFile() throws Exception {
    Files.writeString(node, "[domains.\"own.test\"]\n", java.nio.file.StandardOpenOption.APPEND);
    assertThat(ConfigLoader.load(node).domains()).extracting(PostaConfig.LocalDomain::name).containsExactly("own.test");
    assertThat(run("config", "show", "--config", node.toString()).out())
        .isEqualTo("# no shared configuration yet: each node reads its whole file (posta cluster config push FILE stores one)\n");
  }

  @Test
  void aSharedKeyInANodesFileAndANodesKeyInTheSharedOneAreProblemsWhereTheyAre() throws Exception {
    run("config", "push", Files.writeString(dir.resolve("shared.toml"), SHARED).toString(), "--config", node.toString());
    Files.writeString(node, "[limits]\nmax-recipients = 10\n", java.nio.file.StandardOpenOption.APPEND);
    assertThatThrownBy(() -> ConfigLoader.load(node)).isInstanceOf(ConfigException.class)
        .hasMessage(node + ":8: 'limits' is shared by the cluster's nodes: change it with posta cluster config push; "
            + "a node's own file holds only hostname, data, mailbox-mode, listeners, tls, log, http, cluster");

    Files.writeString(node, Files.readString(node).replace("[limits]\nmax-recipients = 10\n", ""));
    Path bad = Files.writeString(dir.resolve("bad.toml"), SHARED + "\n[listeners]\nsmtp = []\n");
    Run refused = run("config", "push", bad.toString(), "--config", node.toString());
    assertThat(refused).isEqualTo(new Run(1, "", "posta cluster config push: " + bad
        + ":7: 'listeners' is each node's own: it belongs in the nodes' files, not in the shared configuration\n"));

    Path wrong = Files.writeString(dir.resolve("wrong.toml"), SHARED.replace("\"2m\"", "\"soon\""));
    assertThat(run("config", "push", wrong.toString(), "--config", node.toString()).err()).isEqualTo("posta cluster config push: " + wrong
        + ":5: queue.first-retry: expected a duration like \"30s\", \"5m\", \"1h\" or \"5d\", got \"soon\"\n");
    assertThat(run("config", "show", "--config", node.toString()).out()).startsWith("# shared configuration version 1,"); // nothing stored
  }

  @Test
  void aDatabaseThatCannotBeAskedIsAProblemOnItsLine() throws Exception {
    Files.writeString(node, Files.readString(node).replace(url, "postgresql://posta@127.0.0.1:1/none"));
    assertThatThrownBy(() -> ConfigLoader.load(node)).isInstanceOf(ConfigException.class)
        .hasMessageStartingWith(node + ":6: cluster.database: cannot read the cluster's shared configuration: Connection to 127.0.0.1:1 refused");
  }

  @Test
  void aRunningNodeHearsOfEachNewVersionAndAPollFindsOneWhoseNotificationWasLost() throws Exception {
    var heard = new LinkedBlockingQueue<Long>();
    try (Database db = Database.open(url, "test", 2);
         var watch = SharedConfiguration.Watch.start(url, "test-watch", 0, Duration.ofMillis(300), heard::add)) {
      SharedConfiguration.push(db, SHARED, "root@mx1");
      assertThat(heard.poll(5, TimeUnit.SECONDS)).isEqualTo(1L);
      // A version written without its NOTIFY (as if the notification were lost): the poll finds it.
      db.transaction(c -> c.createStatement().executeUpdate("update shared_config set version = 2"));
      assertThat(heard.poll(5, TimeUnit.SECONDS)).isEqualTo(2L);
      assertThat(heard.poll(700, TimeUnit.MILLISECONDS)).isNull(); // each version once
    }
  }

  @Test
  void aNotificationArrivesWellBeforeThePoll() throws Exception {
    var heard = new LinkedBlockingQueue<Long>();
    try (Database db = Database.open(url, "test", 2);
         var watch = SharedConfiguration.Watch.start(url, "test-watch", 0, Duration.ofMinutes(5), heard::add)) {
      long start = System.nanoTime();
      SharedConfiguration.push(db, SHARED, "root@mx1");
      assertThat(heard.poll(10, TimeUnit.SECONDS)).isEqualTo(1L);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(2)); // a 5-minute poll did not find it
    }
  }
}
