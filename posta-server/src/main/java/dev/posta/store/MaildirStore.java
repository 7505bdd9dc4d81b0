package dev.posta.store;

import dev.posta.client.MessageWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;

/**
 * The mailbox store on local disk: each mailbox a {@link Maildir} at
 * {@code <data>/mail/<domain>/<user>/Maildir}, where Dovecot, mutt and other Maildir readers
 * can read it too.
 */
public final class MaildirStore implements MailboxStore {
  private final Path mailRoot;
  private final String hostname;

  /**
   * @param mailRoot the folder that holds a folder per domain ({@code <data>/mail})
   * @param hostname this host's name, part of every file name (Maildir's uniqueness rule)
   */
  public MaildirStore(Path mailRoot, String hostname) {
    this.mailRoot = mailRoot;
    this.hostname = hostname;
  }

  @Override
  public boolean deliver(MailboxId mailbox, String deliveryId, Instant arrival, byte[] header, MessageWriter content,
      boolean mayBeDelivered) throws IOException {
    return !maildir(mailbox).deliverOnce(deliveryId, arrival, header, content, hostname, mayBeDelivered).earlier();
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
