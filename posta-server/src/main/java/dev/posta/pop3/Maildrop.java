package dev.posta.pop3;

import dev.posta.store.CrlfContent;
import dev.posta.store.Flags;
import dev.posta.store.Folder;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.store.MessageInfo;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HexFormat;
import java.util.List;

/**
 * One POP3 session's maildrop (RFC 1939 §4 to §6): the user's INBOX as it was at login,
 * numbered 1 to n in UID order and fixed for the session, so that the numbers mean the same
 * messages until QUIT (mail that arrives meanwhile waits for the next session); with the
 * session's deletion marks and the messages it retrieved.
 *
 * <p>Guarantees: nothing changes in the store before {@link #update}, QUIT's UPDATE state, which
 * removes the messages marked deleted ({@link Folder#expunge}: IMAP sessions see them expunged)
 * and marks those retrieved and kept \Seen. A session that ends any other way (a dropped
 * connection, a timeout, a crash) leaves the mailbox as it found it.
 *
 * <p>A message's unique-id (UIDL) is its UID and the folder's UIDVALIDITY, eight hex digits each,
 * as Dovecot's default {@code pop3_uidl_format} ({@code %08Xu%08Xv}) writes them, in lower case
 * (Dovecot's {@code %X} is lower-case hex): the store keeps a message's UID for its life, across
 * sessions and restarts, so a client that keeps mail on the server fetches each message once.
 */
final class Maildrop implements AutoCloseable {
  private static final HexFormat HEX = HexFormat.of();

  private final MailboxStore.Lease lease;
  private final Folder folder;
  /** The second half of every unique-id. */
  private final String uidValidity;
  private final List<MessageInfo> messages;
  /** Octets of all of them, as served: the list is fixed for the session. */
  private final long allOctets;
  private final BitSet deleted = new BitSet();
  private final BitSet retrieved = new BitSet();
  private long deletedOctets;

  private Maildrop(MailboxStore.Lease lease, List<MessageInfo> messages) {
    this.lease = lease;
    this.folder = lease.folder();
    this.uidValidity = HEX.toHexDigits((int) folder.uidValidity()); // 32 bits, as every UID (RFC 9051 §2.3.1.1)
    this.messages = messages;
    long all = 0;
    for (MessageInfo m : messages) all += m.size();
    this.allOctets = all;
  }

  /** Opens a mailbox's INBOX (made when missing) and takes its messages as they are now. */
  static Maildrop open(MailboxStore store, MailboxId mailbox) throws IOException {
    MailboxStore.Lease lease = store.open(mailbox, MailboxStore.INBOX);
    try {
      lease.folder().sync(); // what other Maildir programs did since the store last looked
      return new Maildrop(lease, List.copyOf(lease.folder().messages()));
    } catch (IOException | RuntimeException e) {
      lease.close();
      throw e;
    }
  }

  /** Messages at login: the highest message number. */
  int size() {
    return messages.size();
  }

  /** Messages not marked deleted. */
  int count() {
    return messages.size() - deleted.cardinality();
  }

  /** Octets of the messages not marked deleted, as served (CRLF line ends). */
  long octets() {
    return allOctets - deletedOctets;
  }

  /** "2 messages (320 octets)", or "maildrop empty", of the messages not marked deleted. */
  String summary() {
    int count = count();
    return count == 0 ? "maildrop empty" : count + (count == 1 ? " message (" : " messages (") + octets() + " octets)";
  }

  /** "2 messages left", or "maildrop empty", after QUIT (RFC 1939 §6's wording). */
  String left() {
    int count = count();
    return count == 0 ? "maildrop empty" : count + (count == 1 ? " message left" : " messages left");
  }

  boolean exists(int number) {
    return number >= 1 && number <= messages.size();
  }

  boolean isDeleted(int number) {
    return deleted.get(number - 1);
  }

  /** Octets of message {@code number}, as served. */
  long octets(int number) {
    return messages.get(number - 1).size();
  }

  /** Message {@code number}'s unique-id (RFC 1939 §7). */
  String uniqueId(int number) {
    return HEX.toHexDigits((int) messages.get(number - 1).uid()) + uidValidity;
  }

  /**
   * Message {@code number}'s content with CRLF line ends, to stream, its file read into {@code
   * block} ({@link CrlfContent#stream(Folder, long, byte[])}); {@link
   * java.nio.file.NoSuchFileException} when another session expunged it meanwhile.
   */
  InputStream content(int number, byte[] block) throws IOException {
    return CrlfContent.stream(folder, messages.get(number - 1).uid(), block);
  }

  /** Message {@code number} went out whole (RETR): it is to be \Seen at QUIT. */
  void retrieved(int number) {
    retrieved.set(number - 1);
  }

  int retrievedCount() {
    return retrieved.cardinality();
  }

  /** DELE: marks message {@code number}, to be removed at QUIT. */
  void delete(int number) {
    deleted.set(number - 1);
    deletedOctets += octets(number);
  }

  int deletedCount() {
    return deleted.cardinality();
  }

  /** RSET: takes back every deletion mark. */
  void reset() {
    deleted.clear();
    deletedOctets = 0;
  }

  /**
   * QUIT's UPDATE state (RFC 1939 §6): removes the messages marked deleted (those another
   * session removed already are gone too), then marks the ones retrieved and kept \Seen.
   *
   * @throws IOException when a message marked deleted could not be removed; the \Seen marks
   *     are not set then
   */
  void update() throws IOException {
    List<Long> doomed = new ArrayList<>();
    deleted.stream().forEach(i -> doomed.add(messages.get(i).uid()));
    if (!doomed.isEmpty()) folder.expunge(doomed);
    for (int i = retrieved.nextSetBit(0); i >= 0; i = retrieved.nextSetBit(i + 1)) {
      if (!deleted.get(i)) folder.updateFlags(messages.get(i).uid(), Folder.FlagChange.ADD, Flags.SEEN, -1);
    }
  }

  @Override
  public void close() {
    lease.close();
  }
}
