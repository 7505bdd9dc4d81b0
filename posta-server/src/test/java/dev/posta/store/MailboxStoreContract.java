package dev.posta.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What every {@link MailboxStore} does, whatever keeps its mail: folder names and their checks,
 * rename with the folders below, delete, subscriptions, special folders, the folder limit, and
 * delivery once per ID. {@link MaildirStoreContractTest} and {@link DatabaseStoreTest} run it.
 */
abstract class MailboxStoreContract {
  /** The store under test, empty. */
  abstract MailboxStore store();

  static final MailboxId BOB = new MailboxId("example.org", "bob");

  static MessageWriterBytes message(String text) {
    return new MessageWriterBytes(text.getBytes(UTF_8));
  }

  record MessageWriterBytes(byte[] octets) implements dev.posta.client.MessageWriter {
    @Override
    public void writeTo(java.nio.channels.WritableByteChannel out) throws java.io.IOException {
      out.write(ByteBuffer.wrap(octets));
    }
  }

  @Test
  void foldersHaveCheckedNamesTheInboxInAnyCaseAndRenameTakesThoseBelow() throws Exception {
    MailboxStore store = store();
    assertThat(store.folderNames(BOB)).containsExactly("INBOX");
    assertThat(store.exists(BOB, "Archive")).isFalse();
    store.createFolder(BOB, "Entwürfe");
    store.createFolder(BOB, "Archive");
    store.createFolder(BOB, "Archive.2024");
    assertThat(store.folderNames(BOB)).containsExactly("INBOX", "Archive", "Archive.2024", "Entwürfe");
    assertThat(store.exists(BOB, "Archive.2024")).isTrue();
    assertThat(store.exists(BOB, "a..b")).as("a bad name is no folder, not an error").isFalse();
    assertThatThrownBy(() -> store.createFolder(BOB, "Archive")).isInstanceOf(FileAlreadyExistsException.class);
    assertThatThrownBy(() -> store.createFolder(BOB, "inbox")).isInstanceOf(FileAlreadyExistsException.class);
    for (String bad : new String[] {"", ".x", "x.", "a..b", "a/b", "tab\there", "x".repeat(201)}) {
      assertThatThrownBy(() -> store.createFolder(BOB, bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
    }

    store.renameFolder(BOB, "Archive", "Old");
    assertThat(store.folderNames(BOB)).containsExactly("INBOX", "Entwürfe", "Old", "Old.2024");
    assertThatThrownBy(() -> store.renameFolder(BOB, "Archive", "X")).isInstanceOf(NoSuchFileException.class);
    assertThatThrownBy(() -> store.renameFolder(BOB, "Old", "Entwürfe")).isInstanceOf(FileAlreadyExistsException.class);
    assertThatThrownBy(() -> store.renameFolder(BOB, "INBOX", "X")).isInstanceOf(IllegalArgumentException.class);
    assertThat(store.folderNames(BOB)).as("a refused rename changes nothing").containsExactly("INBOX", "Entwürfe", "Old", "Old.2024");

    store.deleteFolder(BOB, "Old");
    assertThat(store.folderNames(BOB)).as("what was below it stays").containsExactly("INBOX", "Entwürfe", "Old.2024");
    assertThatThrownBy(() -> store.deleteFolder(BOB, "INBOX")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> store.deleteFolder(BOB, "inbox")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> store.deleteFolder(BOB, "Old")).isInstanceOf(NoSuchFileException.class);
    store.createFolder(BOB, "Old");
    assertThat(store.exists(BOB, "Old")).as("made again").isTrue();
  }

  @Test
  void theInboxIsMadeByCreateInboxOrAFirstDeliveryInAnyCase() throws Exception {
    MailboxStore store = store();
    MailboxId ann = new MailboxId("example.org", "ann");
    assertThat(store.exists(ann, "INBOX")).isFalse();
    store.createInbox(ann);
    assertThat(store.exists(ann, "inbox")).isTrue();
    assertThat(store.folderNames(ann)).containsExactly("INBOX");
    MailboxId cy = new MailboxId("example.org", "cy");
    assertThat(store.deliver(cy, "Inbox", "1A225B91F2A00000_0123456789abcdef", Instant.EPOCH, new byte[0], message("Subject: hi\r\n\r\nx\r\n"),
        false)).isTrue();
    assertThat(store.exists(cy, "INBOX")).isTrue();
    assertThat(store.folderNames(cy)).containsExactly("INBOX");
  }

  @Test
  void aSecondDeliveryWithTheSameIdWritesNothing() throws Exception {
    MailboxStore store = store();
    String id = "1A225B91F2A00001_0123456789abcdef";
    assertThat(store.deliver(BOB, "INBOX", id, Instant.EPOCH, new byte[0], message("Subject: one\r\n\r\nx\r\n"), false)).isTrue();
    assertThat(store.deliver(BOB, "INBOX", id, Instant.EPOCH, new byte[0], message("Subject: one\r\n\r\nx\r\n"), true)).isFalse();
    assertThat(store.deliver(BOB, "INBOX", id, Instant.EPOCH, new byte[0], message("Subject: one\r\n\r\nx\r\n"), false)).isFalse();
    assertThat(store.deliver(BOB, "Junk", "1A225B91F2A00002_0123456789abcdef", Instant.EPOCH, new byte[0], message("Subject: two\r\n\r\nx\r\n"),
        false)).as("into a folder made for it").isTrue();
    assertThat(store.folderNames(BOB)).containsExactly("INBOX", "Junk");
    assertThatThrownBy(() -> store.deliver(BOB, "INBOX", "not/an id", Instant.EPOCH, new byte[0], message("x\r\n"), false))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void subscriptionsAreKeptInTheOrderMade() throws Exception {
    MailboxStore store = store();
    assertThat(store.subscriptions(BOB)).isEmpty();
    store.subscribe(BOB, "Sent", true);
    store.subscribe(BOB, "INBOX", true);
    store.subscribe(BOB, "Sent", true);
    store.subscribe(BOB, "Gone", true); // RFC 9051 §6.3.7: a name need not exist
    assertThat(store.subscriptions(BOB)).containsExactly("Sent", "INBOX", "Gone");
    store.subscribe(BOB, "Sent", false);
    store.subscribe(BOB, "Never", false);
    assertThat(store.subscriptions(BOB)).containsExactly("INBOX", "Gone");
  }

  @Test
  void everyMailboxGetsItsSpecialFoldersOnceAndOnlyThoseMissing() throws Exception {
    MailboxStore store = store();
    MailboxId fay = new MailboxId("example.org", "fay");
    store.createFolder(fay, "Sent");
    assertThat(store.makeSpecialFolders(fay)).containsExactly("Drafts", "Trash", "Junk", "Archive");
    assertThat(store.makeSpecialFolders(fay)).isEmpty();
    assertThat(store.folderNames(fay)).containsExactly("INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash");
    assertThat(MailboxStore.SPECIAL_FOLDERS).extracting(MailboxStore.SpecialFolder::use)
        .containsExactly("\\Drafts", "\\Sent", "\\Trash", "\\Junk", "\\Archive");
  }

  @Test
  void aMailboxHasAtMostMaxFolders() throws Exception {
    MailboxStore store = store();
    MailboxId gil = new MailboxId("example.org", "gil");
    store.createInbox(gil);
    for (int i = 0; i < MailboxStore.MAX_FOLDERS; i++) store.createFolder(gil, "F" + i);
    assertThatThrownBy(() -> store.createFolder(gil, "One.Too.Many")).isInstanceOf(MailboxStore.TooManyFolders.class);
    assertThat(store.folderNames(gil)).hasSize(MailboxStore.MAX_FOLDERS + 1);
    store.deleteFolder(gil, "F0");
    store.createFolder(gil, "Room.Again");
    assertThat(store.exists(gil, "Room.Again")).isTrue();
  }

  // ---- folders: what IMAP and POP3 read and change through Folder ----

  static String read(Folder f, long uid) throws java.io.IOException {
    try (java.nio.channels.FileChannel in = f.openMessage(uid)) {
      return in == null ? null : new String(java.nio.channels.Channels.newInputStream(in).readAllBytes(), UTF_8);
    }
  }

  private static void deliver(MailboxStore store, String id, String header, String text) throws java.io.IOException {
    assertThat(store.deliver(BOB, "INBOX", id, Instant.EPOCH, header.getBytes(UTF_8), message(text), false)).isTrue();
  }

  @Test
  void deliveredMessagesGetUidsInOrderTheirSizeAsServedAndTheirContentWithLfLineEnds() throws Exception {
    MailboxStore store = store();
    deliver(store, "D1_a", "Delivered-To: bob@example.org\r\n", "Subject: one\r\n\r\nhello\r\n");
    deliver(store, "D2_a", "", "Subject: two\n\nworld\n"); // bare LFs: served (and sized) with CRLF
    try (MailboxStore.Lease lease = store.open(BOB, "inbox")) {
      Folder f = lease.folder();
      assertThat(f.uidValidity()).isBetween(Instant.now().getEpochSecond() - 60, Instant.now().getEpochSecond() + 1);
      assertThat(f.uids()).containsExactly(1L, 2L);
      assertThat(f.uidNext()).isEqualTo(3);
      assertThat(f.messages()).extracting(MessageInfo::size).containsExactly((long) ("Delivered-To: bob@example.org\r\n"
          + "Subject: one\r\n\r\nhello\r\n").length(), 23L);
      assertThat(f.messages()).extracting(MessageInfo::flags).containsExactly(0, 0);
      assertThat(f.highestModSeq()).isGreaterThanOrEqualTo(f.get(2).modseq()).isGreaterThan(f.get(1).modseq());
      assertThat(read(f, 1)).isEqualTo("Delivered-To: bob@example.org\nSubject: one\n\nhello\n");
      assertThat(read(f, 2)).isEqualTo("Subject: two\n\nworld\n");
      assertThat(read(f, 3)).isNull();
      assertThat(f.get(3)).isNull();
      assertThat(f.internalDate(3)).isNull();

      var heard = new java.util.concurrent.atomic.AtomicInteger();
      f.listen(heard::incrementAndGet);
      deliver(store, "D3_a", "", "Subject: three\r\n\r\n!\r\n");
      dev.posta.testing.Await.await("the open folder hears of the delivery", () -> heard.get() > 0);
      f.sync();
      assertThat(f.uids()).containsExactly(1L, 2L, 3L);
      assertThat(f.sync()).as("no news").isFalse();
    }
  }

  @Test
  void theTallyCountsMessagesUnseenDeletedAndTheirSizeAsServed() throws Exception {
    MailboxStore store = store();
    deliver(store, "T1_a", "", "Subject: one\r\n\r\nhello\r\n");
    deliver(store, "T2_a", "", "Subject: two\n\nworld\n");
    deliver(store, "T3_a", "", "Subject: three\r\n\r\n!\r\n");
    try (MailboxStore.Lease lease = store.open(BOB, "INBOX")) {
      Folder f = lease.folder();
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
  void expungeDeletedRemovesOnlyMessagesStillFlaggedDeleted() throws Exception {
    MailboxStore store = store();
    deliver(store, "X1_a", "", "a\r\n");
    deliver(store, "X2_a", "", "b\r\n");
    deliver(store, "X3_a", "", "c\r\n");
    try (MailboxStore.Lease lease = store.open(BOB, "INBOX")) {
      Folder f = lease.folder();
      f.setFlags(1, Flags.DELETED);
      f.setFlags(2, Flags.DELETED | Flags.SEEN);
      assertThat(f.expungeDeleted(List.of(1L, 2L, 3L, 9L))).containsExactly(1L, 2L);
      assertThat(f.expungeDeleted(List.of(3L))).as("not flagged").isEmpty();
      assertThat(f.uids()).containsExactly(3L);
    }
  }

  @Test
  void flagChangesAddRemoveOrReplaceWithANewModseqAndUnchangedSinceIsChecked() throws Exception {
    MailboxStore store = store();
    deliver(store, "F1_a", "", "a\r\n");
    deliver(store, "F2_a", "", "b\r\n");
    try (MailboxStore.Lease lease = store.open(BOB, "INBOX")) {
      Folder f = lease.folder();
      long before = f.highestModSeq();
      Folder.FlagUpdate seen = f.updateFlags(1, Folder.FlagChange.ADD, Flags.SEEN, -1);
      assertThat(seen.modified()).isFalse();
      assertThat(seen.message().flags()).isEqualTo(Flags.SEEN);
      assertThat(seen.message().modseq()).isGreaterThan(before);
      assertThat(f.highestModSeq()).isEqualTo(seen.message().modseq());
      Folder.FlagUpdate flagged = f.updateFlags(1, Folder.FlagChange.ADD, Flags.FLAGGED, -1);
      assertThat(flagged.message().flags()).as("added to what was there").isEqualTo(Flags.SEEN | Flags.FLAGGED);
      Folder.FlagUpdate again = f.updateFlags(1, Folder.FlagChange.ADD, Flags.FLAGGED, -1);
      assertThat(again.message().modseq()).as("no change, no new MODSEQ").isEqualTo(flagged.message().modseq());
      assertThat(f.updateFlags(1, Folder.FlagChange.REMOVE, Flags.SEEN, -1).message().flags()).isEqualTo(Flags.FLAGGED);

      long now = f.get(1).modseq();
      Folder.FlagUpdate stale = f.updateFlags(1, Folder.FlagChange.REPLACE, Flags.DELETED, now - 1);
      assertThat(stale.modified()).as("changed after the MODSEQ given: left alone").isTrue();
      assertThat(stale.message().flags()).isEqualTo(Flags.FLAGGED);
      assertThat(f.get(1).flags()).isEqualTo(Flags.FLAGGED);
      Folder.FlagUpdate fresh = f.updateFlags(1, Folder.FlagChange.REPLACE, Flags.DELETED, now);
      assertThat(fresh.modified()).isFalse();
      assertThat(fresh.message().flags()).isEqualTo(Flags.DELETED);
      assertThat(f.updateFlags(9, Folder.FlagChange.ADD, Flags.SEEN, -1)).as("no such message").isNull();
      assertThat(f.setFlags(9, Flags.SEEN)).isNull();

      assertThat(f.changedSince(before)).as("in MODSEQ order").extracting(MessageInfo::uid).containsExactly(1L);
      f.setFlags(2, Flags.ANSWERED);
      assertThat(f.changedSince(before)).extracting(MessageInfo::uid).containsExactly(1L, 2L);
      f.setFlags(1, Flags.SEEN);
      assertThat(f.changedSince(before)).extracting(MessageInfo::uid).containsExactly(2L, 1L);
      assertThat(f.changedSince(f.highestModSeq())).isEmpty();
    }
  }

  @Test
  void expungedUidsNeverComeBackAreToldSinceAModseqAndAppendedMessagesKeepTheirFlagsAndDate() throws Exception {
    MailboxStore store = store();
    deliver(store, "E1_a", "", "a\r\n");
    deliver(store, "E2_a", "", "b\r\n");
    deliver(store, "E3_a", "", "c\r\n");
    Instant date = Instant.parse("2025-02-03T04:05:06Z");
    try (MailboxStore.Lease lease = store.open(BOB, "INBOX")) {
      Folder f = lease.folder();
      long before = f.highestModSeq();
      assertThat(f.expunge(List.of(1L, 2L, 7L))).containsExactly(1L, 2L);
      assertThat(f.expunge(List.of(1L))).isEmpty();
      assertThat(f.expungedSince(before)).containsExactlyInAnyOrder(1L, 2L);
      assertThat(f.expungedSince(f.highestModSeq())).isEmpty();
      assertThat(f.uids()).containsExactly(3L);
      MessageInfo appended = f.append(message("Subject: sent\r\n\r\nbody\r\n"), Flags.SEEN, date);
      assertThat(appended.uid()).isEqualTo(4);
      assertThat(appended.flags()).isEqualTo(Flags.SEEN);
      assertThat(appended.size()).isEqualTo("Subject: sent\r\n\r\nbody\r\n".length());
      assertThat(f.get(4)).isEqualTo(appended);
      assertThat(f.internalDate(4)).isEqualTo(date);
      assertThat(read(f, 4)).isEqualTo("Subject: sent\n\nbody\n");
      Folder.Incoming dropped = f.write(message("Subject: not saved\r\n\r\n"));
      f.discard(dropped);
      assertThat(f.uids()).containsExactly(3L, 4L);
      assertThat(f.uidNext()).isEqualTo(5);
    }
  }

  @Test
  void keywordsTakeAPlaceEachMatchedWithoutCaseAndNoMoreThan26() throws Exception {
    MailboxStore store = store();
    deliver(store, "K1_a", "", "a\r\n");
    try (MailboxStore.Lease lease = store.open(BOB, "INBOX")) {
      Folder f = lease.folder();
      int bits = f.keywordBits(List.of("$Forwarded", "work"));
      assertThat(bits).isEqualTo(Flags.keyword(0) | Flags.keyword(1));
      assertThat(f.keywordBits(List.of("WORK"))).as("matched without regard to case").isEqualTo(Flags.keyword(1));
      f.setFlags(1, Flags.SEEN | bits);
      List<String> more = new java.util.ArrayList<>();
      for (int i = 2; i < Flags.MAX_KEYWORDS; i++) more.add("k" + i);
      f.keywordBits(more);
      assertThat(f.keywords()).hasSize(26).startsWith("$Forwarded", "work", "k2");
      assertThatThrownBy(() -> f.keywordBits(List.of("one-too-many"))).isInstanceOf(IllegalStateException.class)
          .hasMessage("no room for keyword one-too-many: all 26 are taken");
      assertThat(f.keywords()).hasSize(26);
      assertThat(f.keywordsOf(f.get(1).flags())).containsExactly("$Forwarded", "work");
    }
  }

  @Test
  void recentMessagesAreClaimedByOneSessionOnly() throws Exception {
    MailboxStore store = store();
    deliver(store, "R1_a", "", "a\r\n");
    deliver(store, "R2_a", "", "b\r\n");
    try (MailboxStore.Lease lease = store.open(BOB, "INBOX")) {
      Folder f = lease.folder();
      assertThat(f.recentCount()).isEqualTo(2);
      assertThat(f.claimRecent(3)).as("the first session gets both").isEqualTo(1);
      assertThat(f.recentCount()).isZero();
      assertThat(f.claimRecent(3)).as("the next, none").isEqualTo(3);
      deliver(store, "R3_a", "", "c\r\n");
      deliver(store, "R4_a", "", "d\r\n");
      f.sync();
      assertThat(f.recentCount()).isEqualTo(2);
      // A session that lists UID 3 only (4 came after its list) claims 3 and leaves 4 to whoever lists it.
      assertThat(f.claimRecent(4)).isEqualTo(3);
      assertThat(f.recentCount()).isEqualTo(1);
      assertThat(f.claimRecent(0)).as("nothing listed: nothing claimed").isEqualTo(4);
      assertThat(f.claimRecent(5)).isEqualTo(4);
      assertThat(f.recentCount()).isZero();
    }
  }

  @Test
  void aFolderDeletedUnderItsUsersIsGoneAndCanBeMadeAgain() throws Exception {
    MailboxStore store = store();
    MailboxId dan = new MailboxId("example.org", "dan");
    store.createFolder(dan, "Projects");
    try (MailboxStore.Lease lease = store.open(dan, "Projects")) {
      lease.folder().append(message("x\r\n"), 0, Instant.EPOCH);
      store.deleteFolder(dan, "Projects");
      assertThatThrownBy(lease.folder()::sync).isInstanceOf(Folder.Gone.class);
      assertThat(lease.folder().gone()).isTrue();
    }
    store.createFolder(dan, "Projects");
    try (MailboxStore.Lease lease = store.open(dan, "Projects")) {
      assertThat(lease.folder().gone()).isFalse();
      assertThat(lease.folder().uids()).as("made anew, empty").isEmpty();
    }
    try (MailboxStore.Lease lease = store.open(dan, "Projects")) {
      store.renameFolder(dan, "Projects", "Old");
      assertThatThrownBy(lease.folder()::sync).isInstanceOf(Folder.Gone.class);
    }
    try (MailboxStore.Lease lease = store.open(dan, "Old")) {
      assertThat(lease.folder().gone()).isFalse();
    }
  }
}
