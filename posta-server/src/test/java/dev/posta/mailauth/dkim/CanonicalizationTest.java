package dev.posta.mailauth.dkim;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.junit.jupiter.api.Test;

/**
 * RFC 6376 §3.4: header and body canonicalization, each row an input and its exact canonical
 * form, including the examples of §3.4.5 and the body fed in every split, since the body is
 * canonicalized as it streams in pieces.
 */
class CanonicalizationTest {

  @Test
  void theRfcExampleOfSection345() {
    // §3.4.5, with <SP> and <HTAB> written out.
    assertThat(Canonicalization.RELAXED.header(HeaderField.of("A: X\r\n"))).isEqualTo("a:X\r\n");
    assertThat(Canonicalization.RELAXED.header(HeaderField.of("B : Y\t\r\n\tZ  \r\n"))).isEqualTo("b:Y Z\r\n");
    assertThat(Canonicalization.SIMPLE.header(HeaderField.of("B : Y\t\r\n\tZ  \r\n"))).isEqualTo("B : Y\t\r\n\tZ  \r\n");
    String body = " C \r\nD \t E\r\n\r\n\r\n";
    assertThat(body(Canonicalization.RELAXED, body)).isEqualTo(" C\r\nD E\r\n");
    assertThat(body(Canonicalization.SIMPLE, body)).isEqualTo(" C \r\nD \t E\r\n");
  }

  @Test
  void relaxedHeaders() {
    assertThat(Canonicalization.RELAXED.header(HeaderField.of("SUBJECT:   a  \t b\t\r\n"))).isEqualTo("subject:a b\r\n");
    assertThat(Canonicalization.RELAXED.header(HeaderField.of("To:\r\n x@example.org,\r\n\ty@example.org\r\n")))
        .isEqualTo("to:x@example.org, y@example.org\r\n");
    assertThat(Canonicalization.RELAXED.header(HeaderField.of("X-Empty:\r\n"))).isEqualTo("x-empty:\r\n");
    assertThat(Canonicalization.RELAXED.header(HeaderField.of("X-Blank:   \r\n"))).isEqualTo("x-blank:\r\n");
    // 8-bit octets (as ISO-8859-1 chars) pass unchanged: no case mapping beyond ASCII.
    assertThat(Canonicalization.RELAXED.header(HeaderField.of("Subject: \u00c3\u0089t\u00c3\u00a9\r\n"))).isEqualTo("subject:\u00c3\u0089t\u00c3\u00a9\r\n");
    assertThat(Canonicalization.RELAXED.signatureField("DKIM-Signature: v=1;\r\n\tb=\r\n")).isEqualTo("dkim-signature:v=1; b=");
    assertThat(Canonicalization.SIMPLE.signatureField("DKIM-Signature: v=1;\r\n\tb=\r\n")).isEqualTo("DKIM-Signature: v=1;\r\n\tb=");
  }

  @Test
  void bodies() {
    record Row(String body, String simple, String relaxed) {}
    for (Row row : new Row[] {
        new Row("", "\r\n", ""),
        new Row("\r\n", "\r\n", ""),
        new Row("\r\n\r\n \t\r\n", "\r\n\r\n \t\r\n", ""), // blank is not empty for simple
        new Row("x", "x\r\n", "x\r\n"),
        new Row("x\r\n\r\n\r\n", "x\r\n", "x\r\n"),
        new Row("x  \r\n\r\n y\r\n", "x  \r\n\r\n y\r\n", "x\r\n\r\n y\r\n"),
        new Row("a\t\tb \r\n  \r\nc", "a\t\tb \r\n  \r\nc\r\n", "a b\r\n\r\nc\r\n"),
        new Row("x   ", "x   \r\n", "x\r\n"),
        // A CR or LF alone is an ordinary octet, not a line end.
        new Row("a\rb\nc\r\n", "a\rb\nc\r\n", "a\rb\nc\r\n"),
        new Row("a \r \r\n", "a \r \r\n", "a \r\r\n"),
        new Row("x\r\n\r", "x\r\n\r\r\n", "x\r\n\r\r\n"),
        new Row("\u00e9t\u00e9 \r\n", "\u00e9t\u00e9 \r\n", "\u00e9t\u00e9\r\n")}) {
      assertThat(body(Canonicalization.SIMPLE, row.body())).as("simple of %s", escaped(row.body())).isEqualTo(row.simple());
      assertThat(body(Canonicalization.RELAXED, row.body())).as("relaxed of %s", escaped(row.body())).isEqualTo(row.relaxed());
    }
  }

  /** The streaming canonicalizer gives the same octets whatever pieces the body arrives in. */
  @Test
  void theBodyMayArriveInAnyPieces() {
    String body = "a  b\t\r\n\r\n \r\nc\r\r\nd \r\n\r\n\r\n";
    for (Canonicalization c : Canonicalization.values()) {
      String whole = body(c, body);
      for (int cut1 = 0; cut1 <= body.length(); cut1++) {
        for (int cut2 = cut1; cut2 <= body.length(); cut2++) {
          var out = new ByteArrayOutputStream();
          BodyCanonicalizer canonicalizer = c.body(out::write);
          byte[] octets = body.getBytes(StandardCharsets.ISO_8859_1);
          canonicalizer.update(octets, 0, cut1);
          canonicalizer.update(octets, cut1, cut2 - cut1);
          canonicalizer.update(octets, cut2, octets.length - cut2);
          canonicalizer.finish();
          assertThat(out.toString(StandardCharsets.ISO_8859_1)).as("%s cut at %d and %d", c, cut1, cut2).isEqualTo(whole);
        }
      }
    }
  }

  /** The SHA-256 of the canonical empty body, which every implementation shares (RFC 6376 §3.4.3, §3.4.4). */
  @Test
  void emptyBodyHashes() throws Exception {
    assertThat(bodyHash(Canonicalization.SIMPLE, "")).isEqualTo("frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
    assertThat(bodyHash(Canonicalization.RELAXED, "")).isEqualTo("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  }

  /** A body larger than the canonicalizer's block is passed on whole. */
  @Test
  void aLargeBodyGoesThroughInBlocks() {
    String line = "0123456789 ".repeat(7) + "\r\n";
    String body = line.repeat(5000);
    assertThat(body(Canonicalization.SIMPLE, body)).isEqualTo(body);
    assertThat(body(Canonicalization.RELAXED, body)).isEqualTo(body.replace(" \r\n", "\r\n"));
  }

  static String body(Canonicalization c, String body) {
    var out = new ByteArrayOutputStream();
    BodyCanonicalizer canonicalizer = c.body(out::write);
    byte[] octets = body.getBytes(StandardCharsets.ISO_8859_1);
    canonicalizer.update(octets, 0, octets.length);
    canonicalizer.finish();
    return out.toString(StandardCharsets.ISO_8859_1);
  }

  private static String bodyHash(Canonicalization c, String body) throws Exception {
    var digest = java.security.MessageDigest.getInstance("SHA-256");
    return Base64.getEncoder().encodeToString(digest.digest(body(c, body).getBytes(StandardCharsets.ISO_8859_1)));
  }

  private static String escaped(String s) {
    return s.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t");
  }
}
