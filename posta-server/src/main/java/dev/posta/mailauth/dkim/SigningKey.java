package dev.posta.mailauth.dkim;

import java.nio.file.Path;
import java.security.PrivateKey;

/**
 * A private key that signs a domain's mail, read once at start-up and kept parsed.
 *
 * @param domain d= (lower case, A-labels)
 * @param selector s=
 * @param algorithm rsa-sha256 for an RSA key, ed25519-sha256 for an Ed25519 key (never rsa-sha1)
 * @param file where it was read from, for messages
 */
public record SigningKey(String domain, String selector, DkimAlgorithm algorithm, PrivateKey key, Path file) {
  @Override
  public String toString() {
    return "SigningKey[d=" + domain + ", s=" + selector + ", a=" + algorithm.tag + ", " + file + "]"; // never the key
  }
}
