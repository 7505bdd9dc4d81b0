package dev.posta.greylist;

import dev.posta.storage.DirectorySync;
import dev.posta.storage.PrivateFiles;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
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

  /** A test's hook before each write ({@link #append}, {@link #rewrite}): it may throw to act as a full disk, or wait. */
  @FunctionalInterface
  interface Disk {
    Disk NONE = () -> {};

    void beforeWrite() throws IOException;
  }

  private final Path file;
  private FileChannel channel;
  volatile Disk disk = Disk.NONE;
  /** Appends made (each one fsync), for the test that many records share one. */
  private long appends;
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
    long size;
    try {
      size = Files.size(file);
    } catch (NoSuchFileException e) {
      size = -1;
    }
    long good = 0;
    long count = 0;
    boolean fresh = size < 0;
    if (!fresh) {
      // Read as a stream, a line at a time: the file may be larger than one array can hold.
      try (InputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16)) {
        var line = new ByteArrayOutputStream(256);
        long at = 0;
        boolean header = true;
        while (true) {
          line.reset();
          boolean ended = readLine(in, line);
          if (header) {
            if (!ended || !line.toString(StandardCharsets.UTF_8).equals(HEADER)) break;
            header = false;
            at = good = line.size() + 1;
            continue;
          }
          if (!ended && line.size() == 0) break; // the end of the file, after a whole record
          Record r = ended ? parse(line.toString(StandardCharsets.UTF_8)) : null;
          if (r == null) {
            log.warn("greylist: torn or garbled record at octet {} of {}: cut off there ({} octets dropped)", at, file, size - at);
            break;
          }
          replay.accept(r);
          count++;
          at += line.size() + 1;
          good = at;
        }
        if (header) fresh = true;
      }
      if (fresh) {
        Path aside = dir.resolve(NAME + ".unreadable");
        Files.move(file, aside, StandardCopyOption.REPLACE_EXISTING);
        log.warn("greylist: {} does not start with \"{}\": moved aside to {}, starting with an empty greylist", file, HEADER, aside);
      }
    }
    FileChannel channel;
    if (fresh) {
      channel = FileChannel.open(file, java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), PrivateFiles.file(file));
      try {
        channel.truncate(0);
        write(channel, (HEADER + "\n").getBytes(StandardCharsets.UTF_8));
        channel.force(true);
        DirectorySync.fsync(dir);
      } catch (IOException | RuntimeException e) {
        channel.close();
        throw e;
      }
    } else {
      channel = FileChannel.open(file, StandardOpenOption.WRITE);
      try {
        if (good < size) {
          channel.truncate(good);
          channel.force(true);
        }
        channel.position(good);
      } catch (IOException | RuntimeException e) {
        channel.close();
        throw e;
      }
    }
    return new TripletFile(file, channel, count);
  }

  /**
   * Reads up to the next LF into {@code line} (without it): true when the LF came, false at the end
   * of the file. A line longer than {@link #MAX_LINE} is garbled: it is read no further (false).
   */
  private static boolean readLine(InputStream in, ByteArrayOutputStream line) throws IOException {
    for (int b; (b = in.read()) >= 0; ) {
      if (b == '\n') return true;
      if (line.size() >= MAX_LINE) return false;
      line.write(b);
    }
    return false;
  }

  /** Longer than any record Posta writes (three addresses of at most 256 octets each, %XX-escaped, and a time). */
  static final int MAX_LINE = 4096;

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
    disk.beforeWrite();
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
    appends++;
  }

  /** Appends made since the file was opened, each one write and one fsync. */
  long appends() {
    return appends;
  }

  long records() {
    return records;
  }

  /** Replaces the file with {@code lines} only: written beside it, fsynced, renamed over it, the folder fsynced. */
  void rewrite(List<String> lines) throws IOException {
    disk.beforeWrite();
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
