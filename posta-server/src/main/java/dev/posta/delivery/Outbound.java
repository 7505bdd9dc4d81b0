package dev.posta.delivery;

import dev.posta.client.MessageWriter;
import dev.posta.mail.Envelope;
import dev.posta.mail.RcptParameters;
import java.util.List;

/**
 * Delivery to other mail servers, as the queue manager sees it: which destination a domain's
 * mail goes to (so the queue can limit and share connections per destination), and one attempt
 * for some recipients of one message that share a destination.
 */
public interface Outbound extends AutoCloseable {

  /** A recipient address to hand on, with its DSN parameters (RFC 3461). */
  record Recipient(String address, RcptParameters parameters) {}

  /**
   * The destination of mail for {@code domain}: the domain itself (its MX hosts), or
   * {@code [host]:port} of the smart host that takes it.
   */
  String destinationOf(String domain);

  /**
   * One delivery attempt. Never throws: every failure is a result, one per recipient, in the
   * order given.
   */
  List<DeliveryResult> deliver(Envelope envelope, long size, MessageWriter content, String destination, List<Recipient> recipients);

  @Override
  void close();
}
