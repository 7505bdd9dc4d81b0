package dev.posta.auth;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.posta.auth.UserStore.User;
import dev.posta.auth.UserStore.UserException;
import dev.posta.storage.PrivateFiles;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;

/**
 * Accounts in {@code <data>/users}, a single node's: the format and its guarantees are {@link
 * UserStore}'s (atomic durable rewrites, changes from several processes serialized by {@code
 * <data>/users.lock}, other processes' changes seen within a second).
 */
final class FileAccounts implements AccountStorage {
  /** File locks belong to the whole JVM, so writers in one process also queue here. */
  private static final ReentrantLock WRITE_LOCK = new ReentrantLock();
  private static final long RECHECK_NANOS = 1_000_000_000L;
  private static final String HEADER =
      "# Posta accounts: address TAB argon2id TAB SCRAM-SHA-256 [TAB admin,disabled]. Change with `posta user`.";

  private record Stamp(FileTime modified, long size, Object fileKey) {}

  private record Snapshot(Map<String, User> users, Stamp stamp, long checkedAt) {}

  private final Path dir;
  private final Path file;
  private final LongSupplier nanoClock;
  private final Object reloadLock = new Object();
  private volatile Snapshot snapshot;

  FileAccounts(Path dir, LongSupplier nanoClock) {
    this.dir = dir;
    this.file = dir.resolve(UserStore.FILE_NAME);
    this.nanoClock = nanoClock;
  }

  /** Read, change and rewrite the file, holding both the in-process and the file lock. */
  @Override
  public void edit(Edit edit) throws IOException, UserException {
    WRITE_LOCK.lock();
    try {
      PrivateFiles.createDirectories(dir);
      Set<OpenOption> options = Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      try (FileChannel lock = FileChannel.open(dir.resolve(UserStore.FILE_NAME + ".lock"), options, PrivateFiles.file(dir));
          var held = lock.lock()) {
        List<String> lines = new ArrayList<>(readLines());
        if (lines.isEmpty()) lines.add(HEADER);
        edit.apply(lines);
        PrivateFiles.replace(file, (String.join("\n", lines) + "\n").getBytes(UTF_8));
        synchronized (reloadLock) {
          snapshot = new Snapshot(UserStore.parse(lines, file.toString(), false), stat(), nanoClock.getAsLong()); // readers warn
        }
      }
    } finally {
      WRITE_LOCK.unlock();
    }
  }

  @Override
  public Map<String, User> current() throws IOException {
    Snapshot s = snapshot;
    if (s != null && nanoClock.getAsLong() - s.checkedAt() < RECHECK_NANOS) return s.users();
    synchronized (reloadLock) {
      s = snapshot;
      long now = nanoClock.getAsLong();
      if (s != null && now - s.checkedAt() < RECHECK_NANOS) return s.users();
      Stamp stamp = stat(); // before reading: a change in between shows at the next check
      Map<String, User> users = s != null && Objects.equals(stamp, s.stamp()) ? s.users() : UserStore.parse(readLines(), file.toString(), true);
      snapshot = new Snapshot(users, stamp, now);
      return users;
    }
  }

  private Stamp stat() throws IOException {
    try {
      BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
      return new Stamp(a.lastModifiedTime(), a.size(), a.fileKey());
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  private List<String> readLines() throws IOException {
    try {
      return Files.readAllLines(file, UTF_8);
    } catch (NoSuchFileException e) {
      return List.of();
    }
  }

  @Override
  public int revokeTokens(String address) throws IOException {
    return new ApiTokens(dir).revokeAll(address);
  }

  @Override
  public void close() {}
}
