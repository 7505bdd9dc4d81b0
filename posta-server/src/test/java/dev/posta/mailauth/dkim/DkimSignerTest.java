package dev.posta.mailauth.dkim;

import static dev.posta.mailauth.dkim.TestSignatures.ED25519;
import static dev.posta.mailauth.dkim.TestSignatures.RSA_2048;
import static dev.posta.mailauth.dkim.TestSignatures.record;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mailauth.dkim.DkimResult.Outcome;
import dev.posta.testing.ZoneRecords;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** What the signer writes, and when it declines. The signatures are checked by Posta's verifier here and by dkimpy in {@code DkimpyInteropTest}. */
class DkimSignerTest {
  static final Clock CLOCK = Clock.fixed(Instant.ofEpochSecond(DkimVerifierTest.NOW), ZoneOffset.UTC);
  static final SigningKey RSA = new SigningKey("example.org", "2025-rsa", DkimAlgorithm.RSA_SHA256, RSA_2048.getPrivate(), null);
  static final SigningKey ED = new SigningKey("example.org", "2025-ed", DkimAlgorithm.ED25519_SHA256, ED25519.getPrivate(), null);
  final ZoneRecords dns = new ZoneRecords()
      .txt("2025-rsa._domainkey.example.org", record(RSA_2048.getPublic()))
      .txt("2025-ed._domainkey.example.org", record(ED25519.getPublic()));

  static DkimSigner.Outcome sign(List<SigningKey> keys, String message) {
    DkimSigner.Signing signing = new DkimSigner(SigningKeys.of(keys), CLOCK).start();
    byte[] octets = message.getBytes(StandardCharsets.ISO_8859_1);
    signing.write(octets, 0, octets.length);
    return signing.finish();
  }

  static String signed(List<SigningKey> keys, String message) {
    DkimSigner.Outcome outcome = sign(keys, message);
    assertThat(outcome).isInstanceOf(DkimSigner.Signed.class);
    return new String(((DkimSigner.Signed) outcome).fields(), StandardCharsets.ISO_8859_1) + message;
  }

