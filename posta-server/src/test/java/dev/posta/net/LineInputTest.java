package dev.posta.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class LineInputTest {

  private static LineInput input(String s) {
    return new LineInput(new ByteArrayInputStream(s.getBytes(StandardCharsets.ISO_8859_1)));
  }

  /** Delivers one byte per read, so every CR and LF falls on a buffer boundary. */
  private static LineInput trickled(String s) {
    byte[] bytes = s.getBytes(StandardCharsets.ISO_8859_1);
    return new LineInput(new InputStream() {
      int i;

      @Override
      public int read() {
        return i < bytes.length ? bytes[i++] & 0xff : -1;
      }

      @Override
      public int read(byte[] b, int off, int len) {
        if (i >= bytes.length) return -1;
        b[off] = bytes[i++];
        return 1;
      }
    });
  }

  private static String text(LineInput.Line l) {
    return new String(l.bytes(), 0, l.length(), StandardCharsets.ISO_8859_1);
  }

  @Test
  void readsCrlfLinesAndReportsBareEndings() throws IOException {
    for (LineInput in : new LineInput[] {input("ab\r\ncd\nef\rgh\r\n\r\nlast"), trickled("ab\r\ncd\nef\rgh\r\n\r\nlast")}) {
      var l1 = in.readLine(100, null);
      assertThat(text(l1)).isEqualTo("ab");
      assertThat(l1.isClean()).isTrue();
      var l2 = in.readLine(100, null);
      assertThat(text(l2)).isEqualTo("cd");
      assertThat(l2.ending()).isEqualTo(LineInput.Ending.BARE_LF);
      var l3 = in.readLine(100, null);
      assertThat(text(l3)).isEqualTo("ef\rgh");
      assertThat(l3.ending()).isEqualTo(LineInput.Ending.CRLF);
      assertThat(l3.bareCr()).isTrue();
      assertThat(l3.isClean()).isFalse();
      var l4 = in.readLine(100, null);
      assertThat(l4.length()).isZero();
      assertThat(l4.isClean()).isTrue();
      var l5 = in.readLine(100, null);
      assertThat(l5.ending()).isEqualTo(LineInput.Ending.EOF);
      assertThat(text(l5)).isEqualTo("last");
    }
  }

  @Test
  void endOfDataOnlyWithStrictCrlf() throws IOException {
    assertThat(input(".\r\n").readLine(10, null).isEndOfData()).isTrue();
    assertThat(input(".\n").readLine(10, null).isEndOfData()).isFalse();
    assertThat(input("..\r\n").readLine(10, null).isEndOfData()).isFalse();
    assertThat(input(".\r\r\n").readLine(10, null).isEndOfData()).isFalse();
  }

  @Test
  void lineLimitCountsOctetsBeforeCrlfAndSkipsTheRest() throws IOException {
    for (LineInput in : new LineInput[] {input("12345\r\n123456\r\nnext\r\n"), trickled("12345\r\n123456\r\nnext\r\n")}) {
      assertThat(text(in.readLine(5, null))).isEqualTo("12345");
      assertThat(in.readLine(5, null).ending()).isEqualTo(LineInput.Ending.TOO_LONG);
      assertThat(text(in.readLine(5, null))).isEqualTo("next");
    }
    // A 5-octet limit with a bare LF: "123456\n" is 6 octets, too long.
    assertThat(input("123456\n").readLine(5, null).ending()).isEqualTo(LineInput.Ending.TOO_LONG);
  }

  @Test
  void hugeLineWithoutLfIsDroppedWithoutHoldingIt() throws IOException {
    String huge = "x".repeat(1 << 20);
    LineInput in = input(huge + "\r\nok\r\n");
    assertThat(in.readLine(512, null).ending()).isEqualTo(LineInput.Ending.TOO_LONG);
    assertThat(text(in.readLine(512, null))).isEqualTo("ok");
  }

  @Test
  void transferCopiesExactCountsAcrossBuffers() throws IOException {
    String chunk = "a\nb\rc".repeat(10_000);
    LineInput in = input("BDAT\r\n" + chunk + "rest\r\n");
    in.readLine(100, null);
    var sink = new ByteArrayOutputStream();
    assertThat(in.transfer(chunk.length(), sink)).isTrue();
    assertThat(sink.toString(StandardCharsets.ISO_8859_1)).isEqualTo(chunk);
    assertThat(text(in.readLine(100, null))).isEqualTo("rest");
    assertThat(in.transfer(1, null)).isFalse();
  }
}
