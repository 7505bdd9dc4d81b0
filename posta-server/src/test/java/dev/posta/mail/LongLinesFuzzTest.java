package dev.posta.mail;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;

/**
 * Re-encoding long lines ({@link LongLines}) over any message a submitting client can send
 * (see ParserFuzzTest for how these tests run). No exception escapes; nothing is written when
 * nothing is re-encoded; when every long line was in a part that could be re-encoded, none is
 * left; and a re-encoded message has nothing more to re-encode. Seeds in {@code
 * LongLinesFuzzTestInputs/}: a plain message, an alternative with a long HTML line, a long
 * base64 line, a forwarded message, a digest.
 */
class LongLinesFuzzTest {

  @FuzzTest(maxDuration = "30s")
  void reencodedMessagesHaveNoLongLineAndStayAsTheyAre(FuzzedDataProvider data) throws IOException {
    byte[] message = data.consumeRemainingAsBytes();
    var out = new ByteArrayOutputStream();
    LongLines.Result result = LongLines.reencode(() -> new ByteArrayInputStream(message), out);
    assertThat(result.summary()).doesNotContain("\r", "\n");
    if (!result.changed()) {
      assertThat(out.size()).isZero();
      return;
    }
    byte[] reencoded = out.toByteArray();
    if (result.kept() == 0) {
      var watch = new LongLines.Watch();
      watch.update(reencoded, 0, reencoded.length);
      assertThat(watch.longest()).isLessThanOrEqualTo(LongLines.MAX_LINE);
    }
    var again = new ByteArrayOutputStream();
    LongLines.Result second = LongLines.reencode(() -> new ByteArrayInputStream(reencoded), again);
    assertThat(second.changed()).as("re-encoding what was re-encoded").isFalse();
  }
}
