package dev.posta.queue;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.database.Database;
import dev.posta.testing.Postgres;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The accept path of a server in cluster mode ({@code [cluster] database}), through a real SMTP
 * client: {@code 250} names a message whose row another connection already sees (committed);
 * a database that is down is answered {@code 451 4.3.0}, never 250.
 */
class ClusterAcceptTest {
  @TempDir Path dir;

  private static PostaConfig cluster(PostaConfig c, String url) {
    return c.toBuilder().cluster(new PostaConfig.Cluster(Optional.of(url), "n1", 4)).build();
  }

  private static long rows(String url, String sql, String id) throws Exception {
    try (Database db = Database.open(url, "test", 1); Connection c = db.connection(); PreparedStatement s = c.prepareStatement(sql)) {
      s.setString(1, id);
      try (ResultSet r = s.executeQuery()) {
        r.next();
        return r.getLong(1);
      }
    }
  }

  @Test
  void twoHundredFiftyNamesAMessageAlreadyCommitted() throws Exception {
    String url = Postgres.shared().newDatabase();
    try (TestServer server = TestServer.start(dir.resolve("posta"), c -> cluster(c, url)); SmtpWire wire = new SmtpWire(server.smtpPort())) {
      assertThat(server.server().mailQueue()).isInstanceOf(ClusterQueue.class);
      wire.ehlo();
      wire.envelope("bob@example.test", "alice@localhost");
      String reply = wire.data("Subject: hello\r\n\r\nbody");
      assertThat(reply).matches("250 2\\.0\\.0 Ok: queued as [0-9A-F]{16}");
      String id = reply.substring(reply.lastIndexOf(' ') + 1);
      // Seen from another connection at once (one statement, one snapshot): in the queue still, or delivered already.
      assertThat(rows(url, "with m(id) as (select ?::text) select (exists (select 1 from queue_messages, m where queue_id = m.id) "
          + "or exists (select 1 from queue_history, m where queue_id = m.id))::int", id)).isEqualTo(1);
      // And it is delivered, to the database's mailbox store.
      dev.posta.testing.Await.await("delivered", () -> {
        try {
          return rows(url, "select count(*) from deliveries where delivery_id like ? || '_%'", id) == 1;
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
    }
  }

  @Test
  void aDatabaseThatIsDownIsAnswered451() throws Exception {
    Postgres own = Postgres.start(Files.createDirectories(dir.resolve("pg")));
    String url = own.newDatabase();
    try (TestServer server = TestServer.start(dir.resolve("posta"), c -> cluster(c, url)); SmtpWire wire = new SmtpWire(server.smtpPort())) {
      own.close();
      // The pool waits up to its connection timeout (10 s) for a connection before it gives up.
      wire.socket().setSoTimeout(30_000);
      wire.ehlo();
      wire.envelope("bob@example.test", "alice@localhost");
      assertThat(wire.data("Subject: hello\r\n\r\nbody")).isEqualTo("451 4.3.0 Local error in processing: message not stored, try again later");
    }
  }
}
