package dev.posta.auth;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.posta.auth.ApiTokens.Token;
import dev.posta.storage.PrivateFiles;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The tokens of a single node, in {@code <data>/api-tokens}, mode 0600, one token a line: {@code
 * id sha256-hex user created name}. Written as the users file is: under a file lock, to a
 * temporary file, fsynced and renamed ({@link PrivateFiles#replace}); a running server sees a
 * change at its next request (a stat per request; the file is read again only when it changed).
 */
final class FileTokens implements TokenStorage {
  private static final String HEADER = "# Posta API tokens: id sha256(token) user created name. Managed by `posta token`.";
  /** File locks belong to the whole JVM, so writers in one process also queue here. */
  private static final ReentrantLock WRITE_LOCK = new ReentrantLock();

  private record Stamp(FileTime modified, long size, Object fileKey) {}

  private record Snapshot(Map<String, Token> byHash, Stamp stamp) {}

  private final Path dir;
  private final Path file;
  private volatile Snapshot snapshot;

  FileTokens(Path dataDir) {
    this.dir = dataDir.toAbsolutePath();
    this.file = dir.resolve(ApiTokens.FILE_NAME);
  }

  Path file() {
    return file;
  }

  @Override
  public void add(Token token) throws IOException {
    edit(lines -> lines.add(line(token)));
  }

  @Override
  public List<Token> list() throws IOException {
    return List.copyOf(current().byHash().values());
  }

  @Override
  public Optional<Token> revoke(String hashPrefix) throws IOException {
    Token[] removed = new Token[1];
    edit(lines -> lines.removeIf(l -> {
      Token t = parse(l);
      if (t != null && t.hash().startsWith(hashPrefix)) {
        removed[0] = t;
        return true;
      }
      return false;
    }));
    return Optional.ofNullable(removed[0]);
  }

  @Override
  public int revokeAll(String user) throws IOException {
    int[] removed = new int[1];
    if (current().byHash().values().stream().noneMatch(t -> t.user().equals(user))) return 0;
    edit(lines -> lines.removeIf(l -> {
      Token t = parse(l);
      boolean his = t != null && t.user().equals(user);
      if (his) removed[0]++;
      return his;
    }));
    return removed[0];
  }

  @Override
  public Optional<Token> find(String hash) throws IOException {
    return Optional.ofNullable(current().byHash().get(hash));
  }

  private static String line(Token t) {
    return t.id() + " " + t.hash() + " " + t.user() + " " + t.created() + " " + t.name();
  }

  /** A line as a token, or null for a comment or a line that is not one. */
  private static Token parse(String line) {
    if (line.isBlank() || line.startsWith("#")) return null;
    String[] f = line.split(" ", 5);
    if (f.length < 5 || f[1].length() != 64) return null;
    try {
      return new Token(f[0], f[1], f[2], Instant.parse(f[3]), f[4]);
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  private Snapshot current() throws IOException {
    Stamp now = stat();
    Snapshot s = snapshot;
    if (s != null && s.stamp().equals(now)) return s;
    synchronized (this) {
      s = snapshot;
      if (s != null && s.stamp().equals(now)) return s;
      Map<String, Token> byHash = new LinkedHashMap<>();
      for (String line : readLines()) {
        Token t = parse(line);
        if (t != null) byHash.put(t.hash(), t);
      }
      snapshot = s = new Snapshot(byHash, now);
      return s;
    }
  }

  /** The file's identity and version: a changed one is read again (a stat per request, no read). */
  private Stamp stat() throws IOException {
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
      return new Stamp(a.lastModifiedTime(), a.size(), a.fileKey());
    } catch (NoSuchFileException e) {
      return new Stamp(null, -1, null);
    }
  }

  private List<String> readLines() throws IOException {
    try {
      return Files.readAllLines(file, UTF_8);
    } catch (NoSuchFileException e) {
      return List.of();
    }
  }

  private interface Edit {
    void apply(List<String> lines) throws IOException;
  }

  /** Changes the file under a lock (this process's and, for {@code posta token} beside a server, the OS's), durably. */
  private void edit(Edit edit) throws IOException {
    WRITE_LOCK.lock();
    try {
      PrivateFiles.createDirectories(dir);
      try (FileChannel lock = FileChannel.open(dir.resolve(ApiTokens.FILE_NAME + ".lock"),
              java.util.Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE), PrivateFiles.file(dir));
          var held = lock.lock()) {
        List<String> lines = new ArrayList<>(readLines());
        if (lines.isEmpty()) lines.add(HEADER);
        edit.apply(lines);
        PrivateFiles.replace(file, (String.join("\n", lines) + "\n").getBytes(UTF_8));
      }
    } finally {
      WRITE_LOCK.unlock();
    }
  }
}
