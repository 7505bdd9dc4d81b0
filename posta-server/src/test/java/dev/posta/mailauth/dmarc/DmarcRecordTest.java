package dev.posta.mailauth.dmarc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mailauth.dmarc.DmarcRecord.Alignment;
import dev.posta.mailauth.dmarc.DmarcRecord.Invalid;
import dev.posta.mailauth.dmarc.DmarcRecord.NotDmarc;
import dev.posta.mailauth.dmarc.DmarcRecord.Policy;
import dev.posta.mailauth.dmarc.DmarcRecord.Valid;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** RFC 7489 §6.3/§6.4 record parsing: each row a TXT string and what Posta makes of it. */
class DmarcRecordTest {
  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource(delimiter = '|', textBlock = """
      v=DMARC1; p=reject                                              | reject     | reject     | RELAXED | RELAXED | 100
      v=DMARC1;p=quarantine;sp=none;adkim=s;aspf=s;pct=25             | quarantine | none       | STRICT  | STRICT  | 25
      v = DMARC1 ; p = none ;                                         | none       | none       | RELAXED | RELAXED | 100
      v=DMARC1; p=REJECT; sp=Quarantine                               | reject     | quarantine | RELAXED | RELAXED | 100
      v=DMARC1; p=reject; pct=150                                     | reject     | reject     | RELAXED | RELAXED | 100
      v=DMARC1; p=reject; pct=-5                                      | reject     | reject     | RELAXED | RELAXED | 100
      v=DMARC1; p=reject; pct=0                                       | reject     | reject     | RELAXED | RELAXED | 0
      v=DMARC1; p=reject; adkim=x; aspf=                              | reject     | reject     | RELAXED | RELAXED | 100
      v=DMARC1; p=none; p=reject                                      | none       | none       | RELAXED | RELAXED | 100
      v=DMARC1; p=reject; unknown=tag; rua=mailto:d@example.com       | reject     | reject     | RELAXED | RELAXED | 100
      v=DMARC1; p=bogus; rua=mailto:dmarc@example.com                 | none       | none       | RELAXED | RELAXED | 100
      v=DMARC1; rua=mailto:dmarc@example.com                          | none       | none       | RELAXED | RELAXED | 100
      v=DMARC1; p=reject; sp=bogus; rua=mailto:dmarc@example.com      | none       | none       | RELAXED | RELAXED | 100
      """)
  void validRecords(String txt, String p, String sp, Alignment adkim, Alignment aspf, int pct) {
    assertThat(DmarcRecord.parse(txt)).isEqualTo(new Valid(new DmarcRecord(policy(p), policy(sp), adkim, aspf, pct)));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource(delimiter = '|', textBlock = """
      v=spf1 -all
      v=DMARC2; p=reject
      v=dmarc1; p=reject
      p=reject; v=DMARC1
      ''
      ;;;
      v=DMARC1p=reject
      """)
  void notDmarcRecordsAreDiscarded(String txt) {
    assertThat(DmarcRecord.parse(txt == null ? "" : txt)).isEqualTo(new NotDmarc());
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource(delimiter = '|', textBlock = """
      v=DMARC1                                   | no p= tag
      v=DMARC1; p=bogus                          | p=bogus is not none, quarantine or reject
      v=DMARC1; p=reject; sp=maybe               | sp=maybe is not none, quarantine or reject
      v=DMARC1; p=bogus; rua=not-a-uri           | p=bogus is not none, quarantine or reject
      v=DMARC1; p=; rua=mailto:                  | p= is not none, quarantine or reject
      """)
  void unusableRecords(String txt, String reason) {
    assertThat(DmarcRecord.parse(txt)).isEqualTo(new Invalid(reason));
  }

  private static Policy policy(String name) {
    return Policy.valueOf(name.toUpperCase());
  }
}
