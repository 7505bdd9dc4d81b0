package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real clients over TLS with the test run's CA, each checking the chain against that CA alone
 * and the host name against the certificate (RFC 6125): Angus Mail with the extension's
 * properties over STARTTLS on submission and on SMTP (RFC 3207) and over implicit TLS (RFC 8314),
 * Python's smtplib with {@code ssl.create_default_context(cafile=...)} over both. And the other
 * side: a client that does not trust the CA, or checks another name, fails the handshake.
 */
class TlsClientsTest {
  @RegisterExtension
  static PostaExtension mail = PostaExtension.withDefaults().withAccount("app@app.example", "s3cret-pass").withImplicitTls()
      .withHostname("mail.posta.test").resetBetweenTests();

  @TempDir Path dir;

  private static Session traced(Properties props, ByteArrayOutputStream trace) {
    Session session = Mails.session(props);
    session.setDebugOut(new PrintStream(trace, true, StandardCharsets.UTF_8));
    session.setDebug(true);
    return session;
  }

  @Test
  void theHandedOutPropertiesTrustTheCaAndCheckTheName() {
    assertThat(mail.mailProperties())
        .containsEntry("mail.smtp.ssl.socketFactory.class", TestCaSocketFactory.class.getName())
        .containsEntry("mail.smtp.ssl.checkserveridentity", "true")
        .containsEntry("mail.smtp.starttls.required", "true")
        .doesNotContainKey("mail.smtp.ssl.trust");
    assertThat(mail.implicitTlsMailProperties())
        .containsEntry("mail.smtp.port", Integer.toString(mail.smtpsPort()))
        .containsEntry("mail.smtp.ssl.enable", "true")
        .containsEntry("mail.smtp.ssl.socketFactory.class", TestCaSocketFactory.class.getName())
        .containsEntry("mail.smtp.ssl.checkserveridentity", "true")
        .doesNotContainKey("mail.smtp.starttls.enable")
        .doesNotContainKey("mail.smtp.ssl.trust");
    assertThat(mail.springImplicitTlsMailProperties())
        .containsEntry("spring.mail.port", Integer.toString(mail.smtpsPort()))
        .containsEntry("spring.mail.properties.mail.smtp.ssl.enable", "true")
        .containsEntry("spring.mail.properties.mail.smtp.ssl.socketFactory.class", TestCaSocketFactory.class.getName());
  }

  @Test
  void angusMailOverStartTlsOnSubmission() throws Exception {
    var trace = new ByteArrayOutputStream();
    Session session = traced(mail.mailProperties(), trace);
    Transport.send(Mails.simple(session, "app@app.example", "ada@customer.example", "over STARTTLS", "text"), mail.username(),
        mail.password());
    ReceivedMessage got = mail.awaitMessages(1, Duration.ofSeconds(10)).get(0);
    assertThat(got.subject()).isEqualTo("over STARTTLS");
    assertThat(got.header("Received")).contains("ESMTPSA"); // TLS and AUTH (RFC 3848)
    assertThat(trace.toString(StandardCharsets.UTF_8)).contains("220 2.0.0 Ready to start TLS");
  }

  @Test
  void angusMailOverImplicitTls() throws Exception {
    var trace = new ByteArrayOutputStream();
    Session session = traced(mail.implicitTlsMailProperties(), trace);
    Transport.send(Mails.simple(session, "app@app.example", "ada@customer.example", "over implicit TLS", "text"), mail.username(),
        mail.password());
    ReceivedMessage got = mail.awaitMessages(1, Duration.ofSeconds(10)).get(0);
    assertThat(got.subject()).isEqualTo("over implicit TLS");
    assertThat(got.header("Received")).contains("ESMTPSA");
    assertThat(trace.toString(StandardCharsets.UTF_8)).doesNotContain("STARTTLS"); // TLS from the first octet
  }

  @Test
  void angusMailWithTheJdksOwnTrustFailsTheHandshake() throws Exception {
    for (Properties props : List.of(mail.mailProperties(), mail.implicitTlsMailProperties())) {
      props.remove("mail.smtp.ssl.socketFactory.class"); // the JDK's cacerts: the test CA is not in it
      var m = Mails.simple(Mails.session(props), "app@app.example", "ada@customer.example", "s", "t");
      assertThatThrownBy(() -> Transport.send(m, mail.username(), mail.password()))
          .isInstanceOf(MessagingException.class)
          .hasRootCauseInstanceOf(java.security.cert.CertPathBuilderException.class)
          .hasStackTraceContaining("PKIX path building failed");
    }
    assertThat(mail.messages()).isEmpty();
  }

  @Test
  void aClientCheckingAnotherNameFailsTheHandshake() throws Exception {
    try (Socket plain = new Socket()) {
      plain.connect(new InetSocketAddress(mail.host(), mail.smtpsPort()), 10_000);
      plain.setSoTimeout(10_000);
      SSLSocket tls = (SSLSocket) mail.sslContext().getSocketFactory().createSocket(plain, "mail.other.example", mail.smtpsPort(), true);
      var parameters = tls.getSSLParameters();
      parameters.setEndpointIdentificationAlgorithm("HTTPS"); // RFC 6125's check, as HTTPS clients do it
      parameters.setServerNames(List.of(new SNIHostName("mail.other.example")));
      tls.setSSLParameters(parameters);
      assertThatThrownBy(tls::startHandshake).isInstanceOf(SSLHandshakeException.class)
          .hasCauseInstanceOf(CertificateException.class)
          .hasMessageContaining("No subject alternative DNS name matching mail.other.example found");
    }
  }

