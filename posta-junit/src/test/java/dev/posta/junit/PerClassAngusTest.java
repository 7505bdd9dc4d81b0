package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The extension on a static field, as the README shows it: one server for the class, plain SMTP,
 * an application's messages sent with Angus Mail and read back parsed; {@code
 * resetBetweenTests} gives each test an empty server.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PerClassAngusTest {
  @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults().resetBetweenTests();

  private static int firstPort;

  private Session session() {
    return Mails.session(mail.mailProperties());
  }

  @Test
  @Order(1)
  void aRichMessageArrivesParsed() throws Exception {
    firstPort = mail.smtpPort();
    System.out.println("posta-junit start-up (per class, first in this JVM): " + mail.startupTime().toMillis() + " ms");
    Mails.send(Mails.rich(session()));

    ReceivedMessage m = mail.awaitMessages(1, Duration.ofSeconds(10)).get(0);
    assertThat(m.envelopeSender()).isEqualTo("shop@app.example");
    assertThat(m.envelopeRecipients()).containsExactly("ada@example.com", "ops@corp.example", "audit@corp.example");
    assertThat(m.from()).isEqualTo("shop@app.example");
    assertThat(m.to()).containsExactly("ada@example.com");
    assertThat(m.cc()).containsExactly("ops@corp.example");
    assertThat(m.header("Bcc")).isNull();
    assertThat(m.subject()).isEqualTo("Ihre Bestellung № 42 ✓");
    assertThat(m.header("X-App-Order")).isEqualTo("42");
    assertThat(m.headers()).extracting(ReceivedMessage.Header::name).startsWith("Authentication-Results", "Received"); // capture mode's two, on top
    assertThat(m.messageId()).startsWith("<").endsWith(">");
    assertThat(m.text()).isEqualTo("Grüße: your order ships today.\r\nhttps://shop.example/o/42\r\n");
    assertThat(m.html()).isEqualTo("<p>Grüße: your order <b>ships</b> today.</p>");
    assertThat(m.attachments()).singleElement().satisfies(a -> {
      assertThat(a.filename()).isEqualTo("Rechnung-März.pdf");
      assertThat(a.contentType()).isEqualTo("application/pdf");
      assertThat(a.inline()).isFalse();
      assertThat(a.content()).containsExactly('%', 'P', 'D', 'F', '-', '1', '.', '7', 0, (byte) 0xff);
    });
    assertThat(m.rawAsString()).contains("X-App-Order: 42\r\n");
  }

  @Test
  @Order(2)
  void resetBetweenTestsStartsEachTestEmptyOnTheSameServer() throws Exception {
    assertThat(mail.smtpPort()).isEqualTo(firstPort);
    assertThat(mail.messages()).isEmpty();
    Mails.send(Mails.simple(session(), "a@app.example", "one@any.example", "1", "first"));
    Mails.send(Mails.simple(session(), "a@app.example", "two@other.test", "2", "second"));
    List<ReceivedMessage> both = mail.awaitMessages(2, Duration.ofSeconds(10));
    assertThat(both).extracting(ReceivedMessage::subject).containsExactlyInAnyOrder("1", "2");
  }

  @Test
  @Order(3)
  void awaitingMoreThanCameFailsSayingWhatCame() throws Exception {
    Mails.send(Mails.simple(session(), "a@app.example", "x@y.example", "only one", "text"));
    assertThatThrownBy(() -> mail.awaitMessages(2, Duration.ofMillis(300)))
        .isInstanceOf(AssertionError.class)
        .hasMessageMatching("expected 2 messages \\(any message\\) within PT0.3S, got 1; 1 arrived in all namespaces\n"
            + "  \\S+ \\[default\\] <a@app.example> -> \\[x@y.example\\] \"only one\"");
  }

  @Test
  @Order(4)
  void refusedThenTakenAsAnApplicationsRetryWouldFindIt() throws Exception {
    mail.refuseNext(2, "451 4.3.0 Try again later");
    for (int attempt = 1; attempt <= 2; attempt++) {
      assertThatThrownBy(() -> Mails.send(Mails.simple(session(), "a@app.example", "r@y.example", "retry", "text")))
          .isInstanceOf(MessagingException.class)
          .hasStackTraceContaining("451 4.3.0 Try again later");
    }
    Mails.send(Mails.simple(session(), "a@app.example", "r@y.example", "retry", "text"));
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).singleElement().extracting(ReceivedMessage::subject).isEqualTo("retry");
  }

  @Test
  @Order(5)
  void delayedRepliesSlowTheSend() throws Exception {
    mail.delayReplies(Duration.ofMillis(200));
    long began = System.nanoTime();
    Mails.send(Mails.simple(session(), "a@app.example", "slow@y.example", "slow", "text"));
    long tookMs = (System.nanoTime() - began) / 1_000_000;
    // MAIL, RCPT, DATA, the final dot and QUIT: five replies held 200 ms each
    assertThat(tookMs).isGreaterThanOrEqualTo(1000);
    mail.delayReplies(Duration.ZERO);
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).hasSize(1);
    mail.refuseNext(5, "554 5.7.1 Left over"); // for the next test's reset to clear
  }

  @Test
  @Order(6)
  void faultsDoNotOutliveTheirTest() throws Exception {
    // the refusals the last test left were cleared by the reset before this one
    Mails.send(Mails.simple(session(), "a@app.example", "n@y.example", "normal", "ok"));
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10)).get(0).text()).isEqualTo("ok\r\n"); // lines end as on the wire
    assertThat(mail.messages().get(0).raw()).asString(StandardCharsets.UTF_8).contains("Subject: normal");
  }
}
