package dev.posta.store;

import dev.posta.client.MessageWriter;
import java.io.IOException;
import java.time.Instant;
import java.util.List;

/**
 * Where local mail is kept: one mailbox per local user, made on its first delivery, with its
 * folders. Local delivery writes through this, IMAP (and POP3) read and change mail through it
 * and its {@link Folder}s, so the rest of Posta never knows how or where mail is stored: {@link
 * MaildirStore} keeps it in Maildirs; a PostgreSQL store will implement the same.
 *
 * <p>Folder names are Unicode, levels separated by '.'; {@link #INBOX} in any case is the inbox.
 */
public interface MailboxStore {
  /** What the log calls where a delivery was written: {@code maildir}, {@code database}. */
  String kind();

  /** The inbox's name (RFC 9051 §5.1: case-insensitive, always there). */
  String INBOX = "INBOX";

  /** The most folders a mailbox may have: each costs an index when used, and LIST walks them all. */
  int MAX_FOLDERS = 1000;

  /** A folder every mailbox gets, and its special use (RFC 6154), e.g. Sent and {@code \\Sent}. */
  record SpecialFolder(String name, String use) {}

  /** The special folders, in the order clients show them. */
  List<SpecialFolder> SPECIAL_FOLDERS = List.of(new SpecialFolder("Drafts", "\\Drafts"), new SpecialFolder("Sent", "\\Sent"),
      new SpecialFolder("Trash", "\\Trash"), new SpecialFolder("Junk", "\\Junk"), new SpecialFolder("Archive", "\\Archive"));

  /** A folder in use; closing it lets the store close the folder once nobody uses it. */
  interface Lease extends AutoCloseable {
    Folder folder();

    @Override
    void close();
  }

  /**
   * A folder of a mailbox, shared with every other user of it: {@link #INBOX} or another by
   * name, made when missing.
   *
   * @throws IllegalArgumentException for a name that cannot be a folder
   */
  Lease open(MailboxId mailbox, String name) throws IOException;

  /** Whether a folder exists. */
  boolean exists(MailboxId mailbox, String name);

  /** The folders of a mailbox: {@link #INBOX}, then the others in name order. */
  List<String> folderNames(MailboxId mailbox) throws IOException;

  /** Makes the inbox when missing (a user with no mail yet still has one). */
  void createInbox(MailboxId mailbox) throws IOException;

  /**
   * Makes a folder.
   *
   * @throws java.nio.file.FileAlreadyExistsException when it exists
   * @throws TooManyFolders when the mailbox has {@link #MAX_FOLDERS}
   * @throws IllegalArgumentException for a name that cannot be a folder
   */
  void createFolder(MailboxId mailbox, String name) throws IOException;

  /**
   * Deletes a folder and its messages; folders below it stay (RFC 9051 §6.3.5 allows either).
   *
   * @throws java.nio.file.NoSuchFileException when it does not exist
   * @throws IllegalArgumentException for the inbox
   */
  void deleteFolder(MailboxId mailbox, String name) throws IOException;

  /**
   * Renames a folder and the folders below it (RFC 9051 §6.3.6); not the inbox.
   *
   * @throws java.nio.file.NoSuchFileException when {@code from} does not exist
   * @throws java.nio.file.FileAlreadyExistsException when {@code to} does
   */
  void renameFolder(MailboxId mailbox, String from, String to) throws IOException;

  /** The folders the user subscribed to (RFC 9051 §6.3.7). */
  List<String> subscriptions(MailboxId mailbox) throws IOException;

  void subscribe(MailboxId mailbox, String name, boolean subscribed) throws IOException;

  /** Makes the {@link #SPECIAL_FOLDERS} a mailbox lacks; returns those made now. */
  List<String> makeSpecialFolders(MailboxId mailbox) throws IOException;

  /** A maildrop's POP3 lock, held until closed. */
  interface MaildropLock extends AutoCloseable {
    @Override
    void close();
  }

  /**
   * Takes the exclusive lock on a maildrop that a POP3 session holds from login to its end (RFC
   * 1939 §4) beyond this node, on top of the node's own: a store shared by several nodes makes
   * sure no session on another node has it. A store on one node has nothing to add (the default).
   *
   * @return the lock, or null when a session on another node holds it
   */
  default MaildropLock lockMaildrop(MailboxId mailbox) throws IOException {
    return () -> {};
  }

  /** A mailbox has {@link #MAX_FOLDERS} folders already. */
  final class TooManyFolders extends IOException {
    public TooManyFolders() {
      super("a mailbox has at most " + MAX_FOLDERS + " folders");
    }
  }

  /**
   * Delivers one message into a folder of {@code mailbox} (its inbox, or a folder such as Junk,
   * made when missing), durably and once: when this returns
   * the message is on stable storage, and a second delivery with the same {@code deliveryId}
   * finds the first copy and writes nothing.
   *
   * @param folder "INBOX" or the name of another folder
   * @param deliveryId unique on this host for this message and this mailbox, and the same at
   *     every attempt; letters, digits, '_' and '-' only
   * @param arrival when the message arrived here
   * @param header header fields to put before the content (Return-Path:, Delivered-To:), CRLF-ended
   * @param mayBeDelivered an earlier attempt may have delivered it (it was tried before, or was
   *     recovered after a restart): look for it thoroughly, not only where a first copy would be
   * @return true when it was delivered now, false when an earlier attempt had delivered it
   */
  boolean deliver(MailboxId mailbox, String folder, String deliveryId, Instant arrival, byte[] header, MessageWriter content,
      boolean mayBeDelivered) throws IOException;
}
