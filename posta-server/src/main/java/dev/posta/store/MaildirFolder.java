package dev.posta.store;

import dev.posta.client.MessageWriter;
import dev.posta.storage.FileModes;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One mailbox folder on disk, a {@link Maildir}, with its {@link MailboxIndex}: the messages
 * as IMAP and POP3 see them (a UID, flags, a MODSEQ each), kept in step with the files.
 *
 * <p>The files are the truth for which messages exist and for their flags, so other Maildir
 * programs (Dovecot, mutt, a delivery agent) may work on the same folder: {@link #sync} picks up
 * files they added (a new UID each, in name order), removed (expunged) or renamed (new flags,
 * a new MODSEQ). A rescan is skipped while {@code new/} and {@code cur/} keep the modification
 * times of the last one, or of this folder's own last change. A change by another program within
 * the same timestamp tick as one of ours cannot be told from ours by the times alone, so a folder
 * that changed less than {@value #UNSETTLED_MILLIS} ms before its times were taken is rescanned
 * once more after that: at most one rescan per {@value #UNSETTLED_MILLIS} ms however busy it is.
 *
 * <p>Flags are the letters after {@code :2,} in the file name ({@link Flags}); changing them
 * renames the file, moving it from {@code new/} to {@code cur/} if it was there. One instance
 * per folder serves every session, under one lock; those who {@link #listen} hear of every
 * change (IMAP IDLE), whether a session made it or a rescan found it.
 */
public final class MaildirFolder implements Folder, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MaildirFolder.class);
  static final long UNSETTLED_MILLIS = 2_000;

  private final Maildir maildir;
  private final String hostname;
  private final Clock clock;
  private final MailboxIndex index;
  private final KeywordTable keywords;
  private final MessageCache cache;
  private final ReentrantLock lock = new ReentrantLock();
  /** What is known of new/ and of cur/: each rescanned only when it changed. */
  private final Known newKnown = new Known("new");
  private final Known curKnown = new Known("cur");
  /** An own change found a file not where it was known to be: the folders are not known after it. */
  private boolean lost;
  /** Rescans so far: what the modification times are there to save. */
  private int rescans;
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
  /**
   * UIDs from here on are \Recent (RFC 3501 §2.3.2): no session has been told of them yet. At
   * opening, the first message still in new/, which no client has seen (as Dovecot counts it).
   */
  private long recentFrom;
  /** Closed: deleted or renamed under its users, or the store closed. */
  private boolean closed;

  private MaildirFolder(Maildir maildir, String hostname, Clock clock, MailboxIndex index) {
    this.maildir = maildir;
    this.hostname = hostname;
    this.clock = clock;
    this.index = index;
    this.keywords = new KeywordTable(maildir.root());
    this.cache = new MessageCache(maildir.root(), index.uidValidity());
  }

  /**
   * Opens the folder at {@code root}, making it when missing, and reads its files.
   *
   * @param hostname this host's name, part of the name of every file saved here
   */
  public static MaildirFolder open(Path root, String hostname, Clock clock) throws IOException {
    return open(root, hostname, clock, FileModes.PRIVATE);
  }

  /** As {@link #open(Path, String, Clock)}, its folders and message files made with {@code modes}. */
  public static MaildirFolder open(Path root, String hostname, Clock clock, FileModes modes) throws IOException {
    var maildir = new Maildir(root, modes);
    maildir.create();
    var folder = new MaildirFolder(maildir, hostname, clock, MailboxIndex.open(root, clock));
    folder.lock.lock();
    try {
      if (!folder.trustClosedIndex()) folder.rescan(true, true);
      folder.recentFrom = folder.index.uidNext();
      for (MailboxIndex.Entry e : folder.index.entries()) {
        if (e.info() == null) {
          folder.recentFrom = e.uid(); // the first in new/: entries come in UID order
          break;
        }
      }
    } finally {
      folder.lock.unlock();
    }
    return folder;
  }

  /**
   * Whether the index, closed cleanly, is in step with the files still: new/ and cur/ have the
   * times they had then, which were settled (no change within the same tick could hide). Then
   * the folder opens without reading its directories, and what is known of them holds.
   */
  private boolean trustClosedIndex() throws IOException {
    MailboxIndex.DirectoryTimes closed = index.closedWith();
    if (closed == null) return false;
    FileTime newTime = mtime("new");
    FileTime curTime = mtime("cur");
    if (nanos(newTime) != closed.newTime() || nanos(curTime) != closed.curTime()) return false;
    long now = clock.millis();
    newKnown.at(newTime, now);
    curKnown.at(curTime, now);
    return true;
  }

  private static long nanos(FileTime time) {
    return time.to(java.util.concurrent.TimeUnit.NANOSECONDS);
  }

  @Override
  public long uidValidity() {
    return index.uidValidity();
  }

  @Override
  public long uidNext() {
    lock.lock();
    try {
      return index.uidNext();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long highestModSeq() {
    lock.lock();
    try {
      return index.highestModSeq();
    } finally {
      lock.unlock();
    }
  }

  /** The messages now, in UID order (after a {@link #sync}, if the caller wants the files' news). */
  @Override
  public List<MessageInfo> messages() {
    lock.lock();
    try {
      List<MessageInfo> out = new ArrayList<>(index.size());
      for (MailboxIndex.Entry e : index.entries()) out.add(info(e));
      return out;
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Tally tally() {
    lock.lock();
    try {
      int messages = 0, unseen = 0, deleted = 0;
      long size = 0;
      for (MailboxIndex.Entry e : index.entries()) {
        messages++;
        if ((e.flags() & Flags.SEEN) == 0) unseen++;
        if ((e.flags() & Flags.DELETED) != 0) deleted++;
        size += e.vsize();
      }
      return new Tally(messages, unseen, deleted, size);
    } finally {
      lock.unlock();
    }
  }

  /** The UIDs now, ascending: a session's view of the folder when it selects it. */
  @Override
  public long[] uids() {
    lock.lock();
    try {
      long[] uids = new long[index.size()];
      int i = 0;
      for (MailboxIndex.Entry e : index.entries()) uids[i++] = e.uid();
      return uids;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Claims the \Recent messages for one session (RFC 3501 §2.3.2: one session sees a message
   * as recent, no other): those with UIDs from the returned one up to {@code upTo}.
   */
  @Override
  public long claimRecent(long upTo) {
    lock.lock();
    try {
      long from = recentFrom;
      recentFrom = Math.max(recentFrom, upTo);
      return from;
    } finally {
      lock.unlock();
    }
  }

  /** How many messages no session has claimed as \\Recent yet (STATUS RECENT). */
  @Override
  public int recentCount() {
    lock.lock();
    try {
      return index.countFrom(recentFrom);
    } finally {
      lock.unlock();
    }
  }

  /** One message now, or null when it is not (or no longer) here. */
  @Override
  public MessageInfo get(long uid) {
    lock.lock();
    try {
      MailboxIndex.Entry e = index.get(uid);
      return e == null ? null : info(e);
    } finally {
      lock.unlock();
    }
  }

  /** The messages added or changed after {@code modseq}, in MODSEQ order (CONDSTORE, and a session's updates). */
  @Override
  public List<MessageInfo> changedSince(long modseq) {
    lock.lock();
    try {
      List<MessageInfo> out = new ArrayList<>();
      for (MailboxIndex.Entry e : index.changedSince(modseq)) out.add(info(e));
      return out;
    } finally {
      lock.unlock();
    }
  }

  /**
   * The UIDs expunged after {@code modseq}, or null when that is no longer known (the folder was
   * opened after it): then a caller compares its UIDs with {@link #uids}.
   */
  @Override
  public List<Long> expungedSince(long modseq) {
    lock.lock();
    try {
      return index.expungedSince(modseq);
    } finally {
      lock.unlock();
    }
  }

  private static MessageInfo info(MailboxIndex.Entry e) {
    return new MessageInfo(e.uid(), e.modseq(), e.flags(), e.vsize());
  }

  /**
   * Catches up with what other programs did to the files since the last look; tells the
   * listeners when something changed. Cheap when nothing did: two stat calls.
   *
   * @return whether anything changed
   */
  @Override
  public boolean sync() throws IOException {
    boolean changed;
    lock.lock();
    try {
      if (closed) throw new Gone(maildir.root());
      boolean newChanged = !newKnown.holds();
      boolean curChanged = !curKnown.holds();
      if (!newChanged && !curChanged) return false;
      changed = rescan(newChanged, curChanged);
    } finally {
      lock.unlock();
    }
    if (changed) tell();
    return changed;
  }

  /**
   * Reads new/, cur/ or both, and brings the index in step with what they hold: a message whose
   * file was in a folder read and is no longer in either is gone. Call with the lock held.
   */
  private boolean rescan(boolean readNew, boolean readCur) throws IOException {
    rescans++;
    keywords.reload(); // another program may have given new letters meaning
    long started = clock.millis();
    FileTime newTime = mtime("new");
    FileTime curTime = mtime("cur");
    Map<String, Listed> onDisk = list(readNew, readCur);
    List<MailboxIndex.Entry> missing = missing(onDisk, readNew, readCur);
    if (!missing.isEmpty()) {
      // Gone from new/: most likely moved to cur/ by a reader, in the same tick as cur/'s last known time.
      // Or renamed while the folder was listed, missed by both listings. Either way: look once more, at
      // both, before taking anything for expunged.
      readCur = true; // cur/'s time, taken before the first listing, stays the safe one
      onDisk = list(readNew, true);
      missing = missing(onDisk, readNew, true);
    }
    boolean changed = !missing.isEmpty();
    for (MailboxIndex.Entry e : missing) dropMessage(e.uid());
    record Fresh(String name, Listed file, String order) {}
    List<Fresh> fresh = new ArrayList<>();
    for (var f : onDisk.entrySet()) {
      MailboxIndex.Entry e = index.byName(f.getKey());
      if (e == null) {
        fresh.add(new Fresh(f.getKey(), f.getValue(), naturalKey(f.getKey())));
        continue;
      }
      String info = f.getValue().info();
      int flags = Flags.ofLetters(info == null ? "" : info);
      if (flags != e.flags()) {
        index.setFlags(e.uid(), flags, info);
        changed = true;
      } else {
        index.move(e.uid(), info); // moved to cur/ by a reader, or a letter Posta does not map
      }
    }
    // UIDs in the order the messages arrived: their names begin with the time they were delivered, and go
    // on with numbers that order them within a second, compared as numbers ("M9938" before "M10518"). The
    // names alone: a folder read for the first time costs no look at each of its files (the internal date,
    // the file's time, is read when first asked for).
    fresh.sort(java.util.Comparator.comparing(Fresh::order));
    index.reserveFor(fresh.size()); // a UID and a MODSEQ each: one fsync for the lot
    for (Fresh f : fresh) {
      long vsize = vsizeInName(f.name());
      if (vsize < 0) {
        try {
          vsize = vsizeCounted(maildir.root().resolve(f.file().relative()));
        } catch (NoSuchFileException gone) {
          continue; // moved or removed as we looked: the next rescan sees where
        }
      }
      String info = f.file().info();
      index.add(f.name(), info, Flags.ofLetters(info == null ? "" : info), vsize, MailboxIndex.DATE_NOT_READ);
      changed = true;
    }
    index.flush();
    if (readNew) newKnown.at(newTime, started);
    if (readCur) curKnown.at(curTime, started);
    return changed;
  }

  int rescans() {
    lock.lock();
    try {
      return rescans;
    } finally {
      lock.unlock();
    }
  }

  /**
   * What is known of one of new/ and cur/: its modification time when its content was last
   * known (null: not known). A time less than {@value #UNSETTLED_MILLIS} ms old when taken may
   * hide another change in the same tick, so it holds only until that is past.
   */
  private final class Known {
    private final String sub;
    private FileTime time;
    private long recheckAt;

    Known(String sub) {
      this.sub = sub;
    }

    boolean holds() throws IOException {
      return time != null && time.equals(mtime(sub)) && (recheckAt == 0 || clock.millis() < recheckAt);
    }

    void at(FileTime taken, long now) {
      time = taken;
      recheckAt = now - taken.toMillis() < UNSETTLED_MILLIS ? taken.toMillis() + UNSETTLED_MILLIS : 0;
    }

    void forget() {
      time = null;
    }

    /** The time known, when it is settled (no change in its tick could hide behind it); else null. */
    FileTime settled() throws IOException {
      return holds() && recheckAt == 0 ? time : null;
    }
  }

  /** The times of new/ and cur/ when the index is in step with both and they are settled; else null. */
  private MailboxIndex.DirectoryTimes inStep() throws IOException {
    FileTime newTime = newKnown.settled();
    FileTime curTime = curKnown.settled();
    return newTime == null || curTime == null ? null : new MailboxIndex.DirectoryTimes(nanos(newTime), nanos(curTime));
  }

  /**
   * Runs one of this folder's own changes to its files; what was known of new/ and cur/ before it
   * is known after it too, so it costs no rescan. Call with the lock held.
   */
  private <T> T ownChange(IoAction<T> change) throws IOException {
    boolean newWasKnown = newKnown.holds();
    boolean curWasKnown = curKnown.holds();
    lost = false;
    T result = change.run();
    long now = clock.millis();
    if (newWasKnown && !lost) newKnown.at(mtime("new"), now);
    else newKnown.forget();
    if (curWasKnown && !lost) curKnown.at(mtime("cur"), now);
    else curKnown.forget();
    return result;
  }

  private interface IoAction<T> {
    T run() throws IOException;
  }

  /** A message file as listed: its name in new/ or in cur/. */
  private record Listed(String name, boolean inNew) {
    String relative() {
      return (inNew ? "new/" : "cur/") + name;
    }

    /** The info letters (after {@code :2,}) of a file in cur/; null in new/. */
    String info() {
      if (inNew) return null;
      int info = name.indexOf(":2,");
      return info < 0 ? "" : name.substring(info + 3);
    }
  }

  /** The message files in the subfolders asked for, by base name; new/ is read first and a copy in cur/ wins. */
  private Map<String, Listed> list(boolean readNew, boolean readCur) throws IOException {
    // new/ first: a file a reader moves to cur/ meanwhile is then seen in one of the two, never in neither.
    String[] inNew = readNew ? names("new") : new String[0];
    String[] inCur = readCur ? names("cur") : new String[0];
    Map<String, Listed> onDisk = HashMap.newHashMap(inNew.length + inCur.length);
    add(inNew, true, onDisk);
    add(inCur, false, onDisk);
    return onDisk;
  }

  /** java.io's list(): names as strings straight from readdir, not a Path made and taken apart for each. */
  private String[] names(String sub) throws IOException {
    String[] names = maildir.root().resolve(sub).toFile().list();
    if (names == null) throw new IOException(maildir.root().resolve(sub) + ": cannot be listed");
    return names;
  }

  private static void add(String[] names, boolean inNew, Map<String, Listed> onDisk) {
    for (String name : names) {
      if (name.startsWith(".") || MailboxIndex.hasControl(name)) continue; // not a message
      int colon = name.indexOf(':');
      onDisk.put(colon < 0 ? name : name.substring(0, colon), new Listed(name, inNew));
    }
  }

  /** Compares names with their runs of digits as numbers, so that "9" comes before "10". */
  static int compareNatural(String a, String b) {
    return naturalKey(a).compareTo(naturalKey(b));
  }

  /**
   * A name made to sort by plain comparison as {@link #compareNatural} has it: each run of digits
   * becomes {@code 0}, then its count of digits (leading zeros left out) as one char, then those
   * digits. The {@code 0} stands where a digit stood, so a run sorts against other characters as
   * its first digit would; runs then sort by their length first, as numbers do. Made once per name,
   * a folder of 100,000 new files sorts by the JDK's fast string comparison.
   */
  static String naturalKey(String name) {
    var key = new StringBuilder(name.length() + 8);
    for (int i = 0; i < name.length(); ) {
      if (!Character.isDigit(name.charAt(i))) {
        key.append(name.charAt(i++));
        continue;
      }
      int end = i;
      while (end < name.length() && Character.isDigit(name.charAt(end))) end++;
      while (i < end - 1 && name.charAt(i) == '0') i++; // leading zeros count for nothing
      key.append('0').append((char) (end - i)).append(name, i, end);
      i = end;
    }
    return key.toString();
  }

  /** The known messages whose file was in a subfolder read and is not in the listing. */
  private List<MailboxIndex.Entry> missing(Map<String, Listed> onDisk, boolean readNew, boolean readCur) {
    List<MailboxIndex.Entry> missing = new ArrayList<>();
    for (MailboxIndex.Entry e : index.entries()) {
      if (!onDisk.containsKey(e.name()) && wasIn(e, readNew, readCur)) missing.add(e);
    }
    return missing;
  }

  /** Whether a message's file was last known in a subfolder that is read now. */
  private static boolean wasIn(MailboxIndex.Entry e, boolean readNew, boolean readCur) {
    return e.info() == null ? readNew : readCur;
  }

  private FileTime mtime(String sub) throws IOException {
    return Files.getLastModifiedTime(maildir.root().resolve(sub));
  }

  /** The size with CRLF line ends: from {@code ,W=} in the name, else counted. */
  private static long vsize(String base, Path file) throws IOException {
    long inName = vsizeInName(base);
    return inName >= 0 ? inName : vsizeCounted(file);
  }

  /** The size with CRLF line ends as {@code ,W=} in a file's name gives it (Dovecot's and Posta's names do); -1 if not. */
  private static long vsizeInName(String base) {
    int w = base.indexOf(",W=");
    if (w < 0) return -1;
    int end = w + 3;
    while (end < base.length() && Character.isDigit(base.charAt(end))) end++;
    return end > w + 3 && end - w - 3 < 19 ? Long.parseLong(base, w + 3, end, 10) : -1;
  }

  /**
   * The size with CRLF line ends, counted: the file's octets and one more for each LF without a
   * CR before it (another program may have written CRLF), as {@link CrlfContent} serves them.
   */
  private static long vsizeCounted(Path file) throws IOException {
    long size = 0;
    long bareLfs = 0;
    byte before = 0;
    byte[] buf = new byte[64 * 1024];
    try (InputStream in = Files.newInputStream(file)) {
      for (int n = in.read(buf); n >= 0; n = in.read(buf)) {
        size += n;
        for (int i = 0; i < n; i++) {
          if (buf[i] == '\n' && before != '\r') bareLfs++;
          before = buf[i];
        }
      }
    }
    return size + bareLfs;
  }

  /** The keywords in use in this folder (for FLAGS and PERMANENTFLAGS), in the order of their letters. */
  @Override
  public List<String> keywords() {
    lock.lock();
    try {
      return keywords.all();
    } finally {
      lock.unlock();
    }
  }

  /** The keyword names a message's {@link MessageInfo#flags} carry. */
  @Override
  public List<String> keywordsOf(int flags) {
    lock.lock();
    try {
      return keywords.namesOf(flags);
    } finally {
      lock.unlock();
    }
  }

  /**
   * The flag bits for these keywords, giving each new one a letter ({@code dovecot-keywords}).
   *
   * @throws IllegalStateException when there is no letter left for a new one (26 in use)
   */
  @Override
  public int keywordBits(java.util.Collection<String> names) throws IOException {
    lock.lock();
    try {
      return keywords.bitsOf(names);
    } finally {
      lock.unlock();
    }
  }

  /**
   * What a protocol kept of a message with {@link #cache} (IMAP: ENVELOPE and BODYSTRUCTURE),
   * or null when nothing is kept (or it could not be read).
   */
  @Override
  public byte[] cached(long uid) {
    lock.lock();
    try {
      return index.get(uid) == null ? null : cache.get(uid);
    } catch (IOException e) {
      log.warn("{}: cache unreadable: {}", maildir.root(), e.toString());
      return null;
    } finally {
      lock.unlock();
    }
  }

  /** Keeps what a protocol learned from a message's content, which never changes, for its life. */
  @Override
  public void cache(long uid, byte[] blob) {
    lock.lock();
    try {
      if (index.get(uid) != null) cache.put(uid, blob);
    } catch (IOException e) {
      log.warn("{}: cache not written: {}", maildir.root(), e.toString());
    } finally {
      lock.unlock();
    }
  }

  /** The file that holds a message now, or null when it is not (or no longer) here. */
  public Path file(long uid) {
    lock.lock();
    try {
      MailboxIndex.Entry e = index.get(uid);
      return e == null ? null : maildir.root().resolve(e.file());
    } finally {
      lock.unlock();
    }
  }

  /**
   * Changes a message's flags in one step under the folder's lock, so that two sessions
   * changing different flags of one message both get their way, and a conditional change
   * (RFC 7162 §3.1.3 UNCHANGEDSINCE) is checked and made as one.
   *
   * @param unchangedSince change only if the message's MODSEQ is not above it; -1 for always
   * @return null when the message is gone
   */
  @Override
  public FlagUpdate updateFlags(long uid, FlagChange change, int bits, long unchangedSince) throws IOException {
    lock.lock();
    try {
      MailboxIndex.Entry e = index.get(uid);
      if (e == null) return null;
      if (unchangedSince >= 0 && e.modseq() > unchangedSince) return new FlagUpdate(info(e), true);
      int now = switch (change) {
        case REPLACE -> bits;
        case ADD -> e.flags() | bits;
        case REMOVE -> e.flags() & ~bits;
      };
      MessageInfo changed = setFlags(uid, now); // the lock is held on: nobody changes the message in between
      return changed == null ? null : new FlagUpdate(changed, false);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Opens a message's file for reading, or returns null when the message is gone. Opened under
   * the lock, so that no flag change (a rename) comes between finding the file and opening it;
   * once open, a rename does not matter.
   */
  @Override
  public FileChannel openMessage(long uid) throws IOException {
    return atFile(uid, (e, file) -> FileChannel.open(file));
  }

  /** Its file's modification time, read once and kept in the index, as Dovecot takes it from there too. */
  @Override
  public Instant internalDate(long uid) throws IOException {
    return atFile(uid, (e, file) -> {
      if (e.internalDate() != MailboxIndex.DATE_NOT_READ) return Instant.ofEpochMilli(e.internalDate()); // the file not touched
      long date = Files.getLastModifiedTime(file).toMillis();
      index.setInternalDate(uid, date); // written with the next change, or at close
      return Instant.ofEpochMilli(date);
    });
  }

  /**
   * Does {@code action} with a message's entry and file under the lock; null when the message is
   * gone. A file another program renamed meanwhile is looked for again, once.
   */
  private <T> T atFile(long uid, FileAction<T> action) throws IOException {
    boolean changed = false;
    lock.lock();
    try {
      for (int attempt = 0; ; attempt++) {
        MailboxIndex.Entry e = index.get(uid);
        if (e == null) return null;
        try {
          return action.on(e, maildir.root().resolve(e.file()));
        } catch (NoSuchFileException gone) {
          if (attempt > 0) throw gone;
          changed = rescan(true, true);
        }
      }
    } finally {
      lock.unlock();
      if (changed) tell();
    }
  }

  private interface FileAction<T> {
    T on(MailboxIndex.Entry entry, Path file) throws IOException;
  }

  /**
   * Sets a message's flags by renaming its file; a new MODSEQ when they change.
   *
   * @return the message as it is now, or null when it is gone
   */
  @Override
  public MessageInfo setFlags(long uid, int flags) throws IOException {
    MessageInfo result;
    lock.lock();
    try {
      MailboxIndex.Entry e = index.get(uid);
      if (e == null) return null;
      if (e.flags() == flags) return info(e);
      if (!ownChange(() -> rename(uid, flags))) {
        rescan(true, true); // renamed or removed by another program meanwhile: look again, once
        e = index.get(uid);
        if (e == null) return null;
        if (e.flags() != flags && !ownChange(() -> rename(uid, flags))) return null;
      }
      result = info(index.get(uid));
      index.flush();
    } finally {
      lock.unlock();
    }
    tell();
    return result;
  }

  /**
   * Renames a message's file in cur/ to carry {@code flags}, and records them with a new MODSEQ;
   * false when the file was not where it was known to be.
   */
  private boolean rename(long uid, int flags) throws IOException {
    MailboxIndex.Entry e = index.get(uid);
    String info = Flags.letters(flags, e.info() == null ? "" : e.info());
    try {
      // rename() alone, as Dovecot renames: a move that is not atomic looks at both names first (two lstat calls and
      // an exception made for the target that is not there), once for every message a POP3 QUIT marks \Seen.
      Files.move(maildir.root().resolve(e.file()), maildir.root().resolve("cur/" + e.name() + ":2," + info), StandardCopyOption.ATOMIC_MOVE);
    } catch (NoSuchFileException gone) {
      lost = true;
      return false;
    }
    index.setFlags(uid, flags, info);
    return true;
  }

  /**
   * Removes messages for good (IMAP EXPUNGE): their files are deleted ({@link FileRemovals}) and
   * their UIDs never come back. Ones already gone are skipped.
   *
   * @return the UIDs removed now
   * @throws IOException when a file could not be deleted; the others are removed all the same
   */
  @Override
  public List<Long> expunge(Collection<Long> uids) throws IOException {
    return expunge(uids, false);
  }

  @Override
  public List<Long> expungeDeleted(Collection<Long> uids) throws IOException {
    return expunge(uids, true);
  }

  private List<Long> expunge(Collection<Long> uids, boolean onlyDeleted) throws IOException {
    List<Long> removed = new ArrayList<>();
    IOException failure;
    lock.lock();
    try {
      List<Long> moved = new ArrayList<>();
      List<MailboxIndex.Entry> known = new ArrayList<>(uids.size());
      for (long uid : uids) {
        MailboxIndex.Entry e = index.get(uid);
        if (e != null && (!onlyDeleted || (e.flags() & Flags.DELETED) != 0)) known.add(e);
      }
      // Not found where known: renamed by another program meanwhile (new flags), found below under its new name.
      failure = ownChange(() -> removeFiles(known, removed, moved));
      if (!moved.isEmpty()) {
        rescan(true, true);
        List<MailboxIndex.Entry> found = new ArrayList<>();
        for (long uid : moved) {
          MailboxIndex.Entry e = index.get(uid);
          if (e != null) found.add(e); // else gone for good: the rescan took it out
        }
        List<Long> movedAgain = new ArrayList<>();
        IOException again = removeFiles(found, removed, movedAgain);
        if (failure == null) failure = again;
        if (!movedAgain.isEmpty()) log.debug("{}: UIDs {} moved again; the next rescan finds them", maildir.root(), movedAgain);
      }
      index.flush();
    } finally {
      lock.unlock();
    }
    if (!removed.isEmpty()) tell();
    if (failure != null) throw failure;
    return removed;
  }

  /**
   * Removes the messages' files ({@link FileRemovals}: off the caller's carrier, several at a
   * time), then those removed from the index. Call with the lock held.
   *
   * @param removed gets the UIDs removed
   * @param moved gets the UIDs whose file was not where the index has it
   * @return the first other failure, or null; the other messages are removed all the same
   */
  private IOException removeFiles(List<MailboxIndex.Entry> entries, List<Long> removed, List<Long> moved) throws IOException {
    IOException[] failures = FileRemovals.each(entries.size(), i -> delete(entries.get(i).file()));
    IOException first = null;
    for (int i = 0; i < failures.length; i++) {
      long uid = entries.get(i).uid();
      if (failures[i] == null) {
        dropMessage(uid);
        removed.add(uid);
      } else if (failures[i] instanceof NoSuchFileException) {
        moved.add(uid);
      } else if (first == null) {
        first = failures[i];
      }
    }
    return first;
  }

  /** Takes an expunged message out of the index and the cache. */
  private void dropMessage(long uid) throws IOException {
    index.expunge(uid);
    cache.remove(uid);
  }

  /**
   * Deletes a message's file, and a copy of it left in new/ when it is in cur/: a mover killed
   * between its link and its unlink leaves both, and the copy must not come back as new mail.
   */
  private void delete(String relative) throws IOException {
    unlink(maildir.root().resolve(relative));
    if (relative.startsWith("cur/")) {
      int colon = relative.indexOf(':');
      Path copy = maildir.root().resolve("new").resolve(relative.substring(4, colon < 0 ? relative.length() : colon));
      if (Files.exists(copy)) Files.delete(copy); // most often there is none: one access() then, and no exception made
    }
  }

  /**
   * Deletes a file with one system call where that succeeds (Files.delete looks at the file
   * first: one more for every message a POP3 session removes); where it fails, Files.delete
   * says why (NoSuchFileException for a file renamed meanwhile).
   */
  private static void unlink(Path file) throws IOException {
    if (!file.toFile().delete()) Files.delete(file);
  }

  /**
   * The first half of {@link #append}: writes the message into {@code tmp/}, fsynced, not yet
   * in the folder; then {@link #save} or {@link #discard} it. For a message that arrives over
   * the network, so that its end can be checked before it becomes mail.
   */
  @Override
  public Maildir.Written write(MessageWriter content) throws IOException {
    return maildir.write(content, hostname); // the long part, outside the lock
  }

  /** The second half of {@link #append}: the written message joins the folder, with a new UID. */
  @Override
  public MessageInfo save(Incoming incoming, int flags, Instant internalDate) throws IOException {
    var written = (Maildir.Written) incoming;
    MessageInfo result;
    lock.lock();
    try {
      Path file = ownChange(() -> maildir.saveInto(written, Flags.letters(flags, "")));
      // Its internal date is its mtime, set once in cur/: in tmp/ an old date would look like a stale leftover.
      Files.setLastModifiedTime(file, FileTime.from(internalDate));
      MailboxIndex.Entry e = index.add(written.name(), Flags.letters(flags, ""), flags, vsize(written.name(), file), internalDate.toEpochMilli());
      index.flush();
      result = info(e);
    } finally {
      lock.unlock();
    }
    tell();
    return result;
  }

  /** Drops a {@link #write written} message that is not to be saved. */
  @Override
  public void discard(Incoming written) throws IOException {
    Files.deleteIfExists(((Maildir.Written) written).tmp());
  }

  /**
   * Takes note of a message Posta's delivery just put into new/: known at once, so that a
   * client in IDLE hears of it now, with no rescan of cur/ (new/ is looked at again at the next
   * {@link #sync}, in case another program changed it meanwhile; it is small once clients take
   * their new mail).
   */
  public void delivered(Path file) throws IOException {
    String name = file.getFileName().toString();
    lock.lock();
    try {
      if (index.byName(name) == null) {
        index.add(name, null, 0, vsize(name, file), Files.getLastModifiedTime(file).toMillis());
        index.flush();
      }
      newKnown.forget();
    } finally {
      lock.unlock();
    }
    tell();
  }

  /** Moves every message in new/ to cur/, as a client that has seen the folder would (no flags change). */
  @Override
  public void takeNew() throws IOException {
    lock.lock();
    try {
      ownChange(() -> {
        List<MailboxIndex.Entry> inNew = new ArrayList<>();
        for (MailboxIndex.Entry e : index.entries()) {
          if (e.info() == null) inNew.add(e);
        }
        for (MailboxIndex.Entry e : inNew) {
          try {
            Files.move(maildir.root().resolve(e.file()), maildir.root().resolve("cur").resolve(e.name() + ":2,"), StandardCopyOption.ATOMIC_MOVE);
            index.move(e.uid(), "");
          } catch (NoSuchFileException gone) {
            lost = true; // taken by another program: the next sync finds it
          }
        }
        index.flush();
        return null;
      });
    } finally {
      lock.unlock();
    }
  }

  /** Hears of every change to the folder, on the thread that made or found it; keep it short. */
  @Override
  public void listen(Runnable listener) {
    listeners.add(listener);
  }

  @Override
  public void unlisten(Runnable listener) {
    listeners.remove(listener);
  }

  private void tell() {
    for (Runnable l : listeners) l.run();
  }

  /** Whether the folder was closed under its users: deleted, renamed, or the server stopping. */
  @Override
  public boolean gone() {
    return closed;
  }

  @Override
  public void close() throws IOException {
    lock.lock();
    try {
      if (closed) return;
      closed = true;
      index.close(inStep());
      cache.close();
    } finally {
      lock.unlock();
    }
  }

  /** Lets go of the index as a killed process would, without its clean record (for tests of the crash path). */
  void abandon() throws IOException {
    lock.lock();
    try {
      index.abandon();
    } finally {
      lock.unlock();
    }
  }
}
