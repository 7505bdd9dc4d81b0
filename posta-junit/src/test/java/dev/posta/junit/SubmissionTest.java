package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import java.time.Duration;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Submission as an application configured for a provider does it: STARTTLS required, AUTH, the
 * server's certificate checked against the test CA through the properties the extension hands out.
 */
class SubmissionTest {
  @RegisterExtension
  static PostaExtension mail = PostaExtension.withDefaults().withAccount("app@app.example", "s3cret-pass").resetBetweenTests();

  @Test
  void angusMailWithTheHandedOutPropertiesSubmitsOverStartTlsWithAuth() throws Exception {
    Properties props = mail.mailProperties();
    assertThat(props).containsEntry("mail.smtp.port", Integer.toString(mail.submissionPort()))
        .containsEntry("mail.smtp.starttls.required", "true").containsEntry("mail.smtp.auth", "true");
    Session session = Mails.session(props);
    var debug = new java.io.ByteArrayOutputStream();
    session.setDebugOut(new java.io.PrintStream(debug, true, java.nio.charset.StandardCharsets.UTF_8));
    session.setDebug(true);
    var m = Mails.simple(session, "app@app.example", "user@customer.example", "Welcome", "Hello");
    Transport.send(m, mail.username(), mail.password());

    ReceivedMessage got = mail.awaitMessages(1, Duration.ofSeconds(10)).get(0);
    assertThat(got.envelopeRecipients()).containsExactly("user@customer.example");
    assertThat(got.header("Received")).contains("ESMTPSA"); // TLS and AUTH, as RFC 3848 writes it
    String trace = debug.toString(java.nio.charset.StandardCharsets.UTF_8);
    assertThat(trace).contains("220 2.0.0 Ready to start TLS").contains("DEBUG SMTP: Found extension \"AUTH\""); // Angus hides its AUTH lines
  }

  @Test
  void aWrongPasswordIsRefused() throws Exception {
    Session session = Mails.session(mail.mailProperties());
    var m = Mails.simple(session, "app@app.example", "user@customer.example", "Welcome", "Hello");
    assertThatThrownBy(() -> Transport.send(m, mail.username(), "wrong-password"))
        .isInstanceOf(AuthenticationFailedException.class)
        .hasMessageContaining("535 5.7.8");
    assertThat(mail.messages()).isEmpty();
  }

  @Test
  void submissionWithoutAuthIsRefusedWhenAnAccountIsSet() throws Exception {
    Properties props = mail.mailProperties();
    props.setProperty("mail.smtp.auth", "false");
    Session session = Mails.session(props);
    var m = Mails.simple(session, "app@app.example", "user@customer.example", "Welcome", "Hello");
    assertThatThrownBy(() -> Transport.send(m)).isInstanceOf(MessagingException.class).hasStackTraceContaining("530 5.7.0");
  }

  @Test
  void springMailPropertiesNameTheSameServer() {
    Properties spring = mail.springMailProperties();
    assertThat(spring)
        .containsEntry("spring.mail.host", "127.0.0.1")
        .containsEntry("spring.mail.port", Integer.toString(mail.submissionPort()))
        .containsEntry("spring.mail.username", "app@app.example")
        .containsEntry("spring.mail.password", "s3cret-pass")
        .containsEntry("spring.mail.properties.mail.smtp.starttls.required", "true")
        .containsEntry("spring.mail.properties.mail.smtp.auth", "true")
        .containsEntry("spring.mail.properties.mail.smtp.ssl.socketFactory.class", "dev.posta.junit.TestCaSocketFactory")
        .containsEntry("spring.mail.properties.mail.smtp.ssl.checkserveridentity", "true")
        .doesNotContainKey("spring.mail.properties.mail.smtp.ssl.trust") // no trust-everything shortcut
        .doesNotContainKey("spring.mail.properties.mail.user"); // spring.mail.username says it
  }
}
