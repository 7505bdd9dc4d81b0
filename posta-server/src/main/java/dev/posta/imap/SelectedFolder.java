package dev.posta.imap;

import dev.posta.store.Flags;
import dev.posta.store.Folder;
import dev.posta.store.MailboxStore;
import dev.posta.store.MessageInfo;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One session's view of its selected folder (RFC 9051 §6.3.2): the messages by sequence
 * number as the client was last told of them, and the commands of the selected state that
 * work on them: FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE.
 *
 * <p>The folder changes under the session (other sessions, deliveries, other Maildir
 * programs); {@link #update} tells the client, between commands, what it has not heard of yet:
 * new messages (EXISTS), flag changes (FETCH FLAGS) and removals (EXPUNGE, or VANISHED under
 * QRESYNC, RFC 7162 §3.2.10). Removals wait while a command that numbers messages by sequence
 * number is answered (RFC 9051 §7.5.1), so the numbers a client holds stay true. What changed
 * is found by MODSEQ, so an update costs the changes, not the folder.
 */
final class SelectedFolder {
  /** Where untagged responses go. */
  interface Output {
    void send(byte[] octets) throws IOException;
  }

  private static final ZoneId ZONE = ZoneId.systemDefault();

  private final MailboxStore.Lease lease;
  private final Folder folder;
  private final String name;
  private final boolean readOnly;
  private final ImapSession.Options options;
  private final Output out;
  /** The UIDs by sequence number, as the client knows them. */
  private MessageNumbers numbers;
  /** \Recent messages (RFC 3501 §2.3.2) of this session. */
  private final Set<Long> recent = new HashSet<>();
  /** Flag changes and new messages up to this MODSEQ have been told. */
  private long changesTold;
  /** Expunges up to this MODSEQ have been told. */
  private long expungesTold;
  /** What this session's own STORE and FETCH told already: UID to the MODSEQ it sent. */
  private final Map<Long, Long> told = new HashMap<>();
  /** SEARCHRES's saved result (RFC 5182): UIDs. */
  private long[] saved = new long[0];
  /** The folder's keywords as the client was last told them in FLAGS; a new one is told at once. */
  private List<String> keywordsTold = List.of();

  private SelectedFolder(MailboxStore.Lease lease, String name, boolean readOnly, ImapSession.Options options, Output out) {
    this.lease = lease;
    this.folder = lease.folder();
    this.name = name;
    this.readOnly = readOnly;
    this.options = options;
    this.out = out;
  }

  /** Selects the folder held by {@code lease}, which {@link #close} gives back. */
  static SelectedFolder open(MailboxStore.Lease lease, String name, boolean readOnly, ImapSession.Options options, Output out)
      throws IOException {
    try {
      return select(lease, name, readOnly, options, out);
    } catch (IOException | RuntimeException e) {
      lease.close();
      throw e;
    }
  }

  private static SelectedFolder select(MailboxStore.Lease lease, String name, boolean readOnly, ImapSession.Options options, Output out)
      throws IOException {
    Folder folder = lease.folder();
    folder.sync();
    var s = new SelectedFolder(lease, name, readOnly, options, out);
    // MODSEQ before the list: a change in between is told once more, never lost.
    s.changesTold = folder.highestModSeq();
    s.expungesTold = s.changesTold;
    long[] uids = folder.uids();
    s.numbers = new MessageNumbers(uids);
    if (!readOnly) {
      folder.takeNew(); // the client has seen the folder now, as Dovecot has it
      long from = folder.claimRecent(uids.length == 0 ? 0 : uids[uids.length - 1] + 1);
      for (long uid : uids) {
        if (uid >= from) s.recent.add(uid);
      }
    }
    return s;
  }

  String name() {
    return name;
  }

  /** Lets go of the folder: the session selects another, or none. */
  void close() {
    lease.close();
  }

  boolean readOnly() {
    return readOnly;
  }

  Folder folder() {
    return folder;
  }

  /** The untagged responses of SELECT and EXAMINE (RFC 9051 §6.3.2; RFC 7162 §3.1.2.1 and §3.2.5). */
  void announce(ImapCommand.Qresync qresync) throws IOException {
    tellFlags(folder.keywords());
    send("* " + numbers.count() + " EXISTS\r\n");
    if (!options.rev2) {
      send("* " + recent.size() + " RECENT\r\n");
      long firstUnseen = firstUnseen();
      if (firstUnseen > 0) send("* OK [UNSEEN " + firstUnseen + "] First unseen.\r\n");
    }
    send("* OK [UIDVALIDITY " + folder.uidValidity() + "] UIDs valid\r\n");
    send("* OK [UIDNEXT " + folder.uidNext() + "] Predicted next UID\r\n");
    if (options.condstore) send("* OK [HIGHESTMODSEQ " + changesTold + "] Highest\r\n");
    if (qresync != null && qresync.uidValidity() == folder.uidValidity()) {
      String vanished = missing(qresync.knownUids() == null ? List.of(new SequenceSet.Range(1, SequenceSet.STAR)) : qresync.knownUids().ranges());
      if (!vanished.isEmpty()) send("* VANISHED (EARLIER) " + vanished + "\r\n");
      for (MessageInfo m : folder.changedSince(qresync.modseq())) {
        int seq = position(m.uid());
        if (seq >= 0) send(flagsFetch(seq, m, true));
      }
    }
  }

  /** FLAGS and PERMANENTFLAGS: the flags of this folder, keywords included (RFC 9051 §7.3.5, §7.1). */
  private void tellFlags(List<String> keywords) throws IOException {
    String flags = flagList(Flags.SYSTEM, keywords);
    send("* FLAGS " + flags + "\r\n");
    send("* OK [PERMANENTFLAGS " + (readOnly ? "()" : flags.substring(0, flags.length() - 1) + (flags.length() > 2 ? " " : "") + "\\*)")
        + "] Flags permitted.\r\n");
    keywordsTold = keywords;
  }

  /**
   * A keyword new to the folder (a STORE or APPEND of this or another session, or another
   * program) is told in a new FLAGS, before any message shows it, as Dovecot tells it: a client
   * keeps the list of the folder's flags from FLAGS (RFC 9051 §7.3.5).
   */
  private void tellNewKeywords() throws IOException {
    List<String> now = folder.keywords();
    if (!now.equals(keywordsTold)) tellFlags(now);
  }

  private long firstUnseen() {
    for (int i = 0; i < numbers.count(); i++) {
      MessageInfo m = folder.get(numbers.uid(i));
      if (m != null && (m.flags() & Flags.SEEN) == 0) return i + 1;
    }
    return 0;
  }

  /**
   * Tells the client what changed since it was last told.
   *
   * @param expunges whether removals may be told now (not during FETCH, STORE, SEARCH by number)
   */
  void update(boolean expunges) throws IOException {
    folder.sync();
    tellNewKeywords();
    long highest = folder.highestModSeq();
    if (expunges && highest > expungesTold) {
      tellExpunges();
      expungesTold = highest;
    }
    if (highest > changesTold) {
      tellChanges();
      changesTold = highest;
    }
    told.clear();
  }

  private void tellExpunges() throws IOException {
    List<Long> gone = folder.expungedSince(expungesTold);
    List<Integer> positions = new ArrayList<>();
    if (gone == null) { // from before the folder was opened: compare the lists
      for (int i = 0; i < numbers.count(); i++) {
        if (folder.get(numbers.uid(i)) == null) positions.add(i);
      }
    } else {
      for (long uid : gone) {
        int p = position(uid);
        if (p >= 0) positions.add(p);
      }
      positions.sort(null);
    }
    if (positions.isEmpty()) return;
    if (options.qresync) {
      long[] vanished = new long[positions.size()];
      for (int i = 0; i < vanished.length; i++) vanished[i] = numbers.uid(positions.get(i));
      send("* VANISHED " + ranges(vanished) + "\r\n");
    } else {
      var lines = new StringBuilder();
      for (int i = 0; i < positions.size(); i++) {
        // Each number is as the client counts once the ones before it are gone.
        lines.append("* ").append(positions.get(i) - i + 1).append(" EXPUNGE\r\n");
      }
      send(lines.toString());
    }
    for (int p : positions) recent.remove(numbers.uid(p));
    numbers.remove(positions);
  }

  private void tellChanges() throws IOException {
    long last = numbers.last();
    List<Long> added = new ArrayList<>();
    for (MessageInfo m : folder.changedSince(changesTold)) {
      if (m.uid() > last) {
        added.add(m.uid());
        continue;
      }
      int p = position(m.uid());
      if (p < 0 || Long.valueOf(m.modseq()).equals(told.get(m.uid()))) continue;
      send(flagsFetch(p, m, options.condstore)); // RFC 7162 §3.1: UID and MODSEQ in every such FETCH once CONDSTORE is on
    }
    if (added.isEmpty()) return;
    added.sort(null);
    numbers.add(added);
    if (!readOnly) {
      long from = folder.claimRecent(added.getLast() + 1);
      for (long uid : added) {
        if (uid >= from) recent.add(uid);
      }
    }
    send("* " + numbers.count() + " EXISTS\r\n");
    if (!options.rev2) send("* " + recent.size() + " RECENT\r\n");
  }

  /** {@code * n FETCH (FLAGS (...))} for a change, with UID and MODSEQ where the client needs them. */
  private byte[] flagsFetch(int position, MessageInfo m, boolean withUid) {
    return flagsFetch(position, m, withUid, true);
  }

  /** The same, without FLAGS for a STORE .SILENT that still owes a MODSEQ (RFC 7162 §3.1.3). */
  private byte[] flagsFetch(int position, MessageInfo m, boolean withUid, boolean withFlags) {
    var w = new ResponseWriter(true).text("* ").number(position + 1).text(" FETCH (");
    var items = new Fetcher.Items(w);
    if (withUid) items.next("UID ").number(m.uid());
    if (withFlags) Fetcher.flags(items.next("FLAGS "), folder, m, recent.contains(m.uid()) && !options.rev2);
    if (options.condstore) items.next("MODSEQ (").number(m.modseq()).text(")");
    return w.text(")").crlf().toByteArray();
  }

  private static String flagList(int system, List<String> keywords) {
    return new String(new ResponseWriter(true).flags(system, keywords).toByteArray(), java.nio.charset.StandardCharsets.UTF_8);
  }

  /** The index of a UID in the view, or -1. */
  private int position(long uid) {
    return numbers.indexOf(uid);
  }

  /** The UIDs in {@code ranges} (up to UIDNEXT) that are not in the view: what QRESYNC reports vanished. */
  private String missing(List<SequenceSet.Range> ranges) {
    var resolved = new SequenceSet(ranges, false).resolve(folder.uidNext() - 1);
    List<long[]> gaps = new ArrayList<>();
    for (int r = 0; r < resolved.from().length; r++) {
      long from = resolved.from()[r];
      long to = Math.min(resolved.to()[r], folder.uidNext() - 1);
      int i = numbers.lowerBound(from);
      long at = from;
      while (at <= to) {
        long present = i < numbers.count() ? numbers.uid(i) : Long.MAX_VALUE;
        if (present > to) {
          gaps.add(new long[] {at, to});
          break;
        }
        if (present > at) gaps.add(new long[] {at, present - 1});
        at = present + 1;
        i++;
      }
    }
    var s = new StringBuilder();
    for (long[] g : gaps) {
      if (!s.isEmpty()) s.append(',');
      s.append(g[0]);
      if (g[1] > g[0]) s.append(':').append(g[1]);
    }
    return s.toString();
  }


  /**
   * The positions (indexes) a sequence set names: UIDs in the view, or sequence numbers.
   *
   * @return null when a sequence number is beyond the messages (BAD, as Dovecot answers)
   */
  int[] positions(SequenceSet set, boolean uid) {
    if (set.saved()) {
      int[] out = new int[saved.length];
      int n = 0;
      for (long u : saved) {
        int p = position(u);
        if (p >= 0) out[n++] = p;
      }
      return Arrays.copyOf(out, n);
    }
    if (uid) {
      long largest = numbers.last();
      var resolved = set.resolve(largest == 0 ? folder.uidNext() : largest); // "*" is the largest UID (RFC 9051 §6.4.8)
      int[] first = new int[resolved.from().length];
      int[] end = new int[first.length];
      int total = 0;
      for (int r = 0; r < first.length; r++) { // ranges come sorted and disjoint: their indexes too
        first[r] = numbers.lowerBound(resolved.from()[r]);
        end[r] = numbers.lowerBound(resolved.to()[r] + 1);
        total += end[r] - first[r];
      }
      int[] out = new int[total];
      int n = 0;
      for (int r = 0; r < first.length; r++) {
        for (int i = first[r]; i < end[r]; i++) out[n++] = i;
      }
      return out;
    }
    var resolved = set.resolve(numbers.count());
    int total = 0;
    for (int r = 0; r < resolved.from().length; r++) {
      if (resolved.to()[r] > numbers.count() || resolved.from()[r] < 1) return null;
      total += (int) (resolved.to()[r] - resolved.from()[r] + 1);
    }
    int[] out = new int[total];
    int n = 0;
    for (int r = 0; r < resolved.from().length; r++) {
      for (long s = resolved.from()[r]; s <= resolved.to()[r]; s++) out[n++] = (int) s - 1;
    }
    return out;
  }

  /** FETCH (RFC 9051 §6.4.5, RFC 7162): null when answered, else the refusal (NO text or "BAD ..."). */
  String fetch(ImapCommand.Fetch c) throws IOException {
    int[] positions = positions(c.set(), c.uid());
    if (positions == null) return "BAD Invalid message set";
    if (c.vanished()) {
      if (!c.uid() || !options.qresync || c.changedSince() == 0) return "BAD VANISHED needs UID FETCH with CHANGEDSINCE, under QRESYNC";
      String vanished = missing(c.set().ranges());
      if (!vanished.isEmpty()) send("* VANISHED (EARLIER) " + vanished + "\r\n");
    }
    var fetcher = new Fetcher(folder, options, c, readOnly);
    // Responses go out in batches: FETCH 1:* on a large folder is one response per message, and a
    // write each would cost a system call per message.
    var batch = new java.io.ByteArrayOutputStream(BATCH);
    // A message expunged by another session and not told yet has nothing left to show: it is
    // left out and the FETCH still succeeds, as Dovecot answers (RFC 9051 §7.5.1 allows that or a
    // NO [EXPUNGEISSUED], which mail programs tend to show their users as an error).
    for (int p : positions) {
      MessageInfo m = folder.get(numbers.uid(p));
      if (m == null) continue;
      if (c.changedSince() > 0 && m.modseq() <= c.changedSince()) continue;
      Fetcher.Result r;
      try {
        r = fetcher.fetch(p + 1, m, recent.contains(m.uid()));
      } catch (NoSuchFileException e) { // expunged by another program this moment
        continue;
      }
      if (r == null) {
        send(batch.toByteArray());
        return "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding in a part asked for in BINARY";
      }
      if (r.changed() != null) told.put(m.uid(), r.changed().modseq());
      batch.writeBytes(r.response());
      if (batch.size() >= BATCH) {
        send(batch.toByteArray());
        batch.reset();
      }
    }
    if (batch.size() > 0) send(batch.toByteArray());
    return null;
  }

  /** How many octets of responses a large FETCH gathers before it writes them. */
  private static final int BATCH = 32 * 1024;

  /** STORE (RFC 9051 §6.4.6, RFC 7162 §3.1.3): null when done, "[MODIFIED set]", or the refusal. */
  String store(ImapCommand.Store c) throws IOException {
    int[] positions = positions(c.set(), c.uid());
    if (positions == null) return "BAD Invalid message set";
    int bits;
    try {
      bits = Mailboxes.flagBits(folder, c.flags());
    } catch (IllegalStateException e) {
      return "[LIMIT] Too many keywords in this mailbox";
    }
    tellNewKeywords();
    Folder.FlagChange change = switch (c.mode()) {
      case REPLACE -> Folder.FlagChange.REPLACE; // letters Posta does not map stay in the file name all the same
      case ADD -> Folder.FlagChange.ADD;
      case REMOVE -> Folder.FlagChange.REMOVE;
    };
    List<Long> modified = new ArrayList<>();
    for (int p : positions) {
      long uid = numbers.uid(p);
      Folder.FlagUpdate update = folder.updateFlags(uid, change, bits, c.unchangedSince());
      if (update == null) continue; // expunged, not told yet: nothing to change, as for FETCH
      if (update.modified()) {
        modified.add(c.uid() ? uid : p + 1);
        continue;
      }
      MessageInfo changed = update.message();
      told.put(uid, changed.modseq());
      if (!c.silent() || (options.condstore && c.unchangedSince() >= 0)) {
        send(flagsFetch(p, changed, c.uid() || options.condstore, !c.silent()));
      }
    }
    if (!modified.isEmpty()) {
      return "[MODIFIED " + ranges(modified.stream().mapToLong(Long::longValue).sorted().toArray()) + "]";
    }
    return null;
  }

  /** SEARCH (RFC 9051 §6.4.4, ESEARCH RFC 4731, SEARCHRES RFC 5182): null when answered, else the refusal. */
  String search(ImapCommand.Search c) throws IOException {
    if (c.returnOptions() != null && !List.of("MIN", "MAX", "ALL", "COUNT", "SAVE").containsAll(c.returnOptions())) {
      return "BAD Unknown SEARCH return option in " + c.returnOptions(); // RFC 4731 §3.1
    }
    if (c.charset() != null && !c.charset().equalsIgnoreCase("UTF-8") && !c.charset().equalsIgnoreCase("US-ASCII")) {
      return "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset";
    }
    var search = new Search(folder, this, recent, c.key());
    List<Integer> found = new ArrayList<>();
    long highest = 0;
    for (int i = 0; i < numbers.count(); i++) {
      MessageInfo m = folder.get(numbers.uid(i));
      if (m == null) continue;
      if (search.matches(c.key(), i + 1, m)) {
        found.add(i);
        highest = Math.max(highest, m.modseq());
      }
    }
    boolean modseq = Search.usesModSeq(c.key());
    long[] results = new long[found.size()];
    for (int i = 0; i < results.length; i++) results[i] = c.uid() ? numbers.uid(found.get(i)) : found.get(i) + 1;
    List<String> ret = c.returnOptions();
    if (ret == null && !options.rev2) {
      var line = new StringBuilder("* SEARCH");
      for (long n : results) line.append(' ').append(n);
      if (modseq && results.length > 0) line.append(" (MODSEQ ").append(highest).append(')');
      send(line.append("\r\n").toString());
      return null;
    }
    if (ret == null || ret.isEmpty()) ret = List.of("ALL");
    boolean min = ret.contains("MIN");
    boolean max = ret.contains("MAX");
    if (ret.contains("SAVE")) {
      List<Integer> kept = found;
      if ((min || max) && !ret.contains("ALL") && !ret.contains("COUNT") && !found.isEmpty()) { // RFC 5182 §2.4
        kept = new ArrayList<>();
        if (min) kept.add(found.getFirst());
        if (max && found.size() > 1) kept.add(found.getLast());
      }
      saved = kept.stream().mapToLong(i -> numbers.uid(i)).toArray();
      if (ret.size() == 1) return null; // SAVE alone: no ESEARCH response
    }
    var line = new StringBuilder("* ESEARCH (TAG \"").append(c.tag()).append("\")");
    if (c.uid()) line.append(" UID");
    if (min && results.length > 0) line.append(" MIN ").append(results[0]);
    if (max && results.length > 0) line.append(" MAX ").append(results[results.length - 1]);
    if (ret.contains("COUNT")) line.append(" COUNT ").append(results.length);
    if (ret.contains("ALL") && results.length > 0) line.append(" ALL ").append(ranges(results));
    if (modseq && results.length > 0) line.append(" MODSEQ ").append(highest);
    send(line.append("\r\n").toString());
    return null;
  }

  /** The position of a sequence number's message for SEARCH: its UID. */
  long uidAt(int position) {
    return numbers.uid(position);
  }

  int count() {
    return numbers.count();
  }

  long[] savedResult() {
    return saved;
  }

  /**
   * COPY or MOVE (RFC 9051 §6.4.7, RFC 6851, UIDPLUS COPYUID): "OK [COPYUID ...] ..." when done,
   * else the refusal (NO text or "BAD ...").
   */
  String copy(SequenceSet set, boolean uid, Folder target, boolean move) throws IOException {
    int[] positions = positions(set, uid);
    if (positions == null) return "BAD Invalid message set";
    if (move && target == folder) return "[CANNOT] Source and destination are the same mailbox";
    List<Long> from = new ArrayList<>();
    List<Long> to = new ArrayList<>();
    for (int p : positions) {
      MessageInfo m = folder.get(numbers.uid(p));
      if (m == null) continue;
      MessageInfo copied = Mailboxes.copy(folder, m, target);
      if (copied == null) continue;
      from.add(m.uid());
      to.add(copied.uid());
    }
    if (from.isEmpty()) return "OK " + (move ? "Move" : "Copy") + " completed; no messages.";
    String copyUid = "[COPYUID " + target.uidValidity() + " " + ranges(from.stream().mapToLong(Long::longValue).toArray()) + " "
        + ranges(to.stream().mapToLong(Long::longValue).toArray()) + "]";
    if (!move) return "OK " + copyUid + " Copy completed.";
    send("* OK " + copyUid + " Moved\r\n");
    folder.expunge(from);
    return "OK Move completed.";
  }

  /** EXPUNGE or UID EXPUNGE: removes the \Deleted messages (of {@code uids}, when given). */
  void expunge(SequenceSet uidSet) throws IOException {
    int[] positions = uidSet == null ? java.util.stream.IntStream.range(0, numbers.count()).toArray() : positions(uidSet, true);
    List<Long> doomed = new ArrayList<>();
    for (int p : positions) {
      MessageInfo m = folder.get(numbers.uid(p));
      if (m != null && (m.flags() & Flags.DELETED) != 0) doomed.add(m.uid());
    }
    folder.expungeDeleted(doomed); // the flag checked again where they are removed: another session may have undeleted one
  }

  /** CLOSE: removes the \Deleted messages without telling the client (RFC 9051 §6.4.1). */
  void expungeSilently() throws IOException {
    expunge(null);
  }

  /**
   * Numbers as a sequence set, in the order given ("1:3,7"): runs that go up by one become
   * ranges. COPYUID pairs its two sets by position, so the order is kept, not sorted.
   */
  static String ranges(long[] numbers) {
    var s = new StringBuilder();
    for (int i = 0; i < numbers.length; i++) {
      int j = i;
      while (j + 1 < numbers.length && numbers[j + 1] == numbers[j] + 1) j++;
      if (!s.isEmpty()) s.append(',');
      s.append(numbers[i]);
      if (j > i) s.append(':').append(numbers[j]);
      i = j;
    }
    return s.toString();
  }

  /** A message's INTERNALDATE; NoSuchFileException when it was expunged meanwhile, as for its content. */
  static java.time.Instant internalDate(Folder folder, long uid) throws IOException {
    java.time.Instant date = folder.internalDate(uid);
    if (date == null) throw new NoSuchFileException("UID " + uid);
    return date;
  }

  static ZoneId zone() {
    return ZONE;
  }

  private void send(String s) throws IOException {
    out.send(s.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  private void send(byte[] octets) throws IOException {
    out.send(octets);
  }
}
