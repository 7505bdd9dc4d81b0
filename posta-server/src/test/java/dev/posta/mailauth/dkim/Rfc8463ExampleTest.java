package dev.posta.mailauth.dkim;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mailauth.dkim.DkimResult.Outcome;
import dev.posta.testing.ZoneRecords;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The example of RFC 8463 Appendix A, which gives the keys (A.1), their DNS records (A.2) and a
 * message signed with both (A.3): Posta verifies both signatures, and, both RSA PKCS#1 v1.5 and
 * Ed25519 being deterministic, signing the same header data with the same keys gives the very
 * b= values of the RFC. (RFC 6376's own example in Appendix A cannot serve: its signature does
 * not verify with the key it gives.)
 */
class Rfc8463ExampleTest {
  /** A.1: the Ed25519 private key, the 32-octet seed in base64. */
  static final String ED25519_SEED = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
  /** A.1: the RSA private key (1024 bits), PKCS#1 PEM. */
  static final String RSA_KEY = """
      -----BEGIN RSA PRIVATE KEY-----
      MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi
      Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM
      KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB
      AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm
      6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe
      zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy
      6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc
      uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy
      WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd
      WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a
      licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst
      o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe
      uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL
      -----END RSA PRIVATE KEY-----
      """;
  /** A.2: the key records, each record's strings joined. */
  static final String ED25519_RECORD = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
  static final String RSA_RECORD = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/"
      + "J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";
  /** A.3: the signed message, line for line. */
  static final String SIGNED = String.join("\r\n",
      "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;",
      " d=football.example.com; i=@football.example.com;",
      " q=dns/txt; s=brisbane; t=1528637909; h=from : to :",
      " subject : date : message-id : from : subject : date;",
      " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;",
      " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus",
      " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==",
      "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;",
      " d=football.example.com; i=@football.example.com;",
      " q=dns/txt; s=test; t=1528637909; h=from : to : subject :",
      " date : message-id : from : subject : date;",
      " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;",
      " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3",
      " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz",
      " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=",
      "From: Joe SixPack <joe@football.example.com>",
      "To: Suzie Q <suzie@shopping.example.net>",
      "Subject: Is dinner ready?",
      "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)",
      "Message-ID: <20030712040037.46341.5F8J@football.example.com>",
      "",
      "Hi.",
      "",
      "We lost the game.  Are you hungry yet?",
      "",
      "Joe.",
      "",
      "");

  static final ZoneRecords DNS = new ZoneRecords()
      .txt("brisbane._domainkey.football.example.com", ED25519_RECORD)
      .txt("test._domainkey.football.example.com", RSA_RECORD);
  /** Some years after the example was signed: it has no x=, so it never expires. */
  static final Clock LATER = Clock.fixed(Instant.parse("2025-01-01T00:00:00Z"), ZoneOffset.UTC);

  @TempDir Path dir;

  @Test
  void bothSignaturesOfTheExamplePass() {
    var results = new DkimVerifier(DNS, LATER).verify(SIGNED.getBytes(StandardCharsets.US_ASCII));
    assertThat(results.notChecked()).isZero();
    assertThat(results.signatures()).containsExactly(
        new DkimResult(Outcome.PASS, "football.example.com", "brisbane", "ed25519-sha256", "@football.example.com", "/gCrinpc",
            OptionalLong.empty(), false, "signature verified"),
        new DkimResult(Outcome.PASS, "football.example.com", "test", "rsa-sha256", "@football.example.com", "F45dVWDf",
            OptionalLong.empty(), false, "signature verified"));
  }

  @Test
  void aChangedSignedFieldFailsBothAndAChangedBodyFailsTheBodyHash() {
    String subject = SIGNED.replace("Subject: Is dinner ready?", "Subject: Is dinner burnt?");
    assertThat(new DkimVerifier(DNS, LATER).verify(subject.getBytes(StandardCharsets.US_ASCII)).signatures())
        .extracting(DkimResult::outcome, DkimResult::reason)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(Outcome.FAIL, "signature did not verify"),
            org.assertj.core.groups.Tuple.tuple(Outcome.FAIL, "signature did not verify"));
    String body = SIGNED.replace("Are you hungry yet?", "Are you hungry?");
    assertThat(new DkimVerifier(DNS, LATER).verify(body.getBytes(StandardCharsets.US_ASCII)).signatures())
        .extracting(DkimResult::reason).containsExactly("body hash did not verify", "body hash did not verify");
  }

  @Test
  void signingTheSameHeaderDataWithTheExampleKeysGivesTheExampleSignatures() throws Exception {
    Path rsaFile = dir.resolve("test.pem");
    Files.writeString(rsaFile, RSA_KEY);
    SigningKey rsa = DkimKeyFiles.read(rsaFile, "football.example.com", "test");
    Path edFile = dir.resolve("brisbane.pem");
    // PKCS#8 of an Ed25519 seed (RFC 8410 §7): a fixed prefix, then the 32 octets.
    byte[] pkcs8 = HexFormat.of().parseHex("302e020100300506032b657004220420" + HexFormat.of().formatHex(Base64.getDecoder().decode(ED25519_SEED)));
    Files.writeString(edFile, "-----BEGIN PRIVATE KEY-----\n" + Base64.getEncoder().encodeToString(pkcs8) + "\n-----END PRIVATE KEY-----\n");
    SigningKey ed25519 = DkimKeyFiles.read(edFile, "football.example.com", "brisbane");
    assertThat(rsa.algorithm()).isEqualTo(DkimAlgorithm.RSA_SHA256);
    assertThat(ed25519.algorithm()).isEqualTo(DkimAlgorithm.ED25519_SHA256);

    List<HeaderField> fields = headerFields(SIGNED);
    DkimSigner signer = new DkimSigner(SigningKeys.of(List.of(ed25519, rsa)), java.time.Clock.systemUTC());
    for (SigningKey key : List.of(ed25519, rsa)) {
      var signature = (DkimSignature) DkimSignature.parse(fields.get(key == ed25519 ? 0 : 1));
      byte[] data = HeaderHash.data(fields, signature.signedFields(), Canonicalization.RELAXED, signature.withoutSignatureValue(), signature.field());
      assertThat(Base64.getEncoder().encodeToString(signer.signature(key, data))).as(key.selector()).isEqualTo(signature.b());
    }
  }

  @Test
  void theExampleBodyHashesAsTheRfcSays() throws Exception {
    var digest = java.security.MessageDigest.getInstance("SHA-256");
    BodyCanonicalizer body = Canonicalization.RELAXED.body(digest::update);
    byte[] octets = SIGNED.substring(SIGNED.indexOf("\r\n\r\n") + 4).getBytes(StandardCharsets.US_ASCII);
    body.update(octets, 0, octets.length);
    body.finish();
    assertThat(Base64.getEncoder().encodeToString(digest.digest())).isEqualTo("2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
  }

  /** The header fields of a message, as the verifier reads them. */
  static List<HeaderField> headerFields(String message) {
    var fields = new java.util.ArrayList<HeaderField>();
    var splitter = new MessageSplitter(DkimVerifier.MAX_HEADER_OCTETS, DkimVerifier.MAX_SIGNATURES) {
      @Override
      void headerSectionEnded(List<HeaderField> f) {
        fields.addAll(f);
      }

      @Override
      void body(byte[] octets, int offset, int length) {}
    };
    byte[] bytes = message.getBytes(StandardCharsets.ISO_8859_1);
    splitter.write(bytes, 0, bytes.length);
    splitter.endOfMessage();
    return fields;
  }
}
