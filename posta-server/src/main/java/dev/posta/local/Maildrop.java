package dev.posta.local;

import dev.posta.storage.DirectorySync;
import dev.posta.storage.PrivateFiles;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The drop folder, {@code <data>/public/maildrop}, where {@code posta sendmail} leaves a message
 * when no server runs, and where the server takes it in at its next start and every few seconds
 * while it runs (Postfix's maildrop and pickup, before postdrop was setgid).
 *
 * <p>The folder is mode 1733, owned by the server's user: every local user may create files in
 * it, nobody else may list it (so the random file names are secrets), and the sticky bit keeps
 * users from removing or renaming each other's files. A drop file is written by its sender
 * with mode 0600, fsynced, then made 0644 (complete: the server can read it) and fsynced again;
 * the server takes only complete files. Its owner, which only the kernel sets, is its sender.
 * The folder itself is fsynced too when the writer may open it (its owner, root); another user
 * cannot (a folder is opened for fsync with read permission, which 1733 withholds), and then the
 * file's fsync is what makes its entry durable, as Postfix relies on (ext4 and XFS commit a new
 * file's entry with the file's fsync).
 *
 * <p>The server treats a drop file as untrusted input: a regular file (no symlink), one link
 * (no hard link to another's file), complete, its name one sendmail makes, its size within
 * {@code max-message-size} and the head's limit; its head read by {@link LocalRequest#read}; the
 * message then goes through the same checks as over the socket. Taken, the file is removed;
 * refused, or incomplete for a day, it is moved to {@code <data>/maildrop-refused/} with a
 * warning in the log, never silently deleted; a temporary failure (a full disk) leaves it for
 * the next pass.
 */
public final class Maildrop {
  /** The names' randomness: a holder, made at the first drop (the socket path never needs it). */
  private static final class Random {
    static final SecureRandom RANDOM = new SecureRandom();
  }
  private static final Pattern NAME = Pattern.compile("[0-9a-f]{12}\\.[a-z0-9]{26}");
  private static final Duration INCOMPLETE_FOR = Duration.ofDays(1);

  private Maildrop() {}

  /** The folder every local user can reach: the socket and the drop folder. */
  public static Path publicFolder(Path dataDir) {
    return dataDir.resolve("public");
  }

  public static Path folder(Path dataDir) {
    return publicFolder(dataDir).resolve("maildrop");
  }

  public static Path socket(Path dataDir) {
    return publicFolder(dataDir).resolve("submit.sock");
  }

  /** Where refused drop files are set aside: private to the server's user. */
  public static Path refusedFolder(Path dataDir) {
    return dataDir.resolve("maildrop-refused");
  }

  /** The message was over the size limit: nothing was kept. */
  public static final class TooBig extends IOException {
    public TooBig(long limit) {
      super("the message is over the size limit of " + limit + " octets");
    }
  }

  /**
   * Writes one drop file, durably: returned only once the file is complete and fsynced.
   *
   * @param maxBody octets of message allowed; over it, the file is removed and {@link TooBig} thrown
   * @return the file
   * @throws IOException when it could not be written (nothing is left behind then)
   */
  public static Path drop(Path folder, LocalRequest head, InputStream body, long maxBody) throws IOException {
    Path file = folder.resolve(newName());
    boolean done = false;
    try (FileChannel ch = FileChannel.open(file, java.util.Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE),
        PrivateFiles.file(file))) {
      writeAll(ch, ByteBuffer.wrap(head.encode()));
      byte[] buffer = new byte[65536];
      long total = 0;
      for (int n = body.read(buffer); n >= 0; n = body.read(buffer)) {
        total += n;
        if (total > maxBody) throw new TooBig(maxBody);
        writeAll(ch, ByteBuffer.wrap(buffer, 0, n));
      }
      ch.force(true);
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--")); // complete
      ch.force(true); // the mode too
      done = true;
    } finally {
      if (!done) {
        try {
          Files.deleteIfExists(file);
        } catch (IOException ignored) {
          // the first failure is the one to tell
        }
      }
    }
    try {
      DirectorySync.fsync(folder);
    } catch (AccessDeniedException e) {
      // not the folder's owner: the file's fsync made its entry durable (see the class comment)
    }
    return file;
  }

  private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) ch.write(b);
  }

  /** Time first (the order the server takes them in), then 130 random bits. */
  private static String newName() {
    var s = new StringBuilder(String.format(Locale.ROOT, "%012x", System.currentTimeMillis())).append('.');
    String alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 26; i++) s.append(alphabet.charAt(Random.RANDOM.nextInt(alphabet.length())));
    return s.toString();
  }

  /** One waiting drop file, for {@code mailq}. */
  public record Waiting(String name, String owner, long size, Instant time, LocalRequest head) {}

  /**
   * The files waiting in the folder (for its owner and root: nobody else may list it); a file not
   * yet complete or unreadable is listed without its head.
   */
  public static List<Waiting> list(Path folder) throws IOException {
    List<Waiting> out = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(folder)) {
      for (Path p : files) {
        if (!NAME.matcher(p.getFileName().toString()).matches()) continue;
        try {
          Map<String, Object> a = Files.readAttributes(p, "unix:size,owner,lastModifiedTime", LinkOption.NOFOLLOW_LINKS);
          LocalRequest head = null;
          try (InputStream in = new BufferedInputStream(Files.newInputStream(p, LinkOption.NOFOLLOW_LINKS))) {
            head = LocalRequest.read(in);
          } catch (IOException unreadable) {
            // still being written, or not ours to read
          }
          out.add(new Waiting(p.getFileName().toString(), ((UserPrincipal) a.get("owner")).getName(), (Long) a.get("size"),
              ((FileTime) a.get("lastModifiedTime")).toInstant(), head));
        } catch (NoSuchFileException gone) {
          // taken meanwhile
        }
      }
    }
    out.sort(java.util.Comparator.comparing(Waiting::name));
    return out;
  }

  /** What became of a drop file the server tried to take. */
  public sealed interface Outcome {
    record Taken(String queueId) implements Outcome {}

    /** Never to be taken: set aside. */
    record Refused(String reason) implements Outcome {}

    /** Not now (a full disk): left for the next pass. */
    record Later(String reason) implements Outcome {}
  }

  /** What the server does with a drop file's request: the same as with the socket's. */
  public interface Taker {
    Outcome take(LocalRequest head, String user, InputStream body) throws IOException;
  }

  /**
   * The server's side: takes in what is waiting, at start and then every {@code every}, until
   * closed. One pass at a time.
   */
  public static final class Pickup implements AutoCloseable {
    /* Here, not in Maildrop: sendmail's side loads no logging (it starts faster without). */
    private static final Logger log = LoggerFactory.getLogger(Maildrop.class);
    private final Path folder;
    private final Path refused;
    private final long maxFileSize;
    private final Taker taker;
    private Thread thread;
    private final Object sleep = new Object();
    private volatile boolean closed;

    public Pickup(Path dataDir, long maxMessageSize, Taker taker) {
      this.folder = folder(dataDir);
      this.refused = refusedFolder(dataDir);
      this.maxFileSize = maxMessageSize + LocalRequest.MAX_HEAD;
      this.taker = taker;
    }

    /** Passes over the folder every {@code every}, the first now, on a thread of its own. */
    public Pickup start(Duration every) {
      // Never interrupted: an interrupt in the middle of a pass would close the spool's channels.
      thread = Thread.ofVirtual().name("maildrop-pickup").start(() -> {
        while (!closed) {
          scan();
          synchronized (sleep) {
            try {
              if (!closed) sleep.wait(every.toMillis());
            } catch (InterruptedException e) {
              return;
            }
          }
        }
      });
      return this;
    }

    /** One pass: every complete file, oldest first. Returns how many were taken. */
    public synchronized int scan() {
      List<Path> names = new ArrayList<>();
      try (DirectoryStream<Path> files = Files.newDirectoryStream(folder)) {
        for (Path p : files) names.add(p);
      } catch (NoSuchFileException e) {
        return 0;
      } catch (IOException e) {
        log.warn("maildrop: cannot list {}: {}", folder, e.toString());
        return 0;
      }
      names.sort(null);
      int taken = 0;
      for (Path p : names) {
        if (closed) break;
        try {
          if (takeOne(p)) taken++;
        } catch (IOException | RuntimeException e) {
          log.warn("maildrop: {}: left for the next pass: {}", p.getFileName(), e.toString());
        }
      }
      return taken;
    }

    private boolean takeOne(Path p) throws IOException {
      String name = p.getFileName().toString();
      Map<String, Object> a;
      try {
        a = Files.readAttributes(p, "unix:mode,nlink,size,owner,lastModifiedTime,isRegularFile", LinkOption.NOFOLLOW_LINKS);
      } catch (NoSuchFileException gone) {
        return false;
      }
      String owner = ((UserPrincipal) a.get("owner")).getName();
      int mode = (Integer) a.get("mode");
      if (!NAME.matcher(name).matches()) return setAside(p, owner, "not a name sendmail makes");
      if (!(Boolean) a.get("isRegularFile")) return setAside(p, owner, "not a regular file");
      if ((Integer) a.get("nlink") != 1) return setAside(p, owner, "a file with " + a.get("nlink") + " links");
      if ((mode & 0004) == 0) {
        Instant modified = ((FileTime) a.get("lastModifiedTime")).toInstant();
        if (modified.plus(INCOMPLETE_FOR).isBefore(Instant.now())) return setAside(p, owner, "left incomplete since " + modified);
        return false; // still being written
      }
      if ((Long) a.get("size") > maxFileSize) return setAside(p, owner, a.get("size") + " octets, over the limit " + maxFileSize);
      Outcome outcome;
      try (InputStream in = new BufferedInputStream(Files.newInputStream(p, LinkOption.NOFOLLOW_LINKS), 65536)) {
        LocalRequest head;
        try {
          head = LocalRequest.read(in);
        } catch (java.net.ProtocolException e) {
          return setAside(p, owner, e.getMessage());
        }
        if (head.mailq()) return setAside(p, owner, "a listing request, not a message");
        outcome = taker.take(head, owner, in);
      }
      switch (outcome) {
        case Outcome.Taken t -> {
          Files.delete(p);
          DirectorySync.fsync(folder);
          log.info("maildrop: {} from {} taken as {}", name, owner, t.queueId());
          return true;
        }
        case Outcome.Refused r -> {
          return setAside(p, owner, r.reason());
        }
        case Outcome.Later l -> {
          log.warn("maildrop: {} from {}: left for the next pass: {}", name, owner, l.reason());
          return false;
        }
      }
    }

    private boolean setAside(Path p, String owner, String reason) throws IOException {
      PrivateFiles.createDirectories(refused);
      Path to = refused.resolve(p.getFileName());
      Files.move(p, to, StandardCopyOption.ATOMIC_MOVE);
      DirectorySync.fsync(refused);
      DirectorySync.fsync(folder);
      log.warn("maildrop: {} from {} set aside in {}: {}", p.getFileName(), owner, refused, reason);
      return false;
    }

    @Override
    public void close() {
      closed = true;
      synchronized (sleep) {
        sleep.notifyAll();
      }
      synchronized (this) {
        // a pass in progress ends after its current file
      }
    }
  }
}
