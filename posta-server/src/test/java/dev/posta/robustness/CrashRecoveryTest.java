package dev.posta.robustness;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.PostaProcess;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The durability promise of RFC 5321 §6.1 as Posta makes it: a {@code 250} after DATA means the
 * message is on stable storage. Posta runs as a separate process under concurrent load and is
 * killed with SIGKILL (no shutdown hook, no flush) twice; after each restart on the same data
 * folder, every message that got {@code 250 2.0.0 Ok: queued as} must reach the Maildir, whole.
 *
 * <p>A message that was being stored when the kill came may or may not arrive (it was never
 * acknowledged): counted and printed, not failed. One being delivered when the kill came is
 * delivered again after the restart, and must be recognised: no token may arrive twice (local
 * delivery is once only), and no half-written file may stay in the Maildir's tmp/.
 */
class CrashRecoveryTest {
  private static final int CLIENTS = 8;
  private static final Duration LOAD_BEFORE_KILL = Duration.ofMillis(1500);
  private static final Duration DELIVERY_TIMEOUT = Duration.ofSeconds(20);
  private static final String RECIPIENT = "load@localhost";
  private static final String END_MARKER = "END-OF-MESSAGE ";
  private static final Pattern TOKEN_HEADER = Pattern.compile("(?m)^X-Token: (\\d+-\\d+)\n");
  private static final Pattern MAILDIR_SIZE = Pattern.compile(",S=(\\d+),W=(\\d+)$");

  @TempDir Path temp;

  private final List<PostaProcess> processes = new ArrayList<>();
  private final AtomicBoolean stopLoad = new AtomicBoolean();
  private final List<Thread> clients = new ArrayList<>();

  /** Token to queue ID, recorded only after the 250 reply to the final dot. */
  private final Map<String, String> acked = new ConcurrentHashMap<>();
  /** Every token whose message content was sent, acknowledged or not. */
  private final Set<String> sent = ConcurrentHashMap.newKeySet();
  /** Replies to the final dot other than "250 2.0.0 Ok: queued as": must be none. */
  private final Map<String, String> refused = new ConcurrentHashMap<>();
  private final AtomicInteger connectionErrors = new AtomicInteger();
  /** Tokens of the messages big enough to spill to disk while received. */
  private final Set<String> large = ConcurrentHashMap.newKeySet();
  /** Files in new/ already checked whole, with their token: a file there never changes. */
  private final Map<Path, String> checked = new HashMap<>();

  @AfterEach
  void killEverything() throws InterruptedException {
    stopLoad.set(true);
    for (PostaProcess p : processes) p.close();
    for (Thread t : clients) t.join(10_000);
  }

