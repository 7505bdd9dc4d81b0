package dev.posta.mailauth.dmarc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.dns.ResolverRecords;
import dev.posta.mailauth.dmarc.DmarcCheck.Disposition;
import dev.posta.mailauth.dmarc.DmarcCheck.DmarcResult;
import dev.posta.mailauth.dmarc.DmarcCheck.Identifier;
import dev.posta.mailauth.dmarc.DmarcCheck.Outcome;
import dev.posta.mailauth.dmarc.DmarcCheck.Result;
import dev.posta.mailauth.dmarc.DmarcRecord.Policy;
import dev.posta.testing.Dnsmasq;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** DMARC on the real path: policies published in dnsmasq on loopback, asked through {@link ResolverRecords}. */
class DmarcDnsTest {
  @TempDir static Path dir;
  static Dnsmasq dns;

  @BeforeAll
  static void startDns() {
    dns = Dnsmasq.start(dir, z -> z
        // A record in two character-strings, as long records are published.
        .txt("_dmarc.example.test", "v=DMARC1; p=reject; ", "sp=quarantine; adkim=s")
        .txt("_dmarc.twice.test", "v=DMARC1; p=reject")
        .txt("_dmarc.twice.test", "v=DMARC1; p=none")
        .servfail("broken.test"));
  }

  @AfterAll
  static void stopDns() {
    if (dns != null) dns.close();
  }

  private static DmarcResult check(String from, Identifier spf, Identifier... dkim) {
    return new DmarcCheck(new ResolverRecords(List.of(dns.address()), Duration.ofSeconds(2)), () -> 0).check(from, spf, List.of(dkim));
  }

  @Test
  void theFromDomainsOwnRecordDecides() {
    assertThat(check("example.test", new Identifier("example.test", Outcome.NO_PASS), new Identifier("mail.example.test", Outcome.PASS)))
        .isEqualTo(new DmarcResult(Result.FAIL, "example.test", Policy.REJECT, Disposition.REJECT, "no aligned SPF or DKIM pass"));
    assertThat(check("example.test", new Identifier("bounce.example.test", Outcome.PASS)))
        .isEqualTo(new DmarcResult(Result.PASS, "example.test", Policy.REJECT, Disposition.ACCEPT, "SPF pass for bounce.example.test"));
  }

  @Test
  void aSubdomainFallsBackToTheOrganizationalDomainsRecord() {
    assertThat(check("news.example.test", new Identifier("elsewhere.test", Outcome.PASS)))
        .isEqualTo(new DmarcResult(Result.FAIL, "news.example.test", Policy.QUARANTINE, Disposition.QUARANTINE, "no aligned SPF or DKIM pass"));
  }

  @Test
  void noRecordTwoRecordsAndAServerFailure() {
    assertThat(check("nothing.test", new Identifier("nothing.test", Outcome.NO_PASS)).result()).isEqualTo(Result.NONE);
    assertThat(check("twice.test", new Identifier("twice.test", Outcome.NO_PASS)))
        .isEqualTo(new DmarcResult(Result.PERMERROR, "twice.test", null, Disposition.ACCEPT, "2 DMARC records at _dmarc.twice.test"));
    DmarcResult broken = check("broken.test", new Identifier("broken.test", Outcome.NO_PASS));
    assertThat(broken.result()).isEqualTo(Result.TEMPERROR);
    assertThat(broken.disposition()).isEqualTo(Disposition.DEFER);
    assertThat(broken.reason()).startsWith("DNS lookup of TXT for _dmarc.broken.test failed: ");
  }
}
