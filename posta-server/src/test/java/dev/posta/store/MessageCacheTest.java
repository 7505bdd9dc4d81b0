package dev.posta.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-folder cache of what protocols learned from messages: kept across openings, and never trusted when doubtful. */
class MessageCacheTest {
  @TempDir Path dir;

  private static byte[] blob(String s) {
    return s.getBytes(UTF_8);
  }

  @Test
  void keptBlobsAreReadBackAfterReopeningAndTheLastOneForAUidWins() throws Exception {
    try (var cache = new MessageCache(dir, 7)) {
      assertThat(cache.get(1)).isNull();
      cache.put(1, blob("one"));
      cache.put(2, blob("two"));
      cache.put(1, blob("one again"));
      assertThat(cache.get(1)).isEqualTo(blob("one again"));
    }
    try (var cache = new MessageCache(dir, 7)) {
      assertThat(cache.get(1)).isEqualTo(blob("one again"));
      assertThat(cache.get(2)).isEqualTo(blob("two"));
      assertThat(cache.get(3)).isNull();
    }
  }

  @Test
  void anotherUidValidityStartsTheFileAnew() throws Exception {
    try (var cache = new MessageCache(dir, 7)) {
      cache.put(1, blob("old folder"));
    }
    try (var cache = new MessageCache(dir, 8)) {
      assertThat(cache.get(1)).isNull();
      cache.put(1, blob("new folder"));
    }
    assertThat(Files.readString(dir.resolve("posta-cache"), java.nio.charset.StandardCharsets.ISO_8859_1)).startsWith("posta-cache 1 8\n")
        .doesNotContain("old folder");
  }

  @Test
  void aRecordCutShortIsDroppedAndADamagedOneIsNotServed() throws Exception {
    try (var cache = new MessageCache(dir, 7)) {
      cache.put(1, blob("first"));
      cache.put(2, blob("second"));
    }
    Path file = dir.resolve("posta-cache");
    long size = Files.size(file);
    try (var f = new RandomAccessFile(file.toFile(), "rw")) {
      f.setLength(size - 2); // the crash came in the middle of the last record
      f.seek("posta-cache 1 7\n".length() + 16);
      f.write('X'); // and the first one's blob rotted
    }
    try (var cache = new MessageCache(dir, 7)) {
      assertThat(cache.get(2)).isNull();
      assertThat(cache.get(1)).isNull();
      cache.put(3, blob("third"));
      assertThat(cache.get(3)).isEqualTo(blob("third"));
    }
    assertThat(Files.size(file)).isEqualTo(size - (16 + "second".length()) + (16 + "third".length()));
  }

  @Test
  void aFileOfMostlyForgottenRecordsStartsAnew() throws Exception {
    try (var cache = new MessageCache(dir, 7)) {
      for (long uid = 1; uid <= 3000; uid++) cache.put(uid, blob("message " + uid));
      long before = Files.size(dir.resolve("posta-cache"));
      for (long uid = 1; uid <= 1500; uid++) cache.remove(uid);
      assertThat(Files.size(dir.resolve("posta-cache"))).as("1500 forgotten, 1500 kept: not yet most").isEqualTo(before);
      assertThat(cache.get(2000)).isEqualTo(blob("message 2000"));
      cache.remove(1501);
      assertThat(Files.size(dir.resolve("posta-cache"))).isEqualTo("posta-cache 1 7\n".length());
      assertThat(cache.get(2000)).isNull(); // parsed again when next asked for
    }
  }
}
