package dev.posta.mailauth.dkim;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.posta.testing.ZoneRecords;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;

/**
 * Coverage-guided fuzzing (Jazzer) of what a message's sender and a domain's DNS control: the
 * tag-list parser, the key-record parser, the verifier over whole messages, and the signer.
 * Beyond "no exception escapes": a parsed tag list's offsets point at its values; every
 * verdict has a one-line reason and at most {@link DkimVerifier#MAX_SIGNATURES} results come
 * back; a message reads the same whatever pieces it arrives in; and whatever the signer signs,
 * the verifier passes. Seeds in {@code DkimFuzzTestInputs/}: the RFC 8463 example (which reaches
 * both signature checks), a signature with every tag, malformed ones.
 */
class DkimFuzzTest {
  /** The RFC 8463 keys, and a key record for a name the fuzzer may find. */
  private static final ZoneRecords DNS = new ZoneRecords()
      .txt("brisbane._domainkey.football.example.com", Rfc8463ExampleTest.ED25519_RECORD)
      .txt("test._domainkey.football.example.com", Rfc8463ExampleTest.RSA_RECORD)
      .txt("s._domainkey.example.org", "v=DKIM1; k=rsa; t=y:s; h=sha256; p=")
      .timeout("down._domainkey.example.org");
  private static final Clock CLOCK = Clock.fixed(Instant.parse("2025-01-01T00:00:00Z"), ZoneOffset.UTC);
  private static final SigningKey KEY = new SigningKey("example.org", "fuzz", DkimAlgorithm.ED25519_SHA256,
      TestSignatures.ED25519.getPrivate(), null);
  private static final ZoneRecords SIGNER_DNS = new ZoneRecords().txt("fuzz._domainkey.example.org", TestSignatures.record(TestSignatures.ED25519.getPublic()));

  @FuzzTest(maxDuration = "30s")
  void tagListsParseOrFailWithAOneLineReason(FuzzedDataProvider data) {
    String text = data.consumeRemainingAsString();
    switch (TagList.parse(text)) {
      case TagList.Malformed m -> assertThat(m.reason()).isNotEmpty().doesNotContain("\r", "\n");
      case TagList.Tags tags -> {
        assertThat(tags.list()).isNotEmpty();
        assertThat(tags.list().stream().map(TagList.Tag::name).distinct().count()).isEqualTo(tags.list().size());
        for (TagList.Tag t : tags.list()) {
          assertThat(t.name()).matches("[A-Za-z][A-Za-z0-9_]*");
          assertThat(text.substring(t.valueStart(), t.end())).contains(t.value());
          assertThat(t.end() == text.length() || text.charAt(t.end()) == ';').isTrue();
        }
      }
    }
    switch (KeyRecord.parse(text)) {
      case KeyRecord.Malformed m -> assertThat(m.reason()).isNotEmpty().doesNotContain("\r", "\n");
      case KeyRecord k -> assertThat(k.keyType()).isNotNull();
    }
  }

  @FuzzTest(maxDuration = "30s")
  void everySignatureOfAnyMessageGetsAVerdict(FuzzedDataProvider data) {
    byte[] message = data.consumeRemainingAsBytes();
    // Where to cut it in two comes from the message itself, so that a seed is a message as it is.
    int cut = message.length == 0 ? 0 : (message[message.length / 2] & 0xff) * message.length / 256;
    DkimVerifier verifier = new DkimVerifier(DNS, CLOCK);
    DkimVerifier.Results whole = verifier.verify(message);
    assertThat(whole.signatures()).hasSizeLessThanOrEqualTo(DkimVerifier.MAX_SIGNATURES);
    assertThat(whole.notChecked()).isNotNegative();
    for (DkimResult r : whole.signatures()) {
      assertThat(r.outcome()).isNotNull();
      assertThat(r.reason()).isNotEmpty().doesNotContain("\r", "\n");
      assertThat(r.resinfo().toString()).startsWith("dkim=" + r.outcome().word).doesNotContain("\r", "\n");
    }
    // In two pieces, the same verdicts.
    DkimVerifier.Verification pieces = verifier.start();
    pieces.write(message, 0, cut);
    pieces.write(message, cut, message.length - cut);
    assertThat(pieces.finish()).isEqualTo(whole);
  }

  @FuzzTest(maxDuration = "30s")
  void whatTheSignerSignsTheVerifierPasses(FuzzedDataProvider data) {
    byte[] message = data.consumeRemainingAsBytes();
    DkimSigner.Signing signing = new DkimSigner(SigningKeys.of(List.of(KEY)), CLOCK).start();
    signing.write(message, 0, message.length);
    DkimSigner.Outcome outcome = signing.finish();
    switch (outcome) {
      case DkimSigner.NoKey n -> assertThat(n.reason()).isNotEmpty().doesNotContain("\r", "\n");
      case DkimSigner.NotSigned n -> assertThat(n.reason()).isNotEmpty().doesNotContain("\r", "\n");
      case DkimSigner.Signed s -> {
        byte[] signed = new byte[s.fields().length + message.length];
        System.arraycopy(s.fields(), 0, signed, 0, s.fields().length);
        System.arraycopy(message, 0, signed, s.fields().length, message.length);
        DkimResult ours = new DkimVerifier(SIGNER_DNS, CLOCK).verify(signed).signatures().getFirst();
        assertThat(ours.outcome()).as("%s of %s", ours, new String(signed, StandardCharsets.ISO_8859_1)).isEqualTo(DkimResult.Outcome.PASS);
      }
    }
  }
}