  @Test
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void everyAcknowledgedMessageSurvivesTwoKillMinus9UnderConcurrentLoad() throws Exception {
    Path data = temp.resolve("data");
    int port = PostaProcess.freePort();
    Path config = writeConfig(data, port);
    Path maildirNew = data.resolve("mail/localhost/load/Maildir/new");

    // Round 1: fresh data folder, load, SIGKILL in the middle of it.
    PostaProcess first = startServer(config, 1, port);
    for (int i = 0; i < CLIENTS; i++) {
      int thread = i;
      clients.add(Thread.ofPlatform().name("load-" + i).daemon().start(() -> load(thread, port)));
    }
    Thread.sleep(LOAD_BEFORE_KILL.toMillis());
    int ackedBeforeFirstKill = acked.size();
    first.killMinus9();
    assertThat(ackedBeforeFirstKill).as("messages acknowledged before the first kill (the load ran)").isGreaterThan(0);

    // Round 2: restart on the same folder while the clients keep retrying, load, SIGKILL again.
    PostaProcess second = startServer(config, 2, port);
    Thread.sleep(LOAD_BEFORE_KILL.toMillis());
    int ackedBeforeSecondKill = acked.size();
    second.killMinus9();
    assertThat(ackedBeforeSecondKill)
        .as("messages acknowledged after the first restart (the recovered server accepts mail)")
        .isGreaterThan(ackedBeforeFirstKill);

    stopLoad.set(true);
    for (Thread t : clients) {
      t.join(15_000);
      assertThat(t.isAlive()).as("load client %s stopped", t.getName()).isFalse();
    }

    // Round 3: restart, no new load; everything acknowledged must arrive.
    startServer(config, 3, port);
    Set<String> ackedTokens = Set.copyOf(acked.keySet());
    Map<String, List<Path>> delivered = awaitDelivery(maildirNew, ackedTokens);
    delivered = awaitQuiet(maildirNew, delivered);

    Set<String> lost = new TreeSet<>(ackedTokens);
    lost.removeAll(delivered.keySet());
    Map<String, Integer> duplicates = new TreeMap<>();
    delivered.forEach((token, files) -> {
      if (files.size() > 1) duplicates.put(token, files.size());
    });
    Set<String> unackedDelivered = new TreeSet<>(delivered.keySet());
    unackedDelivered.removeAll(ackedTokens);
    int files = delivered.values().stream().mapToInt(List::size).sum();
    long leftInTmp = countFiles(maildirNew.resolveSibling("tmp"));
    long setAside = countFiles(data.resolve("queue/corrupt"));

    long largeAcked = ackedTokens.stream().filter(large::contains).count();
    System.out.printf(
        "crash test: acked=%d delivered=%d lost=%d duplicates=%d (unacked-but-delivered=%d, sent=%d, files=%d, "
            + "acked-over-256KiB=%d, maildir-tmp-leftovers=%d, torn-records-set-aside=%d, client-connection-errors=%d)%n",
        ackedTokens.size(), delivered.size(), lost.size(), duplicates.size(), unackedDelivered.size(), sent.size(),
        files, largeAcked, leftInTmp, setAside, connectionErrors.get());
    if (!duplicates.isEmpty()) System.out.println("crash test: duplicates (token=copies): " + duplicates);

    assertThat(refused).as("replies to the final dot other than 250 queued").isEmpty();
    assertThat(lost).as("acknowledged with 250 but never delivered (the durability promise broken)").isEmpty();
    assertThat(duplicates).as("delivered more than once (token=copies)").isEmpty();
    assertThat(leftInTmp).as("files left in the Maildir's tmp/").isZero();
    assertThat(sent).as("every delivered token was sent by a client").containsAll(delivered.keySet());
    assertThat(largeAcked).as("acknowledged messages over 256 KiB (the spill-to-disk path ran)").isGreaterThan(0);
  }

  // --- The server process --------------------------------------------------------------------

  private Path writeConfig(Path data, int port) throws IOException {
    String toml = PostaProcess.smtpOnly(data, port) + """
        [domains."localhost"]
        any-local-part = true
        """;
    Path file = temp.resolve("posta.toml");
    Files.writeString(file, toml, UTF_8);
    return file;
  }

  private PostaProcess startServer(Path config, int round, int port) throws Exception {
    PostaProcess server = PostaProcess.start(config, temp.resolve("server-" + round), port);
    processes.add(server);
    return server;
  }

  // --- The load -------------------------------------------------------------------------------

