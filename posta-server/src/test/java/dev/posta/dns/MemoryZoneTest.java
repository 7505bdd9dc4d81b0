package dev.posta.dns;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The test zone answers from its records only: records, NXDOMAIN, NODATA, and failures only where asked for. */
class MemoryZoneTest {
  private final MemoryZone zone = MemoryZone.builder()
      .txt("example.test", "v=spf1 -all")
      .txt("example.test", "google-site-verification=x")
      .address("mail.example.test", InetAddress.ofLiteral("127.0.0.1"))
      .address("mail.example.test", InetAddress.ofLiteral("::1"))
      .mx("example.test", "Mail.Example.Test.")
      .ptr(InetAddress.ofLiteral("127.0.0.1"), "mail.example.test")
      .failing("broken.test")
      .build();

  @Test
  void recordsOfTheTypeAskedInTheOrderGiven() {
    assertThat(zone.txt("Example.Test.")).isEqualTo(new DnsRecords.Records<>(List.of("v=spf1 -all", "google-site-verification=x")));
    assertThat(zone.a("mail.example.test")).isEqualTo(new DnsRecords.Records<>(List.of(InetAddress.ofLiteral("127.0.0.1"))));
    assertThat(zone.aaaa("mail.example.test")).isEqualTo(new DnsRecords.Records<>(List.of(InetAddress.ofLiteral("::1"))));
    assertThat(zone.mx("example.test")).isEqualTo(new DnsRecords.Records<>(List.of("mail.example.test")));
    assertThat(zone.ptr(InetAddress.ofLiteral("127.0.0.1"))).isEqualTo(new DnsRecords.Records<>(List.of("mail.example.test")));
  }

  @Test
  void anyOtherQuestionHasNoRecordsAndNeverFailsUnlessAsked() {
    assertThat(zone.txt("gmail.com")).isEqualTo(new DnsRecords.NoRecords<>(true)); // NXDOMAIN: no network lookup
    assertThat(zone.a("example.test")).isEqualTo(new DnsRecords.NoRecords<>(false)); // NODATA: the name exists
    assertThat(zone.ptr(InetAddress.ofLiteral("::1"))).isEqualTo(new DnsRecords.NoRecords<>(true));
    assertThat(zone.txt("broken.test")).isEqualTo(new DnsRecords.Failure<>("the test zone is set to fail for broken.test"));
    assertThat(zone.cachedOnly()).isSameAs(zone);
  }
}
