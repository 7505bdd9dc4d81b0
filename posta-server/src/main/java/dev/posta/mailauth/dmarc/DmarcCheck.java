package dev.posta.mailauth.dmarc;

import dev.posta.dns.DnsRecords;
import dev.posta.mailauth.dmarc.DmarcRecord.Alignment;
import dev.posta.mailauth.dmarc.DmarcRecord.Policy;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntSupplier;

/**
 * DMARC (RFC 7489): finds the policy of a message's From domain and decides, from the SPF and
 * DKIM results that came before, whether the message passes and what to do with it.
 *
 * <p><b>Policy discovery</b> (§6.6.3): the TXT records at {@code _dmarc.<From domain>}, then, if
 * there is none, at {@code _dmarc.<organizational domain>}. Records not starting with
 * {@code v=DMARC1} are discarded; two or more DMARC records, or an unusable one, are a
 * permerror and no policy applies.
 *
 * <p><b>Pass</b> (§4.2): an SPF pass or a DKIM pass for a domain aligned with the From domain
 * (relaxed: the same organizational domain; strict: the same name). The callers say which
 * results count: an rsa-sha1 DKIM pass is not one (RFC 8301).
 *
 * <p><b>DNS trouble is never a pass</b>: a policy lookup that fails, or an aligned SPF or DKIM
 * check that failed temporarily while the message would otherwise fail, is a temperror; when
 * the policy is quarantine or reject (or unknown), the message is {@link Disposition#DEFER
 * deferred} so that its sender tries again. {@code pct} (§6.6.4) applies the policy to that
 * share of failing messages and the next milder policy to the rest.
 *
 * <p>Thread-safe. Reports (rua, ruf) are not sent.
 */
public final class DmarcCheck {
  private final DnsRecords dns;
  /** 0 to 99, uniformly: a failing message gets its policy when the roll is below pct. */
  private final IntSupplier percentRoll;

  /** How an SPF or DKIM check ended, as DMARC counts it. */
  public enum Outcome {
    PASS,
    /** A DNS failure: the check might have passed. */
    TEMPERROR,
    /** Anything else: fail, softfail, neutral, none, permerror, a pass DMARC does not count. */
    NO_PASS
  }

  /** A domain an SPF or DKIM check authenticated, or tried to: SPF's MAIL FROM domain (the HELO name for a null sender), a DKIM signature's d=. */
  public record Identifier(String domain, Outcome outcome) {}

  /** What to do with the message. */
  public enum Disposition {
    ACCEPT,
    /** Deliver to the recipient's Junk folder. */
    QUARANTINE,
    REJECT,
    /** Answer 4xx: a DNS failure kept the check from deciding, and its policy is not none. */
    DEFER
  }

  /** The result for an Authentication-Results header (RFC 8601 §2.7.1's dmarc values). */
  public enum Result {
    PASS, FAIL, NONE, TEMPERROR, PERMERROR;

