package dev.posta.greylist;

import dev.posta.storage.DirectorySync;
import dev.posta.storage.PrivateFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The greylist's file, {@code <data>/greylist/triplets}: a log of one-line records, each ending
 * with the CRC-32C of the text before it, appended as triplets are seen and pass, and rewritten
 * compactly (a temporary file, fsynced, renamed, the folder fsynced) when it is mostly history.
 *
 * <pre>
 * posta-greylist 1                         the first line
 * s NETWORK SENDER RECIPIENT MILLIS CRC    first attempt of a triplet at MILLIS (epoch ms)
 * p NETWORK SENDER RECIPIENT MILLIS CRC    the triplet passed; its last mail at MILLIS
 * a NETWORK MILLIS CRC                     the network is auto-allowlisted; last seen at MILLIS
 * </pre>
 *
 * <p>Guarantees: the file is never left corrupt. A torn or garbled record (a crash in the middle
 * of a write, a bad disk block) ends the log there: it and what follows are cut off when the file
 * is opened, and logged. A file whose first line is not the header is moved aside to {@code
 * triplets.unreadable} (logged) and the greylist starts empty: the cost is one more greylisting
 * round for the correspondents it held, never refused mail. Writes are grouped by the caller
 * ({@link #append} takes many records, one fsync), so a crash loses at most the records not yet
 * appended.
 */
final class TripletFile implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TripletFile.class);
  static final String NAME = "triplets";
  static final String HEADER = "posta-greylist 1";

  /** One record as read back. */
  record Record(char kind, String[] fields) {}

  private final Path file;
  private FileChannel channel;
  /** Records in the file now, for deciding when to compact. */
  private long records;

  private TripletFile(Path file, FileChannel channel, long records) {
    this.file = file;
    this.channel = channel;
    this.records = records;
  }

  /**
   * Opens (creating) the file in {@code dir}, handing every intact record to {@code replay} in
   * the file's order, cutting off a torn tail and setting aside a file without the header.
   */
  static TripletFile open(Path dir, java.util.function.Consumer<Record> replay) throws IOException {
    PrivateFiles.createDirectories(dir);
    Path file = dir.resolve(NAME);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      bytes = null;
    }
    long good = 0;
    long count = 0;
    if (bytes != null) {
      int headerEnd = indexOf(bytes, 0);
      if (headerEnd < 0 || !new String(bytes, 0, headerEnd, StandardCharsets.UTF_8).equals(HEADER)) {
        Path aside = dir.resolve(NAME + ".unreadable");
        Files.move(file, aside, StandardCopyOption.REPLACE_EXISTING);
        log.warn("greylist: {} does not start with \"{}\": moved aside to {}, starting with an empty greylist", file, HEADER, aside);
        bytes = null;
      } else {
        int at = headerEnd + 1;
        good = at;
        while (at < bytes.length) {
          int end = indexOf(bytes, at);
          Record r = end < 0 ? null : parse(new String(bytes, at, end - at, StandardCharsets.UTF_8));
          if (r == null) {
            log.warn("greylist: torn or garbled record at octet {} of {}: cut off there ({} octets dropped)", at, file, bytes.length - at);
            break;
          }
          replay.accept(r);
          count++;
          at = end + 1;
          good = at;
        }
      }
    }
    FileChannel channel;
    if (bytes == null) {
      channel = FileChannel.open(file, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), PrivateFiles.file(file));
      channel.truncate(0);
      write(channel, (HEADER + "\n").getBytes(StandardCharsets.UTF_8));
      channel.force(true);
      DirectorySync.fsync(dir);
    } else {
      channel = FileChannel.open(file, StandardOpenOption.WRITE);
      if (good < bytes.length) {
        channel.truncate(good);
        channel.force(true);
      }
      channel.position(good);
    }
    return new TripletFile(file, channel, count);
  }

  private static int indexOf(byte[] bytes, int from) {
    for (int i = from; i < bytes.length; i++) if (bytes[i] == '\n') return i;
    return -1;
  }

  /** A record's line, or null when it is garbled: wrong checksum, kind or number of fields. */
  static Record parse(String line) {
    int space = line.lastIndexOf(' ');
    if (space < 0 || !line.substring(space + 1).equals(crc(line.substring(0, space)))) return null;
    String[] parts = line.substring(0, space).split(" ", -1);
    if (parts[0].length() != 1) return null;
    char kind = parts[0].charAt(0);
    int fields = switch (kind) {
      case 's', 'p' -> 4;
      case 'a' -> 2;
      default -> -1;
    };
    if (parts.length != fields + 1) return null;
    String[] values = java.util.Arrays.copyOfRange(parts, 1, parts.length);
    try {
      if (Long.parseLong(values[fields - 1]) < 0) return null;
    } catch (NumberFormatException e) {
      return null;
    }
    return new Record(kind, values);
  }

  /** One record's line, with its checksum and line end. */
  static String line(char kind, String... fields) {
    String text = kind + " " + String.join(" ", fields);
    return text + " " + crc(text) + "\n";
  }

  private static String crc(String text) {
    var crc = new CRC32C();
    crc.update(text.getBytes(StandardCharsets.UTF_8));
    return "%08x".formatted(crc.getValue());
  }

  /** Appends {@code lines} (each from {@link #line}) with one fsync. */
  void append(List<String> lines) throws IOException {
    if (lines.isEmpty()) return;
    var text = new StringBuilder();
    for (String l : lines) text.append(l);
    long before = channel.position();
    try {
      write(channel, text.toString().getBytes(StandardCharsets.UTF_8));
      channel.force(false);
    } catch (IOException e) {
      // Take the partial write back, so no torn record hides the later ones.
      try {
        channel.truncate(before);
        channel.position(before);
      } catch (IOException ignored) {
        // The torn tail is cut off at the next open.
      }
      throw e;
    }
    records += lines.size();
  }

  long records() {
    return records;
  }

  /** Replaces the file with {@code lines} only: written beside it, fsynced, renamed over it, the folder fsynced. */
  void rewrite(List<String> lines) throws IOException {
    Path dir = file.getParent();
    Path temporary = dir.resolve(NAME + ".new");
    var text = new StringBuilder(HEADER).append('\n');
    for (String l : lines) text.append(l);
    try (FileChannel out = FileChannel.open(temporary, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING), PrivateFiles.file(temporary))) {
      write(out, text.toString().getBytes(StandardCharsets.UTF_8));
      out.force(true);
    }
    Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    DirectorySync.fsync(dir);
    FileChannel old = channel;
    channel = FileChannel.open(file, StandardOpenOption.WRITE);
    channel.position(channel.size());
    old.close();
    records = lines.size();
  }

  private static void write(FileChannel channel, byte[] bytes) throws IOException {
    ByteBuffer buffer = ByteBuffer.wrap(bytes);
    while (buffer.hasRemaining()) channel.write(buffer);
  }

  Path path() {
    return file;
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  /** The records of {@code lines} read back, for tests. */
  static List<Record> read(Path file) throws IOException {
    List<Record> out = new ArrayList<>();
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    for (String l : lines.subList(1, lines.size())) out.add(parse(l));
    return out;
  }
}
