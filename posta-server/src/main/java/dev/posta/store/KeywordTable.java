package dev.posta.store;

import dev.posta.storage.PrivateFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/**
 * A folder's keywords (RFC 9051 §2.3.2), in Dovecot's {@code dovecot-keywords} file beside
 * {@code cur/}: a line {@code <index> <name>} per keyword, the index being the letter ('a' + index)
 * that marks it in file names ({@link Flags}). So Dovecot and Posta read each other's keywords.
 *
 * <p>A keyword, once in the table, keeps its letter: the file only grows, to at most {@value
 * Flags#MAX_KEYWORDS} (the letters there are); a folder with all of them takes no new keyword.
 * Keywords match without regard to case, as Dovecot matches them. Call with the folder's lock.
 */
final class KeywordTable {
  static final String FILE_NAME = "dovecot-keywords";

  private final Path file;
  private final List<String> names = new ArrayList<>();
  /** The file's time and size when last read, to read it only when it changed. */
  private FileTime readAt;
  private long readSize = -1;

  KeywordTable(Path dir) {
    this.file = dir.resolve(FILE_NAME);
  }

  /** Reads the file again (another program may have added keywords); lines it cannot read are skipped. */
  void reload() throws IOException {
    List<String> lines;
    try {
      var attributes = Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class);
      // As last read: the same time and size (a new keyword makes the file longer, even within one tick).
      if (attributes.lastModifiedTime().equals(readAt) && attributes.size() == readSize) return;
      readAt = attributes.lastModifiedTime();
      readSize = attributes.size();
      lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      return;
    }
    names.clear();
    for (String line : lines) {
      int sp = line.indexOf(' ');
      if (sp <= 0) continue;
      int index;
      try {
        index = Integer.parseInt(line.substring(0, sp));
      } catch (NumberFormatException e) {
        continue;
      }
      if (index < 0 || index >= Flags.MAX_KEYWORDS) continue;
      while (names.size() <= index) names.add(null);
      names.set(index, line.substring(sp + 1));
    }
  }

  /** The keywords in use here, in table order. */
  List<String> all() {
    return names.stream().filter(n -> n != null).toList();
  }

  /** The keyword names of {@code flags}' keyword bits, in table order. */
  List<String> namesOf(int flags) {
    List<String> out = new ArrayList<>();
    for (int i = 0; i < names.size(); i++) {
      if (names.get(i) != null && (flags & Flags.keyword(i)) != 0) out.add(names.get(i));
    }
    return out;
  }

  /**
   * The keyword bits for {@code keywords}, each given a letter if it has none yet (the file
   * written before the bits are used).
   *
   * @throws IllegalStateException when a new keyword does not fit: all 26 letters are taken
   */
  int bitsOf(Collection<String> keywords) throws IOException {
    int bits = 0;
    boolean added = false;
    List<String> before = new ArrayList<>(names); // names has gaps (null) where a keyword was dropped
    for (String k : keywords) {
      int index = indexOf(k);
      if (index < 0) {
        index = names.indexOf(null);
        if (index < 0) index = names.size();
        if (index >= Flags.MAX_KEYWORDS) { // all or none: a refused STORE leaves no new keywords behind
          names.clear();
          names.addAll(before);
          throw new IllegalStateException("no room for keyword " + k + ": all " + Flags.MAX_KEYWORDS + " are taken");
        }
        if (index == names.size()) names.add(k);
        else names.set(index, k);
        added = true;
      }
      bits |= Flags.keyword(index);
    }
    if (added) write();
    return bits;
  }

  private int indexOf(String keyword) {
    String wanted = keyword.toLowerCase(Locale.ROOT);
    for (int i = 0; i < names.size(); i++) {
      if (names.get(i) != null && names.get(i).toLowerCase(Locale.ROOT).equals(wanted)) return i;
    }
    return -1;
  }

  private void write() throws IOException {
    var s = new StringBuilder();
    for (int i = 0; i < names.size(); i++) {
      if (names.get(i) != null) s.append(i).append(' ').append(names.get(i)).append('\n');
    }
    PrivateFiles.replace(file, s.toString().getBytes(StandardCharsets.UTF_8));
  }
}
