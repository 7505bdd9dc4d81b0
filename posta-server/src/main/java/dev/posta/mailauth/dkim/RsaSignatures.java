package dev.posta.mailauth.dkim;

import com.amazon.corretto.crypto.provider.AmazonCorrettoCryptoProvider;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Provider;
import java.security.Signature;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * DKIM's rsa-sha256 signatures (RSASSA-PKCS1-v1_5 with SHA-256, RFC 8017 §8.2; RFC 6376 §3.3.1)
 * by AWS-LC, through Amazon Corretto Crypto Provider, where its native library loads (Linux on
 * x86-64): a 2048-bit signature there takes about a quarter of the JDK's time (0.28 ms against
 * 1.0 ms here), and that time is most of what signing costs a server taking mail. Elsewhere the
 * JDK signs. PKCS #1 v1.5 signatures are deterministic, so both give the same octets: which one
 * signed shows nowhere. Verifying goes through it too: a public-key operation, it is cheap in
 * either (37 µs in the JDK, 18 µs in AWS-LC here), but every message from another server with an
 * RSA signature pays it, and it is a fifth of what the sender checks cost such a message. TLS
 * keeps the JDK's providers, and it is never installed JVM-wide.
 */
final class RsaSignatures {
  private static final Logger log = LoggerFactory.getLogger(RsaSignatures.class);
  private static final String ALGORITHM = "SHA256withRSA";
  /** AWS-LC's provider, or null when it could not load here. */
  private static final Provider FAST = fast();

  private RsaSignatures() {}

  /**
   * The key as the signing provider holds it, made once per key: AWS-LC takes a JDK key only by
   * converting it, and converting it for every signature costs twice the signature itself
   * (0.9 ms a signature instead of 0.3 here).
   */
  static PrivateKey prepare(PrivateKey key) {
    if (FAST == null) return key;
    try {
      return (PrivateKey) KeyFactory.getInstance("RSA", FAST).translateKey(key);
    } catch (GeneralSecurityException | RuntimeException e) {
      log.warn("dkim: an RSA key could not be handed to AWS-LC, so each signature converts it ({})", e.toString());
      return key;
    }
  }

  /**
   * A public key as AWS-LC holds it, made once per key (as {@link #prepare}); null when AWS-LC is
   * not here or does not take the key (the JDK then verifies with the key as it is).
   */
  static PublicKey prepare(PublicKey key) {
    if (FAST == null) return null;
    try {
      return (PublicKey) KeyFactory.getInstance("RSA", FAST).translateKey(key);
    } catch (GeneralSecurityException | RuntimeException e) {
      return null;
    }
  }

  /**
   * Whether {@code signature} is {@code key}'s {@code algorithm} ("SHA256withRSA",
   * "SHA1withRSA") signature of {@code data}: the JDK's answer, found by AWS-LC with {@code
   * fast} ({@code key} {@link #prepare}d) for every signature that verifies. AWS-LC is the
   * stricter (it takes only the DigestInfo with NULL parameters, which every DKIM signer writes;
   * the JDK also takes it without), so a yes from it is the JDK's yes; anything else (no, or a
   * key it refuses at use) is asked of the JDK, so a failing signature costs both.
   */
  static boolean verify(String algorithm, PublicKey key, PublicKey fast, byte[] data, byte[] signature) throws GeneralSecurityException {
    if (fast != null) {
      try {
        Signature verifier = Signature.getInstance(algorithm, FAST);
        verifier.initVerify(fast);
        verifier.update(data);
        if (verifier.verify(signature)) return true;
      } catch (GeneralSecurityException | RuntimeException e) {
        // the JDK's answer below
      }
    }
    Signature verifier = Signature.getInstance(algorithm);
    verifier.initVerify(key);
    verifier.update(data);
    return verifier.verify(signature);
  }

  /** Signs with {@code key}, best one {@link #prepare}d. */
  static byte[] sign(PrivateKey key, byte[] data) throws GeneralSecurityException {
    Signature signer = FAST != null ? Signature.getInstance(ALGORITHM, FAST) : Signature.getInstance(ALGORITHM);
    signer.initSign(key);
    signer.update(data);
    return signer.sign();
  }

  /** Who signs: "AWS-LC" or "the JDK", for the log and tests. */
  static String implementation() {
    return FAST != null ? "AWS-LC" : "the JDK";
  }

  private static Provider fast() {
    try {
      Throwable error = Accp.loadingError();
      if (error == null) return Accp.provider();
      log.info("dkim: RSA signatures by the JDK: AWS-LC could not load here ({})", error.toString());
    } catch (LinkageError e) { // its jar is not there: the JUnit extension leaves it out
      log.info("dkim: RSA signatures by the JDK: AWS-LC could not load here ({})", e.toString());
    }
    return null;
  }

  /**
   * The only code that names AWS-LC's provider class, in a class of its own: the JVM loads a
   * class that a method returns as a {@link Provider} when it verifies that method, so named in
   * this class it would make this class fail to load without the jar (as under the JUnit
   * extension, which leaves it out), instead of failing here, inside {@link #fast}'s try.
   */
  private static final class Accp {
    static Throwable loadingError() {
      return AmazonCorrettoCryptoProvider.INSTANCE.getLoadingError();
    }

    static Provider provider() {
      return AmazonCorrettoCryptoProvider.INSTANCE;
    }
  }
}
