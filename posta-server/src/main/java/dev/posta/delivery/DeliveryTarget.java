package dev.posta.delivery;

import java.util.List;

/**
 * Where the queue hands a message for recipients that share one destination: the local mailbox
 * store ({@link LocalDelivery}) or other mail servers ({@link RemoteDelivery}), like maddy's
 * delivery targets. The queue routes, schedules and settles; a target delivers, logs what it did
 * for each recipient, and reports it as one {@link DeliveryResult} each.
 */
public interface DeliveryTarget {
  /**
   * One attempt. A failure to deliver is a result, never an exception: one result per recipient
   * of {@code delivery}, in its order.
   */
  List<DeliveryResult> deliver(Delivery delivery);
}
