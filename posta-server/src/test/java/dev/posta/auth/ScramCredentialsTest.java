package dev.posta.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Base64;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ScramCredentialsTest {
  static final byte[] RFC7677_SALT = Base64.getDecoder().decode("W22ZaJ0SNY7soEsUEjb6gQ==");

  @Test
  void hiIsPbkdf2HmacSha256() throws Exception {
    var spec = new PBEKeySpec("pencil".toCharArray(), RFC7677_SALT, 4096, 256);
    byte[] jdk = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
    assertThat(ScramCredentials.hi("pencil".getBytes(), RFC7677_SALT, 4096)).isEqualTo(jdk);
  }

  @Test
  void encodesInPostgresFormatAndDecodesBack() {
    ScramCredentials c = ScramCredentials.derive("pencil".toCharArray(), RFC7677_SALT, 4096);
    String s = c.encode();
    assertThat(s).matches("SCRAM-SHA-256\\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=");
    assertThat(ScramCredentials.decode(s)).isEqualTo(c);
    assertThat(ScramCredentials.decode(s).encode()).isEqualTo(s);
    assertThat(c.toString()).doesNotContain(s.substring(s.indexOf('$', 15) + 1));
  }

  @Test
  void newCredentialsHaveARandomSixteenByteSaltAndRfc7677sIterations() {
    ScramCredentials a = ScramCredentials.create("pencil".toCharArray());
    ScramCredentials b = ScramCredentials.create("pencil".toCharArray());
    assertThat(a.salt()).hasSize(16).isNotEqualTo(b.salt());
    assertThat(a.iterations()).isEqualTo(4096);
    assertThat(a.storedKey()).isNotEqualTo(b.storedKey());
  }

  @Test
  void thePasswordIsNormalizedFirst() {
    // U+2168 ROMAN NUMERAL NINE is NFKC "IX"; U+00A0 is a non-ASCII space (RFC 4013 maps it to SPACE).
    assertThat(ScramCredentials.derive("\u2168\u00a0x".toCharArray(), RFC7677_SALT, 16))
        .isEqualTo(ScramCredentials.derive("IX x".toCharArray(), RFC7677_SALT, 16));
    assertThat(ScramCredentials.derive("I\u00adX".toCharArray(), RFC7677_SALT, 16))
        .isEqualTo(ScramCredentials.derive("IX".toCharArray(), RFC7677_SALT, 16));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "",
      "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAA:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      "SCRAM-SHA-256$4096:$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      "SCRAM-SHA-256$4096:W2=2ZaJ0SNY7soEsUEjb6gQ$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
  })
  void malformedStringsAreRefused(String s) {
    assertThatThrownBy(() -> ScramCredentials.decode(s)).isInstanceOf(IllegalArgumentException.class);
  }
}
