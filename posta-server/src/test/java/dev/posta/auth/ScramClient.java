package dev.posta.auth;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.security.MessageDigest;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import javax.crypto.spec.SecretKeySpec;

/**
 * A minimal SCRAM-SHA-256 client (RFC 5802 §3), written independently of the server code (JDK
 * PBKDF2 and HMAC), for end-to-end tests. ASCII passwords only: it does not SASLprep.
 */
public final class ScramClient {
  final String gs2Header;
  final String clientFirstBare;
  private final char[] password;
  private byte[] expectedServerSignature;

  ScramClient(String gs2Header, String user, char[] password, String clientNonce) {
    this.gs2Header = gs2Header;
    this.clientFirstBare = "n=" + user.replace("=", "=3D").replace(",", "=2C") + ",r=" + clientNonce;
    this.password = password;
  }

  public ScramClient(String user, String password, String clientNonce) {
    this("n,,", user, password.toCharArray(), clientNonce);
  }

  public String clientFirst() {
    return gs2Header + clientFirstBare;
  }

  public String clientFinal(String serverFirst) throws Exception {
    Map<Character, String> a = new HashMap<>();
    for (String attribute : serverFirst.split(",")) a.put(attribute.charAt(0), attribute.substring(2));
    byte[] salt = Base64.getDecoder().decode(a.get('s'));
    int iterations = Integer.parseInt(a.get('i'));
    byte[] salted = SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256")
        .generateSecret(new PBEKeySpec(password, salt, iterations, 256)).getEncoded();
    byte[] clientKey = hmac(salted, "Client Key");
    byte[] storedKey = MessageDigest.getInstance("SHA-256").digest(clientKey);
    String withoutProof = "c=" + Base64.getEncoder().encodeToString(gs2Header.getBytes(UTF_8)) + ",r=" + a.get('r');
    String authMessage = clientFirstBare + "," + serverFirst + "," + withoutProof;
    byte[] signature = hmac(storedKey, authMessage);
    byte[] proof = new byte[32];
    for (int i = 0; i < 32; i++) proof[i] = (byte) (clientKey[i] ^ signature[i]);
    expectedServerSignature = hmac(hmac(salted, "Server Key"), authMessage);
    return withoutProof + ",p=" + Base64.getEncoder().encodeToString(proof);
  }

  /** True when the server-final message proves the server knows ServerKey. */
  public boolean serverFinalIsValid(String serverFinal) {
    return serverFinal.equals("v=" + Base64.getEncoder().encodeToString(expectedServerSignature));
  }

  private static byte[] hmac(byte[] key, String data) throws Exception {
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(key, "HmacSHA256"));
    return mac.doFinal(data.getBytes(UTF_8));
  }
}
