package dev.posta.queue;

import dev.posta.delivery.DeliveryResult;
import java.time.Instant;
import java.util.List;

/**
 * A remote destination no server of which answered, and until when its mail is deferred without
 * a connection: the rules both queues share, the embedded one ({@link QueueManager}, in memory)
 * and the cluster's ({@link ClusterQueue}, in {@code queue_suspensions}). What finds a
 * destination unreachable ({@link #unreachable}) and what its mail is deferred with meanwhile
 * ({@link #deferral}) are decided here only; when a suspended message's lifetime or delay notice
 * is up, each queue's settlement of the deferral decides it as for any other deferral.
 *
 * @param cause the deferral that found it unreachable: the status and words its mail is deferred with meanwhile
 */
record Suspension(String destination, Instant until, DeliveryResult cause) {
  /** What the reason of a deferral without a connection starts with; the cause's reason follows. */
  static final String SUSPENDED = "delivery temporarily suspended: ";

  /** The deferral of a recipient whose destination is suspended: the cause's status, "delivery temporarily suspended: " and the cause. */
  DeliveryResult deferral() {
    return DeliveryResult.deferred(cause.status(), cause.remoteMta(), null, SUSPENDED + cause.reason());
  }

  /**
   * Every recipient deferred before any server answered: no connection or greeting (RFC 3463
   * X.4.1), or the destination's DNS failing (X.4.3). Not a connection lost after the greeting
   * (X.4.2): a server that answered is there, and one dropped transaction says nothing of the rest.
   */
  static boolean unreachable(List<DeliveryResult> results) {
    if (results.isEmpty()) return false;
    for (DeliveryResult r : results) {
      if (r.kind() != DeliveryResult.Kind.DEFERRED || r.storageFault() || r.diagnostic() != null
          || !(r.status().equals("4.4.1") || r.status().equals("4.4.3"))) {
        return false;
      }
    }
    return true;
  }
}
