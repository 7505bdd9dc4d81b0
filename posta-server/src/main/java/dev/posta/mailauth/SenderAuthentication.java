package dev.posta.mailauth;

import dev.posta.mail.MailAddress;
import dev.posta.mailauth.dkim.DkimResult;
import dev.posta.mailauth.dkim.DkimVerifier;
import dev.posta.mailauth.dkim.HeaderField;
import dev.posta.mailauth.dmarc.DmarcCheck;
import dev.posta.mailauth.dmarc.DmarcCheck.Disposition;
import dev.posta.mailauth.dmarc.DmarcCheck.DmarcResult;
import dev.posta.mailauth.spf.SpfCheck;
import dev.posta.mailauth.spf.SpfIdentity;
import dev.posta.mailauth.spf.SpfResult;
import dev.posta.mailauth.spf.SpfVerdict;
import java.io.OutputStream;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * The sender checks for a message from another server, in the order DMARC needs them: SPF
 * (RFC 7208) for the MAIL FROM identity, DKIM (RFC 6376) for every signature, then DMARC
 * (RFC 7489) for the From domain, and the Authentication-Results field (RFC 8601) that records
 * all three.
 *
 * <p>SPF starts when the message does: at once from DNS's cache when that holds every answer it
 * needs, otherwise on a virtual thread of its own, so its DNS lookups overlap the upload; DKIM
 * reads the message as it streams in (one pass, nothing held but the header section); DMARC
 * runs at the end. A message with several From addresses in different
 * domains gets the strictest of their policies (RFC 7489 §6.6.1); one with no usable From
 * address cannot be checked by DMARC (permerror) and is accepted, as the RFC leaves to the
 * receiver. Nothing here throws for a sender's input or for DNS trouble.
 */
public final class SenderAuthentication {
  private final String authservId;
  private final SpfCheck spf;
  private final DkimVerifier dkim;
  private final DmarcCheck dmarc;

  public SenderAuthentication(String authservId, SpfCheck spf, DkimVerifier dkim, DmarcCheck dmarc) {
    this.authservId = authservId;
    this.spf = spf;
    this.dkim = dkim;
    this.dmarc = dmarc;
  }

  /** What the checks found, what to do, and the field to put on the message (CRLF-ended). */
  public record Verdict(SpfVerdict spf, List<DkimResult> dkim, DmarcResult dmarc, String field) {
    public Disposition disposition() {
      return dmarc.disposition();
    }

    /** One line for the log: "spf=pass dkim=pass,fail dmarc=pass". */
    public String summary() {
      StringBuilder s = new StringBuilder("spf=").append(spf.result().keyword()).append(" dkim=");
      if (dkim.isEmpty()) s.append("none");
      for (int i = 0; i < dkim.size(); i++) s.append(i > 0 ? "," : "").append(dkim.get(i).outcome().word);
      return s.append(" dmarc=").append(dmarc.result()).toString();
    }
  }

  /** Starts the checks of one message: write its octets (CRLF line ends) to the returned stream, then call {@link Message#finish}. */
  public Message start(InetAddress client, String helo, MailAddress sender) {
    String reversePath = sender == null ? "" : sender.toString();
    // Answered from DNS's cache (a sender seen within its records' TTL), SPF costs microseconds:
    // done here, without the thread hand-off, which costs more than the check. Otherwise it asks
    // DNS on a thread of its own, overlapping the upload.
    SpfVerdict cached = spf.checkMailFromCached(client, reversePath, helo);
    CompletableFuture<SpfVerdict> spfVerdict;
    if (cached != null) {
      spfVerdict = CompletableFuture.completedFuture(cached);
    } else {
      spfVerdict = new CompletableFuture<>();
      Thread.ofVirtual().name("spf").start(() -> spfVerdict.complete(spf.checkMailFrom(client, reversePath, helo)));
    }
    return new Message(spfVerdict, dkim.start());
  }

