package dev.posta.mail;

/**
 * The ESMTP parameters of MAIL FROM that Posta understands.
 *
 * @param size declared size in octets (RFC 1870), or -1 when not declared
 * @param body the body type (RFC 6152); {@code 7BIT} when not declared
 * @param smtpUtf8 the SMTPUTF8 parameter was given (RFC 6531 §3.4)
 * @param ret what a failure DSN should return, FULL or HDRS (RFC 3461 §4.3), or null
 * @param envelopeId the ENVID, still xtext-encoded as received (RFC 3461 §4.4), or null
 */
public record MailParameters(long size, BodyType body, boolean smtpUtf8, String ret, String envelopeId) {
  public static final MailParameters NONE = new MailParameters(-1, BodyType.SEVEN_BIT, false, null, null);

  public enum BodyType {
    SEVEN_BIT("7BIT"),
    EIGHT_BIT_MIME("8BITMIME");

    public final String keyword;

    BodyType(String keyword) {
      this.keyword = keyword;
    }

    public static BodyType of(String keyword) {
      for (BodyType t : values()) if (t.keyword.equalsIgnoreCase(keyword)) return t;
      return null;
    }
  }
}
