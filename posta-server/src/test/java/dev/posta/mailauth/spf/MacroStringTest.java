package dev.posta.mailauth.spf;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mailauth.spf.MacroString.Use;
import java.net.InetAddress;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Macro-strings (RFC 7208 §7): expansion, with the RFC's own examples (§7.4), and the grammar's edges. */
class MacroStringTest {

  /** §7.4's values: the sender strong-bad@email.example.com, the current domain its domain, HELO mx.example.org. */
  static MacroString.Values values(String ip) {
    ClientIp client = ClientIp.of(InetAddress.ofLiteral(ip));
    return (letter, domain) -> switch (letter) {
      case 's' -> "strong-bad@email.example.com";
      case 'l' -> "strong-bad";
      case 'o' -> "email.example.com";
      case 'd' -> domain;
      case 'i' -> client.dotted();
      case 'p' -> "unknown";
      case 'h' -> "mx.example.org";
      case 'v' -> client.version();
      case 'c' -> client.readable();
      case 'r' -> "receiver.example.net";
      case 't' -> "1767225600";
      default -> throw new AssertionError(letter);
    };
  }

  static String expand(String text, Use use, String ip) {
    Parsed<MacroString> parsed = MacroString.parse(text, use);
    assertThat(parsed).as(text).isInstanceOf(Parsed.Valid.class);
    return ((Parsed.Valid<MacroString>) parsed).value().expand(values(ip), "email.example.com");
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      %{s}                              | strong-bad@email.example.com
      %{o}                              | email.example.com
      %{d}                              | email.example.com
      %{d4}                             | email.example.com
      %{d3}                             | email.example.com
      %{d2}                             | example.com
      %{d1}                             | com
      %{dr}                             | com.example.email
      %{d2r}                            | example.email
      %{l}                              | strong-bad
      %{l-}                             | strong.bad
      %{lr}                             | strong-bad
      %{lr-}                            | bad.strong
      %{l1r-}                           | strong
      %{ir}.%{v}._spf.%{d2}             | 3.2.0.192.in-addr._spf.example.com
      %{lr-}.lp._spf.%{d2}              | bad.strong.lp._spf.example.com
      %{lr-}.lp.%{ir}.%{v}._spf.%{d2}   | bad.strong.lp.3.2.0.192.in-addr._spf.example.com
      %{ir}.%{v}.%{l1r-}.lp._spf.%{d2}  | 3.2.0.192.in-addr.strong.lp._spf.example.com
      %{d2}.trusted-domains.example.net | example.com.trusted-domains.example.net
      %{D2R}.example.net                | example.email.example.net
      %{S}.example.net                  | strong-bad%40email.example.com.example.net
      %{d999}.example.net               | email.example.com.example.net
      %{h2}.example.net                 | example.org.example.net
      %{lR-}.example.net                | bad.strong.example.net
      %{d+-.}.example.net               | email.example.com.example.net
      a%%b%_c%-d.example.net            | a%b c%20d.example.net
      plain.example.net                 | plain.example.net
      """)
  void expandsRfc7208Examples(String text, String expected) {
    assertThat(expand(text, Use.DOMAIN_SPEC, "192.0.2.3")).isEqualTo(expected);
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      %{ir}.%{v}._spf.%{d2} | 1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com
      %{i}.example.net      | 2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1.example.net
      """)
  void expandsIpv6(String text, String expected) {
    assertThat(expand(text, Use.DOMAIN_SPEC, "2001:db8::cb01")).isEqualTo(expected);
  }

