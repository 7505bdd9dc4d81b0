package dev.posta.store;

import java.util.AbstractCollection;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * A {@link MailboxIndex}'s messages in UID order, in arrays rather than trees: UIDs only ascend
 * (RFC 9051 §2.3.1.1), so a new message goes at the end and a UID is found by binary search. An
 * expunged message leaves a hole, closed up once holes are a quarter of the slots, so that
 * expunging many messages one by one costs no shift each. MODSEQs sit in an array of their own,
 * and what changed since one is a scan of it: about 20 octets and one object per message,
 * where two tree maps took some 130 octets and five objects, all of which a folder of 100,000
 * messages read for the first time made the collector copy.
 *
 * <p>Not thread-safe: the index's owner holds its folder's lock. Not to be changed while iterated.
 */
final class IndexEntries {
  private long[] uids = new long[16];
  private long[] modseqs = new long[16];
  private MailboxIndex.Entry[] entries = new MailboxIndex.Entry[16];
  /** Slots in use, holes included. */
  private int slots;
  private int holes;

  int size() {
    return slots - holes;
  }

  MailboxIndex.Entry get(long uid) {
    int i = Arrays.binarySearch(uids, 0, slots, uid);
    return i < 0 ? null : entries[i];
  }

  /** Adds a message, or replaces the one with its UID; returns the one replaced, or null. */
  MailboxIndex.Entry put(MailboxIndex.Entry e) {
    int i = slots == 0 || e.uid() > uids[slots - 1] ? -slots - 1 : Arrays.binarySearch(uids, 0, slots, e.uid());
    if (i >= 0) {
      MailboxIndex.Entry old = entries[i];
      if (old == null) holes--;
      entries[i] = e;
      modseqs[i] = e.modseq();
      return old;
    }
    int at = -i - 1; // at the end, as a new UID is; within only if a damaged log came out of order
    if (slots == uids.length) grow();
    System.arraycopy(uids, at, uids, at + 1, slots - at);
    System.arraycopy(modseqs, at, modseqs, at + 1, slots - at);
    System.arraycopy(entries, at, entries, at + 1, slots - at);
    uids[at] = e.uid();
    modseqs[at] = e.modseq();
    entries[at] = e;
    slots++;
    return null;
  }

  /** Takes a message out; returns it, or null when there was none with that UID. */
  MailboxIndex.Entry remove(long uid) {
    int i = Arrays.binarySearch(uids, 0, slots, uid);
    if (i < 0 || entries[i] == null) return null;
    MailboxIndex.Entry old = entries[i];
    entries[i] = null;
    holes++;
    if (holes > 16 && holes > slots / 4) closeHoles();
    return old;
  }

  /** How many messages have a UID of {@code uid} or more. */
  int countFrom(long uid) {
    int i = Arrays.binarySearch(uids, 0, slots, uid);
    int n = 0;
    for (int at = i < 0 ? -i - 1 : i; at < slots; at++) {
      if (entries[at] != null) n++;
    }
    return n;
  }

  /** The messages with a MODSEQ above {@code modseq}, in MODSEQ order. */
  List<MailboxIndex.Entry> changedSince(long modseq) {
    List<MailboxIndex.Entry> changed = new ArrayList<>();
    for (int i = 0; i < slots; i++) {
      if (modseqs[i] > modseq && entries[i] != null) changed.add(entries[i]);
    }
    changed.sort(Comparator.comparingLong(MailboxIndex.Entry::modseq));
    return changed;
  }

  /** Every message, in UID order: a view, read-only. */
  Collection<MailboxIndex.Entry> values() {
    return new AbstractCollection<>() {
      @Override
      public int size() {
        return IndexEntries.this.size();
      }

      @Override
      public Iterator<MailboxIndex.Entry> iterator() {
        return new Iterator<>() {
          private int at = next(0);

          private int next(int from) {
            while (from < slots && entries[from] == null) from++;
            return from;
          }

          @Override
          public boolean hasNext() {
            return at < slots;
          }

          @Override
          public MailboxIndex.Entry next() {
            if (at >= slots) throw new NoSuchElementException();
            MailboxIndex.Entry e = entries[at];
            at = next(at + 1);
            return e;
          }
        };
      }
    };
  }

  private void grow() {
    int length = uids.length * 2;
    uids = Arrays.copyOf(uids, length);
    modseqs = Arrays.copyOf(modseqs, length);
    entries = Arrays.copyOf(entries, length);
  }

  private void closeHoles() {
    int to = 0;
    for (int from = 0; from < slots; from++) {
      if (entries[from] == null) continue;
      uids[to] = uids[from];
      modseqs[to] = modseqs[from];
      entries[to] = entries[from];
      to++;
    }
    Arrays.fill(entries, to, slots, null);
    slots = to;
    holes = 0;
  }
}
