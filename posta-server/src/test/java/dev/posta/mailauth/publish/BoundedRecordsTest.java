package dev.posta.mailauth.publish;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.dns.DnsRecords;
import dev.posta.testing.ZoneRecords;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * A check's DNS time budget: questions are passed on while it lasts; once it has run out the
 * rest are not asked and answer a failure, which the check reports as UNKNOWN.
 */
class BoundedRecordsTest {
  @Test
  void questionsAfterTheBudgetAreNotAskedAndFail() {
    ZoneRecords zone = new ZoneRecords().mx("example.org", "mail.example.org").txt("example.org", "v=spf1 -all");
    AtomicLong now = new AtomicLong(1_000);
    BoundedRecords dns = new BoundedRecords(zone, Duration.ofSeconds(10), now::get);

    assertThat(dns.mx("example.org")).isEqualTo(new DnsRecords.Records<>(List.of("mail.example.org")));
    now.addAndGet(Duration.ofSeconds(10).toNanos() - 1);
    assertThat(dns.txt("example.org")).isEqualTo(new DnsRecords.Records<>(List.of("v=spf1 -all")));
    now.addAndGet(1);
    assertThat(dns.txt("example.org")).isEqualTo(new DnsRecords.Failure<String>("not asked: the check's 10 s for DNS had run out"));
    assertThat(dns.a("mail.example.org")).isInstanceOf(DnsRecords.Failure.class);
    assertThat(zone.questions()).hasSize(2);
  }
}
