package dev.posta.mailauth.spf;

/** Which identity an SPF check authorized (RFC 7208 §2.3, §2.4), as RFC 8601 §2.7.2 names its property. */
public enum SpfIdentity {
  /** The MAIL FROM reverse-path, or postmaster@HELO for the null reverse-path (§2.4): {@code smtp.mailfrom}. */
  MAILFROM("smtp.mailfrom"),
  /** The HELO/EHLO domain (§2.3): {@code smtp.helo}. */
  HELO("smtp.helo");

  private final String property;

  SpfIdentity(String property) {
    this.property = property;
  }

  /** The Authentication-Results property that carries this identity: "smtp.mailfrom" or "smtp.helo". */
  public String property() {
    return property;
  }
}
