package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mailauth.dkim.DkimAlgorithm;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import dev.posta.testing.Dnsmasq;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPairGenerator;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Master;
import org.xbill.DNS.Record;
import org.xbill.DNS.TXTRecord;
import picocli.CommandLine;

/**
 * {@code posta dns check DOMAIN} against dnsmasq on loopback: a zone made of exactly what
 * {@code posta dns} printed (read back with dnsjava's zone parser) is all OK; broken zones get
 * the exact finding and fix, record by record, and exit status 1.
 */
class DnsCheckTest {
  @TempDir static Path dir;
  static Dnsmasq dns;
  static DkimKeyFiles.Generated exampleKey;
  static DkimKeyFiles.Generated wrongKey;

  record Run(int status, String out, String err) {}

  static Run run(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    var command = new DnsCommand(new PrintStream(out, true, UTF_8), new PrintStream(err, true, UTF_8), Clock.systemUTC());
    int status = new CommandLine(command).setErr(new java.io.PrintWriter(new PrintStream(err, true, UTF_8), true)).execute(args);
    return new Run(status, out.toString(UTF_8), err.toString(UTF_8));
  }

  static Run check(String... args) {
    List<String> all = new ArrayList<>(List.of("check"));
    all.addAll(List.of(args));
    all.addAll(List.of("--config", dir.resolve("posta.toml").toString(), "--dns-server", dns.address()));
    return run(all.toArray(String[]::new));
  }

  @BeforeAll
  static void zones() throws Exception {
    Files.writeString(dir.resolve("posta.toml"), """
        hostname = "mail.example.org"
        data = "data"
        [domains."example.org"]
        """);
    Path data = dir.resolve("data");
    exampleKey = DkimKeyFiles.generate(data, "example.org", "s1", DkimAlgorithm.KeyType.RSA);
    wrongKey = DkimKeyFiles.generate(data, "wrong.org", "s1", DkimAlgorithm.KeyType.ED25519);
    var other = KeyPairGenerator.getInstance("Ed25519").generateKeyPair().getPublic();
    Run printed = run("example.org", "--address", "192.0.2.10", "--address", "2001:db8::10", "--config", dir.resolve("posta.toml").toString());
    assertThat(printed.status()).as("%s", printed).isZero();
    List<Record> good = new ArrayList<>();
    try (Master master = new Master(new ByteArrayInputStream(printed.out().getBytes(UTF_8)))) {
      for (Record r = master.nextRecord(); r != null; r = master.nextRecord()) good.add(r);
    }
    assertThat(good).hasSize(6);
    dns = Dnsmasq.start(dir, z -> {
      // example.org: what posta dns printed, and the PTRs the provider set.
      for (Record r : good) {
        String name = r.getName().toString(true);
        switch (r) {
          case MXRecord mx -> z.mx(name, mx.getTarget().toString(true), mx.getPriority());
          case ARecord a -> z.a(name, a.getAddress().getHostAddress());
          case AAAARecord a -> z.aaaa(name, a.getAddress().getHostAddress());
          case TXTRecord t -> z.txt(name, t.getStrings().toArray(String[]::new));
          default -> throw new AssertionError("posta dns printed " + r);
        }
      }
      z.ptr("192.0.2.10", "mail.example.org").ptr("2001:db8::10", "mail.example.org");
      // wrong.org: everything there and wrong.
      z.mx("wrong.org", "mx.elsewhere.net", 10)
          .a("mail.wrong.org", "192.0.2.20")
          .txt("wrong.org", "v=spf1 mx -all")
          .txt("wrong.org", "v=spf1 ip4:192.0.2.20 -all")
          .txt("s1._domainkey.wrong.org", DkimKeyFiles.txtStrings(other).toArray(String[]::new))
          .txt("_dmarc.wrong.org", "v=DMARC1; p=maybe")
          .ptr("192.0.2.20", "host-20.provider.net");
      // spf.org: an SPF that leaves the server out, an A elsewhere, a PTR that does not resolve back.
      z.mx("spf.org", "mail.spf.org", 10)
          .a("mail.spf.org", "192.0.2.31")
          .txt("spf.org", "v=spf1 ip4:198.51.100.1 -all")
          .txt("_dmarc.spf.org", "v=DMARC1; p=reject")
          .ptr("192.0.2.30", "mail.spf.org");
      return z.servfail("broken.net");
    });
  }

  @AfterAll
  static void stop() {
    if (dns != null) dns.close();
  }

  @Test
  void whatPostaDnsPrintedIsAllOk() {
    assertThat(check("example.org", "--address", "192.0.2.10", "--address", "2001:db8::10")).isEqualTo(new Run(0, """
        OK       MX     example.org: mail goes to mail.example.org
        OK       A      mail.example.org: 192.0.2.10
        OK       AAAA   mail.example.org: 2001:db8::10
        OK       SPF    example.org: "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 -all" passes 192.0.2.10, 2001:db8::10
        OK       DKIM   s1._domainkey.example.org: the public key of %s
        OK       DMARC  _dmarc.example.org: p=none (monitoring: move to p=quarantine once the reports show only your mail)
        OK       PTR    192.0.2.10: mail.example.org, which resolves back to 192.0.2.10
        OK       PTR    2001:db8::10: mail.example.org, which resolves back to 2001:db8::10
        All 8 records of example.org are OK.
        """.formatted(exampleKey.file()), ""));
    // Without --address, the host's A and AAAA records are the addresses checked.
    Run found = check("example.org");
    assertThat(found.status()).isZero();
    assertThat(found.out()).contains("OK       A      mail.example.org: 192.0.2.10, 2001:db8::10\n");
  }

