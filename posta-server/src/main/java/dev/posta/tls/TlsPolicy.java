package dev.posta.tls;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocket;

/**
 * The server's TLS policy: TLS 1.3 and 1.2 only; for 1.2 only ECDHE key exchange with AEAD
 * ciphers (AES-GCM, ChaCha20-Poly1305); the server's order of preference; no client
 * certificates.
 *
 * <p>The lists are intersected with what the JDK supports, so a JDK without (say) ChaCha20 still
 * works with the rest. Everything else (named groups, signature schemes, session resumption) is
 * left at the JDK defaults, which {@code jdk.tls.disabledAlgorithms} keeps sane.
 */
final class TlsPolicy {
  /** Newest first. */
  static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

  /** In order of preference: TLS 1.3 suites, then TLS 1.2 ECDSA before RSA, 256-bit first. */
  static final List<String> CIPHER_SUITES = List.of(
      "TLS_AES_256_GCM_SHA384",
      "TLS_AES_128_GCM_SHA256",
      "TLS_CHACHA20_POLY1305_SHA256",
      "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
      "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

  private final String[] protocols;
  private final String[] cipherSuites;

  private TlsPolicy(String[] protocols, String[] cipherSuites) {
    this.protocols = protocols;
    this.cipherSuites = cipherSuites;
  }

  /** The policy, limited to what {@code context} supports. */
  static TlsPolicy forContext(SSLContext context) throws TlsException {
    SSLParameters supported = context.getSupportedSSLParameters();
    String[] protocols = intersect(PROTOCOLS, supported.getProtocols());
    String[] suites = intersect(CIPHER_SUITES, supported.getCipherSuites());
    if (protocols.length == 0 || suites.length == 0) {
      throw new TlsException("this JDK supports none of the TLS protocols " + PROTOCOLS
          + " or none of the cipher suites " + CIPHER_SUITES);
    }
    return new TlsPolicy(protocols, suites);
  }

  private static String[] intersect(List<String> wanted, String[] supported) {
    Set<String> have = Set.of(supported);
    List<String> out = new ArrayList<>();
    for (String w : wanted) if (have.contains(w)) out.add(w);
    return out.toArray(String[]::new);
  }

  /** Sets the policy on {@code params} (a copy from the socket or engine) and returns it. */
  SSLParameters apply(SSLParameters params) {
    params.setProtocols(protocols.clone());
    params.setCipherSuites(cipherSuites.clone());
    params.setUseCipherSuitesOrder(true);
    params.setNeedClientAuth(false);
    params.setWantClientAuth(false);
    return params;
  }

  /** Makes {@code socket} a server-side socket with this policy. */
  SSLSocket apply(SSLSocket socket) {
    socket.setUseClientMode(false);
    socket.setSSLParameters(apply(socket.getSSLParameters()));
    return socket;
  }

  List<String> protocols() {
    return List.of(protocols);
  }

  List<String> cipherSuites() {
    return List.of(cipherSuites);
  }

  /** {@code "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384"}, for logs and the Received: header. */
  static String describe(SSLSession session) {
    return session.getProtocol() + " with cipher " + session.getCipherSuite();
  }

  @Override
  public String toString() {
    return Arrays.toString(protocols) + " " + Arrays.toString(cipherSuites);
  }
}
