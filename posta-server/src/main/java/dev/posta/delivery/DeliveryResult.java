package dev.posta.delivery;

/**
 * What one delivery attempt did for one recipient address: the verdict the queue acts on
 * (done, retry, bounce) and the facts a delivery status notification reports (RFC 3464).
 *
 * @param status the RFC 3463 status code, e.g. "2.0.0", "4.4.1", "5.1.1"
 * @param remoteMta the server that answered, null for local delivery and DNS failures
 * @param diagnostic that server's reply verbatim as one line, null when there was none
 * @param reason Posta's own words for the log and the readable part of a bounce
 * @param notifyPassedOn the receiving server supports DSN and took the NOTIFY request over,
 *     so a success notice is its job, not ours (RFC 3461 §4.1)
 * @param storageFault deferred because our own storage failed (a full disk): retried sooner
 *     than a remote server's refusal would be
 */
public record DeliveryResult(Kind kind, String status, String remoteMta, String diagnostic, String reason, boolean notifyPassedOn,
    boolean storageFault) {

  public enum Kind {
    /** Put into a local mailbox: final delivery. */
    DELIVERED,
    /** Accepted by another server, which delivers it further. */
    RELAYED,
    /** Not now: try again later. */
    DEFERRED,
    /** Never: return it to the sender. */
    FAILED
  }

  /** The longest text kept per recipient: a hostile server's reply may be 200 lines of 4 KiB. */
  public static final int MAX_TEXT = 1000;

  /**
   * {@code text} as notices and the queue keep it: one line (a run of control characters becomes
   * one space), cut after {@value #MAX_TEXT} characters with "..." to show the cut.
   */
  public static String shortened(String text) {
    if (text.length() <= MAX_TEXT && !hasControl(text)) return text; // the usual reply
    var s = new StringBuilder(MAX_TEXT + 3);
    int i = 0;
    for (; i < text.length() && s.length() < MAX_TEXT; i++) {
      char c = text.charAt(i);
      if (!Character.isISOControl(c)) {
        s.append(c);
      } else if (i == 0 || !Character.isISOControl(text.charAt(i - 1))) {
        s.append(' ');
      }
    }
    return i < text.length() ? s.append("...").toString() : s.toString();
  }

  private static boolean hasControl(String text) {
    for (int i = 0; i < text.length(); i++) {
      if (Character.isISOControl(text.charAt(i))) return true;
    }
    return false;
  }

  public static DeliveryResult delivered(String reason) {
    return new DeliveryResult(Kind.DELIVERED, "2.0.0", null, null, reason, false, false);
  }

  public static DeliveryResult deferred(String status, String remoteMta, String diagnostic, String reason) {
    return new DeliveryResult(Kind.DEFERRED, status, remoteMta, diagnostic, reason, false, false);
  }

  /** Deferred because our own storage failed: {@code 4.3.0}, Posta's words in {@code reason}. */
  public static DeliveryResult storageFault(String reason) {
    return new DeliveryResult(Kind.DEFERRED, "4.3.0", null, null, reason, false, true);
  }

  public static DeliveryResult failed(String status, String remoteMta, String diagnostic, String reason) {
    return new DeliveryResult(Kind.FAILED, status, remoteMta, diagnostic, reason, false, false);
  }

  /** For the log and {@code posta queue list}: the reason, and the remote reply when there is one. */
  public String describe() {
    return diagnostic == null ? reason : reason + ": " + diagnostic;
  }
}