  /** %{c} writes IPv6 as RFC 5952 §4 says: lower case, the longest run of two or more zero groups shortened, the first if tied. */
  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      2001:db8::cb01                | 2001:db8::cb01
      2001:DB8:0:0:0:0:0:1          | 2001:db8::1
      2001:db8:0:1:1:1:1:1          | 2001:db8:0:1:1:1:1:1
      2001:0:0:1:0:0:0:1            | 2001:0:0:1::1
      2001:db8:0:0:1:0:0:1          | 2001:db8::1:0:0:1
      ::1                           | ::1
      ::                            | ::
      fe80::                        | fe80::
      1:2:3:4:5:6:7:0               | 1:2:3:4:5:6:7:0
      192.0.2.3                     | 192.0.2.3
      ::ffff:192.0.2.3              | 192.0.2.3
      """)
  void clientAddressAsPeopleReadIt(String ip, String expected) {
    assertThat(expand("%{c} %{C}", Use.EXPLANATION, ip)).isEqualTo(expected + " " + expected.replace(":", "%3A"));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      %{c} is not one of %{d}'s designated mail servers. | 192.0.2.3 is not one of email.example.com's designated mail servers.
      See http://%{d}/why.html?s=%{S}&i=%{I}               | See http://email.example.com/why.html?s=strong-bad%40email.example.com&i=192.0.2.3
      received by %{r} at %{t}                          | received by receiver.example.net at 1767225600
      %{L} ~ %{l}                                       | strong-bad ~ strong-bad
      """)
  void expandsExplanations(String text, String expected) {
    assertThat(expand(text, Use.EXPLANATION, "192.0.2.3")).isEqualTo(expected);
  }

  @ParameterizedTest(name = "[{0}] {1}: {2}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      DOMAIN_SPEC    | %                 | '%' at the end of '%' (write %% for a percent sign)
      DOMAIN_SPEC    | foo%.example.com  | '%.' in 'foo%.example.com' is no macro (write %% for a percent sign)
      DOMAIN_SPEC    | %(ir).example.com | '%(' in '%(ir).example.com' is no macro (write %% for a percent sign)
      DOMAIN_SPEC    | %{d.example.com   | macro without '}' in '%{d.example.com'
      DOMAIN_SPEC    | %{}.example.com   | empty macro '%{}' in '%{}.example.com'
      DOMAIN_SPEC    | %{x}.example.com  | unknown macro letter 'x' in '%{x}.example.com'
      DOMAIN_SPEC    | %{d0}.example.com | macro transformer 0 in '%{d0}.example.com' (RFC 7208 section 7.3: nonzero)
      DOMAIN_SPEC    | %{d2r2}.example   | '2' is no macro delimiter, in '%{d2r2}.example'
      DOMAIN_SPEC    | %{c}.example.com  | macro letter 'c' is for explanations only (RFC 7208 section 7.3), in '%{c}.example.com'
      DOMAIN_SPEC    | %{R}.example.com  | macro letter 'R' is for explanations only (RFC 7208 section 7.3), in '%{R}.example.com'
      DOMAIN_SPEC    | %{t}.example.com  | macro letter 't' is for explanations only (RFC 7208 section 7.3), in '%{t}.example.com'
      DOMAIN_SPEC    | museum            | domain-spec 'museum' does not end in '.' and a top-level label
      DOMAIN_SPEC    | museum.           | domain-spec 'museum.' does not end in '.' and a top-level label
      DOMAIN_SPEC    | %{d}com           | domain-spec '%{d}com' does not end in '.' and a top-level label
      DOMAIN_SPEC    | %{d}.             | domain-spec '%{d}.' does not end in '.' and a top-level label
      DOMAIN_SPEC    | abc.123           | '123' in 'abc.123' is not a valid top-level label
      DOMAIN_SPEC    | example.-com      | '-com' in 'example.-com' is not a valid top-level label
      DOMAIN_SPEC    | example.com-      | 'com-' in 'example.com-' is not a valid top-level label
      DOMAIN_SPEC    | example.com:8080  | 'com:8080' in 'example.com:8080' is not a valid top-level label
      DOMAIN_SPEC    | example..         | '' in 'example..' is not a valid top-level label
      EXPLANATION    | The %{x}-files.   | unknown macro letter 'x' in 'The %{x}-files.'
      """)
  void refuses(Use use, String text, String reason) {
    assertThat(MacroString.parse(text, use)).isEqualTo(new Parsed.Invalid<>(reason));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', quoteCharacter = '"', textBlock = """
      example.com
      example.com.
      foo:bar/baz.example.com
      foo.example.xn--zckzah
      123-456.example.123-456
      %{d}
      _spf.%{d2}
      x.%%
      x.%_
      """)
  void acceptsDomainSpecs(String text) {
    assertThat(MacroString.parse(text, Use.DOMAIN_SPEC)).isInstanceOf(Parsed.Valid.class);
  }

  @org.junit.jupiter.api.Test
  void charactersOutsidePrintableAsciiAreRefused() {
    assertThat(MacroString.parse("caf\u00e9.example.com", Use.DOMAIN_SPEC))
        .isEqualTo(new Parsed.Invalid<>("character U+00E9 not allowed in 'caf\u00e9.example.com'"));
    assertThat(MacroString.parse("two words", Use.DOMAIN_SPEC))
        .isEqualTo(new Parsed.Invalid<>("character U+0020 not allowed in 'two words'"));
    assertThat(MacroString.parse("two words", Use.EXPLANATION)).isInstanceOf(Parsed.Valid.class);
    assertThat(MacroString.parse("tab\there", Use.EXPLANATION))
        .isEqualTo(new Parsed.Invalid<>("character U+0009 not allowed in 'tab\there'"));
    // U+0130 lower-cases to 'i' in Java: it must not pass for the letter i.
    assertThat(MacroString.parse("%{\u0130}.example.com", Use.DOMAIN_SPEC))
        .isEqualTo(new Parsed.Invalid<>("unknown macro letter 'U+0130' in '%{\u0130}.example.com'"));
  }
}
