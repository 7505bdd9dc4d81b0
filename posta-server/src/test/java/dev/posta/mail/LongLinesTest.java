package dev.posta.mail;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.PythonEmail;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Re-encoding parts with long lines, checked by a reader that is not ours: Python's email package
 * decodes each part to the octets that went in, finds no line over 998 octets, and everything
 * but the re-encoded parts is kept octet for octet.
 */
class LongLinesTest {
  static final String HTML_LINE = "<p>" + "Long generated HTML, a newsletter's table row. ".repeat(33) + "</p>";

  record Done(LongLines.Result result, byte[] out) {
    String text() {
      return new String(out, ISO_8859_1);
    }
  }

  static Done reencode(String message) throws IOException {
    return reencode(message.getBytes(UTF_8));
  }

  static Done reencode(byte[] message) throws IOException {
    var out = new ByteArrayOutputStream();
    LongLines.Result result = LongLines.reencode(() -> new ByteArrayInputStream(message), out);
    return new Done(result, out.toByteArray());
  }

  @Test
  void aPlainMessageWithA1500CharacterLineBecomesQuotedPrintableAndMime() throws Exception {
    assertThat(HTML_LINE.length()).isGreaterThan(1500);
    String head = "From: app@example.org\r\nTo: user@example.net\r\nSubject: Your weekly news\r\n";
    String body = "Hello,\r\n" + HTML_LINE + "\r\nBye.\r\n";
    Done done = reencode(head + "\r\n" + body);

    assertThat(done.result().reencoded()).isEqualTo(Map.of(0, LongLines.Encoding.QUOTED_PRINTABLE));
    assertThat(done.result().summary()).isEqualTo("quoted-printable (1 part)");
    assertThat(done.text()).startsWith(head + "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello,\r\n<p>Long");
    PythonEmail.Read read = PythonEmail.read(done.out());
    assertThat(read.longestLine()).isLessThanOrEqualTo(76);
    assertThat(read.parts()).singleElement().satisfies(p -> {
      assertThat(p.type()).isEqualTo("text/plain");
      assertThat(p.encoding()).isEqualTo("quoted-printable");
      assertThat(p.text()).isEqualTo(body.replace("\r\n", "\n"));
    });
  }

  @Test
  void onlyTheHtmlPartOfAnAlternativeIsReencodedAndTheRestKeptOctetForOctet() throws Exception {
    String plain = "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße, a short text   \r\n";
    String htmlHead = "--b1\r\nContent-Type: text/html;\r\n charset=utf-8\r\nContent-Transfer-Encoding:\r\n 8bit\r\nX-Kept: yes\r\n\r\n";
    String html = "<html><body>\r\n" + ("<td>Grüße = 100% " + "x".repeat(40) + "</td>").repeat(320) + "\t \r\n.\r\nFrom here\r\n</body></html>";
    String message = "From: app@example.org\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
        + "preamble\r\n" + plain + htmlHead + html + "\r\n--b1--\r\nepilogue\r\n";
    assertThat(html.getBytes(UTF_8).length).isGreaterThan(20_000);
    Done done = reencode(message);

    assertThat(done.result().reencoded()).isEqualTo(Map.of(1, LongLines.Encoding.QUOTED_PRINTABLE));
    String out = new String(done.out(), UTF_8);
    // Everything up to the HTML part's fields, octet for octet; its old encoding field replaced in its place, continuation line and all.
    assertThat(out).startsWith(message.substring(0, message.indexOf(htmlHead)) + "--b1\r\nContent-Type: text/html;\r\n charset=utf-8\r\n"
        + "Content-Transfer-Encoding: quoted-printable\r\nX-Kept: yes\r\n\r\n<html><body>\r\n");
    assertThat(out).endsWith("</body></html>\r\n--b1--\r\nepilogue\r\n");
    PythonEmail.Read read = PythonEmail.read(done.out());
    assertThat(read.longestLine()).isLessThanOrEqualTo(76);
    assertThat(read.parts()).hasSize(2);
    assertThat(read.parts().get(0).text()).isEqualTo("Grüße, a short text   "); // kept as it was, 8bit
    assertThat(read.parts().get(1).encoding()).isEqualTo("quoted-printable");
    assertThat(read.parts().get(1).text()).isEqualTo(html.replace("\r\n", "\n"));
  }

