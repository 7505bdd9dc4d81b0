package dev.posta.delivery;

/**
 * Delivery to other mail servers, as the queue sees it: which destination a domain's mail goes
 * to (so the queue can limit and share connections per destination), and delivery there.
 */
public interface Outbound extends DeliveryTarget, AutoCloseable {
  /**
   * The destination of mail for {@code domain}: the domain itself (its MX hosts), or
   * {@code [host]:port} of the smart host that takes it.
   */
  String destinationOf(String domain);

  @Override
  void close();
}