  @Test
  void theHostnameIsInTheCertificateAndChecked() throws Exception {
    try (Socket plain = new Socket()) {
      plain.connect(new InetSocketAddress(mail.host(), mail.smtpsPort()), 10_000);
      plain.setSoTimeout(10_000);
      SSLSocket tls = (SSLSocket) mail.sslContext().getSocketFactory().createSocket(plain, "mail.posta.test", mail.smtpsPort(), true);
      var parameters = tls.getSSLParameters();
      parameters.setEndpointIdentificationAlgorithm("HTTPS");
      parameters.setServerNames(List.of(new SNIHostName("mail.posta.test")));
      tls.setSSLParameters(parameters);
      tls.startHandshake();
      String greeting = new String(tls.getInputStream().readNBytes(4), StandardCharsets.US_ASCII);
      assertThat(greeting).isEqualTo("220 ");
      assertThat(tls.getSession().getPeerCertificates()).hasSize(2); // the server certificate, then the CA
      assertThat(tls.getSession().getPeerCertificates()[1]).isEqualTo(TestCa.get().certificate());
    }
  }

  // --- Python's smtplib ----------------------------------------------------------------------

  private record Run(int exit, List<String> lines) {}

  private Run python(String... args) throws Exception {
    Path script = dir.resolve("send_tls.py");
    if (!Files.exists(script)) {
      try (var in = getClass().getResourceAsStream("/python/send_tls.py")) {
        Files.copy(in, script);
      }
    }
    List<String> command = new ArrayList<>(List.of("/usr/bin/python3", script.toString()));
    command.addAll(List.of(args));
    var pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("python3 did not finish: " + out);
    }
    return new Run(p.exitValue(), out.lines().toList());
  }

  @Test
  void smtplibOverStartTlsOnSubmissionTrustingTheCaFile() throws Exception {
    Run run = python(mail.host(), Integer.toString(mail.submissionPort()), "starttls", mail.caCertificate().toString(), "-",
        mail.username(), mail.password());
    assertThat(run.lines()).as("exit %d", run.exit()).containsExactly("250", "220", "250", "tls TLSv1.3", "235", "refused {}");
    ReceivedMessage got = mail.awaitMessages(1, Duration.ofSeconds(10)).get(0);
    assertThat(got.subject()).isEqualTo("smtplib over starttls");
    assertThat(got.header("Received")).contains("ESMTPSA");
  }

  @Test
  void smtplibOverStartTlsOnSmtp() throws Exception {
    Run run = python("localhost", Integer.toString(mail.smtpPort()), "starttls", mail.caCertificate().toString());
    assertThat(run.lines()).as("exit %d", run.exit()).containsExactly("250", "220", "250", "tls TLSv1.3", "refused {}");
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10)).get(0).header("Received")).contains("ESMTPS");
  }

  @Test
  void smtplibOverImplicitTls() throws Exception {
    Run run = python(mail.host(), Integer.toString(mail.smtpsPort()), "ssl", mail.caCertificate().toString(), "-",
        mail.username(), mail.password());
    assertThat(run.lines()).as("exit %d", run.exit()).containsExactly("250", "tls TLSv1.3", "235", "refused {}");
    ReceivedMessage got = mail.awaitMessages(1, Duration.ofSeconds(10)).get(0);
    assertThat(got.subject()).isEqualTo("smtplib over ssl");
    assertThat(got.header("Received")).contains("ESMTPSA");
  }

  @Test
  void smtplibWithoutTheCaFailsTheHandshake() throws Exception {
    Run starttls = python(mail.host(), Integer.toString(mail.smtpPort()), "starttls", "-");
    assertThat(starttls.exit()).isEqualTo(3);
    assertThat(starttls.lines()).containsExactly("250", "tls-failed SSLCertVerificationError self-signed certificate in certificate chain");
    Run implicit = python(mail.host(), Integer.toString(mail.smtpsPort()), "ssl", "-");
    assertThat(implicit.exit()).isEqualTo(3);
    assertThat(implicit.lines()).containsExactly("tls-failed SSLCertVerificationError self-signed certificate in certificate chain");
    assertThat(mail.messages()).isEmpty();
  }

  @Test
  void smtplibCheckingAnotherNameFailsTheHandshake() throws Exception {
    Run run = python(mail.host(), Integer.toString(mail.smtpsPort()), "ssl", mail.caCertificate().toString(), "mail.other.example");
    assertThat(run.exit()).isEqualTo(3);
    assertThat(run.lines()).containsExactly("tls-failed SSLCertVerificationError Hostname mismatch, certificate is not valid for 'mail.other.example'.");
    Run named = python(mail.host(), Integer.toString(mail.smtpsPort()), "ssl", mail.caCertificate().toString(), "mail.posta.test");
    assertThat(named.lines()).as("exit %d", named.exit()).containsExactly("220");
  }

  /** A {@code @Nested} class shares the outer class's server, TLS included. */
  @Nested
  class Inner {
    @Test
    void angusMailOverStartTlsOnSmtpWithoutAuth() throws Exception {
      Properties props = mail.mailProperties();
      props.setProperty("mail.smtp.port", Integer.toString(mail.smtpPort())); // SMTP offers STARTTLS too
      props.remove("mail.smtp.auth");
      var trace = new ByteArrayOutputStream();
      Transport.send(Mails.simple(traced(props, trace), "app@app.example", "bo@customer.example", "smtp STARTTLS", "text"));
      ReceivedMessage got = mail.awaitMessages(1, Duration.ofSeconds(10)).get(0);
      assertThat(got.header("Received")).contains("ESMTPS").doesNotContain("ESMTPSA"); // TLS, no AUTH
      assertThat(trace.toString(StandardCharsets.UTF_8)).contains("220 2.0.0 Ready to start TLS");
    }
  }
}
