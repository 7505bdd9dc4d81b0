package dev.posta.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** RFC 8601 §5: incoming Authentication-Results fields in our name go; everything else stays, byte for byte, however it is split. */
class ForeignAuthResultsTest {
  private static final String ID = "mx.example.org";

  /** The message through the filter in pieces of every size from 1 to its length; all must agree. */
  private static String filter(String message, int expectRemoved) throws IOException {
    byte[] bytes = message.getBytes(StandardCharsets.ISO_8859_1);
    String first = null;
    for (int piece = 1; piece <= bytes.length; piece++) {
      var out = new ByteArrayOutputStream();
      var f = new ForeignAuthResults(out, ID);
      for (int off = 0; off < bytes.length; off += piece) f.write(bytes, off, Math.min(piece, bytes.length - off));
      f.finish();
      assertThat(f.removed()).as("pieces of %d", piece).isEqualTo(expectRemoved);
      String got = out.toString(StandardCharsets.ISO_8859_1);
      if (first == null) first = got;
      assertThat(got).as("pieces of %d", piece).isEqualTo(first);
    }
    return first;
  }

  @Test
  void fieldsClaimingOurIdGoWithTheirContinuationLines() throws IOException {
    String message = "Received: from a by b; Sun, 6 Dec 2026 10:00:00 +0000\r\n"
        + "Authentication-Results: mx.example.org;\r\n\tdkim=pass header.d=bank.example\r\n"
        + "Authentication-Results: relay.example.net; spf=pass smtp.mailfrom=x.example\r\n"
        + "authentication-results : (forged) MX.EXAMPLE.ORG; dmarc=pass\r\n"
        + "Subject: hi\r\n"
        + "\r\n"
        + "Authentication-Results: mx.example.org; in the body stays\r\n";
    assertThat(filter(message, 2)).isEqualTo("Received: from a by b; Sun, 6 Dec 2026 10:00:00 +0000\r\n"
        + "Authentication-Results: relay.example.net; spf=pass smtp.mailfrom=x.example\r\n"
        + "Subject: hi\r\n"
        + "\r\n"
        + "Authentication-Results: mx.example.org; in the body stays\r\n");
  }

  @Test
  void anIdSplitOverAFoldIsStillOurs() throws IOException {
    assertThat(filter("Authentication-Results:\r\n mx.example.org; spf=pass\r\nSubject: x\r\n\r\nbody\r\n", 1))
        .isEqualTo("Subject: x\r\n\r\nbody\r\n");
  }

  @Test
  void aMessageWithoutOurFieldsIsUntouched() throws IOException {
    String message = "From: a@example.com\r\nX-Authentication-Results: mx.example.org; fake\r\n\r\nbody\r\n";
    assertThat(filter(message, 0)).isEqualTo(message);
    String noHeaders = "just a body line\r\nAuthentication-Results: mx.example.org\r\n";
    assertThat(filter(noHeaders, 0)).isEqualTo(noHeaders);
  }

  @Test
  void aMessageThatEndsInItsHeadersAndAHugeField() throws IOException {
    assertThat(filter("Subject: x\r\nAuthentication-Results: mx.example.org; spf=pass", 1)).isEqualTo("Subject: x\r\n");
    String huge = "Authentication-Results: mx.example.org;\r\n" + "\tdkim=pass header.d=x.example;\r\n".repeat(3000);
    var out = new ByteArrayOutputStream();
    var f = new ForeignAuthResults(out, ID);
    byte[] bytes = (huge + "Subject: kept\r\n\r\nbody\r\n").getBytes(StandardCharsets.US_ASCII);
    f.write(bytes, 0, bytes.length);
    f.finish();
    assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo("Subject: kept\r\n\r\nbody\r\n");
    assertThat(f.removed()).isEqualTo(1);
  }

  @Test
  void aHeaderLineOverTheLimitEndsTheWatchingWhereverThePiecesEnd() throws IOException {
    String message = "Authentication-Results: mx.example.org; spf=pass\r\n" + "X-Long: " + "x".repeat(ForeignAuthResults.MAX_HELD + 10)
        + "\r\nAuthentication-Results: mx.example.org; after the long line, not a header any more\r\n\r\nbody\r\n";
    byte[] bytes = message.getBytes(StandardCharsets.US_ASCII);
    String expected = message.substring(message.indexOf("X-Long"));
    for (int piece : new int[] {1, 2, 3, 1000, ForeignAuthResults.MAX_HELD, bytes.length}) {
      var out = new ByteArrayOutputStream();
      var f = new ForeignAuthResults(out, ID);
      for (int off = 0; off < bytes.length; off += piece) f.write(bytes, off, Math.min(piece, bytes.length - off));
      f.finish();
      assertThat(out.toString(StandardCharsets.US_ASCII)).as("pieces of %d", piece).isEqualTo(expected);
      assertThat(f.removed()).isEqualTo(1);
    }
  }
}
