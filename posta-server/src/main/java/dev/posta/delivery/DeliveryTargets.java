package dev.posta.delivery;

import dev.posta.config.PostaConfig;

/**
 * Which route a routed recipient's mail takes: the destination it shares with others (so that
 * the queue can limit and share deliveries per destination), the {@link DeliveryTarget} that
 * delivers there, and the limits that destination has. The queue asks this and never looks at
 * what kind of target it is.
 */
public final class DeliveryTargets implements AutoCloseable {
  /** Local deliveries at once: Maildir delivery is fsync-bound, more would only queue on the disk. */
  public static final int LOCAL_CONCURRENCY = 16;
  /**
   * Recipients in one remote delivery (one SMTP transaction): RFC 5321 §4.5.3.1.8 only promises
   * 100, and smaller transactions spread a message over connections.
   */
  public static final int RECIPIENTS_PER_TRANSACTION = 50;

  /**
   * @param destination what the route's deliveries share (a domain, a smart host, "local")
   * @param concurrency deliveries to this destination at once
   * @param outbound counts against the limit of connections to other servers in all
   * @param recipientsPerDelivery the most recipients one delivery takes; local delivery takes
   *     all of a message's at once, so that two addresses reaching one mailbox make one copy
   */
  public record Route(String destination, DeliveryTarget target, int concurrency, boolean outbound, int recipientsPerDelivery) {}

  private final Route local;
  private final Outbound outbound;
  private final int perDestination;
  private final Route nowhere;

  /**
   * @param outbound delivery to other servers, or null when mail stays here: remote recipients
   *     then wait, deferred
   */
  public DeliveryTargets(LocalDelivery local, Outbound outbound, PostaConfig.Delivery settings) {
    this.local = new Route("local", local, LOCAL_CONCURRENCY, false, Integer.MAX_VALUE);
    this.outbound = outbound;
    this.perDestination = settings.perDestination();
    this.nowhere = new Route("remote, not configured", NOT_CONFIGURED, LOCAL_CONCURRENCY, false, Integer.MAX_VALUE);
  }

  public Route routeOf(Router.Target target) {
    return switch (target) {
      case Router.Mailbox box -> local;
      case Router.Remote remote -> outbound == null ? nowhere
          : new Route(outbound.destinationOf(Router.domainOf(remote.address())), outbound, perDestination, true, RECIPIENTS_PER_TRANSACTION);
    };
  }

  /** Remote recipients when no remote delivery is set up (`posta queue` and tests): deferred, and kept. */
  private static final DeliveryTarget NOT_CONFIGURED = delivery -> delivery.recipients().stream()
      .map(r -> DeliveryResult.deferred("4.4.0", null, null, "remote delivery is not configured")).toList();

  @Override
  public void close() {
    if (outbound != null) outbound.close();
  }
}
