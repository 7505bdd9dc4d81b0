package dev.posta.mailauth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** RFC 8601 fields as Posta writes them, and which incoming fields claim its authserv-id (§5). */
class AuthenticationResultsTest {
  @Test
  void oneMethodPerLine() {
    assertThat(AuthenticationResults.field("mx.example.org", List.of(
        new Resinfo("spf", "pass").comment("example.com: ip4:192.0.2.0/24 matched 192.0.2.9").property("smtp.mailfrom", "example.com"),
        new Resinfo("dkim", "pass").property("header.d", "example.com").property("header.s", "s2026").property("header.b", "AbC/dEf+"),
        new Resinfo("dmarc", "pass").comment("p=reject dis=none").property("header.from", "example.com"))))
        .isEqualTo("""
            Authentication-Results: mx.example.org;\r
            \tspf=pass (example.com: ip4:192.0.2.0/24 matched 192.0.2.9) smtp.mailfrom=example.com;\r
            \tdkim=pass header.d=example.com header.s=s2026 header.b="AbC/dEf+";\r
            \tdmarc=pass (p=reject dis=none) header.from=example.com\r
            """);
    assertThat(AuthenticationResults.field("mx.example.org", List.of())).isEqualTo("Authentication-Results: mx.example.org; none\r\n");
  }

  @Test
  void sendersTextCannotBreakOutOfItsPlace() {
    assertThat(new Resinfo("dkim", "fail").comment("bad (nested) \\ comment\r\nX-Evil: 1").property("header.d", "a\"b\r\nc").toString())
        .isEqualTo("dkim=fail (bad nested  comment  X-Evil: 1) header.d=\"a\\\"b??c\"");
    assertThat(new Resinfo("spf", "none").property("smtp.mailfrom", "alice@example.com").property("header.s", "").toString())
        .isEqualTo("spf=none smtp.mailfrom=alice@example.com");
  }

  @ParameterizedTest(name = "[{index}] {0} -> {1}")
  @CsvSource(delimiter = '|', textBlock = """
      mx.example.org; spf=pass                                | true
      MX.Example.ORG; dkim=pass                               | true
      ' mx.example.org 1; dmarc=pass'                         | true
      (forged) mx.example.org; spf=pass                       | true
      ((nested \\) comment) x) mx.example.org; spf=pass       | true
      '"mx.example.org"; spf=pass'                            | true
      mx.example.org(comment); spf=pass                       | true
      mx.example.org                                          | true
      other.example.net; spf=pass                             | false
      mx.example.org.evil; spf=pass                           | false
      mail.mx.example.org; spf=pass                           | false
      ''                                                      | false
      ((unclosed mx.example.org; spf=pass                     | false
      """)
  void claimsOurAuthservId(String value, boolean claims) {
    assertThat(AuthenticationResults.claims(value == null ? "" : value, "mx.example.org")).isEqualTo(claims);
  }
}
