package dev.posta.mailauth.spf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.ZoneRecords;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The SPF check where the RFC 7208 suite is thin: the HELO identity and the verdict's fields,
 * reasons, IDN domains, IPv6 clients, %{p} and %{t}, the time limit, the choices RFC 7208 leaves
 * open, and what the explanation may contain.
 */
class SpfCheckTest {
  static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");
  static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

  static ZoneRecords zone() {
    return new ZoneRecords()
        .txt("example.com", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a:mail.example.com mx include:_spf.partner.example -all exp=why.example.com")
        .txt("why.example.com", "%{i} is not one of %{d}'s mail servers (checked by %{r} at %{t})")
        .a("mail.example.com", "198.51.100.1")
        .aaaa("mail.example.com", "2001:db8:ffff::1")
        .mx("example.com", "mx1.example.com").mx("example.com", "mx2.example.com")
        .a("mx1.example.com", "198.51.100.10").a("mx2.example.com", "198.51.100.11")
        .txt("_spf.partner.example", "v=spf1 ip4:203.0.113.0/28 ~all")
        .txt("helo.example.com", "v=spf1 a -all").a("helo.example.com", "198.51.100.25")
        .txt("soft.example.com", "v=spf1 ~all")
        .txt("xn--bcher-kva.example", "v=spf1 ip4:192.0.2.77 -all")
        .txt("broken.example.com", "v=spf1 ip4:192.0.2.1 include:gone.example.com -all")
        .txt("slow.example.com", "v=spf1 include:timeout.example.com -all").timeout("timeout.example.com")
        .txt("two.example.com", "v=spf1 -all", "").txt("two.example.com", "v=spf1 +all")
        .txt("syntax.example.com", "v=spf1 ip4:192.0.2.1 -all moo")
        .txt("nospf.example.com", "google-site-verification=abc")
        .exists("norecords.example.com")
        .txt("redirect.example.com", "v=spf1 redirect=example.com");
  }

  static SpfCheck check(ZoneRecords zone) {
    return new SpfCheck(zone, CLOCK, "mx.posta.test");
  }

  static InetAddress ip(String literal) {
    return InetAddress.ofLiteral(literal);
  }

  static SpfVerdict verdict(SpfResult result, String sender, String domain, String reason, String explanation) {
    return new SpfVerdict(result, SpfIdentity.MAILFROM, sender, domain, reason, explanation);
  }

  static Stream<Arguments> mailFrom() {
    return Stream.of(
        Arguments.of("192.0.2.7", "alice@example.com", verdict(SpfResult.PASS, "alice@example.com", "example.com",
            "example.com: ip4:192.0.2.0/24 matched 192.0.2.7", null)),
        Arguments.of("2001:db8::7", "alice@example.com", verdict(SpfResult.PASS, "alice@example.com", "example.com",
            "example.com: ip6:2001:db8::/32 matched 2001:db8::7", null)),
        Arguments.of("198.51.100.1", "alice@example.com", verdict(SpfResult.PASS, "alice@example.com", "example.com",
            "example.com: a:mail.example.com matched 198.51.100.1", null)),
        Arguments.of("2001:db8:ffff::1", "alice@example.com", verdict(SpfResult.PASS, "alice@example.com", "example.com",
            "example.com: ip6:2001:db8::/32 matched 2001:db8:ffff::1", null)),
        Arguments.of("198.51.100.11", "alice@example.com", verdict(SpfResult.PASS, "alice@example.com", "example.com",
            "example.com: mx matched 198.51.100.11", null)),
        Arguments.of("203.0.113.5", "alice@example.com", verdict(SpfResult.PASS, "alice@example.com", "example.com",
            "example.com: include:_spf.partner.example matched 203.0.113.5", null)),
        Arguments.of("203.0.113.99", "alice@Example.COM", verdict(SpfResult.FAIL, "alice@Example.COM", "Example.COM",
            "Example.COM: -all matched 203.0.113.99",
            "203.0.113.99 is not one of Example.COM's mail servers (checked by mx.posta.test at 1767225600)")),
        // redirect: the redirected-to record's exp= explains, with %{d} its domain.
        Arguments.of("203.0.113.99", "bob@redirect.example.com", verdict(SpfResult.FAIL, "bob@redirect.example.com", "redirect.example.com",
            "example.com: -all matched 203.0.113.99",
            "203.0.113.99 is not one of example.com's mail servers (checked by mx.posta.test at 1767225600)")),
        Arguments.of("198.51.100.99", "bob@soft.example.com", verdict(SpfResult.SOFTFAIL, "bob@soft.example.com", "soft.example.com",
            "soft.example.com: ~all matched 198.51.100.99", null)),
        // No exp=: the default explanation.
        Arguments.of("192.0.2.1", "x@xn--bcher-kva.example", verdict(SpfResult.FAIL, "x@xn--bcher-kva.example", "xn--bcher-kva.example",
            "xn--bcher-kva.example: -all matched 192.0.2.1", "xn--bcher-kva.example does not designate 192.0.2.1 as a permitted sender")),
        // An internationalized domain is checked as its A-label (§4.3).
        Arguments.of("192.0.2.77", "x@b\u00fccher.example", verdict(SpfResult.PASS, "x@xn--bcher-kva.example", "xn--bcher-kva.example",
            "xn--bcher-kva.example: ip4:192.0.2.77 matched 192.0.2.77", null)),
        // A missing local-part is "postmaster" (§4.3); so is the whole null reverse-path's (§2.4, below).
        Arguments.of("192.0.2.7", "@example.com", verdict(SpfResult.PASS, "postmaster@example.com", "example.com",
            "example.com: ip4:192.0.2.0/24 matched 192.0.2.7", null)),
        Arguments.of("198.51.100.25", "", verdict(SpfResult.PASS, "postmaster@helo.example.com", "helo.example.com",
            "helo.example.com: a matched 198.51.100.25", null)),
        Arguments.of("192.0.2.1", "a@broken.example.com", verdict(SpfResult.PASS, "a@broken.example.com", "broken.example.com",
            "broken.example.com: ip4:192.0.2.1 matched 192.0.2.1", null)),
        Arguments.of("192.0.2.2", "a@broken.example.com", verdict(SpfResult.PERMERROR, "a@broken.example.com", "broken.example.com",
            "broken.example.com: include:gone.example.com: gone.example.com does not exist", null)),
        Arguments.of("192.0.2.2", "a@slow.example.com", verdict(SpfResult.TEMPERROR, "a@slow.example.com", "slow.example.com",
            "DNS lookup of TXT for timeout.example.com failed: timed out", null)),
        Arguments.of("192.0.2.2", "a@two.example.com", verdict(SpfResult.PERMERROR, "a@two.example.com", "two.example.com",
            "two.example.com has 2 SPF records (RFC 7208 section 4.5: one at most)", null)),
        Arguments.of("192.0.2.1", "a@syntax.example.com", verdict(SpfResult.PERMERROR, "a@syntax.example.com", "syntax.example.com",
            "SPF record of syntax.example.com: unknown mechanism 'moo' in 'moo'", null)),
        Arguments.of("192.0.2.1", "a@nospf.example.com", verdict(SpfResult.NONE, "a@nospf.example.com", "nospf.example.com",
            "nospf.example.com has no SPF record", null)),
        Arguments.of("192.0.2.1", "a@norecords.example.com", verdict(SpfResult.NONE, "a@norecords.example.com", "norecords.example.com",
            "norecords.example.com has no SPF record", null)),
        Arguments.of("192.0.2.1", "a@nowhere.example.com", verdict(SpfResult.NONE, "a@nowhere.example.com", "nowhere.example.com",
            "nowhere.example.com does not exist", null)),
        Arguments.of("192.0.2.1", "a@[192.0.2.1]", verdict(SpfResult.NONE, "a@[192.0.2.1]", "[192.0.2.1]",
            "'[192.0.2.1]' is not a domain name SPF can check (RFC 7208 section 4.3)", null)),
        Arguments.of("192.0.2.1", "a@localhost", verdict(SpfResult.NONE, "a@localhost", "localhost",
            "'localhost' is not a domain name SPF can check (RFC 7208 section 4.3)", null)),
        Arguments.of("192.0.2.1", "a@bad\u0007name.example", verdict(SpfResult.NONE, "a@bad\u0007name.example", "bad\u0007name.example",
            "'bad?name.example' is not a domain name SPF can check (RFC 7208 section 4.3)", null)));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("mailFrom")
  void checksMailFrom(String client, String reversePath, SpfVerdict expected) {
    assertThat(check(zone()).checkMailFrom(ip(client), reversePath, "helo.example.com")).isEqualTo(expected);
  }

  @Test
  void checksHelo() {
    SpfCheck check = check(zone());
    assertThat(check.checkHelo(ip("198.51.100.25"), "helo.example.com")).isEqualTo(new SpfVerdict(SpfResult.PASS, SpfIdentity.HELO,
        "postmaster@helo.example.com", "helo.example.com", "helo.example.com: a matched 198.51.100.25", null));
    assertThat(check.checkHelo(ip("198.51.100.26"), "helo.example.com")).isEqualTo(new SpfVerdict(SpfResult.FAIL, SpfIdentity.HELO,
        "postmaster@helo.example.com", "helo.example.com", "helo.example.com: -all matched 198.51.100.26",
        "helo.example.com does not designate 198.51.100.26 as a permitted sender"));
    assertThat(check.checkHelo(ip("198.51.100.25"), "[198.51.100.25]")).isEqualTo(new SpfVerdict(SpfResult.NONE, SpfIdentity.HELO,
        "postmaster@[198.51.100.25]", "[198.51.100.25]", "'[198.51.100.25]' is not a domain name SPF can check (RFC 7208 section 4.3)", null));
    assertThat(check.checkHelo(ip("198.51.100.25"), null).result()).isEqualTo(SpfResult.NONE);
  }

  /** §5: an IPv4-mapped IPv6 client is an IPv4 client, even when it comes as an Inet6Address. */
  @Test
  void aMappedAddressIsIpv4() throws UnknownHostException {
    byte[] mapped = new byte[16];
    mapped[10] = (byte) 0xff;
    mapped[11] = (byte) 0xff;
    System.arraycopy(ip("192.0.2.7").getAddress(), 0, mapped, 12, 4);
    InetAddress client = Inet6Address.getByAddress(null, mapped, -1);
    assertThat(client).isInstanceOf(Inet6Address.class);
    ZoneRecords zone = new ZoneRecords().txt("example.com", "v=spf1 ptr ip6:::/0 ip4:192.0.2.7 -all")
        .ptr("192.0.2.7", "host.example.net").a("host.example.net", "192.0.2.7");
    assertThat(check(zone).checkMailFrom(client, "a@example.com", "h.example.com").reason()).isEqualTo("example.com: ip4:192.0.2.7 matched 192.0.2.7");
    // The PTR was asked under in-addr.arpa, as an IPv4 address.
    assertThat(zone.questions()).contains("PTR 192.0.2.7");
  }

  @Test
  void theExplanationIsLookedUpOnlyForAFailAndOnlyOnce() {
    ZoneRecords pass = zone();
    check(pass).checkMailFrom(ip("192.0.2.7"), "a@example.com", "h.example.com");
    assertThat(pass.questions()).doesNotContain("TXT why.example.com");
    ZoneRecords fail = zone();
    check(fail).checkMailFrom(ip("203.0.113.99"), "a@example.com", "h.example.com");
    assertThat(fail.questions()).filteredOn("TXT why.example.com"::equals).hasSize(1);
  }

  /** The explanation goes into an SMTP reply: one line of printable US-ASCII, 400 characters at most. */
  @Test
  void theExplanationIsOnePrintableLine() {
    ZoneRecords zone = new ZoneRecords().txt("example.com", "v=spf1 -all exp=why.example.com").txt("why.example.com", "%{l} is not welcome")
        .txt("long.example.com", "v=spf1 -all exp=long.why.example.com").txt("long.why.example.com", "x".repeat(500));
    assertThat(check(zone).checkMailFrom(ip("192.0.2.1"), "bad\u0007bell\u00e9@example.com", "h.example.com").explanation())
        .isEqualTo("bad?bell? is not welcome");
    assertThat(check(zone).checkMailFrom(ip("192.0.2.1"), "a@long.example.com", "h.example.com").explanation())
        .isEqualTo("x".repeat(400));
  }

  /** %{p} (§7.3): the validated reverse name that is the domain, else one under it, else any, else "unknown". */
  @Test
  void validatedNameMacro() {
    ZoneRecords zone = new ZoneRecords()
        .txt("example.com", "v=spf1 -all exp=why.example.com").txt("why.example.com", "%{p}")
        .ptr("192.0.2.1", "other.example.net").ptr("192.0.2.1", "mx.example.com").ptr("192.0.2.1", "fake.example.com")
        .a("other.example.net", "192.0.2.1").a("mx.example.com", "192.0.2.1").a("fake.example.com", "192.0.2.99")
        .ptr("192.0.2.2", "other.example.net").a("other.example.net", "192.0.2.2")
        .ptr("192.0.2.3", "fake.example.com")
        .timeout("4.2.0.192.in-addr.arpa");
    SpfCheck check = check(zone);
    assertThat(check.checkMailFrom(ip("192.0.2.1"), "a@example.com", "h").explanation()).isEqualTo("mx.example.com");
    assertThat(check.checkMailFrom(ip("192.0.2.2"), "a@example.com", "h").explanation()).isEqualTo("other.example.net");
    assertThat(check.checkMailFrom(ip("192.0.2.3"), "a@example.com", "h").explanation()).isEqualTo("unknown");
    assertThat(check.checkMailFrom(ip("192.0.2.4"), "a@example.com", "h").explanation()).isEqualTo("unknown");
    assertThat(check.checkMailFrom(ip("192.0.2.5"), "a@example.com", "h").explanation()).isEqualTo("unknown");
  }

  /** §4.6.4: a %{p} in a target asks for PTR records, and counts towards the ten DNS-querying terms. */
  @Test
  void aPMacroInATargetCountsTowardsTheLimit() {
    ZoneRecords zone = new ZoneRecords()
        .txt("nine.example.com", "v=spf1 a a a a a a a a a exists:%{p}.allow.example.com -all")
        .txt("eight.example.com", "v=spf1 a a a a a a a a exists:%{p}.allow.example.com -all")
        .a("nine.example.com", "198.51.100.1").a("eight.example.com", "198.51.100.1")
        .ptr("192.0.2.1", "mx.example.net").a("mx.example.net", "192.0.2.1").a("mx.example.net.allow.example.com", "127.0.0.2");
    assertThat(check(zone).checkMailFrom(ip("192.0.2.1"), "a@nine.example.com", "h").reason())
        .isEqualTo("more than 10 DNS-querying terms (RFC 7208 section 4.6.4), with %{p}");
    assertThat(check(zone).checkMailFrom(ip("192.0.2.1"), "a@eight.example.com", "h").reason())
        .isEqualTo("eight.example.com: exists:%{p}.allow.example.com matched 192.0.2.1");
  }

  /** Where §5 lets the order of MX hosts decide: a failed host lookup hides no match, and without one is a temperror. */
  @Test
  void mxHostsThatFailToResolve() {
    ZoneRecords zone = new ZoneRecords()
        .txt("example.com", "v=spf1 mx -all").mx("example.com", "down.example.com").mx("example.com", "up.example.com")
        .timeout("down.example.com").a("up.example.com", "192.0.2.10");
    assertThat(check(zone).checkMailFrom(ip("192.0.2.10"), "a@example.com", "h").reason()).isEqualTo("example.com: mx matched 192.0.2.10");
    SpfVerdict other = check(zone).checkMailFrom(ip("192.0.2.11"), "a@example.com", "h");
    assertThat(other.result()).isEqualTo(SpfResult.TEMPERROR);
    assertThat(other.reason()).isEqualTo("DNS lookup of A for down.example.com failed: timed out");
  }

  /** §5.5: a PTR lookup that fails makes ptr not match, it is no temperror. */
  @Test
  void aFailedPtrLookupDoesNotMatch() {
    ZoneRecords zone = new ZoneRecords().txt("example.com", "v=spf1 ptr -all").timeout("1.2.0.192.in-addr.arpa");
    assertThat(check(zone).checkMailFrom(ip("192.0.2.1"), "a@example.com", "h").reason()).isEqualTo("example.com: -all matched 192.0.2.1");
  }

  /** §4.6.4: past the time limit every lookup is a temperror. The clock moves 8 s per reading. */
  @Test
  void aCheckPastItsTimeLimitIsATemporaryError() {
    Clock slow = new Clock() {
      long millis = NOW.toEpochMilli();

      @Override
      public ZoneId getZone() {
        return ZoneOffset.UTC;
      }

      @Override
      public Clock withZone(ZoneId zone) {
        return this;
      }

      @Override
      public Instant instant() {
        return Instant.ofEpochMilli(millis += 8_000);
      }
    };
    ZoneRecords zone = new ZoneRecords().txt("example.com", "v=spf1 a:a.example.com a:b.example.com a:c.example.com -all");
    SpfVerdict v = new SpfCheck(zone, slow, "mx.posta.test", Duration.ofSeconds(20)).checkMailFrom(ip("192.0.2.1"), "a@example.com", "h");
    assertThat(v.result()).isEqualTo(SpfResult.TEMPERROR);
    assertThat(v.reason()).isEqualTo("SPF check took longer than 20.0 s (RFC 7208 section 4.6.4)");
    // Readings: the deadline, TXT, A a.example.com; the third lookup is past 20 s and never asked.
    assertThat(zone.questions()).containsExactly("TXT example.com", "A a.example.com");
  }

  /** §7.3: %{r} is "unknown" when the receiving host has no name. */
  @Test
  void anUnnamedReceiverIsUnknown() {
    ZoneRecords zone = new ZoneRecords().txt("example.com", "v=spf1 -all exp=why.example.com").txt("why.example.com", "checked by %{r}");
    assertThat(new SpfCheck(zone, CLOCK, null).checkMailFrom(ip("192.0.2.1"), "a@example.com", "h").explanation()).isEqualTo("checked by unknown");
  }
}
