package dev.posta.robustness;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.database.Database;
import dev.posta.testing.PostaProcess;
import dev.posta.testing.Postgres;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three Posta nodes as separate processes sharing one PostgreSQL ({@code [cluster] database}),
 * under concurrent SMTP load, one of them killed with SIGKILL every few seconds and started again:
 * every message acknowledged with {@code 250} reaches its mailbox, exactly once (local delivery
 * commits with the removal of its queue item; a dead node's items are taken over once their lease
 * runs out).
 */
class ClusterKillTest {
  private static final int NODES = 3;
  private static final int CLIENTS = 6;
  private static final int KILLS = 3;
  private static final Duration LOAD_BETWEEN_KILLS = Duration.ofSeconds(3);
  /** A lease (30 s) and a poll after the last kill, with room. */
  private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(90);
  private static final String RECIPIENT = "load@localhost";
  private static final Pattern TOKEN = Pattern.compile("(?m)^X-Token: (\\d+-\\d+)\r?$");

  @TempDir Path temp;
  private final PostaProcess[] nodes = new PostaProcess[NODES];
  private final int[] ports = new int[NODES];
  private final Path[] configs = new Path[NODES];
  private final AtomicBoolean stopLoad = new AtomicBoolean();
  private final List<Thread> clients = new ArrayList<>();
  private final Map<String, String> acked = new ConcurrentHashMap<>();
  private final Map<String, String> refused = new ConcurrentHashMap<>();
  private final AtomicInteger connectionErrors = new AtomicInteger();
  private final AtomicInteger starts = new AtomicInteger();

  @AfterEach
  void stopEverything() throws InterruptedException {
    stopLoad.set(true);
    for (PostaProcess p : nodes) if (p != null) p.close();
    for (Thread t : clients) t.join(10_000);
  }

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void noAcknowledgedMessageIsLostOrDeliveredTwiceWhenNodesAreKilled() throws Exception {
    String url = Postgres.shared().newDatabase();
    for (int n = 0; n < NODES; n++) {
      ports[n] = PostaProcess.freePort();
      configs[n] = writeConfig(n, url);
    }
    for (int n = 0; n < NODES; n++) start(n);
    for (int i = 0; i < CLIENTS; i++) {
      int thread = i;
      clients.add(Thread.ofPlatform().name("load-" + i).daemon().start(() -> load(thread)));
    }
    Random random = new Random(22);
    List<Integer> killed = new ArrayList<>();
    for (int k = 0; k < KILLS; k++) {
      Thread.sleep(LOAD_BETWEEN_KILLS.toMillis());
      int victim = random.nextInt(NODES);
      killed.add(victim);
      nodes[victim].killMinus9();
      Thread.sleep(500);
      start(victim);
    }
    Thread.sleep(LOAD_BETWEEN_KILLS.toMillis());
    stopLoad.set(true);
    for (Thread t : clients) {
      t.join(15_000);
      assertThat(t.isAlive()).as("load client %s stopped", t.getName()).isFalse();
    }
    assertThat(acked.size()).as("messages acknowledged").isGreaterThan(100);

    long drainStart = System.nanoTime();
    long deadline = drainStart + DRAIN_TIMEOUT.toNanos();
    long left;
    while ((left = count(url, "select count(*) from queue_items")) > 0 && System.nanoTime() < deadline) Thread.sleep(500);

    Map<String, Integer> copies = new TreeMap<>();
    for (String text : strings(url, "select convert_from(b.content, 'UTF8') from messages m join blobs b on b.digest = m.blob")) {
      Matcher token = TOKEN.matcher(text);
      if (token.find()) copies.merge(token.group(1), 1, Integer::sum);
    }
    Set<String> lost = new TreeSet<>(acked.keySet());
    lost.removeAll(copies.keySet());
    Map<String, Integer> duplicates = new TreeMap<>();
    copies.forEach((token, n) -> {
      if (n > 1) duplicates.put(token, n);
    });
    long drained = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - drainStart);
    long deliveryRows = count(url, "select count(*) from deliveries");
    long mailboxMessages = count(url, "select count(*) from messages");
    System.out.printf("cluster kill test: nodes=%d kills=%s acked=%d delivered=%d lost=%d duplicates=%d refused=%d "
            + "connection-errors=%d deliveries=%d mailbox-messages=%d items-left=%d drained-in=%ds%n", NODES, killed, acked.size(), copies.size(),
        lost.size(), duplicates.size(), refused.size(), connectionErrors.get(), deliveryRows, mailboxMessages, left, drained);

