package dev.posta.greylist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.config.PostaConfig.Greylisting;
import dev.posta.mail.MailAddress;
import dev.posta.testing.MutableClock;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The greylist through its API, on an injected clock, against its real file in a temporary folder. */
class GreylistTest {
  private static final InetAddress CLIENT = InetAddress.ofLiteral("192.0.2.10");
  private static final InetAddress SAME_NETWORK = InetAddress.ofLiteral("192.0.2.200");
  private static final InetAddress OTHER_NETWORK = InetAddress.ofLiteral("198.51.100.10");
  private static final MailAddress SENDER = new MailAddress("alice", "example.net");
  private static final MailAddress RCPT = new MailAddress("bob", "example.org");

  /** On, no exempt network (the tests' clients are documentation addresses anyway), no auto-allowlist. */
  static Greylisting settings(int autoAllowlistAfter, int maxEntries, List<String> spfDomains) {
    return new Greylisting(true, Duration.ofMinutes(5), Duration.ofDays(2), Duration.ofDays(35), autoAllowlistAfter, maxEntries, List.of(),
        spfDomains, Set.of(PostaConfig.Protocol.SMTP));
  }

  @TempDir Path data;
  private final MutableClock clock = new MutableClock(Instant.parse("2026-01-05T10:00:00Z"));
  private final List<Greylist> opened = new ArrayList<>();

  private Greylist open(Greylisting settings) throws IOException {
    return open(settings, null);
  }

  private Greylist open(Greylisting settings, Greylist.SpfPass spf) throws IOException {
    Greylist g = Greylist.open(data.resolve("greylist"), settings, clock, spf);
    opened.add(g);
    return g;
  }

  @AfterEach
  void close() throws IOException {
    for (Greylist g : opened) g.close();
  }

  private static Greylist.Verdict check(Greylist g, InetAddress client, MailAddress sender, MailAddress rcpt) {
    return g.check(client, "mx.example.net", sender, rcpt, false);
  }

  private static String said(Greylist.Verdict v) {
    return switch (v) {
      case Greylist.Pass p -> "pass: " + p.why();
      case Greylist.Greylisted g -> (g.firstAttempt() ? "first, " : "early, ") + g.left().toSeconds() + " s left";
    };
  }

  @Test
  void aFirstAttemptIsGreylistedARetryTooEarlyToldTheTimeLeftAndOneAfterTheDelayPasses() throws IOException {
    Greylist g = open(settings(0, 1000, List.of()));
    assertThat(said(check(g, CLIENT, SENDER, RCPT))).isEqualTo("first, 300 s left");
    clock.advance(Duration.ofSeconds(120));
    assertThat(said(check(g, CLIENT, SENDER, RCPT))).isEqualTo("early, 180 s left");
    // Another address of the same /24 is the same client: big senders retry from their pool.
    clock.advance(Duration.ofSeconds(180));
    assertThat(said(check(g, SAME_NETWORK, SENDER, RCPT))).isEqualTo("pass: retried after 300 s");
    clock.advance(Duration.ofDays(30));
    assertThat(said(check(g, CLIENT, SENDER, RCPT))).isEqualTo("pass: known triplet");
    // Each of the three parts makes another triplet.
    assertThat(said(check(g, OTHER_NETWORK, SENDER, RCPT))).isEqualTo("first, 300 s left");
    assertThat(said(check(g, CLIENT, null, RCPT))).isEqualTo("first, 300 s left");
    assertThat(said(check(g, CLIENT, SENDER, new MailAddress("carol", "example.org")))).isEqualTo("first, 300 s left");
    assertThat(g.greylisted()).isEqualTo(5);
    assertThat(g.passed()).isEqualTo(2);
  }

  @Test
  void aRetryAfterTheWindowAndAPassedTripletAfterExpiryStartOver() throws IOException {
    Greylist g = open(settings(0, 1000, List.of()));
    check(g, CLIENT, SENDER, RCPT);
    clock.advance(Duration.ofDays(2).plusSeconds(1));
    assertThat(said(check(g, CLIENT, SENDER, RCPT))).isEqualTo("first, 300 s left");
    clock.advance(Duration.ofMinutes(5));
    assertThat(said(check(g, CLIENT, SENDER, RCPT))).isEqualTo("pass: retried after 300 s");
    clock.advance(Duration.ofDays(35));
    assertThat(said(check(g, CLIENT, SENDER, RCPT))).isEqualTo("pass: known triplet"); // exactly at expiry: still known
    clock.advance(Duration.ofDays(35).plusMillis(1));
    assertThat(said(check(g, CLIENT, SENDER, RCPT))).isEqualTo("first, 300 s left");
  }

