package dev.posta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.database.Database;
import dev.posta.testing.Postgres;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code posta cluster status}: its exact output against a real PostgreSQL. */
class ClusterCommandTest {
  private static final Postgres POSTGRES = Postgres.shared();

  @TempDir Path dir;

  private record Run(int status, String out, String err) {}

  private Run run(String... args) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
    Path config = dir.resolve("posta.toml");
    if (!Files.exists(config)) Files.writeString(config, "data = \"" + dir.resolve("data") + "\"\nhostname = \"mail.example.org\"\n[domains.\"example.org\"]\n");
    String[] withConfig = new String[args.length + 2];
    System.arraycopy(args, 0, withConfig, 0, args.length);
    withConfig[args.length] = "--config";
    withConfig[args.length + 1] = config.toString();
    int status = new CommandLine(new ClusterCommand(new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)))
        .execute(withConfig);
    return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /**
   * A first status in this JVM (picocli, the configuration, the pool, the schema), so that the
   * one asserted reads the heartbeats within the second their exact ages allow: the first run in
   * a cold JVM took longer (the heartbeat inserted 2 s ago was shown "3 s ago").
   */
  private void warmUp(String url) throws Exception {
    assertThat(run("status", "--database", url).status()).isZero();
  }

  /** Two nodes with fixed start times: mx1 beat 2 s ago, mx2 95 s ago. */
  private static void twoNodes(Database db) throws Exception {
    db.transaction(c -> {
      try (Statement s = c.createStatement()) {
        s.execute("insert into nodes (node, started, heartbeat, version, instance) values"
            + " ('mx1', '2026-12-07 08:00:00.4+00', now() - interval '2 seconds', '1.4.0', 'a'),"
            + " ('mx2-long-name', '2026-12-06 23:59:59+00', now() - interval '95 seconds', '', 'b')");
      }
      return null;
    });
  }

  @Test
  void statusShowsEachNodesHeartbeatAndAnEmptyQueue() throws Exception {
    String url = POSTGRES.newDatabase();
    warmUp(url);
    try (Database db = Database.open(url, "test", 1)) {
      twoNodes(db);
    }
    Run r = run("status", "--database", url);
    assertThat(r.err()).isEmpty();
    assertThat(r.status()).isZero();
    assertThat(r.out()).isEqualTo("cluster " + url + ": 2 nodes, 1 alive (dead after 30 s without a heartbeat)\n"
        + "NODE           STATE  HEARTBEAT  STARTED               VERSION  LEASES\n"
        + "mx1            alive  2 s ago    2026-12-07T08:00:00Z  1.4.0    0\n"
        + "mx2-long-name  dead   95 s ago   2026-12-06T23:59:59Z  -        0\n"
        + "queue: 0 messages, 0 recipients to deliver: 0 due now, 0 being delivered, 0 held, 0 with a lease run out\n");
  }

  @Test
  void statusShowsTheQueuesDepthAndTheLeasesEachNodeHolds() throws Exception {
    String url = POSTGRES.newDatabase();
    warmUp(url);
    try (Database db = Database.open(url, "test", 1)) {
      twoNodes(db);
      db.transaction(c -> {
        try (Statement s = c.createStatement()) {
          s.execute("insert into queue_messages (queue_id, envelope, blob, size, arrival, node) values"
              + " ('Q1', ''::bytea, ''::bytea, 1, now(), 'mx1'), ('Q2', ''::bytea, ''::bytea, 1, now(), 'mx2-long-name')");
          s.execute("insert into queue_items (message, recipient, held, next_attempt, lease_node, lease_until)"
              + " select m.id, v.recipient, v.held, v.next_attempt, v.lease_node, v.lease_until from queue_messages m join (values"
              + " ('Q1', 0, false, now() - interval '1 second', null, null::timestamptz),"          // due now
              + " ('Q1', 1, false, now() + interval '10 minutes', null, null),"                      // waiting for a retry
              + " ('Q1', 2, true, now(), null, null),"                                               // held
              + " ('Q2', 0, false, now(), 'mx1', now() + interval '30 seconds'),"                   // being delivered by mx1
              + " ('Q2', 1, false, now(), 'mx1', now() + interval '30 seconds'),"
              + " ('Q2', 2, false, now(), 'mx2-long-name', now() - interval '20 seconds')"          // its node died
              + ") as v (queue_id, recipient, held, next_attempt, lease_node, lease_until) on m.queue_id = v.queue_id");
        }
        return null;
      });
    }
    Run r = run("status", "--database", url);
    assertThat(r.err()).isEmpty();
    assertThat(r.out()).isEqualTo("cluster " + url + ": 2 nodes, 1 alive (dead after 30 s without a heartbeat)\n"
        + "NODE           STATE  HEARTBEAT  STARTED               VERSION  LEASES\n"
        + "mx1            alive  2 s ago    2026-12-07T08:00:00Z  1.4.0    2\n"
        + "mx2-long-name  dead   95 s ago   2026-12-06T23:59:59Z  -        0\n"
        + "queue: 2 messages, 6 recipients to deliver: 1 due now, 2 being delivered, 1 held, 1 with a lease run out\n");
  }

  @Test
  void statusShowsTheSuspendedDestinationsUntilWhenAndWhy() throws Exception {
    String url = POSTGRES.newDatabase();
    try (Database db = Database.open(url, "test", 1)) {
      twoNodes(db);
      db.transaction(c -> {
        try (Statement s = c.createStatement()) {
          s.execute("insert into queue_suspensions (destination, until, status, remote_mta, reason, node, probing_node, probe_until) values"
              + " ('down.example', '2026-12-07 08:05:00.7+00', '4.4.1', 'mx.down.example',"
              + " 'cannot connect to mx.down.example[192.0.2.1]:25: Connection refused', 'mx1', null, null),"
              + " ('[192.0.2.9]:587/none', '2026-12-07 08:06:00+00', '4.4.1', null, 'cannot connect to 192.0.2.9[192.0.2.9]:587: connect timed out',"
              + " 'mx1', 'mx1', now() + interval '20 seconds'),"
              // a probe claimed by a node that died: shown as no probe
              + " ('nxdomain.example', '2026-12-07 08:07:00+00', '4.4.3', null, 'DNS lookup of nxdomain.example timed out', 'mx1',"
              + " 'mx2-long-name', now() - interval '1 second')");
        }
        return null;
      });
    }
    Run r = run("status", "--database", url);
    assertThat(r.err()).isEmpty();
    assertThat(r.out()).endsWith("queue: 0 messages, 0 recipients to deliver: 0 due now, 0 being delivered, 0 held, 0 with a lease run out\n"
        + "suspended: [192.0.2.9]:587/none until 2026-12-07T08:06:00Z, probed by mx1 (4.4.1 cannot connect to 192.0.2.9[192.0.2.9]:587: connect timed out)\n"
        + "suspended: down.example until 2026-12-07T08:05:00Z (4.4.1 cannot connect to mx.down.example[192.0.2.1]:25: Connection refused)\n"
        + "suspended: nxdomain.example until 2026-12-07T08:07:00Z (4.4.3 DNS lookup of nxdomain.example timed out)\n");
  }

  @Test
  void statusReadsTheDatabaseTheConfigurationNames() throws Exception {
    String url = POSTGRES.newDatabase();
    Files.writeString(dir.resolve("posta.toml"), "data = \"" + dir.resolve("data") + "\"\nhostname = \"mail.example.org\"\n[domains.\"example.org\"]\n"
        + "[cluster]\ndatabase = \"" + url + "\"\nnode = \"mx1\"\n");
    try (Database db = Database.open(url, "test", 1)) {
      twoNodes(db);
    }
    Run r = run("status");
    assertThat(r.err()).isEmpty();
    assertThat(r.out()).startsWith("cluster " + url + ": 2 nodes, 1 alive (dead after 30 s without a heartbeat)\n");
  }

  @Test
  void anEmptyClusterSaysSo() throws Exception {
    String url = POSTGRES.newDatabase();
    Run r = run("status", "--database", url);
    assertThat(r.out()).isEqualTo("cluster " + url + ": 0 nodes, 0 alive (dead after 30 s without a heartbeat)\n"
        + "queue: 0 messages, 0 recipients to deliver: 0 due now, 0 being delivered, 0 held, 0 with a lease run out\n");
  }

  @Test
  void withoutAClusterDatabaseOrWithAnUnreachableOneStatusFailsInOneLine() throws Exception {
    Run none = run("status");
    assertThat(none.status()).isEqualTo(1);
    assertThat(none.out()).isEmpty();
    assertThat(none.err()).isEqualTo(
        "posta cluster status: this node is not clustered: its configuration has no [cluster] database (or give --database URL)\n");
    Run unreachable = run("status", "--database", "postgresql://posta@127.0.0.1:1/posta");
    assertThat(unreachable.status()).isEqualTo(1);
    assertThat(unreachable.err()).startsWith("posta cluster status: the cluster's database cannot be read: Connection to 127.0.0.1:1 refused");
  }
}
