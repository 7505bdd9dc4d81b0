package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mailauth.dkim.DkimAlgorithm;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.Master;
import org.xbill.DNS.Record;
import picocli.CommandLine;

/**
 * {@code posta dns DOMAIN}: the exact zone text, and that a real zone parser (dnsjava's
 * {@link Master}) reads every record in it as meant. ({@link DnsCheckTest} serves what it prints
 * from dnsmasq and checks it; LauncherIT runs it through ./posta.)
 */
class DnsCommandTest {
  @TempDir Path dir;

  record Run(int status, String out, String err) {}

  Run run(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    var command = new DnsCommand(new PrintStream(out, true, UTF_8), new PrintStream(err, true, UTF_8), Clock.systemUTC());
    int status = new CommandLine(command).setErr(new java.io.PrintWriter(new PrintStream(err, true, UTF_8), true)).execute(args);
    return new Run(status, out.toString(UTF_8), err.toString(UTF_8));
  }

  @BeforeEach
  void writeConfig() throws Exception {
    Files.writeString(dir.resolve("posta.toml"), """
        hostname = "mail.example.org"
        data = "data"
        [domains."example.org"]
        """);
  }

  private String config() {
    return dir.resolve("posta.toml").toString();
  }

  /** The record lines keygen's key gives, as posta dns prints them. */
  static String dkimLine(String name, java.security.PublicKey key) {
    List<String> strings = DkimKeyFiles.txtStrings(key);
    return name + ". 3600 IN TXT ( \"" + String.join("\"\n\t\"", strings) + "\" )";
  }

  @Test
  void withAddressesAndKeysEveryRecordIsPrintedAndLoadsInAZoneParser() throws Exception {
    var rsa = DkimKeyFiles.generate(dir.resolve("data"), "example.org", "s1", DkimAlgorithm.KeyType.RSA);
    var ed = DkimKeyFiles.generate(dir.resolve("data"), "example.org", "s2", DkimAlgorithm.KeyType.ED25519);
    Run run = run("Example.ORG", "--address", "192.0.2.10", "--address", "2001:db8::10", "--config", config());
    assertThat(run.err()).isEmpty();
    assertThat(run.status()).isZero();
    assertThat(run.out()).isEqualTo("""
        ; DNS records for example.org, for Posta on mail.example.org to receive its mail and to send mail
        ; from it that receivers accept. Add them to the zone of example.org at its DNS provider; the
        ; lines starting with ";" are comments. Then check what is published with:
        ;   posta dns check example.org

        ; MX: mail for example.org is delivered to mail.example.org.
        example.org. 3600 IN MX 10 mail.example.org.

        ; A/AAAA: the addresses of mail.example.org (an MX must name a host with addresses, never a CNAME).
        mail.example.org. 3600 IN A 192.0.2.10
        mail.example.org. 3600 IN AAAA 2001:db8::10

        ; SPF (RFC 7208): the addresses above may send mail from example.org, no other (-all).
        ; A name has one SPF record at most: if example.org has one already, merge the two into one.
        example.org. 3600 IN TXT "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 -all"

        ; DKIM (RFC 6376): the public key of each key Posta signs mail from example.org with.
        ; Selector s1, private key %s:
        %s
        ; Selector s2, private key %s:
        %s

        ; DMARC (RFC 7489): start with p=none. Nothing is refused yet; receivers send daily reports
        ; to postmaster@example.org of the mail they saw from example.org and whether SPF and DKIM passed.
        ; When the reports show only your own servers sending for example.org, all passing, for a few
        ; weeks, change p=none to p=quarantine (failing mail goes to spam), later to p=reject.
        _dmarc.example.org. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example.org"

        ; PTR (reverse DNS): not in your zone. Ask the provider of each address (your hosting provider)
        ; to set its PTR record to mail.example.org: many receivers refuse mail from an address whose name
        ; does not lead back to it. For each address, the record they publish:
        ;   10.2.0.192.in-addr.arpa. 3600 IN PTR mail.example.org.
        ;   0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. 3600 IN PTR mail.example.org.
        """.formatted(rsa.file(), dkimLine("s1._domainkey.example.org", rsa.publicKey()), ed.file(), dkimLine("s2._domainkey.example.org", ed.publicKey())));

    // What a zone parser makes of it: the records, nothing else (the comments are comments).
    List<String> records = parse(run.out());
    assertThat(records).containsExactly(
        "example.org.\t\t3600\tIN\tMX\t10 mail.example.org.",
        "mail.example.org.\t3600\tIN\tA\t192.0.2.10",
        "mail.example.org.\t3600\tIN\tAAAA\t2001:db8:0:0:0:0:0:10", // dnsjava writes IPv6 addresses in full
        "example.org.\t\t3600\tIN\tTXT\t\"v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 -all\"",
        "s1._domainkey.example.org.\t3600\tIN\tTXT\t" + quoted(DkimKeyFiles.txtStrings(rsa.publicKey())),
        "s2._domainkey.example.org.\t3600\tIN\tTXT\t" + quoted(DkimKeyFiles.txtStrings(ed.publicKey())),
        "_dmarc.example.org.\t3600\tIN\tTXT\t\"v=DMARC1; p=none; rua=mailto:postmaster@example.org\"");

    // A subdomain without keys of its own is signed with its parent's, as the server does.
    assertThat(run("news.example.org", "--config", config()).out()).contains("""
        ; DKIM (RFC 6376): the public key of each key Posta signs mail from news.example.org with.
        ; Selector s1 of example.org (mail from news.example.org is signed as example.org), private key %s:
        %s
        """.formatted(rsa.file(), dkimLine("s1._domainkey.example.org", rsa.publicKey())));
  }