  @Test
  void aBinaryPartBecomesBase64AndALongBase64LineIsFoldedAgain() throws Exception {
    byte[] binary = new byte[3000];
    for (int i = 0; i < binary.length; i++) binary[i] = (byte) (i * 7 + (i % 13 == 0 ? 10 : 0)); // some LFs, no CR before them
    byte[] oneLine = java.util.Base64.getEncoder().encode(binary);
    var message = new ByteArrayOutputStream();
    message.writeBytes(("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"==x==\"\r\n\r\n--==x==\r\n"
        + "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n").getBytes(ISO_8859_1));
    byte[] text = ("line one\r\n" + "z".repeat(1200) + "\r\nlast, no break").getBytes(ISO_8859_1);
    message.writeBytes(text);
    message.writeBytes("\r\n--==x==\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n".getBytes(ISO_8859_1));
    message.writeBytes(oneLine);
    message.writeBytes("\r\n--==x==--\r\n".getBytes(ISO_8859_1));
    Done done = reencode(message.toByteArray());

    assertThat(done.result().reencoded()).isEqualTo(Map.of(0, LongLines.Encoding.BASE64, 1, LongLines.Encoding.BASE64_REFOLDED));
    assertThat(done.result().summary()).isEqualTo("base64 (2 parts)");
    PythonEmail.Read read = PythonEmail.read(done.out());
    assertThat(read.longestLine()).isEqualTo(76);
    assertThat(read.parts()).hasSize(2);
    assertThat(read.parts().get(0).encoding()).isEqualTo("base64");
    assertThat(read.parts().get(0).decoded()).isEqualTo(text);
    assertThat(read.parts().get(1).decoded()).isEqualTo(binary);
    assertThat(done.text()).contains("\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n");
  }

  @Test
  void aForwardedMessageIsOpenedAndItsTextReencoded() throws Exception {
    String inner = "From: someone@example.com\r\nSubject: inner\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + "w".repeat(2000) + "\r\n";
    String message = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n"
        + "--outer\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "--outer--\r\n";
    Done done = reencode(message);

    assertThat(done.result().reencoded()).isEqualTo(Map.of(1, LongLines.Encoding.QUOTED_PRINTABLE));
    assertThat(done.text()).contains("Content-Type: message/rfc822\r\n\r\nFrom: someone@example.com\r\nSubject: inner\r\n"
        + "Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nwww");
    PythonEmail.Read read = PythonEmail.read(done.out());
    assertThat(read.longestLine()).isLessThanOrEqualTo(76);
    // The line break before a boundary is the boundary's (RFC 2046 §5.1.1).
    assertThat(read.parts()).extracting(PythonEmail.Part::text).containsExactly("See below.", "w".repeat(2000));
  }

  @Test
  void whatCannotBeReencodedIsKeptAndCounted() throws Exception {
    String qp = "MIME-Version: 1.0\r\nSubject: " + "s".repeat(1000) + "\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        + "q".repeat(1500) + "\r\n";
    Done done = reencode(qp);
    assertThat(done.result().changed()).isFalse();
    assertThat(done.result().kept()).isEqualTo(2); // the Subject line and the quoted-printable part
    assertThat(done.result().summary()).isEqualTo("2 long-line places kept as sent");
    assertThat(done.out()).isEmpty();

    String noBoundary = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed\r\n\r\n" + "m".repeat(1500) + "\r\n";
    assertThat(reencode(noBoundary).result().changed()).isFalse();
  }

  @Test
  void aMessageWithoutLongLinesIsLeftAlone() throws Exception {
    Done done = reencode("Subject: short\r\n\r\n" + "x".repeat(998) + "\r\n");
    assertThat(done.result().changed()).isFalse();
    assertThat(done.result().kept()).isZero();
    assertThat(done.out()).isEmpty();
  }

  @Test
  void quotedPrintableKeepsEveryOctetAndEveryLineShort() throws Exception {
    byte[] line = new byte[2000];
    for (int i = 0; i < line.length; i++) line[i] = (byte) (i % 5 == 0 ? ' ' : i % 7 == 0 ? '=' : i % 11 == 0 ? '\r' : i);
    line[line.length - 1] = '\t';
    line[0] = '.';
    var out = new ByteArrayOutputStream();
    var qp = new QuotedPrintable(out);
    qp.line(line, 0, line.length);
    qp.lineBreak();
    qp.line("From me".getBytes(ISO_8859_1), 0, 7);
    qp.lineBreak();
    String encoded = out.toString(ISO_8859_1);
    assertThat(encoded.split("\r\n")).allSatisfy(l -> assertThat(l.length()).isLessThanOrEqualTo(76));
    assertThat(encoded).startsWith("=2E").contains("\r\n=46rom me\r\n").doesNotContain(" \r\n").doesNotContain("\t\r\n");
    // Python's quopri, the decoder of the email package, gives the line back.
    byte[] decoded = PythonEmail.read(("Content-Type: application/x-test\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" + encoded)
        .getBytes(ISO_8859_1)).parts().getFirst().decoded();
    var expected = new ByteArrayOutputStream();
    expected.writeBytes(line);
    expected.writeBytes("\r\nFrom me\r\n".getBytes(ISO_8859_1)); // a hard break decodes as CRLF
    assertThat(decoded).isEqualTo(expected.toByteArray());
  }

  @Test
  void theWatchFindsTheLongestLineAcrossWrites() {
    var watch = new LongLines.Watch();
    byte[] a = ("x".repeat(10) + "\r").getBytes(ISO_8859_1);
    watch.update(a, 0, a.length);
    watch.update(new byte[] {'\n'}, 0, 1);
    assertThat(watch.longest()).isEqualTo(10);
    byte[] b = "y".repeat(999).getBytes(ISO_8859_1);
    watch.update(b, 0, 500);
    watch.update(b, 500, 499);
    assertThat(watch.longest()).isEqualTo(999); // an unterminated last line counts too
  }
}
