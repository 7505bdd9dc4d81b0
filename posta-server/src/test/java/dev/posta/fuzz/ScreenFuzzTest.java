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
 * ASCII, well under RFC 5321's 512 octets; and any answer code text either parses or is refused
 * with IllegalArgumentException.
 */
class ScreenFuzzTest {
  @FuzzTest(maxDuration = "30s")
  void anyListTextMakesOneWellFormedReplyLine(FuzzedDataProvider data) {
    String text = ListText.sanitize(data.consumeRemainingAsString());
    assertThat(text.length()).isLessThanOrEqualTo(ListText.MAX);
    assertThat(text.chars().allMatch(c -> c >= ' ' && c < 127)).as(text).isTrue();
    assertThat(text).doesNotStartWith(" ").doesNotEndWith(" ");
    Reply r = Replies.SCREEN_DNSBL.format("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "a".repeat(63) + "." + "b".repeat(63) + ".example",
        text.isEmpty() ? "" : "; " + text);
    byte[] wire = r.toBytes();
    assertThat(wire.length).isLessThanOrEqualTo(512);
    assertThat(new String(wire, StandardCharsets.US_ASCII)).endsWith("\r\n").doesNotContain("\n554").startsWith("554 5.7.1 ");
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