  @Test
  void aNetworkWhoseTripletsPassedOftenEnoughIsAutoAllowlisted() throws IOException {
    Greylist g = open(settings(2, 1000, List.of()));
    for (String rcpt : List.of("r1", "r2")) {
      check(g, CLIENT, SENDER, new MailAddress(rcpt, "example.org"));
      clock.advance(Duration.ofMinutes(5));
    }
    assertThat(said(check(g, CLIENT, SENDER, new MailAddress("r1", "example.org")))).isEqualTo("pass: retried after 600 s");
    assertThat(said(check(g, CLIENT, SENDER, new MailAddress("r2", "example.org"))))
        .isEqualTo("pass: retried after 300 s; network 192.0.2.0/24 auto-allowlisted after 2 passed triplets");
    assertThat(said(check(g, SAME_NETWORK, null, new MailAddress("new", "example.org")))).isEqualTo("pass: auto-allowlisted network 192.0.2.0/24");
    assertThat(said(check(g, OTHER_NETWORK, null, new MailAddress("new", "example.org")))).isEqualTo("first, 300 s left");
    // Remembered across a restart, and forgotten after expire without mail.
    g.close();
    opened.remove(g);
    Greylist again = open(settings(2, 1000, List.of()));
    assertThat(said(check(again, CLIENT, SENDER, new MailAddress("other", "example.org")))).isEqualTo("pass: auto-allowlisted network 192.0.2.0/24");
    clock.advance(Duration.ofDays(36));
    assertThat(said(check(again, CLIENT, SENDER, new MailAddress("other", "example.org")))).isEqualTo("first, 300 s left");
  }

  @Test
  void exemptNetworksDnswlListedClientsAndSpfPassingListedDomainsAreNotGreylisted() throws IOException {
    AtomicInteger spfAsked = new AtomicInteger();
    Greylist.SpfPass spf = (client, reversePath, helo) -> {
      spfAsked.incrementAndGet();
      return reversePath.toLowerCase(java.util.Locale.ROOT).endsWith("@bank.example") && client.equals(CLIENT) && helo.equals("mx.example.net");
    };
    Greylisting s = settings(0, 1000, List.of("bank.example", "shop.example"));
    Greylisting exempting = new Greylisting(true, s.delay(), s.retryWindow(), s.expire(), 0, 1000, List.of(Network.parse("203.0.113.0/28")),
        s.exemptSpfDomains(), s.listeners());
    Greylist g = open(exempting, spf);
    assertThat(said(check(g, InetAddress.ofLiteral("203.0.113.15"), SENDER, RCPT))).isEqualTo("pass: exempt network");
    assertThat(said(check(g, InetAddress.ofLiteral("203.0.113.16"), SENDER, RCPT))).isEqualTo("first, 300 s left");
    assertThat(said(g.check(OTHER_NETWORK, "mx", SENDER, RCPT, true))).isEqualTo("pass: DNSWL-listed client");
    assertThat(spfAsked).hasValue(0); // SPF is run for the listed domains only
    assertThat(said(check(g, CLIENT, new MailAddress("pay", "Bank.Example"), RCPT))).isEqualTo("pass: SPF pass for bank.example");
    assertThat(said(check(g, OTHER_NETWORK, new MailAddress("pay", "bank.example"), RCPT))).isEqualTo("first, 300 s left"); // SPF fails
    assertThat(said(check(g, CLIENT, new MailAddress("sales", "shop.example"), RCPT))).isEqualTo("first, 300 s left");
    assertThat(spfAsked).hasValue(3);
    assertThat(g.size()).isEqualTo(3); // exempt attempts leave no triplet
  }

  @Test
  void firstAttemptsAndPassesSurviveARestartOnTheSameFolder() throws IOException {
    Greylist g = open(settings(0, 1000, List.of()));
    check(g, CLIENT, SENDER, RCPT);
    check(g, CLIENT, SENDER, new MailAddress("carol", "example.org"));
    clock.advance(Duration.ofMinutes(5));
    check(g, CLIENT, SENDER, RCPT); // passes
    g.close();
    opened.remove(g);
    Greylist again = open(settings(0, 1000, List.of()));
    assertThat(again.size()).isEqualTo(2);
    assertThat(said(check(again, CLIENT, SENDER, RCPT))).isEqualTo("pass: known triplet");
    assertThat(said(check(again, CLIENT, SENDER, new MailAddress("carol", "example.org")))).isEqualTo("pass: retried after 300 s");
  }

