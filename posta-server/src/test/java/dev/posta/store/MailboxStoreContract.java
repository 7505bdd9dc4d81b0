package dev.posta.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.time.Instant;
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
}
