package dev.posta.store;

import dev.posta.client.MessageWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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
  /** The inbox's name (RFC 9051 §5.1: case-insensitive, always there). */
  public static final String INBOX = "INBOX";

  private final Path mailRoot;
  private final String hostname;
  private final Clock clock;
  private final Map<Path, MaildirFolder> open = new ConcurrentHashMap<>();

  /**
   * @param mailRoot the folder that holds a folder per domain ({@code <data>/mail})
   * @param hostname this host's name, part of every file name (Maildir's uniqueness rule)
   */
  public MaildirStore(Path mailRoot, String hostname) {
    this(mailRoot, hostname, Clock.systemUTC());
  }

  public MaildirStore(Path mailRoot, String hostname, Clock clock) {
    this.mailRoot = mailRoot;
    this.hostname = hostname;
    this.clock = clock;
  }

  @Override
  public boolean deliver(MailboxId mailbox, String deliveryId, Instant arrival, byte[] header, MessageWriter content,
      boolean mayBeDelivered) throws IOException {
    Maildir inbox = maildir(mailbox);
    Maildir.Delivered delivered = inbox.deliverOnce(deliveryId, arrival, header, content, hostname, mayBeDelivered);
    MaildirFolder folder = open.get(inbox.root());
    if (folder != null && !delivered.earlier()) {
      try {
        folder.delivered(delivered.file());
      } catch (IOException e) { // the message is safe in new/; the folder's next look finds it
        log.warn("{}: delivered, but its index did not take note: {}", inbox.root(), e.toString());
      }
    }
    return !delivered.earlier();
  }

  /**
   * A folder of a mailbox, opened once and shared: {@link #INBOX} (any case) or a top-level
   * subfolder such as {@code Sent}, made when missing.
   *
   * @throws IllegalArgumentException for a name other than letters, digits, space, '_' and '-'
   *     (hierarchy and international names come with IMAP's mailbox naming)
   */
  public MaildirFolder folder(MailboxId mailbox, String name) throws IOException {
    Path root = maildir(mailbox).root();
    if (!name.equalsIgnoreCase(INBOX)) {
      if (name.isEmpty() || !name.chars().allMatch(c -> Character.isLetterOrDigit(c) && c < 0x80 || c == ' ' || c == '_' || c == '-')) {
        throw new IllegalArgumentException("folder name " + name);
      }
      root = root.resolve("." + name); // Maildir++, as Dovecot and Courier name it
    }
    Path key = root;
    MaildirFolder folder = open.get(key);
    if (folder != null) return folder;
    synchronized (open) {
      folder = open.get(key);
      if (folder == null) {
        folder = MaildirFolder.open(key, hostname, clock);
        open.put(key, folder);
      }
      return folder;
    }
  }

  /** Closes the open folders, so that their indexes go on without a gap next time. */
  @Override
  public void close() {
    for (MaildirFolder f : open.values()) {
      try {
        f.close();
      } catch (IOException e) {
        log.warn("closing a mailbox folder: {}", e.toString());
      }
    }
    open.clear();
  }

  /** The Maildir of a mailbox: {@code <data>/mail/<domain>/<user>/Maildir}. */
  public Maildir maildir(MailboxId mailbox) {
    return new Maildir(mailRoot.resolve(safeName(mailbox.domain())).resolve(safeName(mailbox.user())).resolve("Maildir"));
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
