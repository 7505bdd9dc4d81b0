package dev.posta.mailauth.dmarc;

import static dev.posta.mailauth.dmarc.DmarcCheck.Outcome.NO_PASS;
import static dev.posta.mailauth.dmarc.DmarcCheck.Outcome.PASS;
import static dev.posta.mailauth.dmarc.DmarcCheck.Outcome.TEMPERROR;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mailauth.dmarc.DmarcCheck.Disposition;
import dev.posta.mailauth.dmarc.DmarcCheck.DmarcResult;
import dev.posta.mailauth.dmarc.DmarcCheck.Identifier;
import dev.posta.mailauth.dmarc.DmarcCheck.Result;
import dev.posta.mailauth.dmarc.DmarcRecord.Policy;
import dev.posta.testing.ZoneRecords;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * DMARC decisions (RFC 7489 §4.2, §6.6): every policy, both alignment modes for SPF and DKIM,
 * subdomain policy, pct, discovery at the organizational domain, and DNS failures, each with
 * the exact result. DNS answers come from {@link ZoneRecords}; DmarcDnsTest asks a real DNS server.
 */
class DmarcCheckTest {
  private final ZoneRecords zone = new ZoneRecords()
      .txt("_dmarc.example.com", "v=DMARC1; p=reject; sp=quarantine")
      .txt("_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s")
      .txt("_dmarc.quarantine.example", "v=DMARC1; p=quarantine")
      .txt("_dmarc.watch.example", "v=DMARC1; p=none; rua=mailto:d@watch.example")
      .txt("_dmarc.half.example", "v=DMARC1; p=reject; pct=50")
      .txt("_dmarc.twice.example", "v=DMARC1; p=reject")
      .txt("_dmarc.twice.example", "v=DMARC1; p=none")
      .txt("_dmarc.mixed.example", "v=spf1 -all")
      .txt("_dmarc.mixed.example", "some verification token")
      .txt("_dmarc.mixed.example", "v=DMARC1; ", "p=quarantine")
      .txt("_dmarc.broken.example", "v=DMARC1; p=whatever")
      .timeout("_dmarc.flaky.example");

  private int roll = 0;
  private final DmarcCheck check = new DmarcCheck(zone, () -> roll);

  private DmarcResult check(String from, Identifier spf, Identifier... dkim) {
    return check.check(from, spf, List.of(dkim));
  }

  private static Identifier spf(String domain, DmarcCheck.Outcome outcome) {
    return new Identifier(domain, outcome);
  }

  private static Identifier dkim(String domain, DmarcCheck.Outcome outcome) {
    return new Identifier(domain, outcome);
  }

  @Test
  void anAlignedDkimPassPasses() {
    assertThat(check("example.com", spf("other.net", NO_PASS), dkim("example.com", PASS)))
        .isEqualTo(new DmarcResult(Result.PASS, "example.com", Policy.REJECT, Disposition.ACCEPT, "DKIM pass for example.com"));
  }

  @Test
  void relaxedAlignmentTakesAnyNameOfTheSameOrganization() {
    assertThat(check("news.example.com", spf("bounces.example.com", PASS)))
        .isEqualTo(new DmarcResult(Result.PASS, "news.example.com", Policy.QUARANTINE, Disposition.ACCEPT, "SPF pass for bounces.example.com"));
    assertThat(check("example.com", spf("x.net", NO_PASS), dkim("mail.EXAMPLE.com.", PASS)).result()).isEqualTo(Result.PASS);
  }

  @Test
  void strictAlignmentWantsTheSameName() {
    assertThat(check("strict.example", spf("bounce.strict.example", PASS), dkim("mail.strict.example", PASS)))
        .isEqualTo(new DmarcResult(Result.FAIL, "strict.example", Policy.REJECT, Disposition.REJECT, "no aligned SPF or DKIM pass"));
    assertThat(check("strict.example", spf("strict.example", PASS)).result()).isEqualTo(Result.PASS);
  }

  @Test
  void aPassForAnotherOrganizationDoesNotCount() {
    assertThat(check("example.com", spf("mailer.example.net", PASS), dkim("example.net", PASS)))
        .isEqualTo(new DmarcResult(Result.FAIL, "example.com", Policy.REJECT, Disposition.REJECT, "no aligned SPF or DKIM pass"));
  }

  @Test
  void eachPolicyHasItsDisposition() {
    assertThat(check("quarantine.example", spf("quarantine.example", NO_PASS)).disposition()).isEqualTo(Disposition.QUARANTINE);
    assertThat(check("watch.example", spf("watch.example", NO_PASS)))
        .isEqualTo(new DmarcResult(Result.FAIL, "watch.example", Policy.NONE, Disposition.ACCEPT, "no aligned SPF or DKIM pass"));
  }

