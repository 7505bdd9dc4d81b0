package dev.posta.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.storage.FileModes;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where mailboxes live, and how an open folder hears of Posta's own deliveries. */
class MaildirStoreTest {
  private final MaildirStore store = new MaildirStore(Path.of("/data/mail"), "mx.example.org");

  @TempDir Path dir;

  @Test
  void maildirPathsCannotEscapeTheMailFolder() {
    assertThat(store.maildir(new MailboxId("example.org", "alice")).root()).isEqualTo(Path.of("/data/mail/example.org/alice/Maildir"));
    assertThat(store.maildir(new MailboxId("localhost", "../../etc")).root()).isEqualTo(Path.of("/data/mail/localhost/%2E.%2F..%2Fetc/Maildir"));
    assertThat(store.maildir(new MailboxId("localhost", "a/b")).root()).isEqualTo(Path.of("/data/mail/localhost/a%2Fb/Maildir"));
    assertThat(store.maildir(new MailboxId("localhost", "用户")).root()).isEqualTo(Path.of("/data/mail/localhost/%E7%94%A8%E6%88%B7/Maildir"));
  }

  @Test
  void aSharedModeLetsTheGroupReadTheMailAndSearchItsFolders() throws Exception {
    // The test's umask (022 or 002) keeps the group's read bit that 0640 asks for.
    try (MaildirStore shared = new MaildirStore(dir, "h", Clock.systemUTC(), FileModes.of(0640))) {
      MailboxId alice = new MailboxId("example.org", "alice");
      shared.deliver(alice, "INBOX", "1A225B91F2A00000_0123456789abcdef", Instant.EPOCH, new byte[0],
          out -> out.write(ByteBuffer.wrap("Subject: hi\r\n\r\nx\r\n".getBytes(UTF_8))), false);
      shared.createFolder(alice, "Archive");
      Path maildir = dir.resolve("example.org/alice/Maildir");
      for (Path folder : List.of(dir.resolve("example.org"), dir.resolve("example.org/alice"), maildir, maildir.resolve("new"),
          maildir.resolve(".Archive/cur"))) {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(folder))).as("%s", folder)
            .isEqualTo("rwxr-x---");
      }
      try (var files = Files.list(maildir.resolve("new"))) {
        assertThat(files.map(f -> {
          try {
            return PosixFilePermissions.toString(Files.getPosixFilePermissions(f));
          } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
          }
        }).toList()).containsExactly("rw-r-----");
      }
    }
    // By default, private.
    try (MaildirStore own = new MaildirStore(dir.resolve("own"), "h")) {
      own.deliver(new MailboxId("example.org", "bob"), "INBOX", "1A225B91F2A00001_0123456789abcdef", Instant.EPOCH, new byte[0],
          out -> out.write(ByteBuffer.wrap("Subject: hi\r\n\r\nx\r\n".getBytes(UTF_8))), false);
      assertThat(PosixFilePermissions.toString(
          Files.getPosixFilePermissions(dir.resolve("own/example.org/bob/Maildir/new")))).isEqualTo("rwx------");
    }
  }

  @Test
  void anOpenInboxHearsOfADeliveryAtOnceAndSubfoldersAreMaildirPlusPlus() throws Exception {
    try (MaildirStore local = new MaildirStore(dir, "h")) {
      MailboxId alice = new MailboxId("example.org", "alice");
      MaildirFolder inbox = local.open(alice, "INBOX").folder();
      assertThat(local.open(alice, "inbox").folder()).as("one instance per folder, any case of INBOX").isSameAs(inbox);
      AtomicInteger heard = new AtomicInteger();
      inbox.listen(heard::incrementAndGet);
      assertThat(local.deliver(alice, "INBOX", "1A225B91F2A00000_0123456789abcdef", Instant.EPOCH, new byte[0],
          out -> out.write(ByteBuffer.wrap("Subject: hi\r\n\r\nx\r\n".getBytes(UTF_8))), false)).isTrue();
      assertThat(heard.get()).as("told during the delivery, before any sync").isEqualTo(1);
      assertThat(inbox.messages()).singleElement().satisfies(m -> {
        assertThat(m.uid()).isEqualTo(1);
        assertThat(m.size()).isEqualTo("Subject: hi\r\n\r\nx\r\n".length());
      });
      assertThat(inbox.sync()).as("the delivery is no news to a sync").isFalse();

      MaildirFolder sent = local.open(alice, "Sent").folder();
      assertThat(Files.isDirectory(dir.resolve("example.org/alice/Maildir/.Sent/cur"))).isTrue();
      assertThat(sent.messages()).isEmpty();
      assertThatThrownBy(() -> local.open(alice, "../x").folder()).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void foldersAreMaildirPlusPlusInModifiedUtf7AndRenameTakesThoseBelow() throws Exception {
    try (MaildirStore local = new MaildirStore(dir, "h")) {
      MailboxId bob = new MailboxId("example.org", "bob");
      Path maildir = dir.resolve("example.org/bob/Maildir");
      assertThat(local.folderNames(bob)).containsExactly("INBOX");
      local.createFolder(bob, "Entwürfe");
      local.createFolder(bob, "Archive");
      local.createFolder(bob, "Archive.2024");
      assertThat(Files.isDirectory(maildir.resolve(".Entw&APw-rfe/cur"))).as("Dovecot's name for it").isTrue();
      assertThat(local.folderNames(bob)).containsExactly("INBOX", "Archive", "Archive.2024", "Entwürfe");
      assertThatThrownBy(() -> local.createFolder(bob, "Archive")).isInstanceOf(java.nio.file.FileAlreadyExistsException.class);
      assertThatThrownBy(() -> local.createFolder(bob, "inbox")).isInstanceOf(java.nio.file.FileAlreadyExistsException.class);
      for (String bad : new String[] {"", ".x", "x.", "a..b", "a/b", "tab\there"}) {
        assertThatThrownBy(() -> local.createFolder(bob, bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
      }

      MaildirFolder archive = local.open(bob, "Archive").folder();
      archive.append(out -> out.write(ByteBuffer.wrap("Subject: old\r\n\r\nx\r\n".getBytes(UTF_8))), Flags.SEEN, Instant.EPOCH);
      local.renameFolder(bob, "Archive", "Old");
      assertThat(local.folderNames(bob)).containsExactly("INBOX", "Entwürfe", "Old", "Old.2024");
      assertThat(local.open(bob, "Old").folder().messages()).singleElement().satisfies(m -> assertThat(m.flags()).isEqualTo(Flags.SEEN));
      assertThatThrownBy(() -> local.renameFolder(bob, "Archive", "X")).isInstanceOf(java.nio.file.NoSuchFileException.class);
      assertThatThrownBy(() -> local.renameFolder(bob, "Old", "Entwürfe")).isInstanceOf(java.nio.file.FileAlreadyExistsException.class);

      local.deleteFolder(bob, "Old");
      assertThat(local.folderNames(bob)).as("what was below it stays").containsExactly("INBOX", "Entwürfe", "Old.2024");
      try (var left = Files.list(maildir)) {
        assertThat(left.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("..")).toList()).as("nothing half-deleted left").isEmpty();
      }
      assertThatThrownBy(() -> local.deleteFolder(bob, "INBOX")).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> local.deleteFolder(bob, "Old")).isInstanceOf(java.nio.file.NoSuchFileException.class);
    }
  }

  @Test
  void sessionsOpeningOneFolderAtOnceShareOneInstance() throws Exception {
    try (MaildirStore local = new MaildirStore(dir, "h")) {
      MailboxId bob = new MailboxId("example.org", "bob");
      var opened = java.util.concurrent.ConcurrentHashMap.<MaildirFolder>newKeySet();
      var start = new java.util.concurrent.CountDownLatch(1);
      List<Thread> threads = new java.util.ArrayList<>();
      var failures = new java.util.concurrent.CopyOnWriteArrayList<Throwable>();
      for (int i = 0; i < 8; i++) {
        threads.add(Thread.ofVirtual().start(() -> {
          try {
            start.await();
            opened.add(local.open(bob, "INBOX").folder());
          } catch (Throwable t) {
            failures.add(t);
          }
        }));
      }
      start.countDown();
      for (Thread t : threads) t.join();
      assertThat(failures).isEmpty();
      assertThat(opened).hasSize(1);
    }
  }

  @Test
  void foldersNobodyUsesAreClosedBeyondTheIdleLimitWhileOnesInUseStayOpen() throws Exception {
    try (MaildirStore local = new MaildirStore(dir, "h")) {
      MailboxId carol = new MailboxId("example.org", "carol");
      MaildirStore.Lease held = local.open(carol, "Held");
      List<MaildirFolder> released = new java.util.ArrayList<>();
      for (int i = 0; i < MaildirStore.MAX_IDLE + 10; i++) {
        try (var lease = local.open(carol, "F" + i)) {
          released.add(lease.folder());
        }
      }
      assertThat(released.subList(0, 10)).as("the least recently used, closed").allMatch(MaildirFolder::gone);
      assertThat(released.subList(10, released.size())).as("the last MAX_IDLE, kept open for their next use").noneMatch(MaildirFolder::gone);
      assertThat(held.folder().gone()).as("in use").isFalse();
      try (MaildirStore.Lease again = local.open(carol, "F" + (MaildirStore.MAX_IDLE + 9))) {
        assertThat(again.folder()).isSameAs(released.getLast());
      }
      try (MaildirStore.Lease reopened = local.open(carol, "F0")) {
        assertThat(reopened.folder()).as("opened anew").isNotSameAs(released.getFirst());
        assertThat(reopened.folder().gone()).isFalse();
      }
      held.close();
    }
  }

  @Test
  void aFolderDeletedUnderItsUsersIsGoneAndCanBeMadeAgain() throws Exception {
    try (MaildirStore local = new MaildirStore(dir, "h")) {
      MailboxId dan = new MailboxId("example.org", "dan");
      local.createFolder(dan, "Projects");
      try (MaildirStore.Lease lease = local.open(dan, "Projects")) {
        local.deleteFolder(dan, "Projects");
        assertThat(lease.folder().gone()).isTrue();
        assertThatThrownBy(lease.folder()::sync).isInstanceOf(MaildirFolder.Gone.class);
      }
      local.createFolder(dan, "Projects");
      assertThat(local.exists(dan, "Projects")).as("made again, not taken for made already").isTrue();
      local.renameFolder(dan, "Projects", "Old");
      local.createFolder(dan, "Projects");
      assertThat(local.folderNames(dan)).containsExactly("INBOX", "Old", "Projects");
    }
  }

  @Test
  void noTwoFoldersOfAMailboxEverShareAUidValidityEvenMadeInOneSecond() throws Exception {
    var clock = java.time.Clock.fixed(Instant.parse("2026-12-06T12:00:00Z"), java.time.ZoneOffset.UTC);
    try (MaildirStore local = new MaildirStore(dir, "h", clock)) {
      MailboxId eve = new MailboxId("example.org", "eve");
      local.createFolder(eve, "P");
      local.createFolder(eve, "Q");
      long p = local.open(eve, "P").folder().uidValidity();
      long q = local.open(eve, "Q").folder().uidValidity();
      local.deleteFolder(eve, "P");
      local.renameFolder(eve, "Q", "P");
      local.createFolder(eve, "Q");
      long newQ = local.open(eve, "Q").folder().uidValidity();
      assertThat(List.of(p, q, newQ)).doesNotHaveDuplicates();
      assertThat(p).isEqualTo(clock.millis() / 1000);
    }
  }
}
