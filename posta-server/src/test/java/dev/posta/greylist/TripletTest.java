package dev.posta.greylist;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mail.MailAddress;
import java.net.InetAddress;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class TripletTest {

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "192.0.2.77, 192.0.2.0/24",
      "192.0.2.0, 192.0.2.0/24",
      "198.51.100.255, 198.51.100.0/24",
      "2001:db8:1:2:3:4:5:6, 2001:db8:1:2::/64",
      "2001:0db8:0001:0002::ffff, 2001:db8:1:2::/64",
      "2001:db8::1, 2001:db8:0:0::/64",
      "::1, 0:0:0:0::/64",
      "::ffff:192.0.2.9, 192.0.2.0/24",
  })
  void theClientsNetworkIsItsSlash24OrSlash64(String client, String network) {
    assertThat(Triplet.network(InetAddress.ofLiteral(client))).isEqualTo(network);
  }

  @ParameterizedTest(name = "{0}@{1} -> {2}")
  @CsvSource({
      "alice, example.org, alice@example.org",
      "Alice, Example.ORG, alice@example.org",
      "prvs=1234abcd=bob, example.org, bob@example.org",
      "PRVS=0123ABCD=Bob, example.org, bob@example.org",
      "btv1==abc==bob, example.org, bob@example.org",
      // Not BATV: the tag's shape is wrong, or nothing is left after it.
      "prvs=bob, example.org, prvs=bob@example.org",
      // postgrey's substitutions: +extension off, numbers standing as words of their own become #.
      "bounce-12345-alice=example.net, lists.example.org, bounce-#-alice=example.net@lists.example.org",
      "bounces-12345, list.example, bounces-#@list.example",
      "list-1234-5678, list.example, list-#-#@list.example",
      "12345, list.example, #@list.example",
      "user123, example.org, user123@example.org", // digits inside a word stay: a person's name
      "a_123, example.org, a_123@example.org", // the underscore is a word character, as in Perl
      "alice+news, example.org, alice@example.org",
      "alice+2026-01-05, example.org, alice@example.org",
      "owner-list+M12345, example.org, owner-list@example.org",
      "prvs=1234abcd=bounces-77, example.org, bounces-#@example.org",
      "+tag, example.org, #@example.org",
      "'\"a b\"', example.org, \"a%20b\"@example.org",
      "'\"100%\"', example.org, \"#%25\"@example.org",
  })
  void theSenderIsLowerCasedWithoutWhatChangesFromMailToMail(String local, String domain, String want) {
    assertThat(Triplet.sender(new MailAddress(local, domain))).isEqualTo(want);
  }

  @ParameterizedTest
  @CsvSource({"''"})
  void theNullSenderIsAngleBrackets(String ignored) {
    assertThat(Triplet.sender(null)).isEqualTo("<>");
  }

  @ParameterizedTest
  @CsvSource({"192.0.2.1, Tom, Example.org, 192.0.2.0/24, tom@example.org"})
  void theTripletNamesTheRecipientInLowerCase(String client, String local, String domain, String network, String recipient) {
    Triplet t = Triplet.of(InetAddress.ofLiteral(client), null, new MailAddress(local, domain));
    assertThat(t).isEqualTo(new Triplet(network, "<>", recipient));
  }

  @org.junit.jupiter.api.Test
  void anIpv4MappedClientIsInItsIpv4NetworkAndExemptNetwork() throws Exception {
    // The JDK turns a mapped literal into an Inet4Address; a dual-stack socket's Inet6Address can still hold one.
    byte[] mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, 127, 0, 0, 1};
    InetAddress client = java.net.Inet6Address.getByAddress(null, mapped, -1);
    assertThat(client).isInstanceOf(java.net.Inet6Address.class);
    assertThat(Triplet.network(client)).isEqualTo("127.0.0.0/24");
    var exempt = dev.posta.config.PostaConfig.Greylisting.DEFAULTS; // the loopback
    assertThat(exempt.exempts(client)).isTrue();
  }
}
