package dev.posta.delivery;

import dev.posta.client.MessageWriter;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailAddress;
import dev.posta.mail.RcptParameters;
import java.util.List;

/**
 * One attempt's share of a message: what a {@link DeliveryTarget} delivers, for recipients that
 * share one destination.
 *
 * @param size the octets {@code content} writes (for SIZE, RFC 1870)
 * @param content the message as it leaves here, with the Delivered-To: of a forward when it is one
 * @param destination what the recipients share: a domain, a smart host, the local store
 */
public record Delivery(Envelope envelope, long size, MessageWriter content, String destination, List<Recipient> recipients) {

  /**
   * One recipient, routed.
   *
   * @param target where it resolved to: a local mailbox or a remote address
   * @param parameters its DSN parameters (RFC 3461)
   * @param original the address the client gave, which an alias may have turned into {@code target}
   * @param mayBeDelivered an earlier attempt (of this run, or of one before a restart) may have
   *     delivered it without the queue noting it: a target that can tell looks before it writes
   */
  public record Recipient(Router.Target target, RcptParameters parameters, MailAddress original, boolean mayBeDelivered) {
    public String address() {
      return target.address();
    }
  }
}
