package dev.posta.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
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
  void anOpenInboxHearsOfADeliveryAtOnceAndSubfoldersAreMaildirPlusPlus() throws Exception {
    try (MaildirStore local = new MaildirStore(dir, "h")) {
      MailboxId alice = new MailboxId("example.org", "alice");
      MaildirFolder inbox = local.folder(alice, "INBOX");
      assertThat(local.folder(alice, "inbox")).as("one instance per folder, any case of INBOX").isSameAs(inbox);
      AtomicInteger heard = new AtomicInteger();
      inbox.listen(heard::incrementAndGet);
      assertThat(local.deliver(alice, "1A225B91F2A00000_0123456789abcdef", Instant.EPOCH, new byte[0],
          out -> out.write(ByteBuffer.wrap("Subject: hi\r\n\r\nx\r\n".getBytes(UTF_8))), false)).isTrue();
      assertThat(heard.get()).as("told during the delivery, before any sync").isEqualTo(1);
      assertThat(inbox.messages()).singleElement().satisfies(m -> {
        assertThat(m.uid()).isEqualTo(1);
        assertThat(m.size()).isEqualTo("Subject: hi\r\n\r\nx\r\n".length());
      });
      assertThat(inbox.sync()).as("the delivery is no news to a sync").isFalse();

      MaildirFolder sent = local.folder(alice, "Sent");
      assertThat(Files.isDirectory(dir.resolve("example.org/alice/Maildir/.Sent/cur"))).isTrue();
      assertThat(sent.messages()).isEmpty();
      assertThatThrownBy(() -> local.folder(alice, "../x")).isInstanceOf(IllegalArgumentException.class);
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

      MaildirFolder archive = local.folder(bob, "Archive");
      archive.append(out -> out.write(ByteBuffer.wrap("Subject: old\r\n\r\nx\r\n".getBytes(UTF_8))), Flags.SEEN, Instant.EPOCH);
      local.renameFolder(bob, "Archive", "Old");
      assertThat(local.folderNames(bob)).containsExactly("INBOX", "Entwürfe", "Old", "Old.2024");
      assertThat(local.folder(bob, "Old").messages()).singleElement().satisfies(m -> assertThat(m.flags()).isEqualTo(Flags.SEEN));
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
            opened.add(local.folder(bob, "INBOX"));
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
  void everyMailboxGetsItsSpecialFoldersOnceAndOnlyThoseMissing() throws Exception {
    try (MaildirStore local = new MaildirStore(dir, "h")) {
      MailboxId fay = new MailboxId("example.org", "fay");
      local.createFolder(fay, "Sent");
      assertThat(local.makeSpecialFolders(fay)).containsExactly("Drafts", "Trash", "Junk", "Archive");
      assertThat(local.makeSpecialFolders(fay)).isEmpty();
      assertThat(local.folderNames(fay)).containsExactly("INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash");
      assertThat(MaildirStore.SPECIAL_FOLDERS).extracting(MaildirStore.SpecialFolder::use)
          .containsExactly("\\Drafts", "\\Sent", "\\Trash", "\\Junk", "\\Archive");
    }
  }
}
