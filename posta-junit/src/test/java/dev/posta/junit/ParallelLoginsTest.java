package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.mail.Transport;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Tests running in parallel log in at once, all from 127.0.0.1: the extension's server takes
 * more AUTH exchanges in progress from one address than a real server's limit of ten (which
 * answers {@code 454 4.7.0 Too many authentications in progress}), so that fast clients arriving
 * together are not refused. Fifteen exchanges are held open halfway (after {@code 334}) while a
 * sixteenth client logs in and sends.
 */
class ParallelLoginsTest {
  @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults().withSubmission();

  private static final int HELD = 15;

  /** A submission session over STARTTLS, checked against the test CA, with one reply read per command. */
  private record Session(SSLSocket socket, BufferedReader in, OutputStream out) {
    static Session open() throws Exception {
      Socket plain = new Socket();
      plain.connect(new InetSocketAddress(mail.host(), mail.submissionPort()), 10_000);
      plain.setSoTimeout(10_000);
      var plainIn = new BufferedReader(new InputStreamReader(plain.getInputStream(), StandardCharsets.US_ASCII));
      OutputStream plainOut = plain.getOutputStream();
      assertThat(reply(plainIn)).startsWith("220 ");
      assertThat(ParallelLoginsTest.command(plainIn, plainOut, "EHLO client.example")).startsWith("250 ");
      assertThat(ParallelLoginsTest.command(plainIn, plainOut, "STARTTLS")).startsWith("220 ");
      SSLSocket tls = (SSLSocket) mail.sslContext().getSocketFactory().createSocket(plain, "localhost", mail.submissionPort(), true);
      var parameters = tls.getSSLParameters();
      parameters.setEndpointIdentificationAlgorithm("HTTPS");
      tls.setSSLParameters(parameters);
      tls.startHandshake();
      var in = new BufferedReader(new InputStreamReader(tls.getInputStream(), StandardCharsets.US_ASCII));
      Session s = new Session(tls, in, tls.getOutputStream());
      assertThat(s.command("EHLO client.example")).startsWith("250 ");
      return s;
    }

    String command(String line) throws Exception {
      return ParallelLoginsTest.command(in, out, line);
    }
  }

  /** The last line of one reply (RFC 5321 §4.2.1: continuation lines have a '-' after the code). */
  private static String reply(BufferedReader in) throws Exception {
    String line;
    do {
      line = in.readLine();
      if (line == null) throw new java.io.EOFException("the server closed the connection");
    } while (line.length() > 3 && line.charAt(3) == '-');
    return line;
  }

  private static String command(BufferedReader in, OutputStream out, String line) throws Exception {
    out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
    out.flush();
    return reply(in);
  }

  @Test
  void loginsHeldOpenAtOnceDoNotRefuseTheNext() throws Exception {
    List<Session> held = new ArrayList<>();
    try {
      for (int i = 0; i < HELD; i++) {
        Session s = Session.open();
        held.add(s);
        assertThat(s.command("AUTH LOGIN")).as("login %d of %d held open", i + 1, HELD).isEqualTo("334 VXNlcm5hbWU6"); // "Username:"
      }
      Properties props = mail.mailProperties();
      props.setProperty("mail.smtp.port", Integer.toString(mail.submissionPort()));
      props.setProperty("mail.smtp.auth", "true");
      Transport.send(Mails.simple(Mails.session(props), "app@app.example", "ada@customer.example", "sixteenth", "text"),
          "app@app.example", "any-password");
      assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).extracting(ReceivedMessage::subject).containsExactly("sixteenth");
    } finally {
      for (Session s : held) s.socket().close();
    }
  }
}
