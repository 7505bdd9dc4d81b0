package dev.posta.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.posta.config.PostaConfig.Screen.Code;
import dev.posta.screen.ListText;
import dev.posta.smtp.Replies;
import dev.posta.smtp.Reply;
import java.nio.charset.StandardCharsets;

/**
 * What a DNS list's operator (or a hostile zone) controls, fuzzed (see ParserFuzzTest for how
 * these tests run): any TXT text makes a refusal that is one well-formed reply line of printable
 * ASCII within RFC 5321's 512 octets whatever the zone (up to 253
 * characters) and the address; and any answer code text either parses or is refused
 * with IllegalArgumentException.
 */
class ScreenFuzzTest {
  @FuzzTest(maxDuration = "30s")
  void anyListTextMakesOneWellFormedReplyLine(FuzzedDataProvider data) {
    String text = ListText.sanitize(data.consumeRemainingAsString());
    assertThat(text.length()).isLessThanOrEqualTo(ListText.MAX);
    assertThat(text.chars().allMatch(c -> c >= ' ' && c < 127)).as(text).isTrue();
    assertThat(text).doesNotStartWith(" ").doesNotEndWith(" ");
    // The longest zone (253 characters) and the longest address forms, IPv6 and IPv4-mapped.
    String zone = String.join(".", "a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61));
    for (String client : new String[] {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "0000:0000:0000:0000:0000:ffff:255.255.255.255", "192.0.2.1"}) {
      Reply r = Replies.screenDnsbl(client, zone, text);
      byte[] wire = r.toBytes();
      assertThat(wire.length).isLessThanOrEqualTo(512);
      assertThat(new String(wire, StandardCharsets.US_ASCII)).endsWith("\r\n").doesNotContain("\n554").doesNotEndWith(" \r\n")
          .startsWith("554 5.7.1 Service unavailable; client [" + client + "] blocked using " + zone);
    }
  }

  @FuzzTest(maxDuration = "30s")
  void anAnswerCodeParsesOrIsRefusedClearly(FuzzedDataProvider data) {
    String text = data.consumeRemainingAsString();
    try {
      Code c = Code.parse(text);
      assertThat(c.text()).isEqualTo(text);
      assertThat(c.lows() >>> 24).isEqualTo(127);
    } catch (IllegalArgumentException refused) {
      assertThat(refused.getMessage()).contains("'" + text + "'");
    }
  }
}
