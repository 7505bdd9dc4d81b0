package dev.posta.store;

import dev.posta.client.MessageWriter;
import java.io.IOException;
import java.time.Instant;

/**
 * Where local mail is kept: one mailbox per local user, made on its first delivery. Local
 * delivery writes through this, so the rest of Posta never knows how or where mail is stored;
 * IMAP and POP3 will read through it, and a PostgreSQL store will implement it as well.
 */
public interface MailboxStore {
  /**
   * Delivers one message into the inbox of {@code mailbox}, durably and once: when this returns
   * the message is on stable storage, and a second delivery with the same {@code deliveryId}
   * finds the first copy and writes nothing.
   *
   * @param deliveryId unique on this host for this message and this mailbox, and the same at
   *     every attempt; letters, digits, '_' and '-' only
   * @param arrival when the message arrived here
   * @param header header fields to put before the content (Return-Path:, Delivered-To:), CRLF-ended
   * @param mayBeDelivered an earlier attempt may have delivered it (it was tried before, or was
   *     recovered after a restart): look for it thoroughly, not only where a first copy would be
   * @return true when it was delivered now, false when an earlier attempt had delivered it
   */
  boolean deliver(MailboxId mailbox, String deliveryId, Instant arrival, byte[] header, MessageWriter content,
      boolean mayBeDelivered) throws IOException;
}
