package dev.posta.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.posta.dns.DnsRecords;
import dev.posta.mailauth.dmarc.DmarcCheck;
import dev.posta.mailauth.dmarc.DmarcRecord;
import java.net.InetAddress;
import java.util.List;

/**
 * DMARC with hostile input (see ParserFuzzTest for how these tests run): any TXT strings at
 * {@code _dmarc.}, any From domain, any authenticated domains. No exception escapes, and a
 * DMARC pass always comes from a check that passed.
 */
class DmarcFuzzTest {

  @FuzzTest(maxDuration = "30s")
  void anyRecordsAndDomainsGiveAResult(FuzzedDataProvider data) {
    String from = data.consumeString(80);
    String spfDomain = data.consumeString(80);
    DmarcCheck.Outcome spfOutcome = data.pickValue(DmarcCheck.Outcome.values());
    String dkimDomain = data.consumeString(80);
    DmarcCheck.Outcome dkimOutcome = data.pickValue(DmarcCheck.Outcome.values());
    int roll = data.consumeInt(0, 99);
    List<String> records = List.of(data.consumeString(300), data.consumeRemainingAsString());
    DnsRecords dns = new DnsRecords() {
      @Override
      public Answer<String> txt(String name) {
        return name.hashCode() % 3 == 0 ? new Records<>(records.subList(0, 1)) : new Records<>(records);
      }

      @Override
      public Answer<InetAddress> a(String name) {
        return new NoRecords<>(true);
      }

      @Override
      public Answer<InetAddress> aaaa(String name) {
        return new NoRecords<>(true);
      }

      @Override
      public Answer<String> mx(String name) {
        return new NoRecords<>(true);
      }

      @Override
      public Answer<String> ptr(InetAddress address) {
        return new NoRecords<>(true);
      }
    };
    records.forEach(DmarcRecord::parse);
    DmarcCheck.DmarcResult result = new DmarcCheck(dns, () -> roll)
        .check(from, new DmarcCheck.Identifier(spfDomain, spfOutcome), List.of(new DmarcCheck.Identifier(dkimDomain, dkimOutcome)));
    assertThat(result.reason()).isNotEmpty().doesNotContain("\r", "\n");
    if (result.result() == DmarcCheck.Result.PASS) assertThat(List.of(spfOutcome, dkimOutcome)).contains(DmarcCheck.Outcome.PASS);
  }
}
