package dev.posta.delivery;

import dev.posta.client.MessageWriter;
import dev.posta.mailbox.Maildir;
import dev.posta.queue.Envelope;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Final delivery into a local mailbox (Maildir). Adds {@code Return-Path:} with the
 * reverse-path (RFC 5321 §4.4) and {@code Delivered-To:}, which lets loops be spotted.
 * Returns only once the Maildir file is durable.
 */
public final class LocalDelivery {
  private final Router router;
  private final String hostname;

  public LocalDelivery(Router router, String hostname) {
    this.router = router;
    this.hostname = hostname;
  }

  public void deliver(Envelope envelope, MessageWriter content, Router.Mailbox box) throws IOException {
    byte[] header = ("Return-Path: " + envelope.reversePath() + "\r\n"
        + "Delivered-To: " + box.address() + "\r\n").getBytes(StandardCharsets.UTF_8);
    new Maildir(router.maildirOf(box)).deliver(header, content, hostname);
  }
}
