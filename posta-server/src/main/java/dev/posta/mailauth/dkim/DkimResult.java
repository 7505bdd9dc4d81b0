package dev.posta.mailauth.dkim;

import dev.posta.mailauth.Resinfo;
import dev.posta.mailauth.dmarc.DmarcCheck;
import java.util.OptionalLong;
import java.util.regex.Pattern;

/**
 * What checking one DKIM-Signature field found: the result as Authentication-Results names it
 * (RFC 8601 §2.7.1), the tags an A-R header reports (header.d, header.s, header.a, header.b
 * after RFC 6008), and a short reason.
 *
 * <p>Only {@link Outcome#PASS} counts for DMARC ({@link #countsForDmarc}). A signature with
 * rsa-sha1 that verifies is {@link Outcome#POLICY}, never a pass: RFC 8301 §3.1 forbids taking
 * it as valid; its reason says it verified. A pass with a key in testing mode (t=y) stays a
 * pass, marked {@link #testing}, for the caller to weigh (RFC 6376 §3.6.1).
 *
 * @param domain d= (lower case), or "" when the field had none that could be read
 * @param selector s=, or ""
 * @param algorithm a= as written, or ""
 * @param identity i= as written, or "" when absent (it then defaults to "@" and d=)
 * @param headerB the start of b= that tells this signature apart from the message's others
 *     (RFC 6008: at least 8 characters), or "" when there was no b=
 * @param bodyLength l= when the signature covers only the start of the body (the rest could be
 *     anything: RFC 6376 §8.2)
 * @param testing the key record says t=y
 * @param reason one line, for the log and the A-R comment
 */
public record DkimResult(
    Outcome outcome, String domain, String selector, String algorithm, String identity, String headerB, OptionalLong bodyLength,
    boolean testing, String reason) {

  /** The results of RFC 8601 §2.7.1 (none is said by having no signature at all). */
  public enum Outcome {
    /** The signature verified, with an acceptable algorithm and key. */
    PASS("pass"),
    /** It did not verify: the body or the header fields changed, a bad signature, an expired one, a weak key. */
    FAIL("fail"),
    /** It could not be processed: an algorithm or canonicalization Posta does not know. */
    NEUTRAL("neutral"),
    /** It verified, but is not acceptable: rsa-sha1 (RFC 8301 §3.1). */
    POLICY("policy"),
    /** The key could not be fetched now (a DNS failure): try again later. */
    TEMPERROR("temperror"),
    /** It can never verify: a malformed field or key record, a missing or revoked key. */
    PERMERROR("permerror");

    /** As Authentication-Results writes it. */
    public final String word;

    Outcome(String word) {
      this.word = word;
    }
  }

  public DkimResult {
    reason = oneLine(reason);
  }

  /** Whether DMARC may count this signature: a pass and nothing less (RFC 7489 §3.1.1 with RFC 8301). */
  public boolean countsForDmarc() {
    return outcome == Outcome.PASS;
  }

  /**
   * This result for DMARC (RFC 7489 §4.2): d= and whether it counts as a pass, could have been
   * one but for DNS (temperror), or not.
   */
  public DmarcCheck.Identifier forDmarc() {
    return new DmarcCheck.Identifier(domain, countsForDmarc() ? DmarcCheck.Outcome.PASS
        : outcome == Outcome.TEMPERROR ? DmarcCheck.Outcome.TEMPERROR : DmarcCheck.Outcome.NO_PASS);
  }

  /**
   * This result as an Authentication-Results resinfo (RFC 8601 §2.2): {@code dkim=pass
   * (reason) header.d=example.org header.s=sel header.a=rsa-sha256 header.b="AbC/dEf+"}; tags
   * that were not read are left out.
   */
  public Resinfo resinfo() {
    return new Resinfo("dkim", outcome.word).comment(reason).property("header.d", domain).property("header.i", identity)
        .property("header.s", selector).property("header.a", algorithm).property("header.b", headerB);
  }

  private static final Pattern CONTROLS = Pattern.compile("[\\p{Cntrl}]+");

  /** One line of printable text: control characters become spaces, runs of them one. */
  static String oneLine(String text) {
    if (text == null) return "";
    return CONTROLS.matcher(text).replaceAll(" ").strip();
  }
}