  @Test
  void everythingWrong() {
    assertThat(check("wrong.org", "--hostname", "mail.wrong.org")).isEqualTo(new Run(1, """
        WRONG    MX     wrong.org: mail goes to mx.elsewhere.net, not to mail.wrong.org
                        fix: publish wrong.org. 3600 IN MX 10 mail.wrong.org. (and remove the others unless they relay to mail.wrong.org)
        OK       A      mail.wrong.org: 192.0.2.20
        CONFLICT SPF    wrong.org: 2 SPF records (receivers take two as a permerror, RFC 7208 section 4.5)
                        fix: merge them into one, e.g. "v=spf1 mx -all"
        WRONG    DKIM   s1._domainkey.wrong.org: a key other than the one of %s (signatures will not verify)
                        fix: publish the record posta dns wrong.org prints for selector s1 in its place
        WRONG    DMARC  _dmarc.wrong.org: invalid: p=maybe is not none, quarantine or reject
                        fix: publish _dmarc.wrong.org. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@wrong.org" in its place
        WRONG    PTR    192.0.2.20: names host-20.provider.net, not mail.wrong.org
                        fix: ask the provider of 192.0.2.20 to set its PTR to mail.wrong.org
        5 of 6 records of wrong.org to fix; run posta dns check wrong.org again after.
        """.formatted(wrongKey.file()), ""));
  }

  @Test
  void anSpfWithoutTheServerAndAPtrThatDoesNotResolveBack() {
    assertThat(check("spf.org", "--hostname", "mail.spf.org", "--address", "192.0.2.30")).isEqualTo(new Run(1, """
        OK       MX     spf.org: mail goes to mail.spf.org
        WRONG    A      mail.spf.org: 192.0.2.31, not 192.0.2.30
                        fix: publish mail.spf.org. 3600 IN A 192.0.2.30 in place of the others
        WRONG    SPF    spf.org: "v=spf1 ip4:198.51.100.1 -all" gives fail for 192.0.2.30 (spf.org: -all matched 192.0.2.30)
                        fix: add ip4:192.0.2.30 to it before the all, or publish spf.org. 3600 IN TXT "v=spf1 ip4:192.0.2.30 -all" in its place
        MISSING  DKIM   spf.org: no signing key on disk, so Posta does not sign its mail
                        fix: posta dkim keygen spf.org, reload Posta, and publish the record it prints
        OK       DMARC  _dmarc.spf.org: p=reject
        WRONG    PTR    192.0.2.30: mail.spf.org, but mail.spf.org does not resolve to 192.0.2.30
                        fix: publish mail.spf.org. 3600 IN A 192.0.2.30
        4 of 6 records of spf.org to fix; run posta dns check spf.org again after.
        """, ""));
  }

  @Test
  void nothingPublished() {
    assertThat(check("missing.org", "--hostname", "mail.missing.org", "--address", "192.0.2.40")).isEqualTo(new Run(1, """
        MISSING  MX     missing.org: no MX record
                        fix: publish missing.org. 3600 IN MX 10 mail.missing.org.
        MISSING  A      mail.missing.org: no A record
                        fix: publish mail.missing.org. 3600 IN A 192.0.2.40
        MISSING  SPF    missing.org: no SPF record
                        fix: publish missing.org. 3600 IN TXT "v=spf1 ip4:192.0.2.40 -all"
        MISSING  DKIM   missing.org: no signing key on disk, so Posta does not sign its mail
                        fix: posta dkim keygen missing.org, reload Posta, and publish the record it prints
        MISSING  DMARC  _dmarc.missing.org: no DMARC record
                        fix: publish _dmarc.missing.org. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@missing.org"
        MISSING  PTR    192.0.2.40: no PTR record
                        fix: ask the provider of 192.0.2.40 to set its PTR to mail.missing.org
        6 of 6 records of missing.org to fix; run posta dns check missing.org again after.
        """, ""));
    // Without --address and without A/AAAA records there is nothing to evaluate SPF and PTR with.
    assertThat(check("missing.org", "--hostname", "mail.missing.org").out()).contains("""
        MISSING  A      mail.missing.org: no A or AAAA record
                        fix: publish the public address of mail.missing.org (mail.missing.org. 3600 IN A <address>), or give it with --address
        MISSING  SPF    missing.org: no SPF record
                        fix: publish missing.org. 3600 IN TXT "v=spf1 mx -all"
        """, """
        UNKNOWN  PTR    mail.missing.org: no address of mail.missing.org to look up
                        fix: see the A line above
        """);
  }

  @Test
  void aSubdomainIsSignedAsItsParentAndCoveredByItsOrganizationalDomainsDmarcRecord() {
    assertThat(check("news.example.org").out()).contains(
        "OK       DKIM   s1._domainkey.example.org: the public key of " + exampleKey.file() + "\n",
        "OK       DMARC  _dmarc.news.example.org: none here; _dmarc.example.org applies: p=none (monitoring: move to p=quarantine once the reports show only your mail)\n");
  }

  @Test
  void aDnsFailureIsUnknownNeverOk() {
    Run broken = check("broken.net", "--hostname", "mail.example.org", "--address", "192.0.2.10");
    assertThat(broken.status()).isEqualTo(1);
    assertThat(broken.out().lines().toList()).startsWith(
        "UNKNOWN  MX     broken.net: DNS lookup of MX for broken.net failed: SERVFAIL",
        "                fix: check again; if it persists, ask the DNS provider");
  }
}