  @Test
  void manyChecksAreWrittenByTheWriterInOneAppendAndFsync() throws IOException {
    Greylist g = open(settings(0, 100_000, List.of()));
    Path file = data.resolve("greylist").resolve(TripletFile.NAME);
    long empty = Files.size(file);
    int n = 20_000;
    long started = System.nanoTime();
    for (int i = 0; i < n; i++) check(g, CLIENT, SENDER, new MailAddress("r" + i, "example.org"));
    long took = System.nanoTime() - started;
    // The writer runs once a second: right after the checks, the file may not have them yet.
    long appends = g.file().appends();
    g.flush();
    assertThat(Files.readAllLines(file)).hasSize(n + 1);
    assertThat(g.file().appends()).isBetween(appends, appends + 1); // the writer's own flush may have taken them
    assertThat(g.file().appends()).isLessThanOrEqualTo(2); // all 20,000 in at most two appends, each one fsync
    assertThat(Files.size(file)).isGreaterThan(empty);
    System.out.printf("greylist: %d first attempts checked in %.1f ms (%.2f µs each), written by one append and fsync%n", n, took / 1e6,
        took / 1e3 / n);
  }

  @Test
  void aTornTailIsCutOffAndTheRecordsBeforeItKept() throws IOException {
    Greylist g = open(settings(0, 1000, List.of()));
    check(g, CLIENT, SENDER, RCPT);
    check(g, CLIENT, SENDER, new MailAddress("carol", "example.org"));
    g.close();
    opened.remove(g);
    Path file = data.resolve("greylist").resolve(TripletFile.NAME);
    long intact = Files.size(file);
    // A crash in the middle of a record: no line end, no checksum.
    Files.writeString(file, "s 192.0.2.0/24 dave@example.net dave@exa", StandardOpenOption.APPEND);
    Greylist again = open(settings(0, 1000, List.of()));
    assertThat(again.size()).isEqualTo(2);
    assertThat(Files.size(file)).isEqualTo(intact);
    clock.advance(Duration.ofMinutes(5));
    assertThat(said(check(again, CLIENT, SENDER, RCPT))).isEqualTo("pass: retried after 300 s");
    again.flush();
    assertThat(TripletFile.read(file)).allMatch(r -> r != null).hasSize(3);
  }

  @Test
  void aGarbledRecordEndsTheLogThere() throws IOException {
    Greylist g = open(settings(0, 1000, List.of()));
    for (String r : List.of("r1", "r2", "r3")) check(g, CLIENT, SENDER, new MailAddress(r, "example.org"));
    g.close();
    opened.remove(g);
    Path file = data.resolve("greylist").resolve(TripletFile.NAME);
    List<String> lines = Files.readAllLines(file);
    lines.set(2, lines.get(2).replace("r2@", "r9@")); // its checksum no longer matches
    Files.write(file, lines);
    Greylist again = open(settings(0, 1000, List.of()));
    assertThat(again.size()).isEqualTo(1);
    assertThat(Files.readAllLines(file)).containsExactly(lines.get(0), lines.get(1));
  }

  @Test
  void aFileThatIsNotAGreylistIsSetAsideAndTheGreylistStartsEmpty() throws IOException {
    Path dir = Files.createDirectories(data.resolve("greylist"));
    Files.write(dir.resolve(TripletFile.NAME), new byte[] {0, 1, 2, (byte) 0xff, '\n', 'x'});
    Greylist g = open(settings(0, 1000, List.of()));
    assertThat(g.size()).isZero();
    assertThat(Files.readAllBytes(dir.resolve("triplets.unreadable"))).containsExactly(0, 1, 2, (byte) 0xff, '\n', 'x');
    assertThat(Files.readString(dir.resolve(TripletFile.NAME), StandardCharsets.UTF_8)).isEqualTo("posta-greylist 1\n");
    assertThat(said(check(g, CLIENT, SENDER, RCPT))).isEqualTo("first, 300 s left");
  }

  @Test
  void pastMaxEntriesTheLeastRecentlyUsedAreForgotten() throws IOException {
    Greylist g = open(settings(0, 3, List.of()));
    for (String r : List.of("r1", "r2", "r3")) check(g, CLIENT, SENDER, new MailAddress(r, "example.org"));
    clock.advance(Duration.ofMinutes(5));
    check(g, CLIENT, SENDER, new MailAddress("r1", "example.org")); // passes: now the most recently used
    check(g, CLIENT, SENDER, new MailAddress("r4", "example.org")); // r2 goes
    assertThat(g.size()).isEqualTo(3);
    assertThat(said(check(g, CLIENT, SENDER, new MailAddress("r1", "example.org")))).isEqualTo("pass: known triplet");
    assertThat(said(check(g, CLIENT, SENDER, new MailAddress("r2", "example.org")))).isEqualTo("first, 300 s left"); // r3 goes
    assertThat(said(check(g, CLIENT, SENDER, new MailAddress("r4", "example.org")))).isEqualTo("early, 300 s left"); // still held
  }