  @Test
  void withoutAddressesOrKeysItSaysWhatToFillInAndHowToMakeAKey() throws Exception {
    Run run = run("example.org", "--config", config());
    assertThat(run.status()).as("%s", run).isZero();
    assertThat(run.out()).contains("""

        ; A/AAAA: the public addresses of mail.example.org. Posta cannot know them (it may be behind NAT
        ; or a load balancer): publish one A (IPv4) and/or AAAA (IPv6) record, or run posta dns again
        ; with --address for each, and it prints them and the SPF record with them.
        ; mail.example.org. 3600 IN A <the public IPv4 address of mail.example.org>
        ; mail.example.org. 3600 IN AAAA <the public IPv6 address of mail.example.org>

        ; SPF (RFC 7208): the addresses of the MX hosts may send mail from example.org, no other (-all).
        ; A name has one SPF record at most: if example.org has one already, merge the two into one.
        example.org. 3600 IN TXT "v=spf1 mx -all"

        ; DKIM (RFC 6376): example.org has no signing key yet, so Posta does not sign its mail. Make one with
        ;   posta dkim keygen example.org
        ; reload Posta, and run posta dns example.org again: it prints the key's record here.

        """, """
        ; does not lead back to it. For each address, the record they publish:
        ;   <the reverse name of each public address of mail.example.org> PTR mail.example.org.
        """);
    assertThat(parse(run.out())).containsExactly(
        "example.org.\t\t3600\tIN\tMX\t10 mail.example.org.",
        "example.org.\t\t3600\tIN\tTXT\t\"v=spf1 mx -all\"",
        "_dmarc.example.org.\t3600\tIN\tTXT\t\"v=DMARC1; p=none; rua=mailto:postmaster@example.org\"");
  }

  @Test
  void aHostOutsideTheDomainHasItsAddressesAsComments() throws Exception {
    Run run = run("example.net", "--hostname", "mail.example.org", "--address", "192.0.2.10", "--config", config());
    assertThat(run.out()).contains("""
        ; A/AAAA: the addresses of mail.example.org (an MX must name a host with addresses, never a CNAME).
        ; mail.example.org is not in example.net: these belong in the zone of mail.example.org.
        ; mail.example.org. 3600 IN A 192.0.2.10
        """);
    assertThat(parse(run.out())).containsExactly(
        "example.net.\t\t3600\tIN\tMX\t10 mail.example.org.",
        "example.net.\t\t3600\tIN\tTXT\t\"v=spf1 ip4:192.0.2.10 -all\"",
        "_dmarc.example.net.\t3600\tIN\tTXT\t\"v=DMARC1; p=none; rua=mailto:postmaster@example.net\"");
  }

  @Test
  void refusals() throws Exception {
    assertThat(run("localhost", "--config", config()))
        .isEqualTo(new Run(2, "", "posta dns: 'localhost' is not a mail domain (a name such as example.org)\n"));
    assertThat(run("example.org", "--address", "mail.example.org", "--config", config()))
        .isEqualTo(new Run(2, "", "posta dns: --address 'mail.example.org' is not an IPv4 or IPv6 address\n"));
    assertThat(run("example.org", "--data", dir.resolve("data").toString())).isEqualTo(new Run(2, "",
        "posta dns: the host name is 'localhost', which other mail servers cannot look up: set hostname in a configuration file (--config)"
            + " to this server's public name, or give --hostname\n"));
    Files.createDirectories(dir.resolve("data/dkim/example.org"));
    Files.writeString(dir.resolve("data/dkim/example.org/bad.pem"), "not a key\n");
    assertThat(run("example.org", "--config", config())).isEqualTo(new Run(2, "",
        "posta dns: unusable DKIM keys (posta check-config lists them too):\n  " + dir.resolve("data/dkim/example.org/bad.pem")
            + ": no PEM private key in it\n"));
  }

  /** Every record of a zone text as dnsjava's master-file parser reads it, in order. */
  static List<String> parse(String zone) throws Exception {
    List<String> records = new ArrayList<>();
    try (Master master = new Master(new ByteArrayInputStream(zone.getBytes(UTF_8)))) {
      for (Record r = master.nextRecord(); r != null; r = master.nextRecord()) records.add(r.toString());
    }
    return records;
  }

  private static String quoted(List<String> strings) {
    return "\"" + String.join("\" \"", strings) + "\"";
  }
}