  @Test
  void oneSignatureAKeyWithTheTagsAndFoldingPostaUses() {
    String message = DkimVerifierTest.MESSAGE.replace("Subject: Lunch\r\n", "Subject: Lunch\r\nList-Id: <lunch.example.org>\r\n");
    DkimSigner.Signed s = (DkimSigner.Signed) sign(List.of(RSA, ED), message);
    assertThat(s.signatures()).containsExactly("d=example.org s=2025-rsa", "d=example.org s=2025-ed");
    String fields = new String(s.fields(), StandardCharsets.US_ASCII);
    Pattern expected = Pattern.compile(
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\r\n"
            + "\ts=2025-rsa; t=1752314400; h=from:from:to:to:cc:subject:subject:date:\r\n"
            + "\tdate:message-id:message-id:reply-to:in-reply-to:references:\r\n"
            + "\tmime-version:content-type:content-transfer-encoding:list-id;\r\n"
            + "\tbh=[A-Za-z0-9+/]{43}=;\r\n"
            + "\tb=[A-Za-z0-9+/]{68}\r\n(\t[A-Za-z0-9+/]{70}\r\n){3}\t[A-Za-z0-9+/]{64}==\r\n"
            + "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;\r\n"
            + "\ts=2025-ed; t=1752314400; h=from:from:to:to:cc:subject:subject:date:\r\n"
            + "\tdate:message-id:message-id:reply-to:in-reply-to:references:\r\n"
            + "\tmime-version:content-type:content-transfer-encoding:list-id;\r\n"
            + "\tbh=[A-Za-z0-9+/]{43}=;\r\n"
            + "\tb=[A-Za-z0-9+/]{68}\r\n\t[A-Za-z0-9+/]{18}==\r\n");
    assertThat(fields).matches(expected);
    assertThat(fields.lines()).allMatch(line -> line.length() <= 78);
    // One body hash serves both.
    assertThat(fields.split("bh=")[1].substring(0, 44)).isEqualTo(fields.split("bh=")[2].substring(0, 44));

    var results = new DkimVerifier(dns, CLOCK).verify((fields + message).getBytes(StandardCharsets.US_ASCII));
    assertThat(results.signatures()).extracting(DkimResult::outcome, DkimResult::selector)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(Outcome.PASS, "2025-rsa"), org.assertj.core.groups.Tuple.tuple(Outcome.PASS, "2025-ed"));
  }

  @Test
  void theSignedFieldsListCountsWhatIsThere() {
    List<HeaderField> fields = List.of(HeaderField.of("Received: x\r\n"), HeaderField.of("From: a@example.org\r\n"), HeaderField.of("To: b@x\r\n"),
        HeaderField.of("to: c@x\r\n"), HeaderField.of("List-Unsubscribe: <mailto:u@x>\r\n"), HeaderField.of("LIST-ID: <x>\r\n"),
        HeaderField.of("List-Unsubscribe: <https://x/u>\r\n"), HeaderField.of("Content-Type: text/plain\r\n"),
        HeaderField.of("List-Id;: found by Jazzer, a name h= cannot carry\r\n"));
    assertThat(String.join(":", DkimSigner.signedFields(fields))).isEqualTo(
        "from:from:to:to:to:cc:subject:date:message-id:reply-to:in-reply-to:references:mime-version:content-type:content-type"
            + ":content-transfer-encoding:list-unsubscribe:list-unsubscribe:list-id");
  }

  @Test
  void mailFromASubdomainIsSignedWithTheParentsKeysAndIdnsAsALabels() {
    String sub = signed(List.of(RSA), DkimVerifierTest.MESSAGE.replace("alice@example.org", "alice@news.EXAMPLE.org"));
    assertThat(sub).contains(" d=example.org;");
    SigningKey idn = new SigningKey("xn--bcher-kva.example", "s", DkimAlgorithm.ED25519_SHA256, ED25519.getPrivate(), null);
    String utf8From = new String("From: Jürgen <jürgen@bücher.example>".getBytes(StandardCharsets.UTF_8), StandardCharsets.ISO_8859_1);
    assertThat(signed(List.of(idn), DkimVerifierTest.MESSAGE.replace("From: Alice <alice@example.org>", utf8From)))
        .contains("\td=xn--bcher-kva.example; s=s;");
  }

  @Test
  void messagesWithoutOneFromMailboxWithAKeyAreNotSigned() {
    String m = DkimVerifierTest.MESSAGE;
    assertThat(sign(List.of(RSA), m.replace("From: Alice <alice@example.org>\r\n", ""))).isEqualTo(new DkimSigner.NoKey("no From field"));
    assertThat(sign(List.of(RSA), m.replace("To:", "From: bob@example.org\r\nTo:"))).isEqualTo(new DkimSigner.NoKey("2 From fields"));
    assertThat(sign(List.of(RSA), m.replace("Alice <alice@example.org>", "alice@example.org, bob@example.org")))
        .isEqualTo(new DkimSigner.NoKey("From has 2 mailboxes, not one"));
    assertThat(sign(List.of(RSA), m.replace("<alice@example.org>", "<alice@example.org"))).isEqualTo(new DkimSigner.NoKey("From is not an address"));
    assertThat(sign(List.of(RSA), m.replace("<alice@example.org>", "<alice@[192.0.2.1]>"))).isEqualTo(new DkimSigner.NoKey("From has no domain name"));
    assertThat(sign(List.of(RSA), m.replace("example.org>", "example.com>"))).isEqualTo(new DkimSigner.NoKey("no DKIM key for example.com"));
    assertThat(sign(List.of(RSA), m.replace("example.org>", "notexample.org>"))).isEqualTo(new DkimSigner.NoKey("no DKIM key for notexample.org"));
    // Found by Jazzer: a first line that is folded would continue the signature put above it.
    assertThat(sign(List.of(RSA), " stray\r\n" + m)).isEqualTo(new DkimSigner.NotSigned("the message begins with a folded line"));
    String hugeHeader = m.replace("To:", ("X-Filler: " + "x".repeat(990) + "\r\n").repeat(300) + "To:");
    assertThat(sign(List.of(RSA), hugeHeader)).isEqualTo(new DkimSigner.NotSigned("header section over 262144 octets"));
  }

  @Test
  void aHeaderOnlyMessageAndOneFedAnOctetAtATimeAreSignedAlike() {
    String headersOnly = "From: a@example.org\r\nSubject: no body\r\n";
    assertThat(new DkimVerifier(dns, CLOCK).verify(signed(List.of(RSA), headersOnly).getBytes(StandardCharsets.US_ASCII)).signatures())
        .extracting(DkimResult::outcome).containsExactly(Outcome.PASS);
    DkimSigner.Signing signing = new DkimSigner(SigningKeys.of(List.of(ED)), CLOCK).start();
    for (byte b : DkimVerifierTest.MESSAGE.getBytes(StandardCharsets.US_ASCII)) signing.write(b);
    byte[] fields = ((DkimSigner.Signed) signing.finish()).fields();
    assertThat(fields).isEqualTo(((DkimSigner.Signed) sign(List.of(ED), DkimVerifierTest.MESSAGE)).fields()); // Ed25519 is deterministic
  }
}
