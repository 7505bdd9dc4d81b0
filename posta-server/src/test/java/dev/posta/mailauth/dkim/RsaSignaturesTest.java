package dev.posta.mailauth.dkim;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
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

  @Test
  void awsLcVerifiesAsTheJdkDoes() throws Exception {
    var generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    var pair = generator.generateKeyPair();
    byte[] data = "from:Alice <alice@example.org>\r\ndkim-signature:v=1; a=rsa-sha256; b=".getBytes(StandardCharsets.US_ASCII);
    PublicKey fast = RsaSignatures.prepare(pair.getPublic());
    assertThat(fast.getClass().getName()).startsWith("com.amazon.corretto.crypto.provider.");
    for (String algorithm : new String[] {"SHA256withRSA", "SHA1withRSA"}) {
      Signature jdk = Signature.getInstance(algorithm, "SunRsaSign");
      jdk.initSign(pair.getPrivate());
      jdk.update(data);
      byte[] signature = jdk.sign();
      assertThat(RsaSignatures.verify(algorithm, pair.getPublic(), fast, data, signature)).isTrue();
      assertThat(RsaSignatures.verify(algorithm, pair.getPublic(), null, data, signature)).isTrue();
      byte[] other = data.clone();
      other[0] = 'F';
      assertThat(RsaSignatures.verify(algorithm, pair.getPublic(), fast, other, signature)).isFalse();
      byte[] bad = signature.clone();
      bad[bad.length - 1] ^= 1;
      assertThat(RsaSignatures.verify(algorithm, pair.getPublic(), fast, data, bad)).isFalse();
      // A signature of the wrong length: the JDK throws; so does the check, whichever verified.
      byte[] shorter = java.util.Arrays.copyOf(signature, signature.length - 1);
      boolean jdkThrows;
      try {
        jdkThrows = !RsaSignatures.verify(algorithm, pair.getPublic(), null, data, shorter);
      } catch (java.security.SignatureException e) {
        jdkThrows = true;
      }
      boolean fastRefuses;
      try {
        fastRefuses = !RsaSignatures.verify(algorithm, pair.getPublic(), fast, data, shorter);
      } catch (java.security.SignatureException e) {
        fastRefuses = true;
      }
      assertThat(jdkThrows).isTrue();
      assertThat(fastRefuses).isTrue();
    }
  }

  /** A DigestInfo without the NULL parameters (RFC 8017 §9.2 note 2): AWS-LC refuses it, and the answer is still the JDK's. */
  @Test
  void aSignatureAwsLcRefusesGetsTheJdksAnswer() throws Exception {
    var generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    var pair = generator.generateKeyPair();
    byte[] data = "from:Alice <alice@example.org>\r\n".getBytes(StandardCharsets.US_ASCII);
    byte[] digest = java.security.MessageDigest.getInstance("SHA-256").digest(data);
    // SEQUENCE { SEQUENCE { OID sha256 } OCTET STRING digest }: the AlgorithmIdentifier without NULL.
    byte[] prefix = {0x30, 0x2f, 0x30, 0x0b, 0x06, 0x09, 0x60, (byte) 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x04, 0x20};
    byte[] digestInfo = java.util.Arrays.copyOf(prefix, prefix.length + digest.length);
    System.arraycopy(digest, 0, digestInfo, prefix.length, digest.length);
    // RSASSA-PKCS1-v1_5 by hand: the JDK's RSA cipher with the private key pads as block type 1.
    var raw = javax.crypto.Cipher.getInstance("RSA/ECB/PKCS1Padding", "SunJCE");
    raw.init(javax.crypto.Cipher.ENCRYPT_MODE, pair.getPrivate());
    byte[] signature = raw.doFinal(digestInfo);
    PublicKey fast = RsaSignatures.prepare(pair.getPublic());
    assertThat(RsaSignatures.verify("SHA256withRSA", pair.getPublic(), fast, data, signature))
        .isEqualTo(RsaSignatures.verify("SHA256withRSA", pair.getPublic(), null, data, signature)).isTrue();
  }
}
