package dev.posta.imap;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** What the folder's cache keeps of a message for FETCH: the ENVELOPE first, the structures once read. */
class DescribedTest {
  private static final byte[] MESSAGE = "From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n".getBytes(UTF_8);

  @Test
  void anEnvelopeFromTheHeaderIsTheSameAsFromTheWholeMessageAndBothSurviveTheCache() {
    Described whole = Described.of(MessageStructure.parse(MESSAGE));
    Described header = Described.envelopeOf(MessageStructure.parse("From: a@b.example\r\nSubject: hi\r\n\r\n".getBytes(UTF_8)));
    assertThat(header.envelope()).isEqualTo(whole.envelope());
    assertThat(header.hasStructure()).isFalse();
    assertThat(whole.hasStructure()).isTrue();

    Described back = Described.fromBlob(header.toBlob());
    assertThat(back.envelope()).isEqualTo(header.envelope());
    assertThat(back.hasStructure()).isFalse();
    Described wholeBack = Described.fromBlob(whole.toBlob());
    assertThat(wholeBack.bodyStructure()).isEqualTo(whole.bodyStructure());
    assertThat(wholeBack.body()).isEqualTo(whole.body());
  }

  @Test
  void aBlobThatIsNotOneIsNotTrusted() {
    assertThat(Described.fromBlob(new byte[] {0, 0, 0, 9, 1})).isNull();
    assertThat(Described.fromBlob(new byte[] {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1})).isNull();
    byte[] blob = Described.of(MessageStructure.parse(MESSAGE)).toBlob();
    assertThat(Described.fromBlob(java.util.Arrays.copyOf(blob, blob.length + 1))).isNull();
  }
}
