package dev.posta.imap;

import java.time.ZonedDateTime;
import java.util.List;
import java.util.Map;

/**
 * One parsed IMAP command (RFC 9051 §6 and the extensions Posta offers), with its tag.
 * Produced by {@link ImapParser}; the session decides whether it is allowed in its state.
 * Mailbox names are as the client sent them (still modified UTF-7 for a rev1 client); strings
 * are UTF-8.
 */
public sealed interface ImapCommand {
  String tag();

  record Capability(String tag) implements ImapCommand {}

  record Noop(String tag) implements ImapCommand {}

  record Logout(String tag) implements ImapCommand {}

  record StartTls(String tag) implements ImapCommand {}

  /**
   * RFC 9051 §6.2.2 with SASL-IR (RFC 4959): the mechanism upper-cased; the initial response
   * still base64 ("=" for an empty one), null when none was sent.
   */
  record Authenticate(String tag, String mechanism, String initialResponse) implements ImapCommand {}

  record Login(String tag, String user, String password) implements ImapCommand {}

  /** RFC 5161: the capability names upper-cased. */
  record Enable(String tag, List<String> capabilities) implements ImapCommand {}

  /**
   * SELECT or EXAMINE ({@code readOnly}), with CONDSTORE or QRESYNC (RFC 7162 §3.1.8, §3.2.5).
   *
   * @param qresync null without QRESYNC
   */
  record Select(String tag, String mailbox, boolean readOnly, boolean condstore, Qresync qresync) implements ImapCommand {}

  /**
   * QRESYNC's parameters: what the client knew.
   *
   * @param knownUids null when not given
   */
  record Qresync(long uidValidity, long modseq, SequenceSet knownUids) {}

  /** RFC 9051 §6.3.4 with CREATE-SPECIAL-USE (RFC 6154 §3): the special uses asked for. */
  record Create(String tag, String mailbox, List<String> specialUse) implements ImapCommand {}

  record Delete(String tag, String mailbox) implements ImapCommand {}

  record Rename(String tag, String from, String to) implements ImapCommand {}

  record Subscribe(String tag, String mailbox) implements ImapCommand {}

  record Unsubscribe(String tag, String mailbox) implements ImapCommand {}

  /**
   * LIST (RFC 9051 §6.3.9, LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819) or rev1's LSUB: the
   * selection and return options upper-cased; {@code status} the STATUS items of RETURN
   * (STATUS (...)), empty when not asked.
   */
  record ListMailboxes(String tag, boolean lsub, List<String> selection, String reference, List<String> patterns,
      List<String> returnOptions, List<String> status) implements ImapCommand {}

  record Namespace(String tag) implements ImapCommand {}

  /** The items upper-cased: MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN, DELETED, SIZE, RECENT, HIGHESTMODSEQ. */
  record Status(String tag, String mailbox, List<String> items) implements ImapCommand {}

  /**
   * APPEND (RFC 9051 §6.3.12) of one message.
   *
   * @param internalDate null when not given
   */
  record Append(String tag, String mailbox, List<String> flags, ZonedDateTime internalDate, byte[] message) implements ImapCommand {}

  record Idle(String tag) implements ImapCommand {}

  record Check(String tag) implements ImapCommand {}

  record Close(String tag) implements ImapCommand {}

  record Unselect(String tag) implements ImapCommand {}

  /** EXPUNGE, or UID EXPUNGE of {@code uids} (RFC 4315 §2.1); {@code uids} null for the plain one. */
  record Expunge(String tag, SequenceSet uids) implements ImapCommand {}

  /**
   * SEARCH (RFC 9051 §6.4.4), ESEARCH's RETURN options upper-cased (RFC 4731), SEARCHRES's SAVE.
   *
   * @param returnOptions null when the command had no RETURN (a rev1 SEARCH response is wanted)
   * @param charset null when not given
   */
  record Search(String tag, boolean uid, List<String> returnOptions, String charset, SearchKey key) implements ImapCommand {}

  /**
   * FETCH (RFC 9051 §6.4.5) with CONDSTORE's CHANGEDSINCE and QRESYNC's VANISHED.
   *
   * @param changedSince 0 when not given
   */
  record Fetch(String tag, boolean uid, SequenceSet set, List<FetchItem> items, long changedSince, boolean vanished)
      implements ImapCommand {}

  /** How STORE changes the flags. */
  enum StoreMode { REPLACE, ADD, REMOVE }

  /**
   * STORE (RFC 9051 §6.4.6) with CONDSTORE's UNCHANGEDSINCE.
   *
   * @param unchangedSince -1 when not given
   */
  record Store(String tag, boolean uid, SequenceSet set, long unchangedSince, StoreMode mode, boolean silent, List<String> flags)
      implements ImapCommand {}

  record Copy(String tag, boolean uid, SequenceSet set, String mailbox) implements ImapCommand {}

  /** RFC 6851. */
  record Move(String tag, boolean uid, SequenceSet set, String mailbox) implements ImapCommand {}

  /** RFC 2971: the client's fields; null values are NIL, and an empty map is ID NIL. */
  record Id(String tag, Map<String, String> fields) implements ImapCommand {}

  /** RFC 4978: the mechanism upper-cased. */
  record Compress(String tag, String mechanism) implements ImapCommand {}

  /** A command Posta does not know. */
  record Unknown(String tag, String name) implements ImapCommand {}

  /** A known command with bad arguments, or a line that is no command; answered BAD with {@code reason}. */
  record Invalid(String tag, String reason) implements ImapCommand {}
}
