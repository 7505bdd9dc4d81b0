package dev.posta.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A folder's UIDs, flags and MODSEQs, kept with the files: what delivery and other Maildir
 * programs do to them is picked up, flags live in the file names, and no UID is ever used twice
 * or HIGHESTMODSEQ lowered, across clean closes, kills (the object dropped without a close) and
 * lost log records (a power failure's page cache), while UIDVALIDITY stays unless the index is
 * unreadable.
 */
class MaildirFolderTest {
  @TempDir Path dir;

  private final Clock clock = Clock.systemUTC();

  private Path deliver(String text) throws IOException {
    return new Maildir(dir).deliver(new byte[0], out -> out.write(ByteBuffer.wrap(text.getBytes(UTF_8))), "h");
  }

  private MaildirFolder open() throws IOException {
    return MaildirFolder.open(dir, "h", clock);
  }

  private static List<Long> uids(MaildirFolder f) {
    return f.messages().stream().map(MessageInfo::uid).toList();
  }

  private List<String> names(String sub) throws IOException {
    try (Stream<Path> files = Files.list(dir.resolve(sub))) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void deliveredMessagesGetUidsInArrivalOrderWithTheirSizeAsServed() throws Exception {
    Path first = deliver("Subject: one\r\n\r\nhello\r\n");
    deliver("Subject: two\r\n\r\nworld\r\n");
    try (MaildirFolder f = open()) {
      assertThat(f.uidValidity()).isBetween(clock.millis() / 1000 - 60, clock.millis() / 1000);
      assertThat(uids(f)).containsExactly(1L, 2L);
      assertThat(f.uidNext()).isEqualTo(3);
      MessageInfo one = f.messages().getFirst();
      assertThat(one.size()).as("with CRLF, as IMAP serves it").isEqualTo("Subject: one\r\n\r\nhello\r\n".length());
      assertThat(f.internalDate(1)).isEqualTo(Files.getLastModifiedTime(first).toInstant().truncatedTo(java.time.temporal.ChronoUnit.MILLIS));
      assertThat(one.flags()).isZero();
      assertThat(f.file(1)).isEqualTo(first);
      assertThat(f.highestModSeq()).isEqualTo(2);
    }
  }

  @Test
  void theTallyCountsMessagesUnseenDeletedAndTheirSizeAsServed() throws Exception {
    deliver("Subject: one\r\n\r\nhello\r\n");
    deliver("Subject: two\n\nworld\n"); // bare LFs: served (and sized) with CRLF
    deliver("Subject: three\r\n\r\n!\r\n");
    try (MaildirFolder f = open()) {
      assertThat(f.tally()).isEqualTo(new Folder.Tally(3, 3, 0, 23 + 23 + 21));
      f.setFlags(1, Flags.SEEN);
      f.setFlags(2, Flags.SEEN | Flags.DELETED);
      f.setFlags(3, Flags.DELETED);
      assertThat(f.tally()).isEqualTo(new Folder.Tally(3, 1, 2, 67));
      f.expunge(List.of(2L, 3L));
      assertThat(f.tally()).isEqualTo(new Folder.Tally(1, 0, 0, 23));
    }
  }

  @Test
  void uidsSurviveACleanCloseWithoutAGapAndAKillWithoutReuse() throws Exception {
    deliver("a\r\n");
    deliver("b\r\n");
    long validity;
    try (MaildirFolder f = open()) {
      validity = f.uidValidity();
    }
    deliver("c\r\n");
    MaildirFolder killed = open();
    assertThat(uids(killed)).as("after a clean close: no gap").containsExactly(1L, 2L, 3L);
    long modseq = killed.highestModSeq();
    killed.abandon(); // as kill -9 would: no clean record
    deliver("d\r\n");
    MaildirFolder again = open();
    assertThat(again.uidValidity()).isEqualTo(validity);
    assertThat(uids(again)).hasSize(4).startsWith(1L, 2L, 3L);
    assertThat(uids(again).get(3)).as("after a kill: above the reservation, never a used one").isGreaterThan(3);
    assertThat(again.highestModSeq()).isGreaterThan(modseq);
    again.close();
  }

  @Test
  void recordsLostWithThePageCacheNeverLetAUidOrModseqComeBack() throws Exception {
    deliver("a\r\n");
    long validity;
    long highest;
    List<Long> before;
    try (MaildirFolder f = open()) {
      validity = f.uidValidity();
      // What a client may have seen before the power failed.
      before = uids(f);
      highest = f.highestModSeq();
    }
    // The power failure: every record after the last reservation (all of them, here) is lost.
    Path index = dir.resolve(MailboxIndex.FILE_NAME);
    List<String> lines = Files.readAllLines(index);
    int lastReservation = 0;
    for (int i = 0; i < lines.size(); i++) if (lines.get(i).startsWith("r ")) lastReservation = i;
    Files.write(index, lines.subList(0, lastReservation + 1));
    deliver("b\r\n");
    try (MaildirFolder f = open()) {
      assertThat(f.uidValidity()).isEqualTo(validity);
      assertThat(uids(f)).hasSize(2).allSatisfy(uid -> assertThat(uid).isGreaterThan(before.getLast()));
      assertThat(f.highestModSeq()).isGreaterThan(highest);
    }
  }

  @Test
  void afterACleanCloseTheNextUidsAreReservedAnewSoAPowerFailureCannotReuseThem() throws Exception {
    deliver("a\r\n");
    try (MaildirFolder f = open()) {
      assertThat(uids(f)).containsExactly(1L);
    }
    List<Long> seen;
    long highest;
    MaildirFolder f = open();
    deliver("b\r\n");
    f.sync();
    seen = uids(f);
    highest = f.highestModSeq();
    f.abandon();
    // The power fails: what was written after the last fsynced reservation is lost.
    Path index = dir.resolve(MailboxIndex.FILE_NAME);
    List<String> lines = Files.readAllLines(index);
    int lastReservation = 0;
    for (int i = 0; i < lines.size(); i++) if (lines.get(i).startsWith("r ")) lastReservation = i;
    assertThat(lines.get(lastReservation - 1)).as("reserved anew right after the clean record").startsWith("c ");
    Files.write(index, lines.subList(0, lastReservation + 1));
    try (MaildirFolder again = open()) {
      assertThat(uids(again).getLast()).as("b's UID %s is never given to another message", seen.getLast()).isGreaterThan(seen.getLast());
      assertThat(again.highestModSeq()).isGreaterThan(highest);
    }
  }

  @Test
  void oneWriterPerIndex() throws Exception {
    try (MaildirFolder f = open()) {
      assertThatThrownBy(this::open).isInstanceOf(IOException.class).hasMessageEndingWith("its index is open elsewhere (another server, or another store in this one)");
    }
  }

  @Test
  void aTornRecordIsCutOffAndAnUnreadableIndexStartsAfreshWithANewUidValidity() throws Exception {
    deliver("a\r\n");
    long validity;
    try (MaildirFolder f = open()) {
      validity = f.uidValidity();
    }
    Path index = dir.resolve(MailboxIndex.FILE_NAME);
    try (FileChannel ch = FileChannel.open(index, StandardOpenOption.APPEND)) {
      ch.write(ByteBuffer.wrap("f 1 99 zz\nx 1".getBytes(UTF_8))); // garbled, then torn
    }
    try (MaildirFolder f = open()) {
      assertThat(f.uidValidity()).isEqualTo(validity);
      assertThat(uids(f)).containsExactly(1L);
      assertThat(f.messages().getFirst().flags()).isZero();
    }
    assertThat(Files.readString(index)).doesNotContain("zz").doesNotContain("x 1\n");

    Files.writeString(index, "garbage\n");
    Thread.sleep(1100); // a new UIDVALIDITY is a new second
    try (MaildirFolder f = open()) {
      assertThat(f.uidValidity()).isGreaterThan(validity);
      assertThat(uids(f)).containsExactly(1L);
    }
  }

  /** Ages new/ and cur/ as if their last change were an hour ago, so what is known of them is settled. */
  private void ageDirectories() throws IOException {
    var hourAgo = java.nio.file.attribute.FileTime.from(java.time.Instant.now().minusSeconds(3600));
    Files.setLastModifiedTime(dir.resolve("new"), hourAgo);
    Files.setLastModifiedTime(dir.resolve("cur"), hourAgo);
  }

  @Test
  void aFolderNobodyTouchedSinceItsCleanCloseOpensWithoutReadingItsDirectories() throws Exception {
    deliver("a\r\n");
    deliver("b\r\n");
    try (MaildirFolder f = open()) {
      f.setFlags(1, Flags.SEEN);
    }
    ageDirectories();
    try (MaildirFolder f = open()) {
      assertThat(f.rescans()).as("times not settled at the last close: read").isEqualTo(1);
    }
    List<MessageInfo> before;
    try (MaildirFolder f = open()) {
      assertThat(f.rescans()).as("closed in step with settled times: trusted").isZero();
      before = f.messages();
      assertThat(before).extracting(MessageInfo::flags).containsExactly(Flags.SEEN, 0);
      assertThat(f.file(1).toString()).endsWith(":2,S");
      assertThat(f.file(2).getParent().getFileName().toString()).isEqualTo("new");
    }
    // Another program drops a message into cur/ while the folder is closed: its time moves on.
    Files.writeString(dir.resolve("cur").resolve("1999999999.M1P1Q1.other,S=2,W=3:2,F"), "c\n");
    try (MaildirFolder f = open()) {
      assertThat(f.rescans()).isEqualTo(1);
      assertThat(f.messages()).extracting(MessageInfo::uid).containsExactly(1L, 2L, 3L);
      assertThat(f.messages().get(2).flags()).isEqualTo(Flags.FLAGGED);
      assertThat(f.messages().subList(0, 2)).isEqualTo(before);
    }
  }

  @Test
  void whatOtherProgramsDoToTheFilesIsPickedUp() throws Exception {
    deliver("a\r\n");
    Path second = deliver("b\r\n");
    try (MaildirFolder f = open()) {
      AtomicInteger heard = new AtomicInteger();
      f.listen(heard::incrementAndGet);
      assertThat(f.sync()).as("nothing happened").isFalse();
      long modseq = f.highestModSeq();
      // mutt reads the second message and flags it; a delivery agent drops a third; the first is deleted.
      Files.move(second, dir.resolve("cur").resolve(second.getFileName() + ":2,FS"));
      Path third = dir.resolve("new").resolve("1999999999.M1P1Q1.other,S=2,W=3");
      Files.writeString(third, "c\n");
      Files.delete(f.file(1));
      assertThat(f.sync()).isTrue();
      assertThat(heard.get()).isEqualTo(1);
      List<MessageInfo> now = f.messages();
      assertThat(now).extracting(MessageInfo::uid).containsExactly(2L, 3L);
      assertThat(now.get(0).flags()).isEqualTo(Flags.FLAGGED | Flags.SEEN);
      assertThat(now.get(0).modseq()).isGreaterThan(modseq);
      assertThat(now.get(1).size()).isEqualTo(3);
      assertThat(f.highestModSeq()).isEqualTo(modseq + 3); // flags, expunge, new message
    }
  }

  @Test
  void flagsAreTheFileNameAndLettersPostaDoesNotKnowAreKept() throws Exception {
    Path file = deliver("a\r\n");
    Path passed = dir.resolve("cur").resolve(file.getFileName() + ":2,PS"); // P: passed on, a letter Posta does not map
    Files.move(file, passed);
    try (MaildirFolder f = open()) {
      long modseq = f.messages().getFirst().modseq();
      MessageInfo flagged = f.setFlags(1, Flags.SEEN | Flags.FLAGGED | Flags.ANSWERED);
      assertThat(flagged.flags()).isEqualTo(Flags.SEEN | Flags.FLAGGED | Flags.ANSWERED);
      assertThat(flagged.modseq()).isGreaterThan(modseq);
      assertThat(names("cur")).containsExactly(file.getFileName() + ":2,FPRS");
      assertThat(f.setFlags(1, flagged.flags()).modseq()).as("no change, no new MODSEQ").isEqualTo(flagged.modseq());
      int rescans = f.rescans();
      assertThat(f.sync()).as("its own rename is no news").isFalse();
      f.setFlags(1, Flags.SEEN);
      f.sync();
      assertThat(f.rescans()).as("and costs no rescan of the folder").isEqualTo(rescans);
    }
    assertThat(names("cur")).containsExactly(file.getFileName() + ":2,PS");
    try (MaildirFolder f = open()) {
      assertThat(f.messages().getFirst().flags()).isEqualTo(Flags.SEEN);
    }
  }

  @Test
  void aFlagChangeOnAFileAnotherProgramRenamedFindsItWhereItWent() throws Exception {
    Path file = deliver("a\r\n");
    try (MaildirFolder f = open()) {
      Files.move(file, dir.resolve("cur").resolve(file.getFileName() + ":2,S"));
      assertThat(f.setFlags(1, Flags.DELETED).flags()).isEqualTo(Flags.DELETED);
      assertThat(names("cur")).containsExactly(file.getFileName() + ":2,T");
      assertThat(names("new")).isEmpty();
    }
  }

  @Test
  void expungedUidsNeverComeBackAndAppendedMessagesKeepTheirFlagsAndDate() throws Exception {
    deliver("a\r\n");
    deliver("b\r\n");
    Instant date = Instant.parse("2025-02-03T04:05:06Z");
    try (MaildirFolder f = open()) {
      assertThat(f.expunge(List.of(1L, 2L, 7L))).containsExactly(1L, 2L);
      assertThat(names("new")).isEmpty();
      MessageInfo appended = f.append(out -> out.write(ByteBuffer.wrap("Subject: sent\r\n\r\nbody\r\n".getBytes(UTF_8))),
          Flags.SEEN, date);
      assertThat(appended.uid()).isEqualTo(3);
      assertThat(appended.size()).isEqualTo("Subject: sent\r\n\r\nbody\r\n".length());
      assertThat(f.internalDate(3)).isEqualTo(date);
      Path file = f.file(3);
      assertThat(file.getParent().getFileName().toString()).isEqualTo("cur");
      assertThat(file.getFileName().toString()).endsWith(",S=20,W=23:2,S");
      assertThat(Files.readString(file)).isEqualTo("Subject: sent\n\nbody\n");
      assertThat(Files.getLastModifiedTime(file).toInstant()).isEqualTo(date);
    }
    try (MaildirFolder f = open()) {
      assertThat(uids(f)).containsExactly(3L);
      assertThat(f.internalDate(3)).isEqualTo(date);
      deliver("c\r\n");
      assertThat(f.sync()).isTrue();
      assertThat(uids(f)).containsExactly(3L, 4L);
    }
  }

  @Test
  void aMessageWhoseFileCannotBeDeletedStaysAndTheOthersGoAllTheSame() throws Exception {
    Path stuck = deliver("a\r\n");
    deliver("b\r\n");
    deliver("c\r\n");
    try (MaildirFolder f = open()) {
      Files.delete(stuck);
      Files.createDirectories(stuck.resolve("in-the-way")); // unlink fails with EISDIR, rmdir as it is not empty
      assertThatThrownBy(() -> f.expunge(List.of(1L, 2L, 3L))).isInstanceOf(java.nio.file.DirectoryNotEmptyException.class);
      assertThat(uids(f)).containsExactly(1L);
      assertThat(names("new")).containsExactly(stuck.getFileName().toString());
    }
  }

  @Test
  void aCopyLeftInNewAfterTheFolderWasReadGoesWithItsMessageToo() throws Exception {
    Path file = deliver("a\r\n");
    try (MaildirFolder f = open()) {
      assertThat(f.file(1)).isEqualTo(file);
      Files.createLink(dir.resolve("cur").resolve(file.getFileName() + ":2,S"), file); // a mover killed after its link()
      Files.setLastModifiedTime(dir.resolve("cur"), FileTime.from(Instant.now().plusSeconds(5))); // cur/ changed, new/ did not
      assertThat(f.sync()).isTrue();
      assertThat(f.messages()).singleElement().satisfies(m -> assertThat(m.flags()).isEqualTo(Flags.SEEN));
      assertThat(f.expunge(List.of(1L))).containsExactly(1L);
      assertThat(names("new")).isEmpty();
      assertThat(names("cur")).isEmpty();
    }
  }

  @Test
  void takingNewMailMovesItToCurWithoutFlagsAndWithoutNews() throws Exception {
    Path file = deliver("a\r\n");
    try (MaildirFolder f = open()) {
      long modseq = f.highestModSeq();
      f.takeNew();
      assertThat(names("new")).isEmpty();
      assertThat(names("cur")).containsExactly(file.getFileName() + ":2,");
      assertThat(f.file(1)).isEqualTo(dir.resolve("cur").resolve(file.getFileName() + ":2,"));
      assertThat(f.sync()).isFalse();
      assertThat(f.highestModSeq()).isEqualTo(modseq);
    }
  }

  @Test
  void theLogIsCompactedOnceItIsMostlyHistory() throws Exception {
    deliver("a\r\n");
    try (MaildirFolder f = open()) {
      for (int i = 0; i < 5000; i++) f.setFlags(1, i % 2 == 0 ? Flags.SEEN : 0);
      assertThat(Files.readAllLines(dir.resolve(MailboxIndex.FILE_NAME)).size()).isLessThan(4200);
    }
    try (MaildirFolder f = open()) {
      assertThat(f.messages()).singleElement().satisfies(m -> assertThat(m.flags()).isZero());
      assertThat(f.highestModSeq()).isGreaterThanOrEqualTo(5001);
    }
    List<String> names = new ArrayList<>(names("cur"));
    assertThat(names).hasSize(1);
  }

  @Test
  void keywordsTakeLettersAToZOnceEachAndNoMore() throws Exception {
    deliver("a\r\n");
    try (MaildirFolder f = open()) {
      int bits = f.keywordBits(List.of("$Forwarded", "work"));
      assertThat(bits).isEqualTo(Flags.keyword(0) | Flags.keyword(1));
      assertThat(f.keywordBits(List.of("WORK"))).as("matched without regard to case").isEqualTo(Flags.keyword(1));
      f.setFlags(1, Flags.SEEN | bits);
      assertThat(names("cur")).singleElement().satisfies(n -> assertThat(n).endsWith(":2,Sab"));
      assertThat(Files.readString(dir.resolve(KeywordTable.FILE_NAME))).isEqualTo("0 $Forwarded\n1 work\n");
      List<String> more = new ArrayList<>();
      for (int i = 2; i < Flags.MAX_KEYWORDS; i++) more.add("k" + i);
      f.keywordBits(more);
      assertThat(f.keywords()).hasSize(26);
      assertThatThrownBy(() -> f.keywordBits(List.of("one-too-many"))).isInstanceOf(IllegalStateException.class)
          .hasMessage("no room for keyword one-too-many: all 26 are taken");
      assertThat(f.keywordsOf(f.messages().getFirst().flags())).containsExactly("$Forwarded", "work");
    }
  }

  @Test
  void aCopyLeftInNewByAKilledMoverGoesWithItsMessage() throws Exception {
    Path file = deliver("a\r\n");
    Path moved = dir.resolve("cur").resolve(file.getFileName() + ":2,S");
    Files.createLink(moved, file); // the mover's link() happened; its unlink() never did
    try (MaildirFolder f = open()) {
      assertThat(uids(f)).containsExactly(1L);
      assertThat(f.file(1)).isEqualTo(moved);
      assertThat(f.expunge(List.of(1L))).containsExactly(1L);
      assertThat(names("new")).isEmpty();
      assertThat(f.sync()).isFalse();
      assertThat(uids(f)).isEmpty();
    }
  }

  @Test
  void namesCompareWithTheirNumbersAsNumbers() {
    assertThat(MaildirFolder.compareNatural("1796552993.M9938P1Q68.h", "1796552993.M10518P1Q69.h")).isNegative();
    assertThat(MaildirFolder.compareNatural("1796552993.M10518P1Q9.h", "1796552993.M10518P1Q10.h")).isNegative();
    assertThat(MaildirFolder.compareNatural("1796552994.M1P1Q1.h", "1796552993.M999999P1Q2.h")).isPositive();
    assertThat(MaildirFolder.compareNatural("a007", "a7")).isZero();
    assertThat(MaildirFolder.compareNatural("abc", "abd")).isNegative();
    assertThat(MaildirFolder.compareNatural("a1", "a-")).as("a run sorts as its first digit would").isPositive();
    assertThat(MaildirFolder.compareNatural("a10", "a9b")).isPositive();
    assertThat(MaildirFolder.compareNatural("a9", "a9b")).isNegative();
  }

  @Test
  void manyQuickDeliveriesGetUidsInTheirOrder() throws Exception {
    List<Path> delivered = new ArrayList<>();
    for (int i = 0; i < 200; i++) delivered.add(deliver("Subject: " + i + "\r\n\r\nx\r\n"));
    try (MaildirFolder f = open()) {
      for (int i = 0; i < delivered.size(); i++) assertThat(f.file(i + 1)).as("UID %d", i + 1).isEqualTo(delivered.get(i));
    }
  }

  @Test
  void filesFoundByARescanGetUidsInNameOrderAndTheirDatesWhenFirstAskedFor() throws Exception {
    Files.createDirectories(dir.resolve("cur"));
    Path later = dir.resolve("cur").resolve("1700000010.M2P1.other,S=2,W=3:2,S");
    Path earlier = dir.resolve("cur").resolve("1700000009.M1P1.other,S=2,W=3:2,");
    Files.writeString(later, "b\n");
    Files.writeString(earlier, "a\n");
    Instant copied = Instant.parse("2024-01-02T03:04:05Z"); // a copy that kept no times: not the delivery order
    Files.setLastModifiedTime(later, FileTime.from(copied));
    Files.setLastModifiedTime(earlier, FileTime.from(copied.plusSeconds(60)));
    try (MaildirFolder f = open()) {
      assertThat(f.file(1)).isEqualTo(earlier);
      assertThat(f.file(2)).isEqualTo(later);
      assertThat(f.internalDate(2)).as("the file's time, as Dovecot has it").isEqualTo(copied);
      assertThat(f.internalDate(3)).isNull();
    }
    ageDirectories();
    try (MaildirFolder f = open()) {
      assertThat(f.rescans()).isEqualTo(1);
    }
    Files.setLastModifiedTime(later, FileTime.from(copied.plusSeconds(3600)));
    try (MaildirFolder f = open()) {
      assertThat(f.rescans()).as("closed in step with settled times: trusted").isZero();
      assertThat(f.internalDate(2)).as("kept in the index once read").isEqualTo(copied);
      assertThat(f.internalDate(1)).isEqualTo(copied.plusSeconds(60));
    }
  }
}