    @Override
    public String toString() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * The outcome: the result, the From domain it is for (lower case; {@code null} when the
   * message's was not a domain name), the published policy that applied ({@code null} when none
   * was found), what to do, and why in a few words (one line, never the sender's raw input).
   */
  public record DmarcResult(Result result, String fromDomain, Policy policy, Disposition disposition, String reason) {}

  public DmarcCheck(DnsRecords dns, IntSupplier percentRoll) {
    this.dns = dns;
    this.percentRoll = percentRoll;
  }

  /**
   * Checks a message from {@code fromDomain} (the RFC 5322 From domain, international names as
   * A-labels), given its SPF identifier ({@code null} when SPF was not checked) and its DKIM
   * identifiers. Never throws.
   */
  public DmarcResult check(String fromDomain, Identifier spf, List<Identifier> dkim) {
    String from = normalize(fromDomain);
    if (!isDomainName(from)) return new DmarcResult(Result.PERMERROR, null, null, Disposition.ACCEPT, "the From domain is not a domain name");
    List<Identifier> identifiers = new ArrayList<>(dkim);
    if (spf != null) identifiers.add(spf);

    String orgDomain = OrganizationalDomain.of(from);
    Lookup lookup = lookup(from);
    boolean atFromDomain = true;
    if (lookup instanceof NotFound && !orgDomain.equals(from)) {
      lookup = lookup(orgDomain);
      atFromDomain = false;
    }
    switch (lookup) {
      case NotFound n -> {
        return new DmarcResult(Result.NONE, from, null, Disposition.ACCEPT, "no DMARC record");
      }
      case Unusable u -> {
        return new DmarcResult(Result.PERMERROR, from, null, Disposition.ACCEPT, u.reason());
      }
      case Failed f -> {
        // The policy is unknown. A relaxed-aligned pass would pass under any but a strict record;
        // without one, the message may be one its domain wants refused: ask the sender to retry.
        boolean likelyPass = identifiers.stream().anyMatch(i -> i.outcome() == Outcome.PASS && aligned(i.domain(), from, Alignment.RELAXED));
        return new DmarcResult(Result.TEMPERROR, from, null, likelyPass ? Disposition.ACCEPT : Disposition.DEFER, f.reason());
      }
      case Found found -> {
        return evaluate(from, found.record(), found.record().policyFor(atFromDomain), spf, dkim);
      }
    }
  }

  private DmarcResult evaluate(String from, DmarcRecord record, Policy policy, Identifier spf, List<Identifier> dkim) {
    for (Identifier d : dkim) {
      if (d.outcome() == Outcome.PASS && aligned(d.domain(), from, record.dkimAlignment())) {
        return new DmarcResult(Result.PASS, from, policy, Disposition.ACCEPT, "DKIM pass for " + normalize(d.domain()));
      }
    }
    if (spf != null && spf.outcome() == Outcome.PASS && aligned(spf.domain(), from, record.spfAlignment())) {
      return new DmarcResult(Result.PASS, from, policy, Disposition.ACCEPT, "SPF pass for " + normalize(spf.domain()));
    }
    boolean unsure = dkim.stream().anyMatch(d -> d.outcome() == Outcome.TEMPERROR && aligned(d.domain(), from, record.dkimAlignment()))
        || (spf != null && spf.outcome() == Outcome.TEMPERROR && aligned(spf.domain(), from, record.spfAlignment()));
    if (unsure) {
      return new DmarcResult(Result.TEMPERROR, from, policy, policy == Policy.NONE ? Disposition.ACCEPT : Disposition.DEFER,
          "an aligned SPF or DKIM check failed temporarily");
    }
    Policy applied = percentRoll.getAsInt() < record.percent() ? policy : policy.milder();
    Disposition disposition = switch (applied) {
      case NONE -> Disposition.ACCEPT;
      case QUARANTINE -> Disposition.QUARANTINE;
      case REJECT -> Disposition.REJECT;
    };
    String reason = "no aligned SPF or DKIM pass" + (applied == policy ? "" : "; pct=" + record.percent() + " applied " + applied);
    return new DmarcResult(Result.FAIL, from, policy, disposition, reason);
  }

  /** §3.1: strict alignment is the same name; relaxed, the same organizational domain. */
  static boolean aligned(String authenticated, String from, Alignment mode) {
    String a = normalize(authenticated);
    return mode == Alignment.STRICT ? a.equals(from) : OrganizationalDomain.same(a, from);
  }

  private sealed interface Lookup {}

  private record Found(DmarcRecord record) implements Lookup {}

  private record NotFound() implements Lookup {}

  private record Unusable(String reason) implements Lookup {}

  private record Failed(String reason) implements Lookup {}

  /** §6.6.3 steps 1 to 4 at one name. */
  private Lookup lookup(String domain) {
    String name = "_dmarc." + domain;
    return switch (dns.txt(name)) {
      case DnsRecords.Failure<String> f -> new Failed(f.reason());
      case DnsRecords.NoRecords<String> n -> new NotFound();
      case DnsRecords.Records<String> r -> {
        List<DmarcRecord.Parsed> dmarc = r.records().stream().map(DmarcRecord::parse).filter(p -> !(p instanceof DmarcRecord.NotDmarc)).toList();
        if (dmarc.isEmpty()) yield new NotFound();
        if (dmarc.size() > 1) yield new Unusable(dmarc.size() + " DMARC records at " + name);
        yield switch (dmarc.getFirst()) {
          case DmarcRecord.Valid v -> new Found(v.record());
          case DmarcRecord.Invalid i -> new Unusable("invalid DMARC record at " + name + ": " + i.reason());
          case DmarcRecord.NotDmarc n -> throw new AssertionError("filtered out above");
        };
      }
    };
  }

  /**
   * RFC 1035 §2.3.1 names as mail uses them (RFC 5321 §4.1.2): dot-separated labels of letters,
   * digits and hyphens (A-labels for international names), 1 to 63 octets each, 253 in all.
   * Only such a name is looked up or written into a result.
   */
  static boolean isDomainName(String name) {
    if (name.isEmpty() || name.length() > 253) return false;
    int label = 0;
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (c == '.') {
        if (label == 0 || name.charAt(i - 1) == '-') return false;
        label = 0;
      } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && label > 0)) {
        if (++label > 63) return false;
      } else {
        return false;
      }
    }
    return label > 0 && name.charAt(name.length() - 1) != '-';
  }

  private static String normalize(String domain) {
    String d = domain.toLowerCase(Locale.ROOT);
    return d.endsWith(".") ? d.substring(0, d.length() - 1) : d;
  }
}
