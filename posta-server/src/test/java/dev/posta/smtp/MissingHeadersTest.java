package dev.posta.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class MissingHeadersTest {
  private static final String DATE = "Date: Sun, 29 Nov 2026 04:00:00 +0000\r\n";
  private static final String ID = "Message-ID: <X@mx.example>\r\n";

  static Stream<Arguments> messages() {
    return Stream.of(
        Arguments.of("both present", "Date: x\r\nMessage-ID: <a@b>\r\nSubject: s\r\n\r\nbody\r\n",
            "Date: x\r\nMessage-ID: <a@b>\r\nSubject: s\r\n\r\nbody\r\n"),
        Arguments.of("neither", "Subject: s\r\nFrom: a@b\r\n\r\nbody\r\n",
            "Subject: s\r\nFrom: a@b\r\n" + DATE + ID + "\r\nbody\r\n"),
        Arguments.of("names in any case", "DATE: x\r\nmessage-id: <a@b>\r\n\r\nbody\r\n",
            "DATE: x\r\nmessage-id: <a@b>\r\n\r\nbody\r\n"),
        Arguments.of("folded header", "Subject: a\r\n long\r\n\tsubject\r\n\r\nDate: in the body\r\n",
            "Subject: a\r\n long\r\n\tsubject\r\n" + DATE + ID + "\r\nDate: in the body\r\n"),
        Arguments.of("all headers", "Subject: s\r\nDate: x\r\n", "Subject: s\r\nDate: x\r\n" + ID),
        Arguments.of("all headers, last unterminated", "Subject: s", "Subject: s\r\n" + DATE + ID),
        Arguments.of("no header section", "just text\r\n\r\nmore\r\n", "just text\r\n\r\nmore\r\n"),
        Arguments.of("empty message", "", ""),
        Arguments.of("body line without separator", "Subject: s\r\nnot a header\r\n",
            "Subject: s\r\n" + DATE + ID + "not a header\r\n"));
  }

  private static String run(String in, int chunk) throws Exception {
    var out = new ByteArrayOutputStream();
    var m = new MissingHeaders(out, () -> "Sun, 29 Nov 2026 04:00:00 +0000", () -> "<X@mx.example>");
    byte[] bytes = in.getBytes(StandardCharsets.ISO_8859_1);
    for (int i = 0; i < bytes.length; i += chunk) m.write(bytes, i, Math.min(chunk, bytes.length - i));
    m.finish();
    return out.toString(StandardCharsets.ISO_8859_1);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("messages")
  void addsWhatIsMissingAtTheEndOfTheHeaderSection(String name, String in, String expected) throws Exception {
    // Whole, and one octet at a time (as BDAT chunks may split anything).
    assertThat(run(in, Math.max(1, in.length()))).isEqualTo(expected);
    assertThat(run(in, 1)).isEqualTo(expected);
  }
}
