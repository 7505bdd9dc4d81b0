package dev.posta.mailauth.dkim;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Signature;
import org.junit.jupiter.api.Test;

/**
 * DKIM's RSA signatures come from AWS-LC on this platform (Linux on x86-64, where CI runs), and
 * are the very octets the JDK would give: RSASSA-PKCS1-v1_5 is deterministic.
 */
class RsaSignaturesTest {
  @Test
  void awsLcSignsHereAndItsSignatureIsTheJdks() throws Exception {
    assertThat(RsaSignatures.implementation()).isEqualTo("AWS-LC");
    var generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    var pair = generator.generateKeyPair();
    byte[] data = "from:Alice <alice@example.org>\r\ndkim-signature:v=1; a=rsa-sha256; b=".getBytes(StandardCharsets.US_ASCII);
    Signature jdk = Signature.getInstance("SHA256withRSA", "SunRsaSign");
    jdk.initSign(pair.getPrivate());
    jdk.update(data);
    byte[] expected = jdk.sign();
    assertThat(RsaSignatures.sign(pair.getPrivate(), data)).isEqualTo(expected);
    PrivateKey prepared = RsaSignatures.prepare(pair.getPrivate());
    assertThat(prepared.getClass().getName()).startsWith("com.amazon.corretto.crypto.provider.");
    assertThat(RsaSignatures.sign(prepared, data)).isEqualTo(expected);
  }
}