  /** One message being checked. Not thread-safe. */
  public final class Message extends OutputStream {
    private final CompletableFuture<SpfVerdict> spfVerdict;
    private final DkimVerifier.Verification verification;

    private Message(CompletableFuture<SpfVerdict> spfVerdict, DkimVerifier.Verification verification) {
      this.spfVerdict = spfVerdict;
      this.verification = verification;
    }

    @Override
    public void write(int b) {
      verification.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) {
      verification.write(b, off, len);
    }

    /** Ends the message and decides. Waits for SPF if it is still asking DNS (its own time limit bounds that). */
    public Verdict finish() throws InterruptedException {
      List<DkimResult> signatures = verification.finish().signatures();
      SpfVerdict spfResult;
      try {
        spfResult = spfVerdict.get();
      } catch (ExecutionException e) { // a bug in the check: record it as an error, never as a pass
        spfResult = new SpfVerdict(SpfResult.TEMPERROR, SpfIdentity.MAILFROM, "", "", "SPF check failed: " + e.getCause(), null);
      }
      DmarcResult dmarcResult = dmarc(fromDomains(verification.headerFields()), spfResult, signatures);
      List<Resinfo> results = new ArrayList<>();
      results.add(spfResinfo(spfResult));
      if (signatures.isEmpty()) results.add(new Resinfo("dkim", "none"));
      for (DkimResult s : signatures) results.add(s.resinfo());
      results.add(dmarcResinfo(dmarcResult));
      return new Verdict(spfResult, signatures, dmarcResult, AuthenticationResults.field(authservId, results));
    }
  }

  private DmarcResult dmarc(List<String> fromDomains, SpfVerdict spfResult, List<DkimResult> signatures) {
    if (fromDomains.isEmpty()) {
      return new DmarcResult(DmarcCheck.Result.PERMERROR, null, null, Disposition.ACCEPT, "no usable From address");
    }
    DmarcCheck.Identifier spfId = spfResult.forDmarc();
    List<DmarcCheck.Identifier> dkimIds = signatures.stream().map(DkimResult::forDmarc).toList();
    DmarcResult strictest = null;
    for (String domain : fromDomains) {
      DmarcResult r = dmarc.check(domain, spfId, dkimIds);
      if (strictest == null || severity(r.disposition()) > severity(strictest.disposition())) strictest = r;
    }
    return strictest;
  }

  private static int severity(Disposition d) {
    return switch (d) {
      case ACCEPT -> 0;
      case QUARANTINE -> 1;
      case DEFER -> 2;
      case REJECT -> 3;
    };
  }

  /** The domains of every address in every From field (RFC 5322 §3.6.2), as {@link FromField} reads them; none when any has no usable domain. */
  static List<String> fromDomains(List<HeaderField> fields) {
    Set<String> domains = new LinkedHashSet<>();
    for (HeaderField f : fields) {
      if (!f.is("From")) continue;
      List<FromField.Domain> parsed = FromField.domains(f.unfoldedValue());
      if (parsed == null) return List.of();
      for (FromField.Domain d : parsed) {
        if (d.name() == null) return List.of();
        domains.add(d.name());
      }
    }
    return List.copyOf(domains);
  }

  /** RFC 8601 §2.7.2: spf=RESULT (reason) smtp.mailfrom=DOMAIN (or smtp.helo for the HELO identity). */
  private static Resinfo spfResinfo(SpfVerdict v) {
    return new Resinfo("spf", v.result().keyword()).comment(v.reason()).property(v.identity().property(), v.domain());
  }

  /** RFC 7489 §11.2: dmarc=RESULT (p=POLICY dis=WHAT; reason) header.from=DOMAIN. */
  private static Resinfo dmarcResinfo(DmarcResult r) {
    String policy = r.policy() == null ? "" : "p=" + r.policy() + " dis=" + r.disposition().name().toLowerCase(Locale.ROOT) + "; ";
    return new Resinfo("dmarc", r.result().toString()).comment(policy + r.reason()).property("header.from", r.fromDomain());
  }
}
