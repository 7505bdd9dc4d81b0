package dev.posta.mailauth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.PostaConfig;
import dev.posta.dns.DnsRecords;
import dev.posta.dns.MemoryZone;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built-in test domain: the key records it publishes are the public halves of the private
 * keys it ships (a record typed in by hand that does not match would make every signature
 * fail), the zone holds its SPF and DMARC records, and a developer's key file that cannot be
 * read stops the start with where it was given.
 */
class TestDomainTest {
  @TempDir Path dir;

  @Test
  void thePublishedKeyRecordsAreThoseOfTheShippedKeys() throws Exception {
    TestDomain.Keys keys = TestDomain.writeKeys(dir);
    var rsa = DkimKeyFiles.read(keys.rsaPem(), TestDomain.DOMAIN, TestDomain.RSA_SELECTOR);
    var ed = DkimKeyFiles.read(keys.ed25519Pem(), TestDomain.DOMAIN, TestDomain.ED25519_SELECTOR);
    assertThat(String.join("", DkimKeyFiles.txtStrings(DkimKeyFiles.publicKey(rsa)))).isEqualTo(TestDomain.RSA_KEY_RECORD);
    assertThat(String.join("", DkimKeyFiles.txtStrings(DkimKeyFiles.publicKey(ed)))).isEqualTo(TestDomain.ED25519_KEY_RECORD);
    assertThat(((java.security.interfaces.RSAPrivateCrtKey) rsa.key()).getModulus().bitLength()).isEqualTo(2048);
    // dkimpy's form of the Ed25519 key is the same key: its 32-octet seed in base64.
    byte[] seed = ((java.security.interfaces.EdECPrivateKey) ed.key()).getBytes().orElseThrow();
    assertThat(Files.readString(keys.ed25519Dkimpy()).strip()).isEqualTo(Base64.getEncoder().encodeToString(seed));
  }

  @Test
  void theZoneHoldsTheTestDomainAndTheDevelopersRecords() throws Exception {
    MemoryZone zone = TestDomain.zone(PostaConfig.Capture.Zone.EMPTY
        .with(new PostaConfig.Capture.ZoneRecord("shop.example", PostaConfig.Capture.RecordType.TXT, "v=spf1 -all", "test"))
        .with(new PostaConfig.Capture.ZoneRecord("127.0.0.1", PostaConfig.Capture.RecordType.PTR, "mail.shop.example", "test")));
    assertThat(zone.txt("example.test")).isEqualTo(new DnsRecords.Records<>(List.of("v=spf1 ip4:127.0.0.0/8 ip6:::1 -all")));
    assertThat(zone.txt("_dmarc.example.test")).isEqualTo(new DnsRecords.Records<>(List.of("v=DMARC1; p=reject")));
    assertThat(zone.txt("posta-rsa._domainkey.example.test")).isEqualTo(new DnsRecords.Records<>(List.of(TestDomain.RSA_KEY_RECORD)));
    assertThat(zone.txt("SHOP.example.")).isEqualTo(new DnsRecords.Records<>(List.of("v=spf1 -all")));
    assertThat(zone.ptr(InetAddress.ofLiteral("127.0.0.1"))).isEqualTo(new DnsRecords.Records<>(List.of("mail.shop.example")));
    assertThat(zone.txt("gmail.com")).isEqualTo(new DnsRecords.NoRecords<>(true));
  }

  @Test
  void aDevelopersKeyFileThatCannotBeReadStopsTheStartSayingWhereItWasGiven() {
    var zone = PostaConfig.Capture.Zone.EMPTY.with(new PostaConfig.Capture.ZoneKey("shop.example", "s1", dir.resolve("missing.pem"), "posta-dev.toml:3"));
    assertThatThrownBy(() -> TestDomain.zone(zone))
        .hasMessage("unusable DKIM keys for the test zone:\n  posta-dev.toml:3: " + dir.resolve("missing.pem") + ": no such key file");
  }
}
