package dev.posta.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.database.Database;
import dev.posta.testing.Postgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster's accounts ({@link DatabaseAccounts}) as two nodes see them: two {@link UserStore}s,
 * each on a pool of its own, on one real PostgreSQL.
 */
class SharedAccountsTest {
  private static final Postgres POSTGRES = Postgres.shared();

  @TempDir Path dir;

  @Test
  void anAccountAddedOnOneNodeLogsInOnTheOtherAtOnceByItsNotification() throws Exception {
    String url = POSTGRES.newDatabase();
    try (Database db1 = Database.open(url, "node1", 2); Database db2 = Database.open(url, "node2", 2);
        // Polling once an hour: only the notification can make node 2 see the change in time.
        UserStore node1 = UserStore.inDatabase(db1, dir.resolve("n1"), Duration.ofHours(1), true);
        UserStore node2 = UserStore.inDatabase(db2, dir.resolve("n2"), Duration.ofHours(1), true)) {
      assertThat(node2.find("ada@example.org")).isEmpty(); // node 2 has read the accounts once
      Thread.sleep(300); // and listens
      node1.add("Ada@Example.org", "correct horse".toCharArray());
      assertThat(within(Duration.ofSeconds(2), () -> node2.find("ada@example.org").isPresent())).isTrue();
      assertThat(node2.verify("ada@example.org", "correct horse".toCharArray())).isTrue();
      assertThat(node2.verify("ada@example.org", "wrong".toCharArray())).isFalse();
      // The users files of the nodes' data folders are not written: the database is the only copy.
      assertThat(Files.exists(dir.resolve("n1/users"))).isFalse();
    }
  }

  @Test
  void aLostNotificationIsCoveredByThePoll() throws Exception {
    String url = POSTGRES.newDatabase();
    try (Database db1 = Database.open(url, "node1", 2); Database db2 = Database.open(url, "node2", 2);
        UserStore node1 = UserStore.inDatabase(db1, dir.resolve("n1"), Duration.ofHours(1), true);
        // Not listening: every notification to node 2 is lost; it polls every 2 s.
        UserStore node2 = UserStore.inDatabase(db2, dir.resolve("n2"), Duration.ofSeconds(2), false)) {
      node1.add("ada@example.org", "first password".toCharArray());
      assertThat(within(Duration.ofSeconds(4), () -> node2.find("ada@example.org").isPresent())).isTrue();
      String before = node2.find("ada@example.org").orElseThrow().passwordHash();
      long changed = System.nanoTime();
      node1.setPassword("ada@example.org", "second password".toCharArray());
      // Until its next poll node 2 still has the old password; then the new one, within the period.
      assertThat(node2.find("ada@example.org").orElseThrow().passwordHash()).isEqualTo(before);
      assertThat(within(Duration.ofSeconds(4), () -> !node2.find("ada@example.org").orElseThrow().passwordHash().equals(before))).isTrue();
      assertThat(Duration.ofNanos(System.nanoTime() - changed)).isLessThan(Duration.ofMillis(2500));
      assertThat(node2.verify("ada@example.org", "second password".toCharArray())).isTrue();
      assertThat(node2.verify("ada@example.org", "first password".toCharArray())).isFalse();
    }
  }

