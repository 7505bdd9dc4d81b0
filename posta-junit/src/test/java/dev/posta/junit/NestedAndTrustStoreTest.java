package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.mail.Transport;
import java.io.InputStream;
import java.nio.file.Files;
import java.security.KeyStore;
import java.time.Duration;
import java.util.Properties;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A {@code @Nested} class shares its outer class's server; the trust store the extension writes
 * is all an Angus Mail client needs to check the server's certificate, host name included
 * (127.0.0.1 is in it), without the extension's socket factory.
 */
class NestedAndTrustStoreTest {
  @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults().withAccount("app@app.example", "password-123");

  static dev.posta.PostaServer outer;

  @Test
  void theTrustStoreAloneVerifiesTheServer() throws Exception {
    outer = mail.server();
    KeyStore trust = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(mail.trustStore())) {
      trust.load(in, PostaExtension.TRUST_STORE_PASSWORD.toCharArray());
    }
    var tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext tls = SSLContext.getInstance("TLS");
    tls.init(null, tmf.getTrustManagers(), null);
    Properties props = mail.mailProperties();
    props.remove("mail.smtp.ssl.socketFactory.class"); // the trust store alone, not the extension's factory
    props.put("mail.smtp.ssl.socketFactory", tls.getSocketFactory());
    props.setProperty("mail.smtp.ssl.checkserveridentity", "true");
    Transport.send(Mails.simple(Mails.session(props), "app@app.example", "x@y.example", "verified", "text"), mail.username(), mail.password());
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).extracting(ReceivedMessage::subject).contains("verified");
  }

  @Nested
  class Inner {
    @Test
    void sharesTheOuterServer() {
      assertThat(mail.server()).isNotNull();
      if (outer != null) assertThat(mail.server()).isSameAs(outer);
    }
  }
}
