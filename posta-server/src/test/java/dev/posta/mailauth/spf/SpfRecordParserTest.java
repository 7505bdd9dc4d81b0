package dev.posta.mailauth.spf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mailauth.spf.MacroString.Use;
import dev.posta.mailauth.spf.SpfRecord.Directive;
import dev.posta.mailauth.spf.SpfRecord.Qualifier;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/** The SPF record parser (RFC 7208 §4.5, §4.6.1, §5, §6, §12): each record to its model, or to the reason it is a permerror. */
class SpfRecordParserTest {

  static MacroString spec(String text) {
    return ((Parsed.Valid<MacroString>) MacroString.parse(text, Use.DOMAIN_SPEC)).value();
  }

  static Directive d(Qualifier q, SpfRecord.Mechanism m, String term) {
    return new Directive(q, m, term);
  }

  static Inet4Address v4(String ip) {
    return (Inet4Address) InetAddress.ofLiteral(ip);
  }

  static SpfRecord record(MacroString redirect, MacroString exp, Directive... directives) {
    return new SpfRecord(List.of(directives), redirect, exp);
  }

  static Stream<Arguments> records() {
    Qualifier pass = Qualifier.PASS;
    return Stream.of(
        Arguments.of("v=spf1", record(null, null)),
        Arguments.of("V=SpF1   ", record(null, null)),
        Arguments.of("v=spf1 -all", record(null, null, d(Qualifier.FAIL, new SpfRecord.All(), "-all"))),
        Arguments.of("v=spf1 +a ~mx ?ptr -ALL", record(null, null,
            d(pass, new SpfRecord.A(null, 32, 128), "+a"),
            d(Qualifier.SOFTFAIL, new SpfRecord.Mx(null, 32, 128), "~mx"),
            d(Qualifier.NEUTRAL, new SpfRecord.Ptr(null), "?ptr"),
            d(Qualifier.FAIL, new SpfRecord.All(), "-ALL"))),
        Arguments.of("v=spf1 a:mail.example.com/24//64 mx/30 mx//48 A:%{d2}", record(null, null,
            d(pass, new SpfRecord.A(spec("mail.example.com"), 24, 64), "a:mail.example.com/24//64"),
            d(pass, new SpfRecord.Mx(null, 30, 128), "mx/30"),
            d(pass, new SpfRecord.Mx(null, 32, 48), "mx//48"),
            d(pass, new SpfRecord.A(spec("%{d2}"), 32, 128), "A:%{d2}"))),
        // A '/' inside a domain-spec is not a prefix length when digits do not end it.
        Arguments.of("v=spf1 a:foo:bar/baz.example.com a/0 a//0", record(null, null,
            d(pass, new SpfRecord.A(spec("foo:bar/baz.example.com"), 32, 128), "a:foo:bar/baz.example.com"),
            d(pass, new SpfRecord.A(null, 0, 128), "a/0"),
            d(pass, new SpfRecord.A(null, 32, 0), "a//0"))),
        Arguments.of("v=spf1 ip4:192.0.2.0/24 ip4:192.0.2.1 Ip6:2001:DB8::/32 ip6:::ffff:192.0.2.1 ip6:::1.1.1.1/0", record(null, null,
            d(pass, new SpfRecord.Ip4(v4("192.0.2.0"), 24), "ip4:192.0.2.0/24"),
            d(pass, new SpfRecord.Ip4(v4("192.0.2.1"), 32), "ip4:192.0.2.1"),
            d(pass, new SpfRecord.Ip6(InetAddress.ofLiteral("2001:db8::"), 32), "Ip6:2001:DB8::/32"),
            d(pass, new SpfRecord.Ip6(InetAddress.ofLiteral("::ffff:192.0.2.1"), 128), "ip6:::ffff:192.0.2.1"),
            d(pass, new SpfRecord.Ip6(InetAddress.ofLiteral("::1.1.1.1"), 0), "ip6:::1.1.1.1/0"))),
        Arguments.of("v=spf1 include:_spf.example.com exists:%{ir}.%{l1r+-}._spf.%{d} ptr:example.com", record(null, null,
            d(pass, new SpfRecord.Include(spec("_spf.example.com")), "include:_spf.example.com"),
            d(pass, new SpfRecord.Exists(spec("%{ir}.%{l1r+-}._spf.%{d}")), "exists:%{ir}.%{l1r+-}._spf.%{d}"),
            d(pass, new SpfRecord.Ptr(spec("example.com")), "ptr:example.com"))),
        // Modifiers anywhere; unknown ones are checked and dropped (§6).
        Arguments.of("v=spf1 exp=explain.%{d} mx redirect=_spf.example.com moo.cow-far_out=man:dog/cat default=+ empty=",
            record(spec("_spf.example.com"), spec("explain.%{d}"), d(pass, new SpfRecord.Mx(null, 32, 128), "mx"))),
        Arguments.of("v=spf1 REDIRECT=_spf.example.com Exp=x.example.com",
            record(spec("_spf.example.com"), spec("x.example.com"))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("records")
  void parses(String text, SpfRecord expected) {
    assertThat(SpfRecordParser.parse(text)).isEqualTo(new Parsed.Valid<>(expected));
  }

  @ParameterizedTest(name = "{0}: {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      v=spf2 -all                       | not an SPF record (it must begin with 'v=spf1')
      v=spf1-all                        | not an SPF record (it must begin with 'v=spf1')
      v=spf1 -all moo                   | unknown mechanism 'moo' in 'moo'
      v=spf1 -all.                      | unknown mechanism 'all.' in '-all.'
      v=spf1 -all:foo                   | -all:foo: 'all' takes no argument
      v=spf1 -all/8                     | -all/8: 'all' takes no argument
      v=spf1 +-all                      | unknown mechanism '-all' in '+-all'
      v=spf1 include                    | include: a domain is required ('include:domain')
      v=spf1 include:                   | include:: empty domain
      v=spf1 include:example.com/24     | include:example.com/24: 'com/24' in 'example.com/24' is not a valid top-level label
      v=spf1 exists                     | exists: a domain is required ('exists:domain')
      v=spf1 exists:example.com/24      | exists:example.com/24: 'com/24' in 'example.com/24' is not a valid top-level label
      v=spf1 a:                         | a:: empty domain
      v=spf1 a:/24                      | a:/24: empty domain
      v=spf1 a/33                       | a/33: bad IPv4 prefix length
      v=spf1 a//129                     | a//129: bad IPv6 prefix length
      v=spf1 a/024                      | a/024: bad IPv4 prefix length
      v=spf1 a/24/64                    | a/24/64: bad IPv4 prefix length
      v=spf1 a/24/32                    | 'a/24/32' is not of the form a[:domain][/prefix][//prefix]
      v=spf1 a:museum                   | a:museum: domain-spec 'museum' does not end in '.' and a top-level label
      v=spf1 a:111.222.33.44            | a:111.222.33.44: '44' in '111.222.33.44' is not a valid top-level label
      v=spf1 mx:example.com:8080        | mx:example.com:8080: 'com:8080' in 'example.com:8080' is not a valid top-level label
      v=spf1 ptr/0                      | 'ptr/0': ptr takes no prefix length
      v=spf1 ptr:                       | ptr:: empty domain
      v=spf1 ip4                        | ip4: an IPv4 network is required ('ip4:192.0.2.0/24')
      v=spf1 ip4:1.2.3                  | ip4:1.2.3: '1.2.3' is not an IPv4 address
      v=spf1 ip4:1.2.3.04               | ip4:1.2.3.04: '1.2.3.04' is not an IPv4 address
      v=spf1 ip4:1.2.3.256              | ip4:1.2.3.256: '1.2.3.256' is not an IPv4 address
      v=spf1 ip4:1.2.3.4.5              | ip4:1.2.3.4.5: '1.2.3.4.5' is not an IPv4 address
      v=spf1 ip4:1.2.3.4:8080           | ip4:1.2.3.4:8080: '1.2.3.4:8080' is not an IPv4 address
      v=spf1 ip4:1.2.3.4/33             | ip4:1.2.3.4/33: bad IPv4 prefix length
      v=spf1 ip4:1.2.3.4/032            | ip4:1.2.3.4/032: bad IPv4 prefix length
      v=spf1 ip4:1.2.3.4//32            | ip4:1.2.3.4//32: bad IPv4 prefix length
      v=spf1 ip4:1.2.3.4/               | ip4:1.2.3.4/: bad IPv4 prefix length
      v=spf1 ip4:::1                    | ip4:::1: '::1' is not an IPv4 address
      v=spf1 ip6                        | ip6: an IPv6 network is required ('ip6:2001:db8::/32')
      v=spf1 ip6::CAFE::BABE            | ip6::CAFE::BABE: ':CAFE::BABE' is not an IPv6 address
      v=spf1 ip6:1.2.3.4                | ip6:1.2.3.4: '1.2.3.4' is not an IPv6 address
      v=spf1 ip6:[::1]                  | ip6:[::1]: '[::1]' is not an IPv6 address
      v=spf1 ip6:fe80::1%1              | ip6:fe80::1%1: 'fe80::1%1' is not an IPv6 address
      v=spf1 ip6:example.com            | ip6:example.com: 'example.com' is not an IPv6 address
      v=spf1 ip6:::1/129                | ip6:::1/129: bad IPv6 prefix length
      v=spf1 ip6:::1//64                | ip6:::1//64: bad IPv6 prefix length
      v=spf1 redirect:example.com       | unknown mechanism 'redirect' in 'redirect:example.com'
      v=spf1 redirect=                  | redirect=: empty domain-spec
      v=spf1 redirect=-all              | redirect=-all: domain-spec '-all' does not end in '.' and a top-level label
      v=spf1 exp=                       | exp=: empty domain-spec
      v=spf1 exp=%{r}.example.com       | exp=%{r}.example.com: macro letter 'r' is for explanations only (RFC 7208 section 7.3), in '%{r}.example.com'
      v=spf1 exp=a.example.com exp=b.example.com               | 'exp=' appears twice (RFC 7208 section 6)
      v=spf1 redirect=a.example.com -all redirect=a.example.com | 'redirect=' appears twice (RFC 7208 section 6)
      v=spf1 1up=foo                    | unknown mechanism '1up=foo' in '1up=foo'
      v=spf1 =all                       | unknown mechanism '=all' in '=all'
      v=spf1 moo.cow/far_out=man:dog    | unknown mechanism 'moo.cow' in 'moo.cow/far_out=man:dog'
      v=spf1 foo=%abc                   | foo=%abc: '%a' in '%abc' is no macro (write %% for a percent sign)
      v=spf1 -redirect=a.example.com    | unknown mechanism 'redirect=a.example.com' in '-redirect=a.example.com'
      """)
  void refuses(String text, String reason) {
    assertThat(SpfRecordParser.parse(text)).isEqualTo(new Parsed.Invalid<>(reason));
  }

  @Test
  void onlyPrintableAsciiAndSpaces() {
    assertThat(SpfRecordParser.parse("v=spf1 a:ctrl.example.com\rptr -all")).isEqualTo(new Parsed.Invalid<>(
        "character U+000D at position 25: a record is printable US-ASCII, terms separated by spaces"));
    assertThat(SpfRecordParser.parse("v=spf1 ip4:192.0.2.5\n include:example.com")).isEqualTo(new Parsed.Invalid<>(
        "character U+000A at position 20: a record is printable US-ASCII, terms separated by spaces"));
    assertThat(SpfRecordParser.parse("v=spf1\ta -all")).isEqualTo(new Parsed.Invalid<>("not an SPF record (it must begin with 'v=spf1')"));
    assertThat(SpfRecordParser.parse("v=spf1 a:caf\u00e9.example.com")).isEqualTo(new Parsed.Invalid<>(
        "character U+00E9 at position 12: a record is printable US-ASCII, terms separated by spaces"));
  }

  /** §4.5: the version is "v=spf1" in any case, ended by a space or the end of the record. */
  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      v=spf1            | true
      v=spf1 -all       | true
      V=SPF1 -all       | true
      v=spf1  -all      | true
      v=spf10           | false
      v=spf1-all        | false
      v=spf1mx          | false
      " v=spf1 -all"    | false
      spf1              | false
      ""                | false
      """)
  void recognizesSpfRecords(String txt, boolean spf) {
    assertThat(SpfRecordParser.isSpfRecord(txt)).isEqualTo(spf);
  }
}
