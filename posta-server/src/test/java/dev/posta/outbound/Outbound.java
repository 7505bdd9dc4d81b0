package dev.posta.outbound;

import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import jakarta.mail.BodyPart;
import jakarta.mail.Session;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.function.UnaryOperator;

/** Helpers shared by the outbound tests: configuration, submitting, reading notices. */
final class Outbound {
  private Outbound() {}

  /**
   * Test configuration: clients on loopback may relay (a trusted network), DNS is the test's
   * dnsmasq, MX hosts listen on {@code mxPort}; {@code adjust} changes the delivery settings.
   */
  static UnaryOperator<PostaConfig> config(String dns, int mxPort, UnaryOperator<PostaConfig.Delivery.Builder> adjust) {
    return c -> {
      var s = c.submission();
      var delivery = PostaConfig.Delivery.defaults().toBuilder().dns(List.of(dns), mxPort);
      return c.toBuilder().submission(new PostaConfig.Submission(List.of(Network.parse("127.0.0.0/8")), s.plaintextAuthOnLoopback(),
              s.senderMustBeOwned(), s.authFailuresBeforeLockout(), s.authLockout()))
          .delivery(adjust.apply(delivery).build()).build();
    };
  }

  /** A port free on every 127.0.0.x the test uses: the MX port of all its peers. */
  static int freePort(String... hosts) throws IOException {
    for (int tries = 0; tries < 20; tries++) {
      int port;
      try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(hosts[0]))) {
        port = s.getLocalPort();
      }
      boolean free = true;
      for (String h : hosts) {
        try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getByName(h))) {
          // free here too
        } catch (IOException e) {
          free = false;
        }
      }
      if (free) return port;
    }
    throw new IOException("no port free on all of " + List.of(hosts));
  }

  /** Sends one message over port 25 (from loopback: a trusted network) and returns its queue ID. */
  static String submit(TestServer server, String from, List<String> to, String headersAndBody) throws IOException {
    return submit(server, from, "", to, headersAndBody);
  }

  static String submit(TestServer server, String from, String mailParameters, List<String> to, String headersAndBody) throws IOException {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      assertThat(wire.command("MAIL FROM:<" + from + ">" + mailParameters)).isEqualTo("250 2.1.0 Sender OK");
      for (String rcpt : to) {
        String params = "";
        int sp = rcpt.indexOf(' ');
        if (sp > 0) {
          params = rcpt.substring(sp);
          rcpt = rcpt.substring(0, sp);
        }
        assertThat(wire.command("RCPT TO:<" + rcpt + ">" + params)).isEqualTo("250 2.1.5 Recipient OK");
      }
      assertThat(wire.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      String text = headersAndBody.replace("\n", "\r\n");
      if (text.endsWith("\r\n")) text = text.substring(0, text.length() - 2); // command() ends the line
      String reply = wire.command(text + "\r\n.");
      assertThat(reply).matches("250 2\\.0\\.0 Ok: queued as [0-9A-F]{16}");
      return reply.substring(reply.length() - 16);
    }
  }

  /** Waits (up to 15 s) until the server's queue is empty. */
  static void awaitEmptyQueue(TestServer server) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
    while (server.queued() > 0) {
      assertThat(System.nanoTime()).as("queue still holds %d message(s)", server.queued()).isLessThan(deadline);
      Thread.sleep(20);
    }
  }

  /** Waits (up to 15 s) for a message's listing to satisfy {@code done}. */
  /** A delivery status notification as delivered: the message and its three parts. */
  record Notice(MimeMessage message, String readable, Map<String, String> perMessage, List<Map<String, String>> perRecipient,
      String returnedType, String returned) {}

  static Notice notice(String delivered) throws Exception {
    MimeMessage m = new MimeMessage(Session.getInstance(new Properties()),
        new ByteArrayInputStream(delivered.getBytes(StandardCharsets.UTF_8)));
    assertThat(m.getContentType()).startsWith("multipart/report").contains("report-type=delivery-status");
    MimeMultipart parts = (MimeMultipart) m.getContent();
    assertThat(parts.getCount()).isEqualTo(3);
    BodyPart status = parts.getBodyPart(1);
    assertThat(status.getContentType()).startsWith("message/delivery-status");
    String fields = new String(status.getInputStream().readAllBytes(), StandardCharsets.UTF_8).replace("\r\n", "\n");
    List<Map<String, String>> blocks = new ArrayList<>();
    for (String block : fields.strip().split("\n\n")) {
      Map<String, String> f = new LinkedHashMap<>();
      String last = null;
      for (String line : block.split("\n")) {
        if ((line.startsWith(" ") || line.startsWith("\t")) && last != null) {
          f.put(last, f.get(last) + " " + line.strip()); // unfolded
          continue;
        }
        int colon = line.indexOf(':');
        last = line.substring(0, colon);
        f.put(last, line.substring(colon + 1).strip());
      }
      blocks.add(f);
    }
    BodyPart returned = parts.getBodyPart(2);
    return new Notice(m, new String(parts.getBodyPart(0).getInputStream().readAllBytes(), StandardCharsets.UTF_8),
        blocks.getFirst(), blocks.subList(1, blocks.size()), returned.getContentType(),
        new String(returned.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
  }
}
