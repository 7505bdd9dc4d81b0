package dev.posta.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.EOFException;

/**
 * Fuzzes what a hostile receiving server controls most: its replies. Every reply read is
 * well-formed (a code 200-559, at most 200 lines, no control characters in its text, an
 * enhanced status whose class matches the code), and anything else is a clean
 * MalformedReplyException or EOF, never another exception. Runs in the "fuzz" surefire
 * execution with the other Jazzer tests (it lives in this package to reach the package-private
 * reader).
 */
class ReplyFuzzTest {

  @FuzzTest(maxDuration = "30s")
  void replyReaderReadsWholeRepliesOrFailsCleanly(FuzzedDataProvider data) throws Exception {
    ReplyReader reader = new ReplyReader(new ByteArrayInputStream(data.consumeRemainingAsBytes()));
    while (true) {
      SmtpReply reply;
      try {
        reply = reader.read();
      } catch (ReplyReader.MalformedReplyException | EOFException e) {
        return;
      }
      assertThat(reply.code()).isBetween(200, 559);
      assertThat(reply.lines()).isNotEmpty().hasSizeLessThanOrEqualTo(ReplyReader.MAX_LINES);
      assertThat(reply.oneLine()).doesNotContain("\r", "\n", "\0");
      String status = reply.enhancedStatus();
      if (status != null) assertThat(status.charAt(0) - '0').isEqualTo(reply.code() / 100);
    }
  }
}
