package dev.posta.client;

import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A TLS context that accepts any server certificate: opportunistic TLS (RFC 7435), where an
 * encrypted but unauthenticated channel is better than plain text. It protects against
 * eavesdropping, not against an active attacker; use a verifying context where the peer's
 * identity matters.
 */
public final class OpportunisticTls {
  private OpportunisticTls() {}

  public static SSLContext context() throws GeneralSecurityException {
    TrustManager anyCertificate = new X509TrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    };
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(null, new TrustManager[] {anyCertificate}, null);
    return ctx;
  }
}
