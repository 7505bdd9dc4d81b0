package dev.posta.mail;

/**
 * The ESMTP parameters of RCPT TO that Posta understands (RFC 3461 DSN).
 *
 * @param notifyOn the NOTIFY value as received, upper-cased ("NEVER" or a comma list of
 *     SUCCESS, FAILURE, DELAY), or null when not given
 * @param originalRecipient the ORCPT value {@code addr-type;xtext} as received, or null
 */
public record RcptParameters(String notifyOn, String originalRecipient) {
  public static final RcptParameters NONE = new RcptParameters(null, null);
}
