package dev.posta.mailauth;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.posta.mailauth.dkim.HeaderField;
import java.util.List;

/**
 * The From domains DMARC is checked for, from any From fields a sender writes (see
 * ParserFuzzTest for how these tests run): no exception or error escapes mime4j's parser, and
 * every domain given is lower-case ASCII.
 */
class FromDomainsFuzzTest {
  @FuzzTest(maxDuration = "30s")
  void anyFromFieldGivesDomainsOrNone(FuzzedDataProvider data) {
    List<HeaderField> fields = List.of(HeaderField.of("From:" + data.consumeString(400) + "\r\n"),
        HeaderField.of("from: " + data.consumeRemainingAsString() + "\r\n"));
    for (String domain : SenderAuthentication.fromDomains(fields)) {
      assertThat(domain).isNotEmpty().matches("[\\x21-\\x7e]+").isLowerCase();
    }
  }
}
