package dev.posta.mailauth.dkim;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.util.Base64;
import java.util.List;

/**
 * Signatures with whatever tags a verifier test needs (rsa-sha1, simple canonicalization, l=,
 * x=, i=, odd folding), which Posta's signer never makes: the tags are given as text with
 * {@code BH} where the body hash goes, and b= is computed over them as RFC 6376 §3.7 says, with
 * the same header hash code the signer uses. The independent check of that code is dkimpy
 * ({@code DkimpyInteropTest}) and the RFC 8463 example.
 */
final class TestSignatures {
  private TestSignatures() {}

  static final KeyPair RSA_2048 = keyPair("RSA", 2048);
  static final KeyPair RSA_1024 = keyPair("RSA", 1024);
  static final KeyPair RSA_512 = keyPair("RSA", 512);
  static final KeyPair ED25519 = keyPair("Ed25519", 0);

  static KeyPair keyPair(String algorithm, int bits) {
    try {
      KeyPairGenerator g = KeyPairGenerator.getInstance(algorithm);
      if (bits > 0) g.initialize(bits);
      return g.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The key record of a public key, as {@link DkimKeyFiles#txtStrings} makes it, joined. */
  static String record(PublicKey key) {
    return String.join("", DkimKeyFiles.txtStrings(key));
  }

  /**
   * {@code message} with a DKIM-Signature field on top, made of {@code tags} ("v=1; a=...; BH"
   * style: {@code BH} becomes the body hash) and then "; b=" and the signature.
   */
  static String sign(String message, String tags, KeyPair key) {
    String sigTags = tags;
    TagList.Tags parsed = (TagList.Tags) TagList.parse(tags.replace("BH", "bh=x"));
    DkimAlgorithm algorithm = DkimAlgorithm.byTag(parsed.value("a"));
    String c = parsed.value("c") == null ? "simple/simple" : parsed.value("c");
    Canonicalization header = Canonicalization.byTag(c.contains("/") ? c.substring(0, c.indexOf('/')) : c);
    Canonicalization body = c.contains("/") ? Canonicalization.byTag(c.substring(c.indexOf('/') + 1)) : Canonicalization.SIMPLE;
    long limit = parsed.value("l") == null ? -1 : new java.math.BigInteger(parsed.value("l")).min(java.math.BigInteger.valueOf(Long.MAX_VALUE)).longValue();
    try {
      MessageDigest digest = MessageDigest.getInstance(algorithm.digest);
      int split = message.indexOf("\r\n\r\n");
      byte[] octets = message.substring(split + 4).getBytes(StandardCharsets.ISO_8859_1);
      long[] hashed = {0};
      BodyCanonicalizer canonicalizer = body.body((b, off, len) -> {
        int take = (int) (limit < 0 ? len : Math.max(0, Math.min(len, limit - hashed[0])));
        digest.update(b, off, take);
        hashed[0] += len;
      });
      canonicalizer.update(octets, 0, octets.length);
      canonicalizer.finish();
      sigTags = sigTags.replace("BH", "bh=" + Base64.getEncoder().encodeToString(digest.digest()));
      String unsigned = "DKIM-Signature: " + sigTags + ";\r\n b=";
      List<HeaderField> fields = Rfc8463ExampleTest.headerFields(message);
      byte[] data = HeaderHash.data(fields, DkimSignature.splitColons(parsed.value("h")), header, unsigned, null);
      Signature signer = Signature.getInstance(algorithm.signature);
      signer.initSign(key.getPrivate());
      signer.update(algorithm == DkimAlgorithm.ED25519_SHA256 ? MessageDigest.getInstance("SHA-256").digest(data) : data);
      return unsigned + Base64.getEncoder().encodeToString(signer.sign()) + "\r\n" + message;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
