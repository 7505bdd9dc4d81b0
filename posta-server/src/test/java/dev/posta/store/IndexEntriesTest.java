package dev.posta.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class IndexEntriesTest {
  private static MailboxIndex.Entry entry(long uid, long modseq) {
    return new MailboxIndex.Entry(uid, modseq, 0, 1, 0, "m" + uid, "");
  }

  private static List<Long> uids(IndexEntries entries) {
    List<Long> uids = new ArrayList<>();
    for (MailboxIndex.Entry e : entries.values()) uids.add(e.uid());
    return uids;
  }

  @Test
  void messagesComeInUidOrderAndAreFoundByUid() {
    var entries = new IndexEntries();
    for (long uid = 1; uid <= 100; uid++) assertThat(entries.put(entry(uid, uid))).isNull();
    assertThat(entries.put(entry(50, 101))).as("replaced").isEqualTo(entry(50, 50));
    assertThat(entries.put(entry(200, 102))).isNull();
    assertThat(entries.size()).isEqualTo(101);
    assertThat(entries.get(50)).isEqualTo(entry(50, 101));
    assertThat(entries.get(101)).isNull();
    assertThat(entries.get(200)).isEqualTo(entry(200, 102));
    assertThat(entries.countFrom(99)).isEqualTo(3);
    assertThat(entries.countFrom(101)).isEqualTo(1);
    assertThat(entries.changedSince(99)).extracting(MailboxIndex.Entry::uid).containsExactly(100L, 50L, 200L);
    assertThat(entries.values()).hasSize(101);
  }

  @Test
  void expungedMessagesLeaveHolesThatCloseUp() {
    var entries = new IndexEntries();
    for (long uid = 1; uid <= 100; uid++) entries.put(entry(uid, uid));
    for (long uid = 2; uid <= 100; uid += 2) assertThat(entries.remove(uid)).isEqualTo(entry(uid, uid));
    assertThat(entries.remove(2)).isNull();
    assertThat(entries.remove(1000)).isNull();
    assertThat(entries.size()).isEqualTo(50);
    assertThat(uids(entries)).hasSize(50).allMatch(uid -> uid % 2 == 1);
    assertThat(entries.get(4)).isNull();
    assertThat(entries.get(5)).isEqualTo(entry(5, 5));
    assertThat(entries.countFrom(90)).isEqualTo(5);
    assertThat(entries.changedSince(95)).extracting(MailboxIndex.Entry::uid).containsExactly(97L, 99L);
    entries.put(entry(3, 200)); // a change after the holes closed
    entries.put(entry(101, 201));
    assertThat(uids(entries).getFirst()).isEqualTo(1L);
    assertThat(uids(entries).getLast()).isEqualTo(101L);
    assertThat(entries.changedSince(199)).extracting(MailboxIndex.Entry::uid).containsExactly(3L, 101L);
  }

  @Test
  void aUidOutOfOrderGoesInItsPlace() {
    var entries = new IndexEntries();
    entries.put(entry(5, 1));
    entries.put(entry(9, 2));
    entries.put(entry(7, 3)); // only a damaged log would: still kept in order
    assertThat(uids(entries)).containsExactly(5L, 7L, 9L);
  }
}
