package dev.posta.robustness;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.database.Database;
import dev.posta.testing.PostaProcess;
import dev.posta.testing.SmtpSink;
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
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three Posta nodes as separate processes sharing one PostgreSQL ({@code [cluster] database}),
 * under concurrent SMTP load, one of them killed with SIGKILL every few seconds and started again.
 * The load takes turns between four kinds of message: to a local mailbox; to a local mailbox and
 * a remote recipient; to an alias that expands to both; from a local sender to a remote recipient
 * the remote server refuses with {@code 550}. The remote server is an {@link SmtpSink} in this JVM,
 * reached through {@code [routes."remote.test"]}, which counts what it accepts and delays its
 * {@code 250} a little, so that kills land between a remote {@code 250} and the node's commit.
 *
 * <p>For every message acknowledged with {@code 250}:
 *
 * <ul>
 *   <li>the local copy is in its mailbox exactly once, one {@code deliveries} row per copy (local
 *       delivery commits with the removal of its queue item; a dead node's items are taken over
 *       once their lease runs out, and a replay finds the delivery ID);
 *   <li>the remote copy reached the sink at least once. Remote delivery is at least once: the
 *       outcome is committed after the remote {@code 250}, so a node killed in between has its
 *       share sent again by the node that takes the item over. What can be in flight is bounded:
 *       a node holds a remote share's {@code per-destination} permit from before it connects until
 *       its outcome is committed ({@code ClusterQueue.deliverShare}), and each message here has
 *       one remote recipient, so one kill repeats at most {@link #PER_DESTINATION} remote copies.
 *       Remote duplicates (copies beyond the first, per token and recipient) are counted and
 *       must be at most kills × {@link #PER_DESTINATION};
 *   <li>the refused one's sender has exactly one delivery status notice: the notice is queued in
 *       the transaction that removes the refused item, so an attempt repeated after a kill (the
 *       sink refuses again) commits a notice only if it removes the item, which only one can.
 * </ul>
 *
 * <p>No queue item is left once the dead nodes' leases ran out.
 */
class ClusterKillTest {
  private static final int NODES = 3;
  private static final int CLIENTS = 6;
  private static final int KILLS = 3;
  private static final Duration LOAD_BETWEEN_KILLS = Duration.ofSeconds(3);
  /** A lease (30 s) and a poll after the last kill, with room. */
  private static final Duration DRAIN_TIMEOUT = Duration.ofSeconds(90);
  private static final String RECIPIENT = "load@localhost";
  /** The remote recipient the sink accepts, directly or through {@link #ALIAS}. */
  private static final String REMOTE = "far@remote.test";
  /** An alias of the local domain: {@link #RECIPIENT} and {@link #REMOTE}. */
  private static final String ALIAS = "both@localhost";
  /** The remote recipient the sink refuses with 550 5.1.1. */
  private static final String REFUSED = "refuse@remote.test";
  /** The local sender of the mail to {@link #REFUSED}: the notices' mailbox. */
  private static final String BOUNCES = "bounces@localhost";
  /** Connections to one destination at once per node ({@code outbound.per-destination}): the remote copies one kill can repeat. */
  private static final int PER_DESTINATION = 4;
  /** How long the sink waits before its 250 after the data. */
  private static final Duration REMOTE_REPLY_DELAY = Duration.ofMillis(15);
  private static final Pattern TOKEN = Pattern.compile("(?m)^X-Token: (\\d+-\\d+)\r?$");

  /** What the load sends, by the message's number: the kinds take turns. */
  private enum Kind {
    LOCAL("sender@load.example", RECIPIENT),
    LOCAL_AND_REMOTE("sender@load.example", RECIPIENT, REMOTE),
    ALIAS("sender@load.example", ClusterKillTest.ALIAS),
    REFUSED_REMOTE(BOUNCES, ClusterKillTest.REFUSED);

    final String sender;
    final List<String> recipients;

    Kind(String sender, String... recipients) {
      this.sender = sender;
      this.recipients = List.of(recipients);
    }

    static Kind of(String token) {
      return values()[Integer.parseInt(token.substring(token.indexOf('-') + 1)) % values().length];
    }

    boolean local() {
      return this != REFUSED_REMOTE;
    }

    boolean remote() {
      return this == LOCAL_AND_REMOTE || this == ALIAS;
    }
  }

  @TempDir(cleanup = CleanupMode.ON_SUCCESS) Path temp; // the nodes' logs stay for a failure's diagnosis
  private final PostaProcess[] nodes = new PostaProcess[NODES];
  private final int[] ports = new int[NODES];
  private final Path[] configs = new Path[NODES];
  private final AtomicBoolean stopLoad = new AtomicBoolean();
  private final List<Thread> clients = new ArrayList<>();
  private final Map<String, String> acked = new ConcurrentHashMap<>();
  private final Map<String, String> refused = new ConcurrentHashMap<>();
  private final AtomicInteger connectionErrors = new AtomicInteger();
  private final AtomicInteger starts = new AtomicInteger();
  private SmtpSink sink;

  @AfterEach
  void stopEverything() throws Exception {
    stopLoad.set(true);
    for (PostaProcess p : nodes) if (p != null) p.close();
    for (Thread t : clients) t.join(10_000);
    if (sink != null) sink.close();
  }

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void noAcknowledgedMessageIsLostOrDeliveredTwiceWhenNodesAreKilled() throws Exception {
    String url = Postgres.shared().newDatabase();
    sink = SmtpSink.start(Set.of(REFUSED), REMOTE_REPLY_DELAY);
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

    // Each mailbox's copies by token: the load's in load@, the notices (which return the refused
    // message's header, X-Token: included) in bounces@; no other mailbox gets any.
    Map<String, Integer> copies = new TreeMap<>();
    Map<String, Integer> notices = new TreeMap<>();
    Map<String, Integer> elsewhere = new TreeMap<>();
    for (List<String> row : rows(url, "select b.name, convert_from(c.content, 'UTF8') from messages m join folders f on f.id = m.folder "
        + "join mailboxes b on b.id = f.mailbox join blobs c on c.digest = m.blob")) {
      Matcher token = TOKEN.matcher(row.get(1));
      if (!token.find()) {
        elsewhere.merge(row.get(0) + " (no token)", 1, Integer::sum);
        continue;
      }
      String t = token.group(1);
      switch (row.get(0)) {
        case "load" -> copies.merge(t, 1, Integer::sum);
        case "bounces" -> notices.merge(t, 1, Integer::sum);
        default -> elsewhere.merge(row.get(0) + " " + t, 1, Integer::sum);
      }
    }
    Map<String, Integer> remote = sink.copies();
    Set<String> lost = new TreeSet<>();
    Set<String> remoteLost = new TreeSet<>();
    Map<String, Integer> wrongNotices = new TreeMap<>();
    int remoteAcked = 0;
    int refusedAcked = 0;
    for (String token : acked.keySet()) {
      Kind kind = Kind.of(token);
      if (kind.local() && !copies.containsKey(token)) lost.add(token);
      if (kind.remote()) {
        remoteAcked++;
        if (!remote.containsKey(token + " " + REMOTE)) remoteLost.add(token);
      }
      if (kind == Kind.REFUSED_REMOTE) {
        refusedAcked++;
        int n = notices.getOrDefault(token, 0);
        if (n != 1) wrongNotices.put(token, n);
      }
    }
    notices.forEach((token, n) -> {
      if (n > 1) wrongNotices.put(token, n); // acknowledged or not: one notice at most
    });
    Map<String, Integer> duplicates = new TreeMap<>();
    copies.forEach((token, n) -> {
      if (n > 1) duplicates.put(token, n);
    });
    Map<String, Integer> unexpected = new TreeMap<>();
    copies.keySet().stream().filter(t -> !Kind.of(t).local()).forEach(t -> unexpected.put("load " + t, copies.get(t)));
    notices.keySet().stream().filter(t -> Kind.of(t) != Kind.REFUSED_REMOTE).forEach(t -> unexpected.put("bounces " + t, notices.get(t)));
    Map<String, Integer> remoteUnexpected = new TreeMap<>();
    int remoteDuplicates = 0;
    for (var e : remote.entrySet()) {
      remoteDuplicates += e.getValue() - 1;
      String[] tokenAndRecipient = e.getKey().split(" ");
      if (!tokenAndRecipient[1].equals(REMOTE) || !tokenAndRecipient[0].matches("\\d+-\\d+") || !Kind.of(tokenAndRecipient[0]).remote()) {
        remoteUnexpected.put(e.getKey(), e.getValue());
      }
    }
    int remoteBound = KILLS * PER_DESTINATION;
    long drained = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - drainStart);
    long deliveryRows = count(url, "select count(*) from deliveries");
    long mailboxMessages = count(url, "select count(*) from messages");
    System.out.printf("cluster kill test: nodes=%d kills=%s acked=%d delivered=%d lost=%d duplicates=%d refused=%d "
            + "connection-errors=%d deliveries=%d mailbox-messages=%d items-left=%d drained-in=%ds%n", NODES, killed, acked.size(), copies.size(),
        lost.size(), duplicates.size(), refused.size(), connectionErrors.get(), deliveryRows, mailboxMessages, left, drained);
    System.out.printf("cluster kill test, remote: acked-with-remote=%d remote-copies=%d remote-lost=%d remote-duplicates=%d (bound %d = %d kills x "
            + "per-destination %d) sink-connections=%d; refused: acked=%d sink-550s=%d notices=%d wrong-notice-counts=%d%n", remoteAcked,
        remote.values().stream().mapToInt(Integer::intValue).sum(), remoteLost.size(), remoteDuplicates, remoteBound, KILLS, PER_DESTINATION,
        sink.connections(), refusedAcked, sink.refusals(), notices.values().stream().mapToInt(Integer::intValue).sum(), wrongNotices.size());

    assertThat(left).as("queue items left after the drain").isZero();
    assertThat(lost).as("acknowledged with 250 but never delivered to its mailbox").isEmpty();
    assertThat(duplicates).as("delivered more than once to its mailbox (token=copies)").isEmpty();
    assertThat(deliveryRows).as("one delivery row per delivered copy").isEqualTo(mailboxMessages);
    assertThat(elsewhere).as("copies in mailboxes nobody sent to").isEmpty();
    assertThat(unexpected).as("copies of a kind that has none in that mailbox").isEmpty();
    assertThat(remoteAcked).as("messages acknowledged with a remote recipient").isGreaterThan(20);
    assertThat(remoteLost).as("acknowledged with 250 but never received by the remote server").isEmpty();
    assertThat(remoteUnexpected).as("received by the remote server but not sent to it").isEmpty();
    assertThat(remoteDuplicates).as("remote duplicates: at most per-destination (%d) per kill (%d)", PER_DESTINATION, KILLS)
        .isLessThanOrEqualTo(remoteBound);
    assertThat(refusedAcked).as("messages acknowledged to the refused recipient").isGreaterThan(20);
    assertThat(sink.refusals()).as("550s the sink gave: at least one per acknowledged message to the refused recipient")
        .isGreaterThanOrEqualTo(refusedAcked);
    assertThat(wrongNotices).as("refused messages without exactly one notice to their sender (token=notices)").isEmpty();
    assertThat(refused.values()).as("replies to the final dot other than 250, each 451 4.3.0 if any")
        .allMatch(r -> r.startsWith("451 4.3.0 ") || r.startsWith("421 "));
  }

  private void start(int n) throws Exception {
    nodes[n] = PostaProcess.start(configs[n], temp.resolve("node-" + (n + 1) + "-" + starts.incrementAndGet()), ports[n]);
  }

  private Path writeConfig(int n, String url) throws IOException {
    Path data = temp.resolve("data-" + (n + 1));
    String toml = PostaProcess.smtpOnly(data, ports[n]) + """
        [submission]
        trusted-networks = ["127.0.0.0/8"]

        [outbound]
        concurrency = %d
        per-destination = %d

        [routes."remote.test"]
        host = "127.0.0.1"
        port = %d
        tls = "none"

        [domains."localhost"]
        any-local-part = true
        aliases = { both = ["%s", "%s"] }

        [cluster]
        database = "%s"
        node = "n%d"
        """.formatted(2 * PER_DESTINATION, PER_DESTINATION, sink.port(), RECIPIENT, REMOTE, url, n + 1);
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
          Kind kind = Kind.of(token);
          StringBuilder envelope = new StringBuilder("MAIL FROM:<" + kind.sender + ">\r\n");
          for (String r : kind.recipients) envelope.append("RCPT TO:<").append(r).append(">\r\n");
          out.write((envelope + "DATA\r\n").getBytes(US_ASCII));
          expect(in, "250 2.1.0 ");
          for (String r : kind.recipients) expect(in, "250 2.1.5 ");
          expect(in, "354 ");
          out.write(("From: <" + kind.sender + ">\r\nTo: " + String.join(", ", kind.recipients.stream().map(r -> "<" + r + ">").toList())
              + "\r\nSubject: cluster kill test " + token + "\r\nX-Token: " + token
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

  private static List<List<String>> rows(String url, String sql) throws SQLException {
    List<List<String>> out = new ArrayList<>();
    try (Database db = Database.open(url, "test", 1); Connection c = db.connection(); Statement s = c.createStatement();
         ResultSet r = s.executeQuery(sql)) {
      int columns = r.getMetaData().getColumnCount();
      while (r.next()) {
        List<String> row = new ArrayList<>(columns);
        for (int k = 1; k <= columns; k++) row.add(r.getString(k));
        out.add(row);
      }
    }
    return out;
  }
}
