package dev.posta.delivery;

import dev.posta.client.MessageWriter;
import dev.posta.mail.Envelope;
import dev.posta.store.MailboxStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Final delivery into a local mailbox, through the {@link MailboxStore}. Adds {@code
 * Return-Path:} with the reverse-path (RFC 5321 §4.4) and {@code Delivered-To:}, which lets loops
 * be spotted. Returns only once the message is durable.
 *
 * <p>Once only: the delivery is named after the queue ID and the mailbox, so delivering the same
 * message to the same mailbox again, as the queue does after a crash that came between the
 * delivery and its note in the progress log, finds the first copy and writes no second one.
 */
public final class LocalDelivery {
  private final MailboxStore store;

  public LocalDelivery(MailboxStore store) {
    this.store = store;
  }

  /**
   * @param mayBeDelivered an earlier attempt (of this run, or of one before a restart) may have
   *     delivered it already: the mailbox is searched more thoroughly
   * @return true when it was delivered now, false when an earlier attempt had delivered it
   */
  public boolean deliver(Envelope envelope, MessageWriter content, Router.Mailbox box, boolean mayBeDelivered) throws IOException {
    byte[] header = ("Return-Path: " + envelope.reversePath() + "\r\n"
        + "Delivered-To: " + box.address() + "\r\n").getBytes(StandardCharsets.UTF_8);
    String id = envelope.id().value() + "_" + mailboxHash(box);
    return store.deliver(box.id(), id, envelope.received(), header, content, mayBeDelivered);
  }

  /**
   * 16 hex digits of the SHA-256 of the mailbox's address: the copies of one message stay apart
   * should two mailboxes share a folder (a symlink), in a name of fixed length and harmless
   * characters.
   */
  static String mailboxHash(Router.Mailbox box) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(box.address().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
