package dev.posta.mailauth.spf;

/**
 * The seven results of an SPF check (RFC 7208 §2.6), with the keyword that the
 * Authentication-Results header (RFC 8601 §2.7.2) and Received-SPF (RFC 7208 §9.1) write.
 */
public enum SpfResult {
  /** §2.6.1: no valid domain to check, or it publishes no SPF record. */
  NONE,
  /** §2.6.2: the domain states nothing about whether the client is authorized (also the default result, §4.7). */
  NEUTRAL,
  /** §2.6.3: the client is authorized to use the domain in the identity. */
  PASS,
  /** §2.6.4: the client is explicitly not authorized. */
  FAIL,
  /** §2.6.5: probably not authorized; a weak statement, not for rejection alone. */
  SOFTFAIL,
  /** §2.6.6: a transient (usually DNS) error; a later check may succeed. */
  TEMPERROR,
  /** §2.6.7: the domain's records could not be correctly interpreted; an operator must fix them. */
  PERMERROR;

  private final String keyword = name().toLowerCase(java.util.Locale.ROOT);

  /** "pass", "fail", ...: the result as RFC 7208 and RFC 8601 spell it. */
  public String keyword() {
    return keyword;
  }
}
