package dev.posta.store;

import dev.posta.client.MessageWriter;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Collection;
import java.util.List;

/**
 * One folder of a mailbox as IMAP and POP3 read and change it (RFC 9051 §2.3): messages with a
 * UID each, in UID order, their flags and keywords, a MODSEQ per change (RFC 7162); shared by
 * every session that has it open, safe to use from any thread. Held through a {@link
 * MailboxStore.Lease}. {@link MaildirFolder} keeps one in a Maildir; a clustered store keeps it
 * elsewhere, and the protocols do not know which.
 */
public interface Folder {
  long uidValidity();

  long uidNext();

  long highestModSeq();

  /** The messages now, in UID order (after a {@link #sync}, if the caller wants the latest). */
  List<MessageInfo> messages();

  /**
   * The folder's counts now (after a {@link #sync}, if the caller wants the latest), in one pass
   * and without a list of its messages: what IMAP's STATUS, the pages' sidebar and the event
   * streams ask for at every change, of folders that may hold 100,000 messages.
   */
  Tally tally();

  /** How many messages a folder holds, how many are unseen and marked deleted, and their size in octets (RFC 9051 §6.3.11). */
  record Tally(int messages, int unseen, int deleted, long size) {}

  /** The UIDs now, ascending. */
  long[] uids();

  /** One message now, or null when it is not (or no longer) here. */
  MessageInfo get(long uid);

  /**
   * When a message arrived (INTERNALDATE, RFC 9051 §2.3.3), or null when it is not (or no longer)
   * here. In Maildir, its file's modification time (as Dovecot has it), read when first asked for.
   */
  Instant internalDate(long uid) throws IOException;

  /** The messages added or changed after {@code modseq}, in MODSEQ order. */
  List<MessageInfo> changedSince(long modseq);

  /** The UIDs expunged after {@code modseq}, or null when that is no longer known: compare {@link #uids} then. */
  List<Long> expungedSince(long modseq);

  /**
   * Claims the \Recent messages for one session (RFC 3501 §2.3.2): those with UIDs from the
   * returned one up to {@code upTo} (exclusive: the UID after the last one the session lists, so
   * that a message the view learned of meanwhile is left to the session that lists it); no other
   * session gets them.
   */
  long claimRecent(long upTo);

  /** How many messages no session has claimed as \Recent yet. */
  int recentCount();

  /**
   * Catches up with changes made behind the store's back (another program on the same files);
   * tells the listeners when something changed.
   *
   * @return whether anything changed
   * @throws Gone when the folder was deleted or renamed while held
   */
  boolean sync() throws IOException;

  /** The keywords in use, in the order they were first used. */
  List<String> keywords();

  /** The keyword names that a message's {@link MessageInfo#flags} carry. */
  List<String> keywordsOf(int flags);

  /**
   * The flag bits for these keywords, giving each new one a place.
   *
   * @throws IllegalStateException when no place is left for a new one; then none is given
   */
  int keywordBits(Collection<String> names) throws IOException;

  /** Sets a message's flags; a new MODSEQ when they change. Null when the message is gone. */
  MessageInfo setFlags(long uid, int flags) throws IOException;

  /** How {@link #updateFlags} changes a message's flags (IMAP STORE's FLAGS, +FLAGS, -FLAGS). */
  enum FlagChange { REPLACE, ADD, REMOVE }

  /**
   * What {@link #updateFlags} did: {@code message} as it is now; {@code modified} when it was
   * left alone because its MODSEQ had passed the one given.
   */
  record FlagUpdate(MessageInfo message, boolean modified) {}

  /**
   * Changes a message's flags in one step, so that two sessions changing different flags of one
   * message both get their way, and a conditional change (RFC 7162 §3.1.3 UNCHANGEDSINCE) is
   * checked and made as one.
   *
   * @param unchangedSince change only if the message's MODSEQ is not above it; -1 for always
   * @return null when the message is gone
   */
  FlagUpdate updateFlags(long uid, FlagChange change, int bits, long unchangedSince) throws IOException;

  /** Opens a message's content for reading (with LF line ends), or null when the message is gone. */
  FileChannel openMessage(long uid) throws IOException;

  /** What a protocol kept of a message with {@link #cache}, or null. */
  byte[] cached(long uid);

  /** Keeps what a protocol learned from a message's content, which never changes, for its life. */
  void cache(long uid, byte[] blob);

  /** Removes messages for good: their UIDs never come back. Returns the UIDs removed now. */
  List<Long> expunge(Collection<Long> uids) throws IOException;

  /**
   * EXPUNGE and CLOSE: removes those of {@code uids} that are flagged \Deleted as they are
   * removed, checked where they are removed, so that a message another session (on this node or
   * another) undeleted meanwhile stays whatever this session's view still shows. Returns the UIDs
   * removed now.
   */
  List<Long> expungeDeleted(Collection<Long> uids) throws IOException;

  /** A message written and durable, not yet in the folder: {@link #save} or {@link #discard} it. */
  interface Incoming {}

  /** Writes a message durably, not yet in the folder, so that its end can be checked before it becomes mail. */
  Incoming write(MessageWriter content) throws IOException;

  /** The written message joins the folder, with a new UID, its flags and internal date. */
  MessageInfo save(Incoming written, int flags, Instant internalDate) throws IOException;

  /** Drops a written message that is not to be saved. */
  void discard(Incoming written) throws IOException;

  /** {@link #write} and {@link #save} in one (IMAP APPEND of a message at hand, COPY). */
  default MessageInfo append(MessageWriter content, int flags, Instant internalDate) throws IOException {
    return save(write(content), flags, internalDate);
  }

  /** Marks the messages that arrived as seen by a client (no flag changes): Maildir's move to cur/. */
  void takeNew() throws IOException;

  /** Hears of every change, on the thread that made or found it; keep it short. */
  void listen(Runnable listener);

  void unlisten(Runnable listener);

  /** Whether the folder was deleted or renamed (or the store closed) while held. */
  boolean gone();

  /** The folder was deleted or renamed (or the store closed) while someone still held it. */
  final class Gone extends IOException {
    public Gone(Path where) {
      this(where.toString());
    }

    /** For a folder that is no file: named as its store names it. */
    public Gone(String where) {
      super(where + ": the folder was deleted or renamed");
    }
  }
}