  @Test
  void theFileIsCompactedToItsLiveEntriesWhenMostlyHistory() throws IOException {
    Greylist g = open(settings(0, 1000, List.of()));
    Path file = data.resolve("greylist").resolve(TripletFile.NAME);
    for (int i = 0; i < 13_000; i++) check(g, CLIENT, SENDER, new MailAddress("r" + i, "example.org"));
    g.flush(); // 13,000 records for 1,000 live entries: compacted
    List<String> lines = Files.readAllLines(file);
    assertThat(lines).hasSize(1001);
    assertThat(lines.get(1)).startsWith("s 192.0.2.0/24 alice@example.net r12000@example.org ");
    // Expired first attempts go at compaction too.
    clock.advance(Duration.ofDays(3));
    g.compact();
    assertThat(Files.readAllLines(file)).hasSize(1001); // compact() keeps what is held...
    for (int i = 0; i < 11_500; i++) check(g, OTHER_NETWORK, SENDER, new MailAddress("x" + i, "example.org"));
    g.flush(); // ...a compaction after a flush drops the expired
    assertThat(Files.readAllLines(file)).hasSize(1001).allMatch(l -> l.startsWith("posta-greylist") || l.startsWith("s 198.51.100.0/24"));
  }

  @Test
  void closeWritesThePendingRecordsEvenWhenTheWriterIsInTheMiddleOfAWrite() throws Exception {
    Greylist g = open(settings(0, 1000, List.of()));
    var writing = new java.util.concurrent.CountDownLatch(1);
    var closing = new java.util.concurrent.CountDownLatch(1);
    g.file().disk = () -> {
      if (!Thread.currentThread().getName().equals("greylist-writer")) return;
      writing.countDown();
      while (closing.getCount() > 0) java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L);
      java.util.concurrent.locks.LockSupport.parkNanos(200_000_000L); // an interrupt here would stay set for the channel's write
    };
    check(g, CLIENT, SENDER, RCPT);
    assertThat(writing.await(5, java.util.concurrent.TimeUnit.SECONDS)).isTrue(); // the writer is in its flush
    check(g, CLIENT, SENDER, new MailAddress("carol", "example.org")); // pending for close()'s flush
    closing.countDown();
    g.close(); // interrupted, the writer's write closed the channel (ClosedByInterruptException)
    opened.remove(g);
    assertThat(g.file().appends()).isEqualTo(2); // the writer's and close()'s: neither failed (and none needed a rewrite)
    assertThat(TripletFile.read(data.resolve("greylist").resolve(TripletFile.NAME))).extracting(r -> r.fields()[2])
        .containsExactly("bob@example.org", "carol@example.org");
  }

  @Test
  void whileTheFileCannotBeWrittenNothingPilesUpAndItIsRewrittenFromMemoryOnceItCan() throws Exception {
    Greylist g = open(settings(0, 1000, List.of()));
    Path file = data.resolve("greylist").resolve(TripletFile.NAME);
    g.file().disk = () -> {
      throw new IOException("No space left on device");
    };
    for (int round = 0; round < 3; round++) {
      for (int i = 0; i < 100; i++) check(g, CLIENT, SENDER, new MailAddress("r" + round + "-" + i, "example.org"));
      assertThatThrownBy(g::flush).hasMessage("No space left on device");
      assertThat(g.pendingRecords()).isZero(); // dropped, not kept: memory holds them for the rewrite
    }
    assertThat(Files.readAllLines(file)).containsExactly(TripletFile.HEADER);
    g.file().disk = TripletFile.Disk.NONE;
    check(g, CLIENT, SENDER, new MailAddress("after", "example.org"));
    g.flush(); // rewritten from memory
    assertThat(Files.readAllLines(file)).hasSize(302);
    check(g, CLIENT, SENDER, new MailAddress("later", "example.org"));
    long appends = g.file().appends();
    g.flush(); // appending again
    assertThat(g.file().appends()).isEqualTo(appends + 1);
    assertThat(Files.readAllLines(file)).hasSize(303);
  }

  @Test
  void aRecordLongerThanAnyPostaWritesIsGarbled() throws IOException {
    Path dir = data.resolve("greylist");
    Files.createDirectories(dir);
    String good = TripletFile.line('s', "192.0.2.0/24", "alice@example.net", "bob@example.org", Long.toString(clock.millis()));
    Files.writeString(dir.resolve(TripletFile.NAME), TripletFile.HEADER + "\n" + good + "x".repeat(TripletFile.MAX_LINE + 10) + "\n" + good);
    Greylist g = open(settings(0, 1000, List.of()));
    assertThat(g.size()).isEqualTo(1);
    assertThat(Files.readString(dir.resolve(TripletFile.NAME))).isEqualTo(TripletFile.HEADER + "\n" + good);
  }
}
