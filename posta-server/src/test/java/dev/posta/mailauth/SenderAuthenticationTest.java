package dev.posta.mailauth;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mail.MailAddress;
import dev.posta.mailauth.dkim.DkimVerifier;
import dev.posta.mailauth.dkim.HeaderField;
import dev.posta.mailauth.dmarc.DmarcCheck;
import dev.posta.mailauth.dmarc.DmarcCheck.Disposition;
import dev.posta.mailauth.spf.SpfCheck;
import dev.posta.testing.ZoneRecords;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The order and the joins of the sender checks: which domain DMARC is asked for (every From
 * address, the strictest outcome winning: RFC 7489 §6.6.1), the SPF identity it counts, and the
 * Authentication-Results field that records it all. The checks themselves have their own tests.
 */
class SenderAuthenticationTest {
  private final ZoneRecords zone = new ZoneRecords()
      .txt("good.test", "v=spf1 ip4:192.0.2.0/24 -all").txt("_dmarc.good.test", "v=DMARC1; p=reject")
      .txt("bank.test", "v=spf1 -all").txt("_dmarc.bank.test", "v=DMARC1; p=reject")
      .txt("_dmarc.shop.test", "v=DMARC1; p=quarantine");
  private final SenderAuthentication checks = new SenderAuthentication("mx.posta.test",
      new SpfCheck(zone, Clock.systemUTC(), "mx.posta.test"), new DkimVerifier(zone, Clock.systemUTC()), new DmarcCheck(zone, () -> 0));

  private SenderAuthentication.Verdict check(String mailFrom, String message) throws InterruptedException {
    SenderAuthentication.Message m = checks.start(InetAddress.ofLiteral("192.0.2.7"), "mail.good.test",
        mailFrom == null ? null : new MailAddress(mailFrom.substring(0, mailFrom.indexOf('@')), mailFrom.substring(mailFrom.indexOf('@') + 1)));
    byte[] octets = message.getBytes(StandardCharsets.UTF_8);
    m.write(octets, 0, octets.length);
    return m.finish();
  }

  @Test
  void aPassingMessageGetsItsWholeField() throws Exception {
    SenderAuthentication.Verdict v = check("news@good.test", "From: News <news@good.test>\r\nSubject: hi\r\n\r\nbody\r\n");
    assertThat(v.disposition()).isEqualTo(Disposition.ACCEPT);
    assertThat(v.summary()).isEqualTo("spf=pass dkim=none dmarc=pass");
    assertThat(v.field()).isEqualTo("Authentication-Results: mx.posta.test;\r\n"
        + "\tspf=pass (good.test: ip4:192.0.2.0/24 matched 192.0.2.7) smtp.mailfrom=good.test;\r\n"
        + "\tdkim=none;\r\n"
        + "\tdmarc=pass (p=reject dis=accept; SPF pass for good.test) header.from=good.test\r\n");
  }

  @Test
  void severalFromDomainsGetTheStrictestOutcome() throws Exception {
    // Passing for good.test does not carry a forged bank.test address along.
    SenderAuthentication.Verdict v = check("news@good.test", "From: news@good.test, ceo@bank.test\r\n\r\nbody\r\n");
    assertThat(v.disposition()).isEqualTo(Disposition.REJECT);
    assertThat(v.dmarc().fromDomain()).isEqualTo("bank.test");
    assertThat(check("news@good.test", "From: news@good.test\r\nFrom: sale@shop.test\r\n\r\nbody\r\n").disposition())
        .isEqualTo(Disposition.QUARANTINE);
  }

  @Test
  void theNullSenderIsCheckedByItsHeloName() throws Exception {
    SenderAuthentication.Verdict v = check(null, "From: postmaster@good.test\r\n\r\nbounce\r\n");
    assertThat(v.spf().domain()).isEqualTo("mail.good.test");
    // mail.good.test has no SPF record; its organization's DMARC needs another pass.
    assertThat(v.summary()).isEqualTo("spf=none dkim=none dmarc=fail");
    assertThat(v.disposition()).isEqualTo(Disposition.REJECT);
  }

  @Test
  void noUsableFromIsAPermerrorThatTakesTheMessage() throws Exception {
    for (String header : List.of("Subject: no from\r\n", "From: undisclosed\r\n", "From: <@>\r\n")) {
      SenderAuthentication.Verdict v = check("x@bank.test", header + "\r\nbody\r\n");
      assertThat(v.dmarc().result()).as(header).isEqualTo(DmarcCheck.Result.PERMERROR);
      assertThat(v.dmarc().reason()).as(header).isEqualTo("no usable From address");
      assertThat(v.disposition()).as(header).isEqualTo(Disposition.ACCEPT);
      assertThat(v.field()).as(header).endsWith("\tdmarc=permerror (no usable From address)\r\n");
    }
  }

  @Test
  void fromDomainsAreLowerCaseALabels() {
    // A field holds octets (UTF-8 here, RFC 6532), one char per octet.
    String raw = new String("From: \"Müller, Anna\" <anna@BÜCHER.example>, b@Example.COM\r\n".getBytes(StandardCharsets.UTF_8),
        StandardCharsets.ISO_8859_1);
    assertThat(SenderAuthentication.fromDomains(List.of(HeaderField.of(raw))))
        .containsExactly("xn--bcher-kva.example", "example.com");
  }
}