  @Test
  void aSubdomainWithoutItsOwnRecordGetsTheOrganizationsSubdomainPolicy() {
    assertThat(check("shop.example.com", spf("shop.example.com", NO_PASS)))
        .isEqualTo(new DmarcResult(Result.FAIL, "shop.example.com", Policy.QUARANTINE, Disposition.QUARANTINE, "no aligned SPF or DKIM pass"));
    // Without sp=, a subdomain gets p.
    assertThat(check("a.b.strict.example", spf("x.net", NO_PASS)).policy()).isEqualTo(Policy.REJECT);
  }

  @Test
  void pctAppliesThePolicyToItsShareAndTheMilderPolicyToTheRest() {
    roll = 49;
    assertThat(check("half.example", spf("half.example", NO_PASS)).disposition()).isEqualTo(Disposition.REJECT);
    roll = 50;
    assertThat(check("half.example", spf("half.example", NO_PASS)))
        .isEqualTo(new DmarcResult(Result.FAIL, "half.example", Policy.REJECT, Disposition.QUARANTINE,
            "no aligned SPF or DKIM pass; pct=50 applied quarantine"));
  }

  @Test
  void noRecordIsNone() {
    assertThat(check("nowhere.example", spf("nowhere.example", NO_PASS)))
        .isEqualTo(new DmarcResult(Result.NONE, "nowhere.example", null, Disposition.ACCEPT, "no DMARC record"));
  }

  @Test
  void recordsThatAreNotDmarcAreSkipped() {
    assertThat(check("mixed.example", spf("mixed.example", NO_PASS)).disposition()).isEqualTo(Disposition.QUARANTINE);
  }

  @Test
  void twoRecordsOrABadOneArePermerrorsWithoutPolicy() {
    assertThat(check("twice.example", spf("twice.example", NO_PASS)))
        .isEqualTo(new DmarcResult(Result.PERMERROR, "twice.example", null, Disposition.ACCEPT, "2 DMARC records at _dmarc.twice.example"));
    assertThat(check("broken.example", spf("broken.example", NO_PASS)))
        .isEqualTo(new DmarcResult(Result.PERMERROR, "broken.example", null, Disposition.ACCEPT,
            "invalid DMARC record at _dmarc.broken.example: p=whatever is not none, quarantine or reject"));
  }

  @Test
  void aFailedPolicyLookupIsATemperrorThatDefersUnlessAnAlignedPassMakesTheOutcomeClear() {
    assertThat(check("flaky.example", spf("flaky.example", NO_PASS)))
        .isEqualTo(new DmarcResult(Result.TEMPERROR, "flaky.example", null, Disposition.DEFER, "DNS lookup of TXT for _dmarc.flaky.example failed: timed out"));
    assertThat(check("flaky.example", spf("flaky.example", PASS)).disposition()).isEqualTo(Disposition.ACCEPT);
    assertThat(check("flaky.example", spf("flaky.example", PASS)).result()).isEqualTo(Result.TEMPERROR);
  }

  @Test
  void anAlignedCheckThatFailedTemporarilyIsNeverAPassAndDefersWhenThePolicyIsEnforced() {
    assertThat(check("example.com", spf("example.com", TEMPERROR)))
        .isEqualTo(new DmarcResult(Result.TEMPERROR, "example.com", Policy.REJECT, Disposition.DEFER, "an aligned SPF or DKIM check failed temporarily"));
    assertThat(check("example.com", spf("x.net", NO_PASS), dkim("example.com", TEMPERROR)).disposition()).isEqualTo(Disposition.DEFER);
    assertThat(check("watch.example", spf("watch.example", TEMPERROR)).disposition()).isEqualTo(Disposition.ACCEPT);
    // A temperror for a domain that is not aligned changes nothing.
    assertThat(check("example.com", spf("x.net", TEMPERROR)).disposition()).isEqualTo(Disposition.REJECT);
    // An aligned pass wins over another check's temperror.
    assertThat(check("example.com", spf("example.com", TEMPERROR), dkim("example.com", PASS)).result()).isEqualTo(Result.PASS);
  }

  @Test
  void aFromDomainThatIsNotADomainNameIsAPermerrorAndNeverEchoed() {
    for (String from : List.of("", "exa mple.com", "example..com", "-example.com", "example-.com", "bad\r\nX-Injected: 1", "ünï.example", "a".repeat(64) + ".com")) {
      assertThat(check(from, spf(from, PASS))).as(from)
          .isEqualTo(new DmarcResult(Result.PERMERROR, null, null, Disposition.ACCEPT, "the From domain is not a domain name"));
    }
    assertThat(check("xn--n3h.example", spf("xn--n3h.example", PASS)).result()).isEqualTo(Result.NONE);
  }

  @Test
  void aMissingSpfIdentifierIsAllowed() {
    assertThat(check("example.com", null, dkim("example.com", PASS)).result()).isEqualTo(Result.PASS);
    assertThat(check("example.com", null).disposition()).isEqualTo(Disposition.REJECT);
  }
}