    assertThat(left).as("queue items left after the drain").isZero();
    assertThat(lost).as("acknowledged with 250 but never delivered").isEmpty();
    assertThat(duplicates).as("delivered more than once (token=copies)").isEmpty();
    assertThat(deliveryRows).as("one delivery row per delivered copy").isEqualTo(mailboxMessages);
    assertThat(refused.values()).as("replies to the final dot other than 250, each 451 4.3.0 if any")
        .allMatch(r -> r.startsWith("451 4.3.0 ") || r.startsWith("421 "));
  }

  private void start(int n) throws Exception {
    nodes[n] = PostaProcess.start(configs[n], temp.resolve("node-" + (n + 1) + "-" + starts.incrementAndGet()), ports[n]);
  }

  private Path writeConfig(int n, String url) throws IOException {
    Path data = temp.resolve("data-" + (n + 1));
    String toml = """
        hostname = "localhost"
        data = "%s"

        [listeners]
        smtp = ["127.0.0.1:%d"]
        submission = []
        smtps = []
        imap = []
        imaps = []
        pop3 = []
        pop3s = []

        [domains."localhost"]
        any-local-part = true

        [cluster]
        database = "%s"
        node = "n%d"
        """.formatted(data.toAbsolutePath(), ports[n], url, n + 1);
    Path file = temp.resolve("posta-" + (n + 1) + ".toml");
    Files.writeString(file, toml, UTF_8);
    return file;
  }

  /** One client: sessions of up to 20 messages to one node, the next node after any connection error. */
  private void load(int thread) {
    int n = 0;
    int node = thread % NODES;
    while (!stopLoad.get()) {
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", ports[node]), 1000);
        socket.setSoTimeout(10_000);
        InputStream in = new BufferedInputStream(socket.getInputStream());
        OutputStream out = socket.getOutputStream();
        expect(in, "220 ");
        out.write("EHLO load.example\r\n".getBytes(US_ASCII));
        expect(in, "250 ");
        for (int k = 0; k < 20 && !stopLoad.get(); k++) {
          String token = thread + "-" + n++;
          out.write(("MAIL FROM:<sender@load.example>\r\nRCPT TO:<" + RECIPIENT + ">\r\nDATA\r\n").getBytes(US_ASCII));
          expect(in, "250 2.1.0 ");
          expect(in, "250 2.1.5 ");
          expect(in, "354 ");
          out.write(("From: <sender@load.example>\r\nTo: <" + RECIPIENT + ">\r\nSubject: cluster kill test " + token + "\r\nX-Token: " + token
              + "\r\n\r\n" + ("body of " + token + "\r\n").repeat(20) + ".\r\n").getBytes(US_ASCII));
          String reply = readReply(in);
          if (reply.startsWith("250 2.0.0 Ok: queued as ")) acked.put(token, reply.substring("250 2.0.0 Ok: queued as ".length()));
          else refused.put(token, reply);
        }
        out.write("QUIT\r\n".getBytes(US_ASCII));
        readReply(in);
      } catch (IOException e) {
        connectionErrors.incrementAndGet();
        node = (node + 1) % NODES;
        try {
          Thread.sleep(20);
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  private static void expect(InputStream in, String prefix) throws IOException {
    String reply = readReply(in);
    if (!reply.startsWith(prefix)) throw new IOException("expected " + prefix + "..., got " + reply);
  }

  private static String readReply(InputStream in) throws IOException {
    while (true) {
      var line = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) != '\n') {
        if (b < 0) throw new IOException("connection closed");
        if (b != '\r') line.write(b);
      }
      String s = line.toString(US_ASCII);
      if (s.length() < 4 || s.charAt(3) != '-') return s;
    }
  }

  private static long count(String url, String sql) throws SQLException {
    try (Database db = Database.open(url, "test", 1); Connection c = db.connection(); Statement s = c.createStatement();
         ResultSet r = s.executeQuery(sql)) {
      r.next();
      return r.getLong(1);
    }
  }

  private static List<String> strings(String url, String sql) throws SQLException {
    List<String> out = new ArrayList<>();
    try (Database db = Database.open(url, "test", 1); Connection c = db.connection(); Statement s = c.createStatement();
         ResultSet r = s.executeQuery(sql)) {
      while (r.next()) out.add(r.getString(1));
    }
    return out;
  }
}
