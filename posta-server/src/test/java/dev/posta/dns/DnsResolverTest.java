package dev.posta.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The resolver settings MxResolver and ResolverRecords share. (Its answers are tested through them, against dnsmasq.) */
class DnsResolverTest {
  static InetAddress ip(String literal) {
    return InetAddress.ofLiteral(literal);
  }

  @Test
  void serversWithAndWithoutPorts() {
    assertThat(DnsResolver.parseServer("192.0.2.53")).isEqualTo(new InetSocketAddress(ip("192.0.2.53"), 53));
    assertThat(DnsResolver.parseServer("127.0.0.1:5353")).isEqualTo(new InetSocketAddress(ip("127.0.0.1"), 5353));
    assertThat(DnsResolver.parseServer("[::1]:5353")).isEqualTo(new InetSocketAddress(ip("::1"), 5353));
    assertThat(DnsResolver.parseServer("[2001:db8::53]")).isEqualTo(new InetSocketAddress(ip("2001:db8::53"), 53));
    assertThat(DnsResolver.parseServer("2001:db8::53")).isEqualTo(new InetSocketAddress(ip("2001:db8::53"), 53));
    for (String bad : List.of("", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:x", "[::1", "[::1]53", ":53")) {
      assertThatThrownBy(() -> DnsResolver.parseServer(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void aTimeoutMustBePositive() {
    assertThatThrownBy(() -> new DnsResolver(List.of("127.0.0.1"), Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class).hasMessage("DNS timeout must be positive: PT0S");
  }
}
