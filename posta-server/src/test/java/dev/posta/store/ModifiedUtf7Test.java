package dev.posta.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** RFC 3501 §5.1.3's modified UTF-7, with the RFC's own example. */
class ModifiedUtf7Test {
  @Test
  void theRfcExampleBothWays() {
    assertThat(ModifiedUtf7.decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-")).isEqualTo("~peter/mail/台北/日本語");
    assertThat(ModifiedUtf7.encode("~peter/mail/台北/日本語")).isEqualTo("~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  }

  @Test
  void ampersandsAsciiAndAstralCharactersRoundTrip() {
    assertThat(ModifiedUtf7.encode("Tom & Jerry")).isEqualTo("Tom &- Jerry");
    assertThat(ModifiedUtf7.encode("Entwürfe")).isEqualTo("Entw&APw-rfe");
    for (String s : new String[] {"INBOX", "Entwürfe", "Входящие", "📬 mail", "a&b&&c", ""}) {
      assertThat(ModifiedUtf7.decode(ModifiedUtf7.encode(s))).isEqualTo(s);
    }
  }

  @Test
  void whatIsNotModifiedUtf7IsRefused() {
    assertThatThrownBy(() -> ModifiedUtf7.decode("a&Jjo")).hasMessage("an unterminated '&' in a&Jjo");
    assertThatThrownBy(() -> ModifiedUtf7.decode("&AGE-")).hasMessage("printable ASCII encoded in &AGE-");
    assertThatThrownBy(() -> ModifiedUtf7.decode("Entwürfe")).hasMessage("not modified UTF-7: Entwürfe");
    assertThatThrownBy(() -> ModifiedUtf7.decode("&A-")).hasMessage("bad base64 in &A-");
    assertThatThrownBy(() -> ModifiedUtf7.decode("&AA-")).hasMessage("odd UTF-16 in &AA-");
  }
}
