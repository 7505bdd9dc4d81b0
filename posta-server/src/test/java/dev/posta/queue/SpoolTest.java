package dev.posta.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.mail.Envelope;
import dev.posta.mail.MailAddress;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.RcptParameters;
import dev.posta.mail.Recipient;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpoolTest {
  @TempDir Path dir;

  static Envelope envelope(String... rcpts) {
    List<Recipient> rs = new ArrayList<>();
    for (String r : rcpts) {
      int at = r.indexOf('@');
      rs.add(new Recipient(new MailAddress(r.substring(0, at), r.substring(at + 1)), new RcptParameters("SUCCESS,FAILURE", "rfc822;" + r)));
    }
    return new Envelope(QueueId.next(), Instant.ofEpochMilli(1_700_000_000_000L), "192.0.2.7", "client.example",
        new MailAddress("\"odd sender\"", "b.example"),
        new MailParameters(42, MailParameters.BodyType.EIGHT_BIT_MIME, true, "HDRS", "ENV+2B1"), rs);
  }

  /** The stored content, read the way delivery reads it. */
  static String contentOf(SpooledMessage m) throws IOException {
    var bytes = new java.io.ByteArrayOutputStream();
    m.writeContentTo(java.nio.channels.Channels.newChannel(bytes));
    return bytes.toString(StandardCharsets.UTF_8);
  }

  static MessageContent content(Spool spool, String s) {
    MessageContent c = spool.newContent();
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    c.write(bytes, 0, bytes.length);
    return c;
  }

  @Test
  void envelopeRoundTripsThroughItsEncoding() {
    Envelope e = envelope("a@localhost", "用户@localhost");
    assertThat(Envelope.decode(e.encode())).isEqualTo(e);
    // The SMTP AUTH login (capture mode's namespace by login) survives the spool too.
    Envelope sent = new Envelope(e.id(), e.received(), e.clientAddress(), e.heloName(), e.sender(), e.parameters(), e.recipients(), "Junk",
        "app+t1@posta.test");
    assertThat(new String(sent.encode(), StandardCharsets.UTF_8)).endsWith("folder Junk\nlogin app+t1@posta.test\n");
    assertThat(Envelope.decode(sent.encode())).isEqualTo(sent);
    assertThat(Envelope.decode(e.encode()).login()).isNull();
  }

  /** Found by Jazzer: a recipient's parameter line before any recipient threw IndexOutOfBounds, which recovery does not catch. */
  @Test
  void aRecipientParameterBeforeAnyRecipientIsRefusedAsABadEnvelope() {
    for (String key : List.of("notify", "orcpt")) {
      byte[] bytes = ("id 1A2253C7A6500000\nreceived 1700000000000\n" + key + " x\nrcpt a@localhost\n").getBytes(StandardCharsets.UTF_8);
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> Envelope.decode(bytes))
          .isInstanceOf(IllegalArgumentException.class).hasMessage("envelope " + key + " before any rcpt");
    }
  }

  /** One spool run storing a message to {@code rcpt}: each run leaves a segment of its own. */
  private QueueId runStoring(String rcpt) throws IOException {
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      return spool.store(envelope(rcpt), content(spool, "Subject: " + rcpt + "\r\n\r\nx\r\n")).id();
    }
  }

  private List<String> segmentNames() throws IOException {
    return segments().stream().map(p -> p.getFileName().toString()).toList();
  }

  @Test
  void newMailIsStoredInANewSegmentWhileTheBacklogIsStillUnread() throws Exception {
    QueueId first = runStoring("a@localhost");
    QueueId second = runStoring("b@localhost");
    assertThat(segmentNames()).containsExactly("000000000000.seg", "000000000001.seg");
    try (Spool spool = new Spool(dir)) {
      Spool.Backlog backlog = spool.backlog();
      spool.start();
      // Before a record of the backlog is read: new mail is durable, in a segment after the old ones.
      SpooledMessage fresh = spool.store(envelope("c@localhost"), content(spool, "Subject: c\r\n\r\nx\r\n"));
      assertThat(segmentNames()).containsExactly("000000000000.seg", "000000000001.seg", "000000000002.seg");
      assertThat(backlog.segments()).isEqualTo(2);
      assertThat(backlog.segmentsRead()).isZero();

      List<List<QueueId>> handed = new java.util.concurrent.CopyOnWriteArrayList<>();
      backlog.readInBackground(found -> handed.add(found.stream().map(SpooledMessage::id).toList()));
      assertThat(backlog.await(java.time.Duration.ofSeconds(10))).isTrue();
      assertThat(handed).as("oldest segment first, each handed on as read").containsExactly(List.of(first), List.of(second));
      assertThat(backlog.segmentsRead()).isEqualTo(2);
      assertThat(fresh.id()).isNotIn(first, second);
    }
  }

  @Test
  void aBacklogStoppedHalfwayLeavesTheRestOnDiskForTheNextStart() throws Exception {
    QueueId first = runStoring("a@localhost");
    QueueId second = runStoring("b@localhost");
    try (Spool spool = new Spool(dir)) {
      Spool.Backlog backlog = spool.backlog();
      spool.start();
      List<QueueId> handed = new java.util.concurrent.CopyOnWriteArrayList<>();
      backlog.readInBackground(found -> {
        found.forEach(m -> handed.add(m.id()));
        backlog.stop(); // as a server closing while the first segment is handed on
      });
      assertThat(backlog.await(java.time.Duration.ofSeconds(10))).isTrue();
      assertThat(handed).containsExactly(first);
      assertThat(backlog.segmentsRead()).isEqualTo(1);
    }
    try (Spool spool = new Spool(dir)) {
      assertThat(spool.recover()).extracting(SpooledMessage::id).containsExactly(first, second);
    }
  }

  @Test
  void storedMessagesAreRecoveredWithEnvelopeAndContent() throws IOException {
    Envelope e1 = envelope("a@localhost");
    Envelope e2 = envelope("b@localhost", "c@localhost");
    try (Spool spool = new Spool(dir)) {
      assertThat(spool.recover()).isEmpty();
      spool.start();
      spool.store(e1, content(spool, "one\r\n"));
      spool.store(e2, content(spool, "two\r\n"));
    }
    try (Spool spool = new Spool(dir)) {
      List<SpooledMessage> back = spool.recover();
      assertThat(back).extracting(SpooledMessage::envelope).containsExactly(e1, e2);
      assertThat(contentOf(back.get(0))).isEqualTo("one\r\n");
      assertThat(contentOf(back.get(1))).isEqualTo("two\r\n");
    }
  }

  /**
   * Recovery keeps a small index entry per message, not its envelope (a million deferred messages
   * must fit the heap, issue 18): the envelope is read back from the segment when asked for, the
   * same as stored, and let go again; the ID, arrival and recipients' progress need no read.
   */
  @Test
  void aRecoveredMessageKeepsItsIndexEntryAndReadsItsEnvelopeBackWhenAsked() throws IOException {
    Envelope e1 = envelope("a@localhost");
    Envelope e2 = envelope("b@localhost", "c@localhost");
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      SpooledMessage fresh = spool.store(e1, content(spool, "one\r\n"));
      assertThat(fresh.holdsEnvelope()).as("fresh: kept for its first attempt").isTrue();
      SpooledMessage second = spool.store(e2, content(spool, "two\r\n"));
      spool.markDone(second, 0);
    }
    try (Spool spool = new Spool(dir)) {
      List<SpooledMessage> back = spool.recover();
      assertThat(back).allSatisfy(m -> assertThat(m.holdsEnvelope()).isFalse());
      assertThat(back).extracting(SpooledMessage::id).containsExactly(e1.id(), e2.id());
      assertThat(back).extracting(SpooledMessage::received).containsExactly(e1.received(), e2.received());
      assertThat(back.get(1).pending()).containsExactly(1);
      assertThat(back.get(0).peekEnvelope()).isEqualTo(e1);
      assertThat(back.get(0).holdsEnvelope()).as("peeked: not kept").isFalse();
      assertThat(back.get(1).envelope()).isEqualTo(e2);
      assertThat(back.get(1).holdsEnvelope()).as("asked for: kept until let go").isTrue();
      back.get(1).releaseEnvelope();
      assertThat(back.get(1).holdsEnvelope()).isFalse();
      assertThat(back.get(1).envelope()).isEqualTo(e2);
      assertThat(contentOf(back.get(1))).isEqualTo("two\r\n");
    }
  }

  /** The progress log is read in blocks: a line that runs across a block's end is read whole. */
  @Test
  void aProgressLineAcrossABlocksEndIsReadWhole() throws IOException {
    Envelope e = envelope("a@far.test", "b@localhost");
    int attempts = 0;
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      SpooledMessage m = spool.store(e, content(spool, "x\r\n"));
      Path log;
      try (Stream<Path> files = Files.list(dir)) {
        Path segment = files.filter(p -> p.toString().endsWith(".seg")).findFirst().orElseThrow();
        log = segment.resolveSibling(segment.getFileName().toString().replace(".seg", ".done"));
      }
      // Until the last deferral line is the one that crosses 64 KiB, the block's size.
      while (!Files.exists(log) || Files.size(log) <= 64 * 1024) {
        spool.markDeferred(m, 0, new SpooledMessage.Deferral(++attempts, Instant.ofEpochMilli(1_700_000_000_000L + attempts), "e".repeat(700)));
      }
      spool.markDone(m, 1);
    }
    try (Spool spool = new Spool(dir)) {
      SpooledMessage back = spool.recover().getFirst();
      assertThat(back.pending()).containsExactly(0);
      assertThat(back.deferral(0).attempts()).isEqualTo(attempts);
      assertThat(back.deferral(0).nextAttempt()).isEqualTo(Instant.ofEpochMilli(1_700_000_000_000L + attempts));
    }
  }

  /** A backlog deferred for one reason holds that reason once, also after a restart. */
  @Test
  void deferralsForTheSameReasonShareOneCopyOfIt() throws IOException {
    String reason = "cannot connect to 127.0.0.1[127.0.0.1]:" + System.nanoTime() + ": Connection refused";
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      for (Envelope e : List.of(envelope("a@far.test"), envelope("b@far.test"))) {
        SpooledMessage m = spool.store(e, content(spool, "x\r\n"));
        spool.markDeferred(m, 0, new SpooledMessage.Deferral(1, Instant.ofEpochMilli(1_700_000_060_000L), new String(reason)));
      }
    }
    try (Spool spool = new Spool(dir)) {
      List<SpooledMessage> back = spool.recover();
      assertThat(back).hasSize(2);
      assertThat(back.get(0).deferral(0).lastError()).isEqualTo(reason).isSameAs(back.get(1).deferral(0).lastError());
    }
  }

  /**
   * A message stored held (a milter quarantined it with quarantine = "hold") is held as soon as
   * store returns, before its next progress line: its held line is on disk with it, not written
   * after in a second step that could fail and leave it to be delivered after a restart.
   */
  @Test
  void aMessageStoredHeldIsHeldAtOnceAndAfterARestart() throws IOException {
    Envelope held = envelope("a@localhost");
    Envelope free = envelope("b@localhost");
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      assertThat(spool.store(held, content(spool, "held\r\n"), true).isHeld()).isTrue();
      assertThat(spool.store(free, content(spool, "free\r\n"), false).isHeld()).isFalse();
    }
    try (Spool spool = new Spool(dir)) {
      assertThat(spool.recover()).extracting(m -> m.envelope().id() + " " + m.isHeld())
          .containsExactly(held.id() + " true", free.id() + " false");
    }
  }

  /**
   * The trace fields (hops, Delivered-To) come with a stored message as they were counted while
   * it was received; a recovered one reads them back from its segment, header section only.
   */
  @Test
  void traceFieldsAreCountedOnTheWayInAndReadBackAfterARestart() throws IOException {
    // Larger than the 8 KiB the segment is read in, so the header section spans reads.
    String message = "Received: from a by b; Sun, 6 Dec 2026 03:00:00 +0000\r\n".repeat(200)
        + "Delivered-To: X@Example.org\r\n\r\nReceived: in the body\r\n";
    Envelope e = envelope("a@localhost");
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      SpooledMessage m = spool.store(e, content(spool, message));
      assertThat(m.trace().received()).isEqualTo(200);
      assertThat(m.trace().deliveredTo()).containsExactly("x@example.org");
    }
    try (Spool spool = new Spool(dir)) {
      SpooledMessage m = spool.recover().getFirst();
      assertThat(m.trace().received()).isEqualTo(200);
      assertThat(m.trace().deliveredTo()).containsExactly("x@example.org");
    }
  }

  @Test
  void largeMessageSpillsToDiskAndRoundTrips() throws IOException {
    String big = "0123456789abcdef".repeat(MessageContent.MEMORY_LIMIT / 16 * 3) + "end\r\n";
    Envelope e = envelope("big@localhost");
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      MessageContent content = content(spool, big);
      assertThat(Files.list(dir.resolve("tmp")).count()).isEqualTo(1); // spilled while receiving
      SpooledMessage m = spool.store(e, content);
      assertThat(Files.list(dir.resolve("tmp")).count()).isZero(); // and cleaned up once stored
      assertThat(m.contentLength()).isEqualTo(big.length());
      Path copy = dir.resolve("copy");
      try (var ch = java.nio.channels.FileChannel.open(copy, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
        m.writeContentTo(ch); // straight from the segment: nothing large stays in memory
      }
      assertThat(Files.readString(copy)).isEqualTo(big);
    }
    try (Spool spool = new Spool(dir)) {
      assertThat(contentOf(spool.recover().getFirst())).isEqualTo(big);
    }
  }

  /**
   * An envelope read back is checked against its record's CRC: a byte changed on disk since
   * recovery (here a recipient's letter) is an error, never another recipient.
   */
  @Test
  void anEnvelopeChangedOnDiskSinceRecoveryIsNotReadBack() throws IOException {
    Envelope e = envelope("bob@localhost");
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      spool.store(e, content(spool, "one\r\n"));
    }
    try (Spool spool = new Spool(dir)) {
      SpooledMessage back = spool.recover().getFirst();
      Path segment;
      try (var files = Files.list(dir)) {
        segment = files.filter(f -> f.toString().endsWith(".seg")).findFirst().orElseThrow();
      }
      byte[] octets = Files.readAllBytes(segment);
      String text = new String(octets, StandardCharsets.ISO_8859_1);
      octets[text.indexOf("bob@localhost")] = 'r';
      Files.write(segment, octets);
      assertThatThrownBy(back::envelope).isInstanceOf(java.io.UncheckedIOException.class)
          .hasMessageEndingWith(e.id() + ": cannot read its envelope back from " + segment.getFileName() + ": its record's head no longer matches its CRC");
    }
  }

  /**
   * A session interrupted while it waits for the spool (the web server's requests are, when it
   * stops) still hears the truth: the message is stored, whole, and the interrupt is kept for the
   * caller. (Its spilled content was deleted under the committer's write, and the wait answered
   * as if nothing were stored.) The next message in the segment is whole too.
   */
  @Test
  void aStoreInterruptedWhileItWaitsStillAnswersWhatWasStored() throws Exception {
    String big = "0123456789abcdef".repeat(MessageContent.MEMORY_LIMIT / 16 * 2) + "end\r\n";
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      var outcome = new java.util.concurrent.CompletableFuture<SpooledMessage>();
      var stillInterrupted = new java.util.concurrent.atomic.AtomicBoolean();
      Thread session = Thread.ofVirtual().start(() -> {
        MessageContent content = content(spool, big);
        Thread.currentThread().interrupt(); // the wait in store begins interrupted
        try {
          outcome.complete(spool.store(envelope("big@localhost"), content));
        } catch (IOException | RuntimeException e) {
          outcome.completeExceptionally(e);
        }
        stillInterrupted.set(Thread.currentThread().isInterrupted());
      });
      session.join();
      SpooledMessage first = outcome.get();
      assertThat(stillInterrupted).isTrue();
      assertThat(contentOf(first)).isEqualTo(big);
      SpooledMessage next = spool.store(envelope("next@localhost"), content(spool, "Subject: next\r\n\r\nhello\r\n"));
      assertThat(contentOf(next)).isEqualTo("Subject: next\r\n\r\nhello\r\n");
    }
    try (Spool spool = new Spool(dir)) {
      List<SpooledMessage> recovered = spool.recover();
      assertThat(recovered).hasSize(2);
      assertThat(contentOf(recovered.get(0))).isEqualTo(big);
    }
  }

  /**
   * DATA hands the content over a line at a time; past the memory limit the lines are gathered
   * before each write to the spill file, and every octet still arrives, in order, and the CRC
   * (checked at recovery) is the whole message's. Messages in memory and spilled ones stored at
   * once (one batch, one gathering write for those in memory) each come back whole.
   */
  @Test
  void messagesWrittenLineByLineSpilledOrNotComeBackWholeFromOneBatch() throws Exception {
    List<Envelope> envelopes = new ArrayList<>();
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      envelopes.add(envelope("m" + i + "@localhost"));
      // Odd ones: some 1.2 MiB, several spill buffers and several of delivery's copy blocks.
      int lines = i % 2 == 0 ? 10 + i : 16_000 + i;
      var text = new StringBuilder();
      for (int l = 0; l < lines; l++) text.append("line ").append(l).append(" of message ").append(i).append(" ........................\r\n");
      texts.add(text.toString());
    }
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      List<Callable<SpooledMessage>> stores = new ArrayList<>();
      for (int i = 0; i < texts.size(); i++) {
        int n = i;
        stores.add(() -> {
          MessageContent c = spool.newContent();
          for (String line : texts.get(n).split("(?<=\r\n)")) {
            byte[] b = line.getBytes(StandardCharsets.US_ASCII);
            c.write(b, 0, b.length - 2); // as readText appends: the line, then its CRLF apart
            c.write(b, b.length - 2, 2);
          }
          return spool.store(envelopes.get(n), c);
        });
      }
      try (var pool = Executors.newFixedThreadPool(texts.size())) {
        List<Future<SpooledMessage>> stored = pool.invokeAll(stores);
        for (int i = 0; i < texts.size(); i++) assertThat(contentOf(stored.get(i).get())).isEqualTo(texts.get(i));
      }
    }
    try (Spool spool = new Spool(dir)) {
      List<SpooledMessage> back = spool.recover();
      assertThat(back).hasSize(texts.size());
      for (SpooledMessage m : back) assertThat(contentOf(m)).isEqualTo(texts.get(envelopes.indexOf(m.envelope())));
    }
  }

  /**
   * Header fields put at the top once the message is whole (DKIM signatures) are stored above it
   * and pass the record's CRC check at recovery: in memory, and when the rest was spilled to
   * disk, where the CRC is combined rather than recomputed.
   */
  @Test
  void fieldsPrependedAfterTheMessageAreStoredAtItsTopAndRecover() throws IOException {
    String small = "Subject: small\r\n\r\nbody\r\n";
    String big = "Subject: big\r\n\r\n" + "0123456789abcdef".repeat(MessageContent.MEMORY_LIMIT / 16 * 2) + "end\r\n";
    byte[] fields = "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=x;\r\n\tb=AAAA\r\n".getBytes(StandardCharsets.US_ASCII);
    byte[] second = "DKIM-Signature: v=1; a=ed25519-sha256; d=example.org; s=y;\r\n\tb=BBBB\r\n".getBytes(StandardCharsets.US_ASCII);
    String top = new String(second, StandardCharsets.US_ASCII) + new String(fields, StandardCharsets.US_ASCII);
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      for (String message : List.of(small, big)) {
        MessageContent content = content(spool, message);
        content.prepend(fields);
        content.prepend(second); // a second call goes above the first
        SpooledMessage m = spool.store(envelope("a@localhost"), content);
        assertThat(m.contentLength()).isEqualTo(top.length() + message.length());
        assertThat(contentOf(m)).isEqualTo(top + message);
      }
    }
    try (Spool spool = new Spool(dir)) {
      assertThat(spool.recover()).extracting(SpoolTest::contentOf).containsExactly(top + small, top + big);
    }
    assertThat(dir.resolve("corrupt")).doesNotExist(); // both checksums held
  }

  @Test
  void theCombinedCrcIsTheCrcOfBothPieces() {
    var random = new java.util.Random(6376);
    for (int lengthA : new int[] {0, 1, 7, 1000}) {
      for (int lengthB : new int[] {0, 1, 3, 64, 4096, 300_000}) {
        byte[] a = new byte[lengthA];
        byte[] b = new byte[lengthB];
        random.nextBytes(a);
        random.nextBytes(b);
        assertThat(Crc32cCombine.combine(crc(a), crc(b), lengthB)).as("%d + %d octets", lengthA, lengthB)
            .isEqualTo(crc(java.nio.ByteBuffer.allocate(lengthA + lengthB).put(a).put(b).array()));
      }
    }
  }

  private static int crc(byte[] octets) {
    var crc = new java.util.zip.CRC32C();
    crc.update(octets);
    return (int) crc.getValue();
  }

  @Test
  void spillFailureRefusesTheMessageInsteadOfStoringPartOfIt() throws IOException {
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      Files.writeString(dir.resolve("tmp"), "not a directory"); // spilling cannot work now
      MessageContent content = content(spool, "x".repeat(MessageContent.MEMORY_LIMIT + 1));
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> spool.store(envelope("a@localhost"), content))
          .isInstanceOf(IOException.class);
    }
    try (Spool spool = new Spool(dir)) {
      assertThat(spool.recover()).isEmpty();
    }
  }

  @Test
  void doneRecipientsAreNotRecoveredAndFinishedSegmentsAreDeleted() throws IOException {
    Envelope e1 = envelope("a@localhost", "b@localhost");
    Envelope e2 = envelope("c@localhost");
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      SpooledMessage m1 = spool.store(e1, content(spool, "one"));
      SpooledMessage m2 = spool.store(e2, content(spool, "two"));
      spool.markDone(m1, 0);
      spool.markDone(m2, 0);
    }
    try (Spool spool = new Spool(dir)) {
      List<SpooledMessage> back = spool.recover();
      assertThat(back).hasSize(1);
      SpooledMessage m = back.getFirst();
      assertThat(m.id()).isEqualTo(e1.id());
      assertThat(m.isDone(0)).isTrue();
      assertThat(m.isDone(1)).isFalse();
      spool.start();
      spool.markDone(m, 1);
      // The recovered segment is sealed and now empty: gone from disk.
      assertThat(segments()).isEmpty();
    }
  }

  @Test
  void progressSurvivesARestartAndATornLastLineCountsForNothing() throws IOException {
    Envelope e = envelope("a@localhost", "b@localhost", "c@localhost");
    Path log;
    java.time.Instant next = java.time.Instant.ofEpochMilli(1_800_000_000_000L);
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      SpooledMessage m = spool.store(e, content(spool, "one"));
      spool.markDone(m, 0);
      spool.markDeferred(m, 1, new SpooledMessage.Deferral(2, next, "deferred by mx[192.0.2.1]:25: 451 4.3.0 later\r\nand more"));
      spool.markTargetDone(m, 2, "\"odd one\"@example.org");
      spool.markHeld(m, true);
      spool.markDelayReported(m);
      log = m.segment.donePath();
    }
    // A crash in the middle of the next line: "ID 1 deferred ..." cut after the index would
    // otherwise read as "recipient 1 finished".
    Files.writeString(log, e.id() + " 1", java.nio.file.StandardOpenOption.APPEND);
    try (Spool spool = new Spool(dir)) {
      SpooledMessage m = spool.recover().getFirst();
      assertThat(m.pending()).containsExactly(1, 2);
      assertThat(m.deferral(1)).isEqualTo(new SpooledMessage.Deferral(2, next, "deferred by mx[192.0.2.1]:25: 451 4.3.0 later and more"));
      assertThat(m.deferral(2)).isNull();
      assertThat(m.isTargetFinished(2, "\"odd one\"@example.org")).isTrue();
      assertThat(m.isTargetFinished(1, "\"odd one\"@example.org")).isFalse();
      assertThat(m.isHeld()).isTrue();
      assertThat(m.delayReported()).isTrue();
      assertThat(m.nextAttempt()).as("recipient 2 never deferred: due at once").isNull();
    }
  }

  @Test
  void aHugeErrorIsCutToItsLimit() throws IOException {
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      SpooledMessage m = spool.store(envelope("a@localhost"), content(spool, "one"));
      spool.markDeferred(m, 0, new SpooledMessage.Deferral(1, java.time.Instant.EPOCH, "x\r\ny".repeat(50_000)));
      assertThat(m.deferral(0).lastError()).isEqualTo("x y".repeat(333) + "x..."); // a run of controls is one space
    }
  }

  @Test
  void idleSpoolDeletesItsFinishedSegment() throws Exception {
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      SpooledMessage m = spool.store(envelope("a@localhost"), content(spool, "one"));
      assertThat(segments()).hasSize(1);
      spool.markDone(m, 0);
      long deadline = System.nanoTime() + 5_000_000_000L; // the committer looks once a second when idle
      while (!segments().isEmpty() && System.nanoTime() < deadline) Thread.sleep(50);
      assertThat(segments()).isEmpty();
      // And the spool goes on working with a new segment.
      spool.store(envelope("b@localhost"), content(spool, "two"));
      assertThat(segments()).hasSize(1);
    }
  }

  @Test
  void tornTailIsSetAsideAndEverythingBeforeItSurvives() throws IOException {
    Envelope e1 = envelope("a@localhost");
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      spool.store(e1, content(spool, "first"));
      spool.store(envelope("b@localhost"), content(spool, "second message"));
    }
    Path seg = segments().getFirst();
    long size = Files.size(seg);
    try (var f = new RandomAccessFile(seg.toFile(), "rw")) {
      f.setLength(size - 7); // a crash in the middle of writing the last record
    }
    try (Spool spool = new Spool(dir)) {
      List<SpooledMessage> back = spool.recover();
      assertThat(back).extracting(SpooledMessage::id).containsExactly(e1.id());
      assertThat(Files.list(dir.resolve("corrupt")).count()).isEqualTo(1);
    }
  }

  @Test
  void corruptRecordInTheMiddleIsSkippedAndTheRestRecovered() throws IOException {
    Envelope e1 = envelope("a@localhost");
    Envelope e2 = envelope("b@localhost");
    Envelope e3 = envelope("c@localhost");
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      spool.store(e1, content(spool, "first"));
      spool.store(e2, content(spool, "SECOND"));
      spool.store(e3, content(spool, "third"));
    }
    Path seg = segments().getFirst();
    byte[] bytes = Files.readAllBytes(seg);
    String text = new String(bytes, StandardCharsets.ISO_8859_1);
    int at = text.indexOf("SECOND");
    bytes[at] = 'X'; // bit rot inside the second message
    Files.write(seg, bytes);
    try (Spool spool = new Spool(dir)) {
      assertThat(spool.recover()).extracting(SpooledMessage::id).containsExactly(e1.id(), e3.id());
    }
  }

  /** Recovery reads a segment through a 1 MiB window: records larger than it, and around it, come back whole. */
  @Test
  void recordsLargerThanTheReadWindowAndACorruptOneBetweenThemAreReadRight() throws IOException {
    String big = "0123456789abcdef".repeat(160_000) + "end\r\n"; // 2.5 MiB: three windows and more
    List<Envelope> envelopes = List.of(envelope("a@localhost"), envelope("b@localhost"), envelope("c@localhost"),
        envelope("d@localhost"), envelope("e@localhost"));
    List<String> contents = List.of("first", big, "CORRUPTED", big + "2", "last");
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      for (int i = 0; i < envelopes.size(); i++) spool.store(envelopes.get(i), content(spool, contents.get(i)));
    }
    Path seg = segments().getFirst();
    byte[] bytes = Files.readAllBytes(seg);
    bytes[new String(bytes, StandardCharsets.ISO_8859_1).indexOf("CORRUPTED")] = 'X';
    Files.write(seg, bytes);
    try (Spool spool = new Spool(dir)) {
      List<SpooledMessage> back = spool.recover();
      assertThat(back).extracting(SpooledMessage::id)
          .containsExactly(envelopes.get(0).id(), envelopes.get(1).id(), envelopes.get(3).id(), envelopes.get(4).id());
      assertThat(contentOf(back.get(1))).isEqualTo(big);
      assertThat(contentOf(back.get(2))).isEqualTo(big + "2");
      assertThat(contentOf(back.get(3))).isEqualTo("last");
    }
  }

  /** A header whose lengths add up past any file (a bit flipped in one) is a torn record, not an overflow and a crash. */
  @Test
  void aRecordHeaderWithAHugeLengthIsATornRecord() throws IOException {
    Envelope e1 = envelope("a@localhost");
    try (Spool spool = new Spool(dir)) {
      spool.recover();
      spool.start();
      spool.store(e1, content(spool, "first"));
    }
    Path seg = segments().getFirst();
    var header = java.nio.ByteBuffer.allocate(16).putInt(0x50535131).putInt(10).putLong(Long.MAX_VALUE - 5).array();
    Files.write(seg, header, java.nio.file.StandardOpenOption.APPEND);
    try (Spool spool = new Spool(dir)) {
      assertThat(spool.recover()).extracting(SpooledMessage::id).containsExactly(e1.id());
      assertThat(Files.list(dir.resolve("corrupt")).count()).isEqualTo(1);
    }
  }

  @Test
  void concurrentStoresShareCommitsAndAllSurvive() throws Exception {
    int n = 400;
    List<QueueId> ids = new ArrayList<>();
    try (Spool spool = new Spool(dir); var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      spool.recover();
      spool.start();
      List<Future<SpooledMessage>> futures = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String body = "message " + i + "\r\n";
        Callable<SpooledMessage> store = () -> spool.store(envelope("x@localhost"), content(spool, body));
        futures.add(pool.submit(store));
      }
      for (var f : futures) ids.add(f.get().id());
    }
    try (Spool spool = new Spool(dir)) {
      assertThat(spool.recover()).extracting(SpooledMessage::id).containsExactlyInAnyOrderElementsOf(ids);
    }
  }

  @Test
  void storeFailsLoudlyWhenTheSpoolIsClosed() throws IOException {
    Spool spool = new Spool(dir);
    spool.recover();
    spool.start();
    spool.close();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> spool.store(envelope("a@localhost"), content(spool, "x")))
        .isInstanceOf(IOException.class);
  }

  @Test
  void spoolFoldersAndFilesArePrivate() throws IOException {
    // The process umask is left as it is (typically 022): the modes must not depend on it.
    Path queue = dir.resolve("queue");
    try (Spool spool = new Spool(queue)) {
      spool.recover();
      spool.start();
      MessageContent big = content(spool, "x".repeat(MessageContent.MEMORY_LIMIT + 1));
      assertThat(mode(queue.resolve("tmp"))).isEqualTo("rwx------");
      try (Stream<Path> spills = Files.list(queue.resolve("tmp"))) {
        assertThat(spills.map(SpoolTest::mode)).containsExactly("rw-------");
      }
      spool.store(envelope("a@localhost"), big);
      SpooledMessage m = spool.store(envelope("b@localhost", "c@localhost"), content(spool, "small"));
      spool.markDone(m, 0); // starts the done log
    }
    assertThat(mode(queue)).isEqualTo("rwx------");
    try (Stream<Path> files = Files.list(queue)) {
      List<Path> segmentFiles = files.filter(p -> p.toString().endsWith(".seg") || p.toString().endsWith(".done")).toList();
      assertThat(segmentFiles).hasSize(2);
      assertThat(segmentFiles).allSatisfy(p -> assertThat(mode(p)).as(p.toString()).isEqualTo("rw-------"));
    }

    // A torn segment's tail is copied aside, privately too.
    Path seg;
    try (Stream<Path> files = Files.list(queue)) {
      seg = files.filter(p -> p.toString().endsWith(".seg")).findFirst().orElseThrow();
    }
    try (var f = new RandomAccessFile(seg.toFile(), "rw")) {
      f.setLength(f.length() - 3);
    }
    try (Spool spool = new Spool(queue)) {
      spool.recover();
    }
    assertThat(mode(queue.resolve("corrupt"))).isEqualTo("rwx------");
    try (Stream<Path> copies = Files.list(queue.resolve("corrupt"))) {
      assertThat(copies.map(SpoolTest::mode)).containsExactly("rw-------");
    }
  }

  private static String mode(Path p) {
    try {
      return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private List<Path> segments() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.toString().endsWith(".seg")).sorted().toList();
    }
  }
}
