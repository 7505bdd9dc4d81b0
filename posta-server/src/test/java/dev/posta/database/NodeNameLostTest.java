package dev.posta.database;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.PostaProcess;
import dev.posta.testing.Postgres;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node that loses its name while it runs ({@link Nodes}: its database session ended, and another
 * start of it took the name before it took it back) stops: {@code posta serve} as real processes
 * on a real PostgreSQL, the first one's name lock dropped by {@code pg_terminate_backend} as a
 * network cut or a database restart drops it.
 */
class NodeNameLostTest {
  @TempDir Path dir;
  final List<PostaProcess> started = new ArrayList<>();

  @AfterEach
  void stop() throws Exception {
    for (PostaProcess p : started) p.close();
  }

  private Path config(String data, int port, String url) throws Exception {
    return Files.writeString(dir.resolve(data + ".toml"), PostaProcess.smtpOnly(dir.resolve(data), port) + """
        [domains."localhost"]

        [cluster]
        database = "%s"
        node = "n1"
        """.formatted(url), UTF_8);
  }

  /**
   * Ends the first process's database session that holds the node name's lock, and again each
   * time it takes the name back, until stopped: the first's connections carry the application
   * name {@code first} (its URL's {@code application_name}), the second's do not.
   */
  private static Thread dropFirstsNameLock(Database db) {
    return Thread.ofVirtual().start(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        try {
          db.transaction(c -> c.createStatement().executeQuery("select pg_terminate_backend(l.pid) from pg_locks l join pg_stat_activity a"
              + " on a.pid = l.pid where l.locktype = 'advisory' and l.classid = " + Nodes.NAME_LOCKS + " and l.objsubid = 2 and l.granted"
              + " and a.application_name = 'first' and l.database = (select oid from pg_database where datname = current_database())"));
          Thread.sleep(50);
        } catch (InterruptedException e) {
          return;
        } catch (java.sql.SQLException e) {
          throw new IllegalStateException(e);
        }
      }
    });
  }

  @Test
  void aNodeWhoseNameAnotherStartTookStopsAndExitsWithStatus3() throws Exception {
    String url = Postgres.shared().newDatabase();
    int portA = PostaProcess.freePort(), portB = PostaProcess.freePort();
    Path a = config("a", portA, url + "?application_name=first"), b = config("b", portB, url);
    PostaProcess first = PostaProcess.start(a, dir.resolve("first"), portA);
    started.add(first);
    try (Database db = Database.open(url, "test", 2)) {
      assertThat(NodesTest.nameLocks(db)).isEqualTo(1);
      // The first loses its name's lock (as a network cut or a database restart drops it) and
      // cannot take it back before the second start has it.
      Thread dropping = dropFirstsNameLock(db);
      PostaProcess second;
      try {
        second = PostaProcess.start(b, dir.resolve("second"), portB);
        started.add(second);
      } finally {
        dropping.interrupt();
        dropping.join();
      }

      // The first finds out at its next heartbeat, says so, stops cleanly and exits with 3.
      assertThat(first.awaitExit(Duration.ofSeconds(30))).isEqualTo(3);
      String log = Files.readString(dir.resolve("first.err")) + Files.readString(dir.resolve("first.out"));
      assertThat(log).contains("cluster: node n1: another start of this node holds its name now; stop this one")
          .contains("cluster: node n1: another start of this node holds its name in the cluster now; this one stops taking mail and shuts down,"
              + " so that one process serves under the name")
          .contains("posta stopped: 0 message(s) left in the queue");
      assertThat(canConnect(portA)).isFalse();

      // The second serves on, alone under the name: its row stays (the first removed nothing of it).
      assertThat(second.isAlive()).isTrue();
      assertThat(canConnect(portB)).isTrue();
      assertThat(Nodes.list(db)).singleElement().satisfies(n -> {
        assertThat(n.name()).isEqualTo("n1");
        assertThat(n.alive()).isTrue();
      });
      assertThat(NodesTest.nameLocks(db)).isEqualTo(1);
    }
  }

  private static boolean canConnect(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      return true;
    } catch (java.io.IOException e) {
      return false;
    }
  }
}
