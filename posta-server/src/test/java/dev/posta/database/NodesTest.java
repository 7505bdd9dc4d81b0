package dev.posta.database;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.testing.Postgres;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/** Node registration and heartbeats ({@link Nodes}) against a real PostgreSQL. */
class NodesTest {
  private static final Postgres POSTGRES = Postgres.shared();

  @Test
  void aNodeRegistersAtStartIsListedAliveAndLeavesWhenItStops() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2)) {
      Nodes mx1 = Nodes.join(db, "mx1", "1.2.3", line -> {});
      List<Nodes.Node> listed = Nodes.list(db);
      assertThat(listed).hasSize(1);
      assertThat(listed.get(0).name()).isEqualTo("mx1");
      assertThat(listed.get(0).version()).isEqualTo("1.2.3");
      assertThat(listed.get(0).alive()).isTrue();
      assertThat(listed.get(0).age()).isLessThan(Duration.ofSeconds(2));
      assertThat(nameLocks(db)).isEqualTo(1);
      mx1.close();
      assertThat(Nodes.list(db)).isEmpty();
      // The name is given back: the same name starts again at once.
      assertThat(nameLocks(db)).isZero();
      Nodes.join(db, "mx1", "1.2.3", line -> {}).close();
    }
  }

  @Test
  void aSecondLiveNodeWithTheSameNameIsRefused() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 2); Nodes first = Nodes.join(db, "mx1", "", line -> {})) {
      assertThatThrownBy(() -> Nodes.join(db, "mx1", "", line -> {}))
          .isInstanceOf(Nodes.NameTaken.class)
          .hasMessage("another node named mx1 is alive (it holds the name's lock in the database; its last heartbeat was 0 s ago);"
              + " give this node another [cluster] node name, or stop the other");
      assertThat(Nodes.list(db)).extracting(Nodes.Node::name).containsExactly("mx1");
    }
  }

  @Test
  void nodesStartingTogetherWithOneNameGiveItToOnlyOne() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 6)) {
      List<Callable<Nodes>> joins = new ArrayList<>();
      for (int i = 0; i < 6; i++) joins.add(() -> Nodes.join(db, "mx1", "", line -> {}));
      int joined = 0, refused = 0;
      List<Nodes> started = new ArrayList<>();
      try (ExecutorService pool = Executors.newFixedThreadPool(6)) {
        for (Future<Nodes> f : pool.invokeAll(joins)) {
          try {
            started.add(f.get());
            joined++;
          } catch (java.util.concurrent.ExecutionException e) {
            assertThat(e.getCause()).isInstanceOf(Nodes.NameTaken.class);
            refused++;
          }
        }
      }
      assertThat(joined).isEqualTo(1);
      assertThat(refused).isEqualTo(5);
      for (Nodes n : started) n.close();
    }
  }

  @Test
  void aNodeWithoutAHeartbeatForTheBoundIsShownDead() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 3); Nodes mx1 = Nodes.join(db, "mx1", "", Duration.ofHours(1), line -> {})) {
      age(db, "mx1", 29);
      assertThat(Nodes.list(db)).singleElement().satisfies(n -> assertThat(n.alive()).isTrue());
      age(db, "mx1", 31);
      assertThat(Nodes.list(db)).singleElement().satisfies(n -> {
        assertThat(n.alive()).isFalse();
        assertThat(n.age().toSeconds()).isEqualTo(31);
      });
    }
  }

  @Test
  void aNodeWhoseSessionEndedCanStartAgainAtOnceAndTheOldStartLearnsItLostTheName() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 4)) {
      List<String> log = Collections.synchronizedList(new ArrayList<>());
      Nodes killed = Nodes.join(db, "mx1", "1", Duration.ofHours(1), log::add);
      // SIGKILL ends the process's connections; the server ends the session and its lock with it.
      db.transaction(c -> c.createStatement().executeQuery("select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory'"
          + " and classid = " + Nodes.NAME_LOCKS + " and objsubid = 2 and database = (select oid from pg_database where datname = current_database())"));
      long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (nameLocks(db) > 0 && System.nanoTime() < deadline) Thread.sleep(20);
      // Started again right away: its heartbeat (0 s old) does not hold the name, the lock does.
      try (Nodes restarted = Nodes.join(db, "mx1", "2", Duration.ofHours(1), line -> {})) {
        assertThat(Nodes.list(db)).singleElement().satisfies(n -> {
          assertThat(n.alive()).isTrue();
          assertThat(n.version()).isEqualTo("2");
        });
        // Were the old start still running, its next beat would find the name taken, not renew the other's row.
        assertThat(killed.beat()).isFalse();
        assertThat(restarted.beat()).isTrue();
        killed.close(); // removes nothing of the restarted one
        assertThat(Nodes.list(db)).extracting(Nodes.Node::version).containsExactly("2");
      }
    }
  }

  @Test
  void aLockStillHeldByItsOldSessionWhileTheRowIsItsOwnIsNoLostName() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 4); Nodes mx1 = Nodes.join(db, "mx1", "1", Duration.ofHours(1), line -> {})) {
      // The node's connection to the server breaks, and its session lingers (the server has not
      // noticed the cut yet): here, the session ends and another connection takes the lock as it would hold it.
      db.transaction(c -> c.createStatement().executeQuery("select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory'"
          + " and classid = " + Nodes.NAME_LOCKS + " and objsubid = 2 and database = (select oid from pg_database where datname = current_database())"));
      long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      while (nameLocks(db) > 0 && System.nanoTime() < deadline) Thread.sleep(20);
      try (java.sql.Connection lingering = db.dedicated("lingering")) {
        try (var s = lingering.prepareStatement("select pg_advisory_lock(?, ?)")) {
          s.setInt(1, Nodes.NAME_LOCKS);
          s.setInt(2, "mx1".hashCode());
          s.execute();
        }
        assertThatThrownBy(mx1::beat).isInstanceOf(java.sql.SQLException.class)
            .hasMessage("the name's lock is still held, by this node's previous database session if no other start has it; trying again");
      }
      // The lingering session ends: the next beat takes the name's lock again and renews the row.
      assertThat(mx1.beat()).isTrue();
      assertThat(nameLocks(db)).isEqualTo(1);
    }
  }

  @Test
  void theHeartbeatIsRenewedEveryPeriodAndALostNameIsLoggedAndToldOnce() throws Exception {
    try (Database db = Database.open(POSTGRES.newDatabase(), "test", 3)) {
      List<String> log = Collections.synchronizedList(new ArrayList<>());
      java.util.concurrent.atomic.AtomicInteger lost = new java.util.concurrent.atomic.AtomicInteger();
      try (Nodes mx1 = Nodes.join(db, "mx1", "", Duration.ofMillis(100), log::add, lost::incrementAndGet)) {
        age(db, "mx1", 20);
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (Nodes.list(db).get(0).age().toSeconds() >= 20 && System.nanoTime() < deadline) Thread.sleep(20);
        assertThat(Nodes.list(db).get(0).age()).isLessThan(Duration.ofSeconds(1));
        // Another start takes the name over (as it would after 30 s of silence).
        db.transaction(c -> c.createStatement().executeUpdate("update nodes set instance = 'another start'"));
        Thread.sleep(500);
        assertThat(log).containsExactly("node mx1: another start of this node holds its name now; stop this one");
        assertThat(lost).as("its owner told once, to stop the node").hasValue(1);
      }
    }
  }

  /** The name locks held in this test's database. */
  static long nameLocks(Database db) throws Exception {
    return db.transaction(c -> {
      try (var r = c.createStatement().executeQuery("select count(*) from pg_locks where locktype = 'advisory' and classid = " + Nodes.NAME_LOCKS
          + " and objsubid = 2 and granted and database = (select oid from pg_database where datname = current_database())")) {
        r.next();
        return r.getLong(1);
      }
    });
  }

  static void age(Database db, String node, int seconds) throws Exception {
    db.transaction(c -> c.createStatement().executeUpdate(
        "update nodes set heartbeat = now() - interval '" + seconds + " seconds' where node = '" + node + "'"));
  }
}
