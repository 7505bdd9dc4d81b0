package dev.posta.store;

import dev.posta.storage.PrivateFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The persistent index of one mailbox folder (RFC 9051 §2.3.1.1, RFC 7162): its UIDVALIDITY, a
 * UID and a MODSEQ per message, UIDNEXT and HIGHESTMODSEQ, and what a client asks of every
 * message without reading it (flags, size with CRLF line ends, internal date), kept in the file
 * {@code posta-index} beside the folder's {@code new/} and {@code cur/}.
 *
 * <p>The file is a log of one-line records, appended as things change and rewritten compactly
 * (to a temporary file, fsynced, renamed) once it is mostly history:
 *
 * <pre>
 * posta-index 2 UIDVALIDITY              the first line
 * a UID MODSEQ FLAGS VSIZE INTERNALDATE-MS WHERE NAME   a message got its UID (NAME: its file's base name;
 *                                        INTERNALDATE-MS 0: not read from the file yet)
 * d UID INTERNALDATE-MS                  its internal date, read from its file when first asked for
 * f UID MODSEQ FLAGS WHERE               its flags changed
 * m UID WHERE                            its file moved, flags unchanged (new/ to cur/, a letter Posta does not map)
 * x UID MODSEQ                           it was expunged
 * r UID MODSEQ                           reserved: UIDs below UID and MODSEQs up to MODSEQ may be in use
 * c UIDNEXT MODSEQ [NEW CUR]             closed cleanly, with these values, and the times of new/ and cur/
 *                                        when the index was last in step with them (nanoseconds)
 * </pre>
 *
 * <p>WHERE is where the file is: {@code new} for {@code new/NAME}, or {@code 2,LETTERS} for
 * {@code cur/NAME:2,LETTERS}. With it and the times of the clean close, a folder nobody
 * touched meanwhile opens without reading its directories.
 *
 * <p>Guarantees: a UID is never used twice and HIGHESTMODSEQ never goes back, also after
 * {@code kill -9} or a power failure at any moment. Records reach the file at every {@link
 * #flush} (so a killed process loses nothing written), and before a UID or MODSEQ beyond the
 * last reservation is used, a new reservation is made durable (an fsync once per {@value
 * #UID_RESERVE} UIDs or {@value #MODSEQ_RESERVE} MODSEQs, not per change). After an unclean end the
 * index goes on above the reservation; the gap it leaves is allowed (UIDs only ascend). A torn
 * or garbled record ends the log there: what follows is cut off and the folder's files tell
 * the rest. A file that cannot be read at all (no header) is started afresh with a new
 * UIDVALIDITY, the one case where the old UIDs cannot be kept. A reservation counts only once
 * it is on disk, and a write that fails is taken back (or, failing that, the next flush writes
 * the whole index anew), so no torn record can hide a later one.
 *
 * <p>One writer: an open index holds an OS lock on {@code posta-index.lock} (in this process
 * too, another open of the same folder is refused), so two servers or stores never hand out
 * the same UID.
 */
final class MailboxIndex implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MailboxIndex.class);
  static final String FILE_NAME = "posta-index";
  private static final String HEADER = "posta-index 2 ";
  static final long UID_RESERVE = 128;
  static final long MODSEQ_RESERVE = 4096;
  /** Compact once the log holds this many more records than it would after compaction. */
  private static final int HISTORY_ALLOWANCE = 4096;
  static final int EXPUNGE_HISTORY = 100_000;
  /** Records are written once this many chars of them wait, whatever the next {@link #flush}. */
  private static final int WRITE_AT = 64 * 1024;
  /** The internal date of a message found in a rescan, until it is first asked for. */
  static final long DATE_NOT_READ = 0;

  /**
   * One message as the index knows it.
   *
   * @param info the letters after {@code :2,} of its file in cur/ (flags, and letters Posta does
   *     not map), or null while the file is in new/
   */
  record Entry(long uid, long modseq, int flags, long vsize, long internalDate, String name, String info) {
    /** Its file, relative to the folder. */
    String file() {
      return info == null ? "new/" + name : "cur/" + name + ":2," + info;
    }
  }

  /** The times of new/ and cur/ (in nanoseconds) when the index was last in step with them; null when not known. */
  record DirectoryTimes(long newTime, long curTime) {}

  private final Path file;
  private final long uidValidity;
  private final IndexEntries byUid = new IndexEntries();
  private final Map<String, Entry> byName = new HashMap<>();
  /** One string for each set of info letters in use ("S", "RS"...), not one per message. */
  private final Map<String, String> letters = new HashMap<>();
  /**
   * UIDs expunged since the index was opened, by the MODSEQ of their expunge, at most {@link
   * #EXPUNGE_HISTORY} of them: what sessions need to hear of removals without comparing lists.
   */
  private final TreeMap<Long, Long> expunged = new TreeMap<>();
  /** MODSEQs up to this one may have expunges {@link #expunged} no longer holds. */
  private long expungesForgottenUpTo;
  private long uidNext;
  private long highestModSeq;
  private long reservedUid;
  private long reservedModSeq;
  private FileChannel channel;
  /** Holds the lock on {@code posta-index.lock} while the index is open. */
  private FileChannel lockChannel;
  /** A write failed and could not be taken back: the next flush writes the whole index anew. */
  private boolean broken;
  private final StringBuilder pending = new StringBuilder();
  /** What the clean close recorded of the directories; null after an unclean end. */
  private DirectoryTimes closedWith;
  /** Records in the file, to know when it is mostly history. */
  private int records;

  private MailboxIndex(Path file, long uidValidity) {
    this.file = file;
    this.uidValidity = uidValidity;
  }

  /** Opens the index of the folder {@code dir}: read back, or made new when there is none. */
  static MailboxIndex open(Path dir, Clock clock) throws IOException {
    FileChannel lock = lock(dir);
    try {
      MailboxIndex index = read(dir, clock);
      index.lockChannel = lock;
      return index;
    } catch (IOException | RuntimeException e) {
      lock.close();
      throw e;
    }
  }

  private static FileChannel lock(Path dir) throws IOException {
    Path file = dir.resolve(FILE_NAME + ".lock");
    FileChannel lock = FileChannel.open(file, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), PrivateFiles.file(file));
    try {
      if (lock.tryLock() != null) return lock;
    } catch (java.nio.channels.OverlappingFileLockException inThisProcess) {
      // fall through
    }
    lock.close();
    throw new IOException(dir + ": its index is open elsewhere (another server, or another store in this one)");
  }

  private static MailboxIndex read(Path dir, Clock clock) throws IOException {
    Path file = dir.resolve(FILE_NAME);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      bytes = null;
    }
    MailboxIndex index = bytes == null ? null : replay(file, bytes);
    if (index == null) {
      if (bytes != null) log.warn("{}: unreadable, started afresh with a new UIDVALIDITY", file);
      index = new MailboxIndex(file, nextUidValidity(dir, clock));
      index.uidNext = 1;
      index.rewrite();
    } else {
      index.channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    }
    return index;
  }

  /**
   * A UIDVALIDITY no folder of this mailbox had before (RFC 9051 §2.3.1.1: a name and a
   * UIDVALIDITY must never again mean other messages): the time in seconds, or one more than the
   * last one handed out when that is later, as kept in the mailbox's {@code posta-uidvalidity}
   * file (as Dovecot keeps {@code dovecot-uidvalidity}). Two folders made in the same second, or
   * one deleted and made again, get different ones.
   */
  private static synchronized long nextUidValidity(Path dir, Clock clock) throws IOException {
    // A Maildir++ subfolder (.Sent) lives in its mailbox's Maildir; the inbox is that Maildir.
    Path mailbox = dir.getFileName().toString().startsWith(".") ? dir.getParent() : dir;
    Path file = mailbox.resolve("posta-uidvalidity");
    long last = 0;
    try {
      last = Long.parseLong(Files.readString(file, StandardCharsets.US_ASCII).strip());
    } catch (NoSuchFileException | NumberFormatException e) {
      // none yet, or damaged: the clock alone, as before there was a file
    }
    long next = Math.max(Math.max(1, clock.millis() / 1000), last + 1);
    PrivateFiles.replace(file, (next + "\n").getBytes(StandardCharsets.US_ASCII));
    return next;
  }

  /** The index in {@code bytes}, or null when they have no header. */
  private static MailboxIndex replay(Path file, byte[] bytes) throws IOException {
    int nl = indexOf(bytes, 0);
    if (nl < 0) return null;
    String header = new String(bytes, 0, nl, StandardCharsets.UTF_8);
    if (!header.startsWith(HEADER)) return null;
    long validity;
    try {
      validity = Long.parseLong(header.substring(HEADER.length()));
    } catch (NumberFormatException e) {
      return null;
    }
    if (validity < 1 || validity > 0xFFFF_FFFFL) return null;
    MailboxIndex index = new MailboxIndex(file, validity);
    long maxUid = 0;
    long maxModSeq = 0;
    long cleanUidNext = -1;
    long cleanModSeq = -1;
    int start = nl + 1;
    int valid = start;
    DirectoryTimes times = null;
    var r = new Record(bytes);
    for (int end = indexOf(bytes, start); end >= 0; start = end + 1, end = indexOf(bytes, start)) {
      r.at(start, end);
      try {
        cleanUidNext = -1;
        times = null;
        switch (r.kind()) {
          case 'a' -> {
            long uid = r.number();
            long modseq = r.number();
            int flags = (int) r.number();
            long vsize = r.number();
            long date = r.number();
            String info = index.letters(info(r.word()));
            var e = new Entry(uid, modseq, flags, vsize, date, r.rest(), info);
            index.put(e);
            maxUid = Math.max(maxUid, e.uid());
            maxModSeq = Math.max(maxModSeq, e.modseq());
          }
          case 'f' -> {
            Entry e = index.byUid.get(r.number());
            long modseq = r.number();
            int flags = (int) r.number();
            String info = index.letters(info(r.word()));
            if (e != null) index.put(new Entry(e.uid(), modseq, flags, e.vsize(), e.internalDate(), e.name(), info));
            maxModSeq = Math.max(maxModSeq, modseq);
          }
          case 'm' -> {
            Entry e = index.byUid.get(r.number());
            String info = index.letters(info(r.word()));
            if (e != null) index.put(new Entry(e.uid(), e.modseq(), e.flags(), e.vsize(), e.internalDate(), e.name(), info));
          }
          case 'd' -> {
            Entry e = index.byUid.get(r.number());
            long date = r.number();
            if (e != null) index.put(new Entry(e.uid(), e.modseq(), e.flags(), e.vsize(), date, e.name(), e.info()));
          }
          case 'x' -> {
            index.remove(r.number());
            maxModSeq = Math.max(maxModSeq, r.number());
          }
          case 'r' -> {
            index.reservedUid = Math.max(index.reservedUid, r.number());
            index.reservedModSeq = Math.max(index.reservedModSeq, r.number());
          }
          case 'c' -> {
            cleanUidNext = r.number();
            cleanModSeq = r.number();
            if (r.more()) times = new DirectoryTimes(r.number(), r.number());
          }
          default -> throw new IllegalArgumentException("record " + r.kind());
        }
        r.end();
      } catch (RuntimeException garbled) { // a torn or foreign line: the log ends before it
        log.warn("{}: a damaged record at octet {}; what follows it is dropped and the folder rescanned", file, start);
        cleanUidNext = -1;
        break;
      }
      index.records++;
      valid = end + 1;
    }
    if (valid < bytes.length) {
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
        ch.truncate(valid); // appends must follow the last whole record
      }
    }
    if (cleanUidNext > maxUid && cleanModSeq >= maxModSeq) {
      index.closedWith = times;
      index.uidNext = cleanUidNext;
      index.highestModSeq = cleanModSeq;
      // The old reservation was used up to here and a later crash would replay to this record:
      // the first UID or MODSEQ handed out now must make a fresh one durable.
      index.reservedUid = cleanUidNext;
      index.reservedModSeq = cleanModSeq;
    } else { // not closed cleanly: what was used may go up to the reservation
      index.uidNext = Math.max(maxUid + 1, index.reservedUid);
      index.highestModSeq = Math.max(maxModSeq, index.reservedModSeq);
    }
    index.expungesForgottenUpTo = index.highestModSeq; // what went before this opening is not kept
    return index;
  }

  /** WHERE of a record: null for new/, the letters for cur/. */
  private static String info(String where) {
    if (where.equals("new")) return null;
    if (!where.startsWith("2,")) throw new IllegalArgumentException("where " + where);
    return where.substring(2);
  }

  /** The one string kept for these info letters; null stays null (in new/). */
  private String letters(String info) {
    if (info == null) return null;
    String known = letters.putIfAbsent(info, info);
    return known == null ? info : known;
  }

  private static String where(String info) {
    return info == null ? "new" : "2," + info;
  }

  /**
   * One record's fields, read in place: numbers without making strings of them, as a folder of
   * 100,000 messages has as many records to read at every opening.
   */
  private static final class Record {
    private final byte[] bytes;
    private int pos;
    private int end;

    Record(byte[] bytes) {
      this.bytes = bytes;
    }

    void at(int start, int end) {
      this.pos = start;
      this.end = end;
    }

    char kind() {
      if (end - pos < 1) throw new IllegalArgumentException("empty record");
      char kind = (char) bytes[pos++];
      return kind;
    }

    private void space() {
      if (pos >= end || bytes[pos] != ' ') throw new IllegalArgumentException("expected a space");
      pos++;
    }

    boolean more() {
      return pos < end;
    }

    long number() {
      space();
      int start = pos;
      long n = 0;
      while (pos < end && bytes[pos] >= '0' && bytes[pos] <= '9') {
        n = Math.multiplyExact(n, 10) + (bytes[pos++] - '0');
      }
      if (pos == start || pos - start > 19) throw new IllegalArgumentException("expected a number");
      return n;
    }

    String word() {
      space();
      int start = pos;
      while (pos < end && bytes[pos] != ' ') pos++;
      if (pos == start) throw new IllegalArgumentException("expected a word");
      return new String(bytes, start, pos - start, StandardCharsets.UTF_8);
    }

    /** The rest of the line: a file name, which may hold spaces. */
    String rest() {
      space();
      if (pos == end) throw new IllegalArgumentException("expected a name");
      String rest = new String(bytes, pos, end - pos, StandardCharsets.UTF_8);
      pos = end;
      return rest;
    }

    void end() {
      if (pos != end) throw new IllegalArgumentException("more than a record");
    }
  }

  /** What the clean close recorded of new/ and cur/; null after an unclean end, or when it did not know. */
  DirectoryTimes closedWith() {
    return closedWith;
  }

  private static int indexOf(byte[] bytes, int from) {
    for (int i = from; i < bytes.length; i++) {
      if (bytes[i] == '\n') return i;
    }
    return -1;
  }

  private void put(Entry e) {
    Entry old = byUid.put(e);
    if (old != null && !old.name().equals(e.name())) byName.remove(old.name());
    byName.put(e.name(), e);
  }

  private void remove(long uid) {
    Entry old = byUid.remove(uid);
    if (old != null) byName.remove(old.name());
  }

  long uidValidity() {
    return uidValidity;
  }

  long uidNext() {
    return uidNext;
  }

  long highestModSeq() {
    return highestModSeq;
  }

  /** Every message, in UID order. */
  Collection<Entry> entries() {
    return byUid.values();
  }

  Entry get(long uid) {
    return byUid.get(uid);
  }

  /** The messages whose MODSEQ is above {@code modseq} (added or changed since), in MODSEQ order. */
  Collection<Entry> changedSince(long modseq) {
    return byUid.changedSince(modseq);
  }

  /**
   * The UIDs expunged after {@code modseq}, in the order they went; null when that is not
   * known any more (before this index was opened, or history dropped): compare lists then.
   */
  List<Long> expungedSince(long modseq) {
    if (modseq < expungesForgottenUpTo) return null;
    return List.copyOf(expunged.tailMap(modseq, false).values());
  }

  Entry byName(String name) {
    return byName.get(name);
  }

  int size() {
    return byUid.size();
  }

  /** How many messages have a UID of {@code uid} or more. */
  int countFrom(long uid) {
    return byUid.countFrom(uid);
  }

  /** Whether a file name holds a control character, which a record (one line) cannot carry. */
  static boolean hasControl(String name) {
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c < 0x20 || c == 0x7f) return true;
    }
    return false;
  }

  /** Gives a new message its UID; written at the next {@link #flush}. */
  Entry add(String name, String info, int flags, long vsize, long internalDate) throws IOException {
    if (name.isEmpty() || hasControl(name)) throw new IllegalArgumentException("file name " + name);
    if (uidNext > 0xFFFF_FFFFL) throw new IOException(file + ": the UIDs are used up (RFC 9051: 32 bits)");
    long uid = uidNext++;
    long modseq = nextModSeq();
    if (uid >= reservedUid) reserve();
    var e = new Entry(uid, modseq, flags, vsize, internalDate, name, letters(info));
    put(e);
    append("a " + uid + " " + modseq + " " + flags + " " + vsize + " " + internalDate + " " + where(info) + " " + name);
    return e;
  }

  /** Records new flags (and where the file is now), with a new MODSEQ; written at the next {@link #flush}. */
  Entry setFlags(long uid, int flags, String info) throws IOException {
    Entry e = byUid.get(uid);
    if (e == null) throw new IllegalArgumentException("no UID " + uid);
    long modseq = nextModSeq();
    var changed = new Entry(uid, modseq, flags, e.vsize(), e.internalDate(), e.name(), letters(info));
    put(changed);
    append("f " + uid + " " + modseq + " " + flags + " " + where(info));
    return changed;
  }

  /** Records that a message's file moved, its flags the same (no new MODSEQ); written at the next {@link #flush}. */
  void move(long uid, String info) throws IOException {
    Entry e = byUid.get(uid);
    if (e == null || java.util.Objects.equals(e.info(), info)) return;
    put(new Entry(uid, e.modseq(), e.flags(), e.vsize(), e.internalDate(), e.name(), letters(info)));
    append("m " + uid + " " + where(info));
  }

  /** Records a message's internal date, read from its file (no new MODSEQ); written at the next {@link #flush}. */
  void setInternalDate(long uid, long date) throws IOException {
    Entry e = byUid.get(uid);
    if (e == null || e.internalDate() == date) return;
    put(new Entry(uid, e.modseq(), e.flags(), e.vsize(), date, e.name(), e.info()));
    append("d " + uid + " " + date);
  }

  /** Records that a message is gone; written at the next {@link #flush}. */
  void expunge(long uid) throws IOException {
    if (byUid.get(uid) == null) return;
    long modseq = nextModSeq();
    remove(uid);
    expunged.put(modseq, uid);
    if (expunged.size() > EXPUNGE_HISTORY) expungesForgottenUpTo = expunged.pollFirstEntry().getKey();
    append("x " + uid + " " + modseq);
  }

  private long nextModSeq() throws IOException {
    long modseq = ++highestModSeq;
    if (modseq > reservedModSeq) reserve();
    return modseq;
  }

  /**
   * Makes sure the next {@code messages} additions are covered by one reservation: a folder
   * read for the first time adds all its messages at once, and a reservation (an fsync) per
   * {@value #UID_RESERVE} of them made a 100,000-message folder wait for 800 fsyncs.
   */
  void reserveFor(int messages) throws IOException {
    if (uidNext + messages < reservedUid && highestModSeq + messages <= reservedModSeq) return;
    reserve(messages);
  }

  /** Makes the next stretch of UIDs and MODSEQs durable before any of them is used. */
  private void reserve() throws IOException {
    reserve(0);
  }

  private void reserve(long extra) throws IOException {
    long uid = uidNext + extra + UID_RESERVE;
    long modseq = highestModSeq + extra + MODSEQ_RESERVE;
    append("r " + uid + " " + modseq);
    flush();
    channel.force(false);
    reservedUid = uid; // only now: a reservation counts once it is on disk
    reservedModSeq = modseq;
  }

  private void append(String record) throws IOException {
    pending.append(record).append('\n');
    records++;
    if (pending.length() >= WRITE_AT) flush(); // a folder read for the first time is not held as one string
  }

  /** Writes what has changed to the file (not forced to disk: see the class's guarantees). */
  void flush() throws IOException {
    if (broken) {
      rewrite();
      pending.setLength(0);
      return;
    }
    if (pending.isEmpty()) return;
    ByteBuffer buf = ByteBuffer.wrap(pending.toString().getBytes(StandardCharsets.UTF_8));
    long at = channel.size();
    try {
      while (buf.hasRemaining()) channel.write(buf);
    } catch (IOException e) { // e.g. a full disk: take the part written back, keep the records to write again
      try {
        channel.truncate(at);
      } catch (IOException stillBroken) {
        broken = true;
      }
      throw e;
    }
    pending.setLength(0);
    if (records > 2 * byUid.size() + HISTORY_ALLOWANCE) rewrite();
  }

  /** Writes the whole index anew, to a temporary file renamed over the log. */
  private void rewrite() throws IOException {
    long uid = uidNext + UID_RESERVE;
    long modseq = highestModSeq + MODSEQ_RESERVE;
    var s = new StringBuilder(64 * (byUid.size() + 2));
    s.append(HEADER).append(uidValidity).append('\n');
    s.append("r ").append(uid).append(' ').append(modseq).append('\n');
    for (Entry e : byUid.values()) {
      s.append("a ").append(e.uid()).append(' ').append(e.modseq()).append(' ').append(e.flags()).append(' ')
          .append(e.vsize()).append(' ').append(e.internalDate()).append(' ').append(where(e.info())).append(' ').append(e.name())
          .append('\n');
    }
    PrivateFiles.replace(file, s.toString().getBytes(StandardCharsets.UTF_8));
    if (channel != null) channel.close();
    channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
    records = byUid.size() + 1;
    reservedUid = uid; // durable now, with everything else
    reservedModSeq = modseq;
    broken = false;
  }

  /** Writes the values to go on with, so that the next open needs no reservation's gap. */
  @Override
  public void close() throws IOException {
    close(null);
  }

  /**
   * {@link #close()}, recording the directories' times when the index is in step with them, so
   * that the next open can trust it without reading them.
   */
  void close(DirectoryTimes inStep) throws IOException {
    try {
      append("c " + uidNext + " " + highestModSeq + (inStep == null ? "" : " " + inStep.newTime() + " " + inStep.curTime()));
      flush();
      channel.force(false);
    } finally {
      abandon();
    }
  }

  /** Lets go of the files without the clean record, as a killed process would. */
  void abandon() throws IOException {
    try {
      channel.close();
    } finally {
      lockChannel.close();
    }
  }
}
