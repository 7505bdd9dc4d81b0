package dev.posta.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class UnixLineEndingsTest {
  /** CRLF ends, a bare CR kept, CR CR LF (one CR kept), a CR last: every way a CR can fall on a write's edge. */
  private static final String IN = "a\r\nbc\rd\r\r\n\r\nlong line of text\r\n.\r\nx\r";
  private static final String OUT = "a\nbc\rd\r\n\nlong line of text\n.\nx\r";

  private static String convert(ByteBuffer... writes) throws IOException {
    var bytes = new ByteArrayOutputStream();
    var lf = new UnixLineEndings(Channels.newChannel(bytes));
    for (ByteBuffer w : writes) assertThat(lf.write(w)).isGreaterThanOrEqualTo(0);
    long size = lf.finish();
    assertThat(size).isEqualTo(bytes.size());
    assertThat(lf.lines()).isEqualTo(OUT.chars().filter(c -> c == '\n').count());
    return bytes.toString(StandardCharsets.US_ASCII);
  }

  @Test
  void crlfBecomesLfWhereverTheWritesSplitTheText() throws IOException {
    byte[] in = IN.getBytes(StandardCharsets.US_ASCII);
    for (int cut = 0; cut <= in.length; cut++) {
      for (int cut2 = cut; cut2 <= in.length; cut2++) {
        // Heap buffers at an offset into their array (the bulk path), and direct ones (octet by octet).
        byte[] padded = new byte[in.length + 6];
        System.arraycopy(in, 0, padded, 3, in.length);
        String heap = convert(ByteBuffer.wrap(padded, 3, cut).slice(), ByteBuffer.wrap(padded, 3 + cut, cut2 - cut),
            ByteBuffer.wrap(padded, 3 + cut2, in.length - cut2));
        assertThat(heap).as("heap, cut at %d and %d", cut, cut2).isEqualTo(OUT);
        String direct = convert(direct(in, 0, cut), direct(in, cut, cut2), direct(in, cut2, in.length));
        assertThat(direct).as("direct, cut at %d and %d", cut, cut2).isEqualTo(OUT);
      }
    }
  }

  @Test
  void aTextLargerThanTheBufferComesOutWhole() throws IOException {
    String line = "0123456789".repeat(7) + "\r\n";
    String in = line.repeat(20_000); // 1.4 MB: many drains of the 64 KiB buffer
    var bytes = new ByteArrayOutputStream();
    var lf = new UnixLineEndings(Channels.newChannel(bytes));
    lf.write(ByteBuffer.wrap(in.getBytes(StandardCharsets.US_ASCII)));
    assertThat(lf.finish()).isEqualTo(71 * 20_000);
    assertThat(lf.lines()).isEqualTo(20_000);
    assertThat(bytes.toString(StandardCharsets.US_ASCII)).isEqualTo(in.replace("\r\n", "\n"));
  }

  private static ByteBuffer direct(byte[] in, int from, int to) {
    return ByteBuffer.allocateDirect(to - from).put(in, from, to - from).flip();
  }
}
