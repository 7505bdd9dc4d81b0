package dev.posta.mailauth.dmarc;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** RFC 7489 §3.2 organizational domains, from the Public Suffix List. */
class OrganizationalDomainTest {
  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(textBlock = """
      example.com,              example.com
      mail.example.com,         example.com
      a.b.c.example.com,        example.com
      MAIL.Example.COM.,        example.com
      news.example.co.uk,       example.co.uk
      example.co.uk,            example.co.uk
      co.uk,                    co.uk
      com,                      com
      alice.github.io,          alice.github.io
      www.alice.github.io,      alice.github.io
      host.example.unlisted-tld, example.unlisted-tld
      """)
  void organizationalDomain(String domain, String expected) {
    assertThat(OrganizationalDomain.of(domain)).isEqualTo(expected);
  }

  @ParameterizedTest(name = "{0} ~ {1}: {2}")
  @CsvSource(textBlock = """
      bounce.example.com, news.example.com, true
      example.com,        EXAMPLE.com,      true
      example.com,        example.net,      false
      alice.github.io,    bob.github.io,    false
      a.example.co.uk,    b.example.co.uk,  true
      """)
  void sameOrganization(String a, String b, boolean same) {
    assertThat(OrganizationalDomain.same(a, b)).isEqualTo(same);
  }
}
