package dev.posta.store;

import dev.posta.client.MessageWriter;
import dev.posta.storage.DirectorySync;
import dev.posta.storage.FileModes;
import dev.posta.storage.PrivateFiles;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Delivery into one Maildir (the format of qmail, as read by Dovecot, mutt and Courier).
 *
 * <p>Guarantee: when {@link #deliver} returns, the message is in {@code new/} and durable: it
 * is written to {@code tmp/}, fsynced, renamed into {@code new/}, and {@code new/} is fsynced
 * (one fsync serving the deliveries that renamed into it meanwhile: {@link DirectorySync}).
 * A crash before the rename leaves only a file in {@code tmp/}, which readers ignore.
 *
 * <p>Files hold the message with LF line endings, as Maildir readers expect; SMTP's CRLF is
 * converted on the way in. File names follow Dovecot's convention,
 * {@code <secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>,W=<vsize>} (S= the file's size, W= the size
 * with CRLF line ends, which IMAP reports, so no reader has to count lines), unique per host because
 * the counter is per process and the PID per host.
 *
 * <p><b>Once only.</b> {@link #deliverOnce} names the file after the delivery instead, {@code
 * <secs>.<id>.<host>,S=<size>,W=<vsize>} with the time of arrival and an ID unique on this host for the
 * message and mailbox, so a repeated delivery (after a crash between the rename and the queue's
 * note that it is done) gets the same name and is recognised: in {@code new/}, or in {@code cur/}
 * where a reader moved it, its name then carrying {@code ,W=} or {@code :2,<flags>} after the
 * base. Its {@code tmp/} file has that name too: one left by a crash is taken over, not left.
 */
public final class Maildir {
  private static final long PID = ProcessHandle.current().pid();
  private static final AtomicLong COUNTER = new AtomicLong();
  /** Maildir convention: a file in tmp/ this old is a leftover of an interrupted delivery. */
  static final Duration STALE_TMP = Duration.ofHours(36);
  /** Mailboxes whose tmp/ was swept since this process started: once each is enough. */
  private static final Set<Path> SWEPT = ConcurrentHashMap.newKeySet();
  /** Mailboxes known to exist, so a delivery need not look each time. */
  private static final Set<Path> CREATED = ConcurrentHashMap.newKeySet();

  private final Path root;
  private final FileModes modes;

  public Maildir(Path root) {
    this(root, FileModes.PRIVATE);
  }

  /** With the permissions its folders and message files are made with. */
  public Maildir(Path root, FileModes modes) {
    this.root = root;
    this.modes = modes;
  }

  public Path root() {
    return root;
  }

  /**
   * Creates tmp/, new/ and cur/ when missing, durably. Mail is private: the folders created here
   * (and any missing parents, such as {@code mail/<domain>/<user>/}) are 0700 from creation on
   * (or as the modes say), whatever the umask; existing ones keep their mode.
   */
  public void create() throws IOException {
    if (CREATED.contains(root)) return;
    if (Files.isDirectory(root.resolve("new"))) {
      CREATED.add(root);
      return;
    }
    for (String sub : new String[] {"tmp", "new", "cur"}) PrivateFiles.createDirectories(root.resolve(sub), modes);
    DirectorySync.fsync(root);
    DirectorySync.fsync(root.getParent());
    CREATED.add(root);
  }

  /** Forgets what is known of the Maildir at {@code root}: it was deleted or renamed away, and may be made anew. */
  static void forget(Path root) {
    CREATED.remove(root);
    SWEPT.remove(root);
  }

  /**
   * Delivers {@code header} followed by {@code content} as one message.
   *
   * @return the path of the new file in {@code new/}
   */
  public Path deliver(byte[] header, MessageWriter content, String hostname) throws IOException {
    create();
    if (SWEPT.add(root)) sweepTmp();
    String unique = uniqueName(hostname);
    Path tmp = root.resolve("tmp").resolve(unique);
    String sizes = writeTmp(tmp, StandardOpenOption.CREATE_NEW, header, content);
    Path target = root.resolve("new").resolve(unique + sizes);
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
    DirectorySync.sync(target.getParent());
    return target;
  }

  /** A message written into tmp/ and fsynced, waiting for {@link #saveInto} to give it its place. */
  public record Written(Path tmp, String name) implements Folder.Incoming {}

  /**
   * Writes a message that arrives with its flags (IMAP APPEND) into {@code tmp/}, fsynced; not
   * yet in the folder until {@link #saveInto}.
   */
  public Written write(MessageWriter content, String hostname) throws IOException {
    create();
    String unique = uniqueName(hostname);
    Path tmp = root.resolve("tmp").resolve(unique);
    return new Written(tmp, unique + writeTmp(tmp, StandardOpenOption.CREATE_NEW, new byte[0], content));
  }

  /**
   * Moves a {@link #write written} message into {@code cur/} with {@code :2,<letters>} after its
   * name, durably, as {@link #deliver} does into {@code new/}.
   *
   * @param letters the info letters ({@link Flags#letters}), in ASCII order
   * @return the path of the file in {@code cur/}
   */
  public Path saveInto(Written written, String letters) throws IOException {
    Path target = root.resolve("cur").resolve(written.name() + ":2," + letters);
    Files.move(written.tmp(), target, StandardCopyOption.ATOMIC_MOVE);
    DirectorySync.sync(target.getParent());
    return target;
  }

  /** Dovecot's form: the time's seconds and its microseconds within them, so names read in time order. */
  private String uniqueName(String hostname) {
    Instant now = Instant.now();
    return new StringBuilder(64).append(now.getEpochSecond()).append(".M").append(now.getNano() / 1000).append('P').append(PID)
        .append('Q').append(COUNTER.incrementAndGet()).append('.').append(safeHost(hostname)).toString();
  }

  /**
   * Where {@link #deliverOnce} put a message: {@code earlier} when an earlier delivery had put it
   * there already (and nothing was written now).
   */
  public record Delivered(Path file, boolean earlier) {}

  /** What {@link #deliverOnce} takes as an ID: nothing that means something in a Maildir name. */
  private static final java.util.regex.Pattern DELIVERY_ID = java.util.regex.Pattern.compile("[A-Za-z0-9_-]+");

  /**
   * Delivers {@code header} followed by {@code content} unless the message is here already.
   *
   * @param id unique on this host for this message and this mailbox, and the same at every
   *     attempt (the queue ID and a hash of the mailbox); letters, digits, '_' and '-' only
   * @param received when the message arrived: the time in the name, the same at every attempt
   * @param mayBeInCur an earlier attempt may have delivered it (it was tried before, or recovered
   *     after a restart), so {@code cur/} is searched too. That is a scan of the folder, so only
   *     then; {@code new/} is always checked, with one lookup
   */
  public Delivered deliverOnce(String id, Instant received, byte[] header, MessageWriter content, String hostname,
      boolean mayBeInCur) throws IOException {
    if (!DELIVERY_ID.matcher(id).matches()) throw new IllegalArgumentException("Maildir delivery ID " + id);
    create();
    if (SWEPT.add(root)) sweepTmp();
    // The time first, to the millisecond the queue keeps (so the same at every attempt), in Dovecot's
    // M<microseconds> field: names sort in the order the messages arrived, which is how a folder read
    // afresh gives them their UIDs.
    long millis = received.toEpochMilli();
    String base = Math.floorDiv(millis, 1000) + ".M" + Math.floorMod(millis, 1000) * 1000 + "." + id + "." + safeHost(hostname);
    Path tmp = root.resolve("tmp").resolve(base);
    // No other delivery of this ID runs (one attempt per message at a time, one server per data
    // folder): a tmp/ file of that name is a crashed attempt's, and is written over.
    String sizes = writeTmp(tmp, StandardOpenOption.TRUNCATE_EXISTING, header, content);
    // Checked once the size, part of the name, is known; a repeat costs one write, but a first
    // delivery (nearly every one) costs only a lookup.
    Path target = root.resolve("new").resolve(base + sizes);
    Path earlier = Files.exists(target) ? target : mayBeInCur ? findInCur(base) : null;
    if (earlier != null) {
      Files.delete(tmp);
      return new Delivered(earlier, true);
    }
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
    DirectorySync.sync(target.getParent());
    return new Delivered(target, false);
  }

  /** A file in cur/ with this base name: followed by ',' (S=, W=) or ':' (the flags), as readers rename it. */
  private Path findInCur(String base) throws IOException {
    try (DirectoryStream<Path> files = Files.newDirectoryStream(root.resolve("cur"), f -> {
      String name = f.getFileName().toString();
      return name.startsWith(base) && name.length() > base.length()
          && (name.charAt(base.length()) == ',' || name.charAt(base.length()) == ':');
    })) {
      for (Path f : files) return f;
    }
    return null;
  }

  /** Writes the message into a tmp/ file and fsyncs it; returns its sizes as the name gives them, {@code ,S=<size>,W=<vsize>}. */
  private String writeTmp(Path tmp, StandardOpenOption mode, byte[] header, MessageWriter content) throws IOException {
    // 0600 (or the shared mode) at creation, so no other local user can read the message even
    // for a moment. Never through a link: deliverOnce's tmp/ name can be known in advance.
    try (FileChannel ch = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE, mode, StandardOpenOption.WRITE,
        LinkOption.NOFOLLOW_LINKS), PrivateFiles.file(tmp, modes))) {
      UnixLineEndings lf = new UnixLineEndings(ch);
      lf.write(ByteBuffer.wrap(header));
      content.writeTo(lf);
      long size = lf.finish();
      ch.force(true);
      return ",S=" + size + ",W=" + (size + lf.lines());
    } catch (java.nio.file.NoSuchFileException e) {
      CREATED.remove(root); // removed by hand while we ran: made again at the next attempt
      throw e;
    } catch (IOException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
  }

  /** Deletes files in tmp/ older than {@link #STALE_TMP}, as Dovecot and qmail do. */
  void sweepTmp() throws IOException {
    Instant horizon = Instant.now().minus(STALE_TMP);
    try (DirectoryStream<Path> files = Files.newDirectoryStream(root.resolve("tmp"))) {
      for (Path f : files) {
        if (Files.getLastModifiedTime(f).toInstant().isBefore(horizon)) Files.deleteIfExists(f);
      }
    }
  }

  /** Maildir names may not hold '/' or ':' (the info separator); Dovecot escapes them so. */
  private static String safeHost(String host) {
    return host.replace("/", "\\057").replace(":", "\\072");
  }
}