  @Test
  void everyChangeReachesTheOtherNodeAsTheUsersFileWouldHoldIt() throws Exception {
    String url = POSTGRES.newDatabase();
    try (Database db1 = Database.open(url, "node1", 2); Database db2 = Database.open(url, "node2", 2);
        UserStore node1 = UserStore.inDatabase(db1, dir.resolve("n1"), Duration.ofMillis(200), false);
        UserStore node2 = UserStore.inDatabase(db2, dir.resolve("n2"), Duration.ofMillis(200), false)) {
      node1.add("ada@example.org", "pw-ada".toCharArray(), true);
      node2.add("bob@example.org", "pw-bob".toCharArray());
      node1.setDisabled("bob@example.org", true);
      node2.setAdmin("ada@example.org", false);
      node1.add("eve@example.org", "pw-eve".toCharArray());
      node2.remove("eve@example.org");
      Thread.sleep(300);
      for (UserStore node : List.of(node1, node2)) {
        assertThat(node.list()).containsExactly("ada@example.org", "bob@example.org");
        assertThat(node.find("ada@example.org").orElseThrow().attributes()).isEmpty();
        assertThat(node.find("bob@example.org").orElseThrow().attributes()).containsExactly("disabled");
        assertThat(node.verify("bob@example.org", "pw-bob".toCharArray())).isFalse(); // disabled
      }
      assertThat(rows(db1)).containsExactly("ada@example.org admin=f disabled=f", "bob@example.org admin=f disabled=t");
      // Refused changes change nothing, on either node.
      assertThatThrownBy(() -> node2.add("ada@example.org", "again".toCharArray())).hasMessage("ada@example.org already exists");
      assertThatThrownBy(() -> node1.setPassword("nobody@example.org", "x".toCharArray())).hasMessage("no such user: nobody@example.org");
      assertThat(rows(db1)).containsExactly("ada@example.org admin=f disabled=f", "bob@example.org admin=f disabled=t");
    }
  }

