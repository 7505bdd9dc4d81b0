package dev.posta.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The Message-ID the queued line logs, found as the message streams through, which it leaves unchanged. */
class MessageIdFieldTest {
  /** Streams {@code message} through in writes of {@code chunk} octets; returns the value found. */
  private static String found(String message, int chunk) throws Exception {
    var out = new ByteArrayOutputStream();
    var field = new MessageIdField(out);
    byte[] b = message.getBytes(StandardCharsets.ISO_8859_1);
    for (int i = 0; i < b.length; i += chunk) field.write(b, i, Math.min(chunk, b.length - i));
    assertThat(out.toString(StandardCharsets.ISO_8859_1)).isEqualTo(message);
    return field.value();
  }

  @Test
  void findsTheFieldInAnyCaseFoldedOrNotAndWhateverTheWrites() throws Exception {
    for (int chunk : new int[] {1, 7, 4096}) {
      assertThat(found("From: a@b\r\nMessage-ID: <1@b.example>\r\n\r\nbody\r\n", chunk)).isEqualTo("<1@b.example>");
      assertThat(found("message-id:<2@b.example>\r\nSubject: x\r\n\r\n", chunk)).isEqualTo("<2@b.example>");
      assertThat(found("MESSAGE-ID:\r\n\t<3@b.example>\r\n\r\n", chunk)).isEqualTo("<3@b.example>");
      // The last field of a message that is all headers, without its line end.
      assertThat(found("Subject: x\r\nMessage-Id: <4@b.example>", chunk)).isNull();
      assertThat(found("Subject: x\r\nMessage-Id: <4@b.example>\r\n", chunk)).isEqualTo("<4@b.example>");
    }
  }

  @Test
  void theFirstFieldCountsTheBodyDoesNotAndControlsAreReplaced() throws Exception {
    assertThat(found("Message-ID: <first@x>\r\nMessage-ID: <second@x>\r\n\r\n", 4096)).isEqualTo("<first@x>");
    assertThat(found("Subject: x\r\n\r\nMessage-ID: <in-body@x>\r\n", 4096)).isNull();
    assertThat(found("Message-ID: <a\u0001b@x>\r\n\r\n", 4096)).isEqualTo("<a?b@x>");
    assertThat(found("Message-IDs: <not@x>\r\n\r\n", 4096)).isNull();
    // Not a header section at all: nothing is looked for.
    assertThat(found("Hello\r\nMessage-ID: <late@x>\r\n\r\n", 4096)).isNull();
  }

  @Test
  void aLineLongerThanAnyHeaderLineEndsTheWatching() throws Exception {
    assertThat(found("X-Long: " + "x".repeat(2000) + "\r\nMessage-ID: <after@x>\r\n\r\n", 4096)).isNull();
    assertThat(found("Message-ID: <before@x>\r\nX-Long: " + "x".repeat(2000) + "\r\n\r\n", 4096)).isEqualTo("<before@x>");
  }
}
