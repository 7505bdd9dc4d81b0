package dev.posta.milter;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.EOFException;

/**
 * Fuzzes what a broken or hostile milter controls: its packets. Every packet read has a length
 * within {@link MilterProtocol#MAX_PACKET}, and every reply decoded from it is whole (a REPLYCODE
 * is 4xx/5xx with printable lines, a header name printable ASCII); anything else is a clean
 * {@link MilterException} or EOF, never another exception.
 */
class MilterFuzzTest {

  @FuzzTest(maxDuration = "30s")
  void packetsAreReadWholeAndRepliesDecodedOrRefusedCleanly(FuzzedDataProvider data) throws Exception {
    var in = new ByteArrayInputStream(data.consumeRemainingAsBytes());
    while (true) {
      MilterPacket p;
      try {
        p = MilterPacket.read(in);
      } catch (MilterException | EOFException e) {
        return;
      }
      if (p == null) return;
      assertThat(p.data().length + 1).isLessThanOrEqualTo(MilterProtocol.MAX_PACKET);
      MilterReply r;
      try {
        r = MilterReply.decode(p);
      } catch (MilterException e) {
        continue;
      }
      switch (r) {
        case MilterReply.ReplyCode c -> {
          assertThat(c.code()).isBetween(400, 599);
          assertThat(c.lines()).isNotEmpty().allSatisfy(l -> assertThat(l).doesNotContain("\r", "\n", "\0"));
        }
        case MilterReply.AddHeader h -> assertThat(h.name()).doesNotContain(":", " ", "\r", "\n");
        case MilterReply.ChangeHeader h -> assertThat(h.name()).doesNotContain(":", " ", "\r", "\n");
        case MilterReply.InsertHeader h -> assertThat(h.name()).doesNotContain(":", " ", "\r", "\n");
        case MilterReply.Negotiated n -> assertThat(n.version()).isBetween(2, MilterProtocol.VERSION);
        default -> {}
      }
    }
  }
}