  @Test
  void changesMadeOnTwoNodesAtOnceAreAllKeptAndOneAddressIsAddedOnce() throws Exception {
    String url = POSTGRES.newDatabase();
    try (Database db1 = Database.open(url, "node1", 4); Database db2 = Database.open(url, "node2", 4);
        UserStore node1 = UserStore.inDatabase(db1, dir.resolve("n1"), Duration.ofHours(1), false);
        UserStore node2 = UserStore.inDatabase(db2, dir.resolve("n2"), Duration.ofHours(1), false)) {
      List<Callable<Boolean>> adds = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        UserStore node = i % 2 == 0 ? node1 : node2;
        String address = "user" + i + "@example.org";
        adds.add(() -> {
          node.add(address, "pw".toCharArray());
          return true;
        });
        adds.add(() -> {
          try {
            node.add("same@example.org", "pw".toCharArray());
            return true;
          } catch (UserStore.UserException e) {
            assertThat(e).hasMessage("same@example.org already exists");
            return false;
          }
        });
      }
      int added = 0;
      try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
        for (Future<Boolean> f : pool.invokeAll(adds)) if (f.get()) added++;
      }
      assertThat(added).isEqualTo(9); // the eight users and "same" once
      assertThat(rows(db1)).hasSize(9);
    }
  }

  @Test
  void whileTheDatabaseIsUnreachableLoginsGoOnWithTheAccountsLastRead() throws Exception {
    String url = POSTGRES.newDatabase();
    try (Database db1 = Database.open(url, "node1", 2)) {
      Database db2 = Database.open(url, "node2", 2);
      try (UserStore node1 = UserStore.inDatabase(db1, dir.resolve("n1"), Duration.ofMillis(100), false);
          UserStore node2 = UserStore.inDatabase(db2, dir.resolve("n2"), Duration.ofMillis(100), false)) {
        node1.add("ada@example.org", "pw-ada".toCharArray());
        assertThat(node2.verify("ada@example.org", "pw-ada".toCharArray())).isTrue();
        db2.close(); // node 2 loses its database
        Thread.sleep(200);
        assertThat(node2.verify("ada@example.org", "pw-ada".toCharArray())).isTrue();
        assertThatThrownBy(() -> node2.add("bob@example.org", "pw".toCharArray()))
            .isInstanceOf(java.io.IOException.class)
            .hasMessageStartingWith("the accounts cannot be changed in the cluster's database: ");
      }
      // A node that never read them cannot log anyone in, and says why.
      Database closed = Database.open(url, "node3", 1);
      closed.close();
      try (UserStore node3 = UserStore.inDatabase(closed, dir.resolve("n3"), Duration.ofMillis(100), false)) {
        assertThatThrownBy(() -> node3.find("ada@example.org"))
            .isInstanceOf(java.io.IOException.class)
            .hasMessageStartingWith("the accounts cannot be read from the cluster's database: ");
      }
    }
  }

  @Test
  void loginsDoNotQueueBehindAReloadThatWaitsForTheDatabase() throws Exception {
    String url = POSTGRES.newDatabase();
    try (Database db1 = Database.open(url, "node1", 2); Database db2 = Database.open(url, "node2", 1);
        UserStore node1 = UserStore.inDatabase(db1, dir.resolve("n1"), Duration.ofHours(1), false);
        UserStore node2 = UserStore.inDatabase(db2, dir.resolve("n2"), Duration.ofMillis(100), false)) {
      node1.add("ada@example.org", "pw-ada".toCharArray());
      assertThat(node2.find("ada@example.org")).isPresent();
      // Node 2's only connection is taken: a reload waits for one up to the pool's 10 s, as for a database gone away.
      java.sql.Connection taken = db2.connection();
      Thread.sleep(150); // past the poll period: the next lookup reloads
      List<Callable<Long>> logins = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        logins.add(() -> {
          long start = System.nanoTime();
          assertThat(node2.find("ada@example.org")).isPresent();
          return System.nanoTime() - start;
        });
      }
      try (ExecutorService pool = Executors.newFixedThreadPool(8)) {
        for (Future<Long> f : pool.invokeAll(logins)) {
          // Each waits at most the bounded wait for the reload one of them started, never the pool's 10 s.
          assertThat(Duration.ofNanos(f.get())).isLessThan(DatabaseAccounts.RELOAD_WAIT.plusMillis(300));
        }
        // Later logins do not wait at all while that reload is still stuck.
        for (Future<Long> f : pool.invokeAll(logins)) assertThat(Duration.ofNanos(f.get())).isLessThan(Duration.ofMillis(100));
      }
      // The database back, the next change is seen again.
      taken.close();
      node1.setDisabled("ada@example.org", true);
      assertThat(within(Duration.ofSeconds(12), () -> node2.find("ada@example.org").orElseThrow().disabled())).isTrue();
    }
  }

  @Test
  void postaUserOnAClusteredNodeChangesTheClustersAccountsNotTheUsersFile() throws Exception {
    String url = POSTGRES.newDatabase();
    Path config = Files.writeString(dir.resolve("posta.toml"), "hostname = \"mail.example.org\"\ndata = \"" + dir.resolve("data")
        + "\"\n[domains.\"example.org\"]\n[cluster]\ndatabase = \"" + url + "\"\nnode = \"n1\"\n");
    var out = new java.io.ByteArrayOutputStream();
    var err = new java.io.ByteArrayOutputStream();
    var command = new dev.posta.cli.UserCommand(new java.io.ByteArrayInputStream("a long password\n".getBytes(java.nio.charset.StandardCharsets.UTF_8)),
        new java.io.PrintStream(out, true, java.nio.charset.StandardCharsets.UTF_8), new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
    int status = new picocli.CommandLine(command).execute("add", "ada@example.org", "--config", config.toString());
    assertThat(err.toString(java.nio.charset.StandardCharsets.UTF_8)).isEmpty();
    assertThat(status).isZero();
    assertThat(out.toString(java.nio.charset.StandardCharsets.UTF_8)).isEqualTo("added ada@example.org\n");
    assertThat(Files.exists(dir.resolve("data/users"))).isFalse();
    try (Database db = Database.open(url, "node2", 2); UserStore node2 = UserStore.inDatabase(db, dir.resolve("n2"), Duration.ofHours(1), false)) {
      assertThat(node2.verify("ada@example.org", "a long password".toCharArray())).isTrue();
    }
  }

  private static boolean within(Duration bound, java.util.concurrent.Callable<Boolean> condition) throws Exception {
    long deadline = System.nanoTime() + bound.toNanos();
    while (System.nanoTime() < deadline) {
      if (condition.call()) return true;
      Thread.sleep(20);
    }
    return condition.call();
  }

  private static List<String> rows(Database db) throws Exception {
    return db.transaction(c -> {
      List<String> rows = new ArrayList<>();
      try (ResultSet r = c.createStatement().executeQuery("select address, admin, disabled from accounts order by address")) {
        while (r.next()) rows.add(r.getString(1) + " admin=" + (r.getBoolean(2) ? "t" : "f") + " disabled=" + (r.getBoolean(3) ? "t" : "f"));
      }
      return rows;
    });
  }
}
