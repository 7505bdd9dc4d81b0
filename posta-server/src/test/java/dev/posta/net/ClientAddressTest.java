package dev.posta.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ClientAddressTest {
  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
    "127.0.0.1, 127.0.0.1, 127.0.0.1",
    "::1, ::1, IPv6:::1",
    "0:0:0:0:0:0:0:0, ::, IPv6:::",
    "2001:db8:0:0:1:0:0:1, 2001:db8::1:0:0:1, IPv6:2001:db8::1:0:0:1",
    "2001:db8:0:1:1:1:1:1, 2001:db8:0:1:1:1:1:1, IPv6:2001:db8:0:1:1:1:1:1",
    "fe80:0:0:0:0:0:0:ab, fe80::ab, IPv6:fe80::ab",
    "2001:db8:0:0:0:0:2:1, 2001:db8::2:1, IPv6:2001:db8::2:1",
  })
  void rfc5952TextAndAddressLiteral(String in, String text, String literal) throws Exception {
    InetAddress a = InetAddress.ofLiteral(in);
    assertThat(ClientAddress.text(a)).isEqualTo(text);
    assertThat(ClientAddress.literal(a)).isEqualTo(literal);
  }

  /** Per-address limits count an IPv6 client by its /64 (one host or subscriber), an IPv4 client by its address. */
  @ParameterizedTest(name = "{0} counts as {1}")
  @CsvSource({
    "192.0.2.7, 192.0.2.7",
    "::1, ::",
    "2001:db8:1:2:aaaa:bbbb:cccc:dddd, 2001:db8:1:2::",
    "2001:db8:1:2::1, 2001:db8:1:2::",
    "2001:db8:1:3::1, 2001:db8:1:3::",
    "::ffff:192.0.2.7, 192.0.2.7",
    // NAT64 puts unrelated IPv4 clients in one /64: each counts as itself.
    "64:ff9b::c000:207, 192.0.2.7",
    "64:ff9b::c000:208, 192.0.2.8",
    "64:ff9b:1:0:0:0:c000:207, 64:ff9b:1::c000:207",
    // Teredo clients share 2001:0::/32 and are told apart by the rest.
    "2001:0:4136:e378:8000:63bf:3fff:fdd2, 2001:0:4136:e378:8000:63bf:3fff:fdd2",
  })
  void limitsCountIpv6ClientsByTheirSlash64(String in, String network) throws Exception {
    assertThat(ClientAddress.text(ClientAddress.network(InetAddress.ofLiteral(in)))).isEqualTo(network);
  }
}
