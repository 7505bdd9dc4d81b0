package dev.posta.mailauth.spf;

import dev.posta.mailauth.dmarc.DmarcCheck;
import java.util.Objects;

/**
 * What one SPF check found: the result, for which identity, and why.
 *
 * <p>{@code sender} is the identity as checked (RFC 7208 §4.1 {@code <sender>}): the reverse-path,
 * with "postmaster" for a missing local-part and postmaster@HELO for the null reverse-path; for
 * the HELO identity, postmaster@HELO. {@code domain} is the domain the check started at
 * ({@code <domain>}). {@code reason} is one line of printable US-ASCII for the log and the
 * Authentication-Results comment (which term matched, which lookup failed, which rule the record
 * broke).
 * {@code explanation} is given for {@link SpfResult#FAIL} only (else null): the domain's
 * {@code exp=} text (§6.2) or, without one, a default; it is US-ASCII without control
 * characters, ready for an SMTP reply.
 */
public record SpfVerdict(SpfResult result, SpfIdentity identity, String sender, String domain, String reason, String explanation) {
  public SpfVerdict {
    Objects.requireNonNull(result);
    Objects.requireNonNull(identity);
    Objects.requireNonNull(sender);
    Objects.requireNonNull(domain);
    Objects.requireNonNull(reason);
    if ((result == SpfResult.FAIL) != (explanation != null)) {
      throw new IllegalArgumentException("an explanation comes with a fail, and only with one: " + result + " " + explanation);
    }
  }

  /** This result for DMARC (RFC 7489 §4.2): the domain checked, and whether it passed, could have but for DNS (temperror), or not. */
  public DmarcCheck.Identifier forDmarc() {
    return new DmarcCheck.Identifier(domain, switch (result) {
      case PASS -> DmarcCheck.Outcome.PASS;
      case TEMPERROR -> DmarcCheck.Outcome.TEMPERROR;
      default -> DmarcCheck.Outcome.NO_PASS;
    });
  }
}
