package dev.posta.store;

import dev.posta.client.MessageWriter;
import dev.posta.storage.DirectorySync;
import dev.posta.storage.FileModes;
import dev.posta.storage.PrivateFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mailbox store on local disk: each mailbox a {@link Maildir} at
 * {@code <data>/mail/<domain>/<user>/Maildir}, where Dovecot, mutt and other Maildir readers
 * can read it too. Its inbox is that Maildir; its other folders are Maildir++ subfolders
 * ({@code Maildir/.Sent}), as Dovecot and Courier keep them.
 *
 * <p>A folder that is open ({@link #folder}) is one {@link MaildirFolder} for every session,
 * and hears of each delivery into it directly, so a client in IDLE learns of new mail at once.
 */
public final class MaildirStore implements MailboxStore, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MaildirStore.class);

  @Override
  public String kind() {
    return "maildir";
  }

  private final Path mailRoot;
  private final String hostname;
  private final Clock clock;
  /** What new folders and message files are made with; a reload may change it. */
  private volatile FileModes modes;
  /**
   * The open folders, least recently opened first; each a future while it is being opened, so
   * that others wait for that folder only. Guarded by itself.
   */
  private final Map<Path, Opened> open = new java.util.LinkedHashMap<>(16, 0.75f, true);

  /**
   * @param mailRoot the folder that holds a folder per domain ({@code <data>/mail})
   * @param hostname this host's name, part of every file name (Maildir's uniqueness rule)
   */
  public MaildirStore(Path mailRoot, String hostname) {
    this(mailRoot, hostname, Clock.systemUTC());
  }

  public MaildirStore(Path mailRoot, String hostname, Clock clock) {
    this(mailRoot, hostname, clock, FileModes.PRIVATE);
  }

  /** @param modes what its folders and message files are made with: private, or shared with a group */
  public MaildirStore(Path mailRoot, String hostname, Clock clock, FileModes modes) {
    this.mailRoot = mailRoot;
    this.hostname = hostname;
    this.clock = clock;
    this.modes = modes;
  }

  /** A reload's modes: folders and files made from now on get them; what exists keeps its own. */
  public void useModes(FileModes next) {
    modes = next;
  }

  @Override
  public boolean deliver(MailboxId mailbox, String folder, String deliveryId, Instant arrival, byte[] header, MessageWriter content,
      boolean mayBeDelivered) throws IOException {
    Maildir target = new Maildir(folderPath(mailbox, folder), modes);
    Maildir.Delivered delivered = target.deliverOnce(deliveryId, arrival, header, content, hostname, mayBeDelivered);
    Opened opened;
    synchronized (open) {
      opened = open.get(target.root());
    }
    if (opened != null && !delivered.earlier()) opened.folder.thenAccept(f -> tell(f, delivered.file())); // now, or once it is open
    return !delivered.earlier();
  }

  private static void tell(MaildirFolder folder, Path file) {
    try {
      folder.delivered(file);
    } catch (IOException e) { // the message is safe in new/; the folder's next look finds it
      log.warn("{}: delivered, but its index did not take note: {}", file, e.toString());
    }
  }

  /**
   * A folder in use: the store keeps it open while anyone holds a lease on it, and a while
   * after (up to {@link #MAX_IDLE} folders nobody uses, the least recently used closed first),
   * so a mailbox's next SELECT finds its index in memory, yet one user's ten thousand folders
   * cannot hold ten thousand indexes and their files open. Close it when done.
   */
  public final class MaildirLease implements Lease {
    private final Path path;
    private final Opened opened;
    private final MaildirFolder folder;
    private boolean closed;

    private MaildirLease(Path path, Opened opened, MaildirFolder folder) {
      this.path = path;
      this.opened = opened;
      this.folder = folder;
    }

    @Override
    public MaildirFolder folder() {
      return folder;
    }

    @Override
    public void close() {
      if (closed) return;
      closed = true;
      release(path, opened);
    }
  }

  /** How many folders nobody uses stay open. */
  static final int MAX_IDLE = 200;

  /** A folder being opened or open, and how many leases it has. */
  private static final class Opened {
    final CompletableFuture<MaildirFolder> folder = new CompletableFuture<>();
    int users;
  }

  /**
   * A folder of a mailbox, opened once and shared: {@link #INBOX} (any case) or another folder by
   * its name ({@link #folderPath}), made when missing.
   */
  @Override
  public MaildirLease open(MailboxId mailbox, String name) throws IOException {
    Path key = folderPath(mailbox, name);
    Opened opened;
    boolean mine;
    synchronized (open) {
      opened = open.get(key);
      mine = opened == null;
      if (mine) {
        opened = new Opened();
        open.put(key, opened);
      }
      opened.users++;
    }
    if (mine) { // ours to open; a large folder takes a while, and holds up no other
      try {
        opened.folder.complete(MaildirFolder.open(key, hostname, clock, modes));
      } catch (IOException | RuntimeException e) {
        synchronized (open) {
          open.remove(key, opened);
        }
        opened.folder.completeExceptionally(e);
        throw e;
      }
    }
    try {
      return new MaildirLease(key, opened, opened.folder.join());
    } catch (CompletionException e) {
      release(key, opened);
      if (e.getCause() instanceof IOException io) throw new IOException(io.getMessage(), io); // as the opener saw it
      throw e;
    }
  }

  private void release(Path path, Opened opened) {
    List<MaildirFolder> closing = new ArrayList<>();
    synchronized (open) {
      if (--opened.users > 0) return;
      long idle = open.values().stream().filter(o -> o.users == 0).count();
      for (var it = open.entrySet().iterator(); it.hasNext() && idle > MAX_IDLE; ) {
        Opened o = it.next().getValue();
        if (o.users > 0 || !o.folder.isDone()) continue;
        it.remove();
        idle--;
        if (!o.folder.isCompletedExceptionally()) closing.add(o.folder.join());
      }
    }
    for (MaildirFolder f : closing) closeQuietly(f);
  }

  private static void closeQuietly(MaildirFolder folder) {
    try {
      folder.close();
    } catch (IOException e) {
      log.warn("closing a mailbox folder: {}", e.toString());
    }
  }

  /**
   * Where a folder lives: the inbox is the Maildir itself; any other is a Maildir++ subfolder,
   * {@code Maildir/.<name>}, the name in modified UTF-7 with '.' between levels (Dovecot's and
   * Courier's layout, so they see the same folders).
   *
   * @throws IllegalArgumentException for a name that cannot be a folder: empty, a level empty or
   *     starting with '.'... (see {@link #checkName})
   */
  public Path folderPath(MailboxId mailbox, String name) {
    Path root = maildir(mailbox).root();
    if (name.equalsIgnoreCase(INBOX)) return root;
    checkName(name);
    return root.resolve("." + ModifiedUtf7.encode(name));
  }

  /** A folder name has levels separated by '.', none empty; no '/', no control characters. */
  static void checkName(String name) {
    if (name.isEmpty() || name.startsWith(".") || name.endsWith(".") || name.contains("..") || name.contains("/")
        || MailboxIndex.hasControl(name) || ModifiedUtf7.encode(name).length() > MAX_NAME) {
      throw new IllegalArgumentException("not a folder name: " + name);
    }
  }

  /**
   * The longest folder name, as stored: all its levels are one file name ({@code .a.b.c}), and
   * file systems take 255 octets; Dovecot's own limit is close.
   */
  static final int MAX_NAME = 200;


  /** The folders of a mailbox: {@link #INBOX}, then the others in name order (hierarchy by '.'). */
  @Override
  public List<String> folderNames(MailboxId mailbox) throws IOException {
    Path root = maildir(mailbox).root();
    List<String> names = new ArrayList<>();
    if (Files.isDirectory(root)) {
      try (DirectoryStream<Path> dirs = Files.newDirectoryStream(root, p -> p.getFileName().toString().startsWith(".")
          && p.getFileName().toString().length() > 1 && Files.isDirectory(p.resolve("cur")))) {
        for (Path d : dirs) {
          try {
            String name = ModifiedUtf7.decode(d.getFileName().toString().substring(1));
            checkName(name);
            names.add(name);
          } catch (IllegalArgumentException notOurs) {
            log.debug("{}: not a folder name, left alone", d);
          }
        }
      }
    }
    names.sort(null);
    names.addFirst(INBOX);
    return names;
  }

  /** Whether a folder exists (the inbox always does, once anything was delivered or it was opened). */
  @Override
  public boolean exists(MailboxId mailbox, String name) {
    try {
      return Files.isDirectory(folderPath(mailbox, name).resolve("cur"));
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /**
   * The folders a mailbox's user subscribed to (RFC 9051 §6.3.7), as Dovecot keeps them in a
   * Maildir: the file {@code subscriptions}, one name a line.
   */
  @Override
  public List<String> subscriptions(MailboxId mailbox) throws IOException {
    Path file = maildir(mailbox).root().resolve(SUBSCRIPTIONS);
    if (!Files.exists(file)) return List.of();
    List<String> names = new ArrayList<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (!line.isEmpty() && !line.startsWith("V\t")) names.add(line); // Dovecot's version line, if it wrote one
    }
    return names;
  }

  /** Subscribes to a folder or unsubscribes from it, durably (a whole new file renamed into place). */
  @Override
  public synchronized void subscribe(MailboxId mailbox, String name, boolean subscribed) throws IOException {
    var names = new java.util.LinkedHashSet<>(subscriptions(mailbox));
    if (!(subscribed ? names.add(name) : names.remove(name))) return;
    Path root = maildir(mailbox).root();
    PrivateFiles.createDirectories(root, modes);
    String text = names.stream().map(n -> n + "\n").collect(java.util.stream.Collectors.joining());
    PrivateFiles.replace(root.resolve(SUBSCRIPTIONS), text.getBytes(StandardCharsets.UTF_8), modes);
  }

  private static final String SUBSCRIPTIONS = "subscriptions";


  /**
   * Makes the {@link #SPECIAL_FOLDERS} a mailbox lacks (at its first login), so that every
   * client finds its Sent and Trash without asking; a folder the user removed comes back.
   *
   * @return the folders made now
   */
  @Override
  public List<String> makeSpecialFolders(MailboxId mailbox) throws IOException {
    List<String> made = new ArrayList<>();
    for (SpecialFolder special : SPECIAL_FOLDERS) {
      Path path = folderPath(mailbox, special.name());
      if (Files.isDirectory(path.resolve("cur"))) continue;
      new Maildir(path, modes).create();
      made.add(special.name());
    }
    return made;
  }

  /**
   * Makes a folder.
   *
   * @throws FileAlreadyExistsException when it exists (the inbox always does)
   */
  @Override
  public void createFolder(MailboxId mailbox, String name) throws IOException {
    Path path = folderPath(mailbox, name);
    if (name.equalsIgnoreCase(INBOX) || Files.isDirectory(path.resolve("cur"))) throw new FileAlreadyExistsException(name);
    if (folderNames(mailbox).size() > MAX_FOLDERS) throw new TooManyFolders();
    new Maildir(path, modes).create();
  }

  /**
   * Deletes a folder and the messages in it; folders below it stay (RFC 9051 §6.3.5 allows either).
   *
   * @throws NoSuchFileException when it does not exist
   * @throws IllegalArgumentException for the inbox, which cannot be deleted
   */
  @Override
  public void deleteFolder(MailboxId mailbox, String name) throws IOException {
    if (name.equalsIgnoreCase(INBOX)) throw new IllegalArgumentException("the inbox cannot be deleted");
    Path path = folderPath(mailbox, name);
    if (!Files.isDirectory(path.resolve("cur"))) throw new NoSuchFileException(name);
    closeOpen(path);
    // Renamed away first, so a crash halfway never leaves half a folder that looks whole.
    Path doomed = path.resolveSibling(".." + path.getFileName() + "-deleted-" + System.nanoTime());
    Files.move(path, doomed, StandardCopyOption.ATOMIC_MOVE);
    try (var tree = Files.walk(doomed)) {
      for (Path p : tree.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
    }
    DirectorySync.fsync(path.getParent());
  }

  /**
   * Renames a folder and the folders below it (RFC 9051 §6.3.6).
   *
   * @throws NoSuchFileException when {@code from} does not exist
   * @throws FileAlreadyExistsException when {@code to} does
   * @throws IllegalArgumentException for the inbox, whose rename ({@code messages moved}) comes with IMAP
   */
  @Override
  public void renameFolder(MailboxId mailbox, String from, String to) throws IOException {
    if (from.equalsIgnoreCase(INBOX)) throw new IllegalArgumentException("renaming the inbox moves its messages: not here yet");
    Path source = folderPath(mailbox, from);
    Path target = folderPath(mailbox, to);
    if (!Files.isDirectory(source.resolve("cur"))) throw new NoSuchFileException(from);
    if (Files.exists(target)) throw new FileAlreadyExistsException(to);
    String prefix = source.getFileName() + ".";
    List<Path> below = new ArrayList<>();
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(source.getParent(), p -> p.getFileName().toString().startsWith(prefix))) {
      dirs.forEach(below::add);
    }
    closeOpen(source);
    Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
    for (Path child : below) {
      closeOpen(child);
      String rest = child.getFileName().toString().substring(source.getFileName().toString().length());
      Files.move(child, target.resolveSibling(target.getFileName() + rest), StandardCopyOption.ATOMIC_MOVE);
    }
    DirectorySync.fsync(source.getParent());
  }

  /**
   * Forgets the open folder at {@code path} (being deleted or renamed), closing its index, so
   * the next open reads the disk afresh; sessions that still hold it find it {@link
   * MaildirFolder#gone}.
   */
  private void closeOpen(Path path) {
    Opened opened;
    synchronized (open) {
      opened = open.remove(path);
    }
    if (opened != null && opened.folder.isDone() && !opened.folder.isCompletedExceptionally()) closeQuietly(opened.folder.join());
    Maildir.forget(path);
  }

  /** Closes the open folders, so that their indexes go on without a gap next time. */
  @Override
  public void close() {
    List<Opened> all;
    synchronized (open) {
      all = new ArrayList<>(open.values());
      open.clear();
    }
    for (Opened o : all) {
      if (o.folder.isDone() && !o.folder.isCompletedExceptionally()) closeQuietly(o.folder.join());
    }
  }

  @Override
  public void createInbox(MailboxId mailbox) throws IOException {
    maildir(mailbox).create();
  }

  /** The Maildir of a mailbox: {@code <data>/mail/<domain>/<user>/Maildir}. */
  public Maildir maildir(MailboxId mailbox) {
    return new Maildir(mailRoot.resolve(safeName(mailbox.domain())).resolve(safeName(mailbox.user())).resolve("Maildir"), modes);
  }

  /**
   * A name as a single, harmless path element: anything but letters, digits and {@code . _ + -}
   * is percent-encoded, and so is a leading dot, so "../x" or a quoted local part with '/' can
   * never leave the mail folder.
   */
  public static String safeName(String name) {
    var s = new StringBuilder();
    byte[] bytes = name.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < bytes.length; i++) {
      int b = bytes[i] & 0xff;
      boolean plain = (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '_' || b == '+' || b == '-'
          || (b == '.' && i > 0);
      if (plain) s.append((char) b);
      else s.append('%').append("%02X".formatted(b));
    }
    return s.toString();
  }
}