  /** One client: sessions of up to 50 messages each, reconnecting after any connection error. */
  private void load(int thread, int port) {
    int n = 0;
    while (!stopLoad.get()) {
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
        socket.setSoTimeout(10_000);
        InputStream in = new BufferedInputStream(socket.getInputStream());
        OutputStream out = socket.getOutputStream();
        expect(in, "220 ");
        out.write("EHLO load.example\r\n".getBytes(US_ASCII));
        expect(in, "250 ");
        for (int k = 0; k < 50 && !stopLoad.get(); k++) {
          String token = thread + "-" + n++;
          // RFC 2920: MAIL, RCPT and DATA in one group, DATA last.
          out.write(("MAIL FROM:<sender@load.example>\r\nRCPT TO:<" + RECIPIENT + ">\r\nDATA\r\n").getBytes(US_ASCII));
          expect(in, "250 2.1.0 ");
          expect(in, "250 2.1.5 ");
          expect(in, "354 ");
          // Every 25th message is past the spool's 256 KiB in-memory limit, so it spills to disk: the
          // first of each connection among them, so that some are acknowledged however slow the machine.
          boolean big = k % 25 == 0;
          if (big) large.add(token);
          sent.add(token);
          out.write(message(token, big ? 300 * 1024 : 2 * 1024));
          String reply = readReply(in);
          if (reply.startsWith("250 2.0.0 Ok: queued as ")) {
            acked.put(token, reply.substring("250 2.0.0 Ok: queued as ".length()));
          } else {
            refused.put(token, reply);
          }
        }
        out.write("QUIT\r\n".getBytes(US_ASCII));
        readReply(in);
      } catch (IOException e) {
        connectionErrors.incrementAndGet();
        try {
          Thread.sleep(20);
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  /** About {@code size} octets, with the token in a header and in the last line, so truncation shows. */
  private static byte[] message(String token, int size) {
    var s = new StringBuilder(size + 200);
    s.append("From: <sender@load.example>\r\n");
    s.append("To: <").append(RECIPIENT).append(">\r\n");
    s.append("Subject: crash test ").append(token).append("\r\n");
    s.append("X-Token: ").append(token).append("\r\n\r\n");
    for (int i = 0; s.length() < size; i++) {
      s.append("line ").append(i).append(" of ").append(token).append(": ").append("0123456789abcdef".repeat(4)).append("\r\n");
    }
    s.append(END_MARKER).append(token).append("\r\n.\r\n");
    return s.toString().getBytes(US_ASCII);
  }

  private static void expect(InputStream in, String prefix) throws IOException {
    String reply = readReply(in);
    if (!reply.startsWith(prefix)) throw new IOException("expected " + prefix + "..., got " + reply);
  }

  /** The last line of one reply; IOException when the connection ends first. */
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

  // --- The Maildir ----------------------------------------------------------------------------

  /** Waits until every expected token is in new/; returns token to its files. */
  private Map<String, List<Path>> awaitDelivery(Path maildirNew, Set<String> expected) throws Exception {
    long deadline = System.nanoTime() + DELIVERY_TIMEOUT.toNanos();
    while (true) {
      Map<String, List<Path>> delivered = scan(maildirNew);
      if (delivered.keySet().containsAll(expected) || System.nanoTime() > deadline) return delivered;
      Thread.sleep(100);
    }
  }

  /** Waits (at most 3 s) until no new file arrives for 500 ms, so the counts are final. */
  private Map<String, List<Path>> awaitQuiet(Path maildirNew, Map<String, List<Path>> last) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(3).toNanos();
    int lastCount = last.values().stream().mapToInt(List::size).sum();
    while (System.nanoTime() < deadline) {
      Thread.sleep(500);
      Map<String, List<Path>> now = scan(maildirNew);
      int count = now.values().stream().mapToInt(List::size).sum();
      if (count == lastCount) return now;
      last = now;
      lastCount = count;
    }
    return last;
  }

  /**
   * Reads every file in new/ and checks it is whole: exactly one X-Token header, the file ends
   * with that token's end marker line, and its size is the one in its Maildir name.
   */
  private Map<String, List<Path>> scan(Path maildirNew) throws IOException {
    Map<String, List<Path>> delivered = new HashMap<>();
    if (!Files.isDirectory(maildirNew)) return delivered;
    List<Path> files;
    try (Stream<Path> list = Files.list(maildirNew)) {
      files = list.toList();
    }
    for (Path file : files) {
      String known = checked.get(file);
      if (known != null) {
        delivered.computeIfAbsent(known, k -> new ArrayList<>()).add(file);
        continue;
      }
      byte[] bytes = Files.readAllBytes(file);
      String text = new String(bytes, US_ASCII);
      Matcher token = TOKEN_HEADER.matcher(text);
      assertThat(token.find()).as("X-Token header in %s:%n%s", file.getFileName(), text).isTrue();
      String t = token.group(1);
      assertThat(token.find()).as("a second X-Token header in %s", file.getFileName()).isFalse();
      assertThat(text).as("delivered file %s is whole (ends with its end marker)", file.getFileName())
          .endsWith("\n" + END_MARKER + t + "\n");
      Matcher size = MAILDIR_SIZE.matcher(file.getFileName().toString());
      assertThat(size.find()).as("S=<size> in Maildir name %s", file.getFileName()).isTrue();
      assertThat((long) bytes.length).as("size of %s", file.getFileName()).isEqualTo(Long.parseLong(size.group(1)));
      long lfs = text.chars().filter(c -> c == '\n').count();
      assertThat(bytes.length + lfs).as("size with CRLF of %s", file.getFileName()).isEqualTo(Long.parseLong(size.group(2)));
      checked.put(file, t);
      delivered.computeIfAbsent(t, k -> new ArrayList<>()).add(file);
    }
    return delivered;
  }

  private static long countFiles(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) return 0;
    try (Stream<Path> list = Files.list(dir)) {
      return list.count();
    }
  }
}
