package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.smtp.Fault;
import jakarta.mail.AuthenticationFailedException;
import jakarta.mail.MessagingException;
import jakarta.mail.SendFailedException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.eclipse.angus.mail.smtp.SMTPAddressFailedException;
import org.eclipse.angus.mail.smtp.SMTPSendFailedException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Each scripted fault kind as Angus Mail (Jakarta Mail) sees it: the exception an application
 * gets carries exactly the configured reply code and text ({@code SMTPSendFailedException},
 * {@code SMTPAddressFailedException}), a retry after "the first two tries" goes through, a
 * dropped DATA leaves nothing captured, the rate limit answers 421 after N, a seeded probability
 * fails the same sends every run, and annotations set faults for one test only.
 */
class FaultsAngusTest {
  @RegisterExtension
  static PostaExtension mail = PostaExtension.withDefaults().withAccount("app@shop.example", "shop-secret").resetBetweenTests();

  /** Plain SMTP, no AUTH: the SMTP listener. */
  private static Session plain() {
    Properties p = new Properties();
    p.setProperty("mail.smtp.host", mail.host());
    p.setProperty("mail.smtp.port", Integer.toString(mail.smtpPort()));
    return Mails.session(p);
  }

  private static MimeMessage message(Session session, String... to) throws MessagingException {
    MimeMessage m = Mails.simple(session, "app@shop.example", to[0], "order", "Your order ships.\r\n".repeat(40));
    for (int i = 1; i < to.length; i++) m.addRecipient(jakarta.mail.Message.RecipientType.TO, new InternetAddress(to[i]));
    m.saveChanges();
    return m;
  }

  /** The SMTP exception Angus put first in the chain of {@code e}. */
  private static <T extends Exception> T cause(Throwable e, Class<T> type) {
    for (Throwable t = e; t != null; t = t instanceof MessagingException m && m.getNextException() != null ? m.getNextException() : t.getCause()) {
      if (type.isInstance(t)) return type.cast(t);
    }
    throw new AssertionError("no " + type.getSimpleName() + " in " + e, e);
  }

  private static MessagingException sendFails(Session session, String... to) {
    try {
      Transport.send(message(session, to));
    } catch (MessagingException e) {
      return e;
    }
    throw new AssertionError("the send went through");
  }

  /**
   * The action puts the fault in force, so a trigger after it would leave an unlimited fault live
   * in between (a sending thread could meet it): it is refused, saying how to write it.
   */
  @Test
  void aTriggerAfterTheActionIsRefused() {
    assertThatThrownBy(() -> mail.fault().atMail().reply("451 4.3.0 Try again later").times(2))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("this fault is already in force (mail reply=\"451 4.3.0 Try again later\"); set times(2) before the action: "
            + "mail.fault().atRcpt(\"*@x\").times(2).reply(\"550 ...\")");
    assertThatThrownBy(() -> mail.fault().atRcpt().disconnect().matching("*@bounce.example"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("this fault is already in force (rcpt disconnect); set matching(\"*@bounce.example\") before the action");
    mail.clearFaults();
  }

  @Test
  void connectRefusedThenAccepted() throws Exception {
    mail.fault().atConnect().times(1).refuse();
    assertThat(sendFails(plain(), "ada@customer.example"))
        .hasMessage("Got bad greeting from SMTP host: 127.0.0.1, port: " + mail.smtpPort() + ", response: [EOF]");
    Transport.send(message(plain(), "ada@customer.example"));
    assertThat(mail.awaitMessage().envelopeRecipients()).containsExactly("ada@customer.example");
  }

  @Test
  void a421GreetingIsWhatTheClientReads() {
    mail.fault().atConnect().reply("421 4.3.2 Service not available, closing");
    assertThat(sendFails(plain(), "ada@customer.example"))
        .hasMessage("Got bad greeting from SMTP host: 127.0.0.1, port: " + mail.smtpPort() + ", response: 421 4.3.2 Service not available, closing\n");
  }

  @Test
  void startTlsFailsSoARequiredTlsSendFails() throws Exception {
    mail.fault().atStartTls().reply("454 4.7.0 TLS not available due to temporary reason");
    Session session = Mails.session(mail.mailProperties());
    assertThatThrownBy(() -> Transport.send(message(session, "ada@customer.example"), mail.username(), mail.password()))
        .isInstanceOf(MessagingException.class).hasMessage("454 4.7.0 TLS not available due to temporary reason\n");
    assertThat(mail.messages()).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"535 5.7.8 Authentication credentials invalid", "454 4.7.0 Temporary authentication failure"})
  void authFailsWithTheScriptedReply(String reply) throws Exception {
    mail.fault().atAuth().times(1).reply(reply);
    Session session = Mails.session(mail.mailProperties());
    assertThatThrownBy(() -> Transport.send(message(session, "ada@customer.example"), mail.username(), mail.password()))
        .isInstanceOf(AuthenticationFailedException.class).hasMessage(reply + "\n");
    Transport.send(message(session, "ada@customer.example"), mail.username(), mail.password()); // the account was fine all along
    assertThat(mail.awaitMessage().envelopeSender()).isEqualTo("app@shop.example");
  }

  @Test
  void theFirstTwoTriesFailAtMailTheThirdGoesThrough() throws Exception {
    mail.fault().atMail("*@shop.example").times(2).reply("451 4.3.0 Try again later");
    for (int attempt = 1; attempt <= 2; attempt++) {
      SMTPSendFailedException e = cause(sendFails(plain(), "ada@customer.example"), SMTPSendFailedException.class);
      assertThat(e.getReturnCode()).isEqualTo(451);
      assertThat(e.getMessage()).isEqualTo("451 4.3.0 Try again later\n");
      assertThat(e.getCommand()).startsWith("MAIL FROM:<app@shop.example>");
    }
    Transport.send(message(plain(), "ada@customer.example"));
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).hasSize(1);
  }

  @ParameterizedTest
  @ValueSource(strings = {"450 4.2.1 Mailbox busy", "452 4.2.2 Mailbox full", "550 5.1.1 No such user", "551 5.1.6 User has moved"})
  void rcptRefusesTheMatchingRecipientOnly(String reply) throws Exception {
    mail.fault().atRcpt("*@bounce.example").reply(reply);
    Session session = plain();
    session.getProperties().setProperty("mail.smtp.sendpartial", "true");
    MessagingException e = sendFails(session, "gone@bounce.example", "ada@customer.example");
    var failed = (SendFailedException) e; // Angus files a 4xx recipient as valid but unsent, a 5xx one as invalid
    assertThat(reply.startsWith("4") ? failed.getValidUnsentAddresses() : failed.getInvalidAddresses())
        .extracting(Object::toString).containsExactly("gone@bounce.example");
    SMTPAddressFailedException refused = cause(e, SMTPAddressFailedException.class);
    assertThat(refused.getReturnCode()).isEqualTo(Integer.parseInt(reply.substring(0, 3)));
    assertThat(refused.getMessage()).isEqualTo(reply + "\n");
    assertThat(refused.getAddress()).hasToString("gone@bounce.example");
    assertThat(mail.awaitMessage().envelopeRecipients()).containsExactly("ada@customer.example"); // the other one got it
  }

  @ParameterizedTest
  @ValueSource(strings = {"data:554 5.5.1 No valid recipients", "end-of-data:451 4.3.0 Local error in processing",
      "end-of-data:552 5.3.4 Message too big for system", "end-of-data:554 5.7.1 Message refused"})
  void dataAndTheFinalDotAnswerAsScriptedAndNothingIsDelivered(String stageAndReply) throws Exception {
    String stage = stageAndReply.substring(0, stageAndReply.indexOf(':'));
    String reply = stageAndReply.substring(stage.length() + 1);
    (stage.equals("data") ? mail.fault().atData() : mail.fault().atEndOfData()).times(1).reply(reply);
    SMTPSendFailedException e = cause(sendFails(plain(), "ada@customer.example"), SMTPSendFailedException.class);
    assertThat(e.getReturnCode()).isEqualTo(Integer.parseInt(reply.substring(0, 3)));
    assertThat(e.getMessage()).isEqualTo(reply + "\n");
    Transport.send(Mails.simple(plain(), "app@shop.example", "ada@customer.example", "second", "text"));
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).extracting(ReceivedMessage::subject).containsExactly("second");
  }

  @Test
  void aDisconnectInTheMiddleOfDataLeavesNothingCaptured() throws Exception {
    mail.fault().midData().times(1).disconnectAfter(200);
    MessagingException e;
    try {
      Transport.send(Mails.simple(plain(), "app@shop.example", "ada@customer.example", "dropped", "Your order ships.\r\n".repeat(40)));
      throw new AssertionError("the send went through");
    } catch (MessagingException dropped) {
      e = dropped;
    }
    assertThat(e).isNotInstanceOf(SMTPSendFailedException.class); // no reply at all: the connection went
    Transport.send(Mails.simple(plain(), "app@shop.example", "ada@customer.example", "second", "text"));
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).extracting(ReceivedMessage::subject).containsExactly("second");
  }

  @Test
  void theRateLimitAnswers421AfterNMessages() throws Exception {
    mail.fault().rateLimit(2, Duration.ofMinutes(1));
    Transport.send(message(plain(), "one@customer.example"));
    Transport.send(message(plain(), "two@customer.example"));
    SMTPSendFailedException e = cause(sendFails(plain(), "three@customer.example"), SMTPSendFailedException.class);
    assertThat(e.getReturnCode()).isEqualTo(421);
    assertThat(e.getMessage()).isEqualTo("421 4.7.0 Too many messages (2 in 60 seconds), closing connection\n");
    assertThat(mail.awaitMessages(2, Duration.ofSeconds(10))).hasSize(2);
  }

  @Test
  void aStageDelayHoldsThatReplyOnly() throws Exception {
    mail.fault().atRcpt().delay(Duration.ofMillis(600));
    long began = System.nanoTime();
    Transport.send(message(plain(), "slow@customer.example"));
    assertThat(Duration.ofNanos(System.nanoTime() - began)).isGreaterThanOrEqualTo(Duration.ofMillis(600));
    assertThat(mail.awaitMessage().envelopeRecipients()).containsExactly("slow@customer.example");
  }

  /** Which of 12 sends fail with a 451 at the final dot, at probability 0.5 and seed 2026. */
  private static List<Integer> flaky() throws Exception {
    mail.clearFaults();
    mail.fault().atEndOfData().withProbability(0.5, 2026).reply("451 4.3.0 Flaky");
    List<Integer> failed = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      try {
        Transport.send(message(plain(), "ada@customer.example"));
      } catch (MessagingException e) {
        assertThat(cause(e, SMTPSendFailedException.class).getMessage()).isEqualTo("451 4.3.0 Flaky\n");
        failed.add(i);
      }
    }
    return failed;
  }

  @Test
  void aSeededProbabilityFailsTheSameSendsEveryRun() throws Exception {
    List<Integer> first = flaky();
    assertThat(flaky()).isEqualTo(first);
    assertThat(first).isNotEmpty().hasSizeLessThan(12);
    assertThat(mail.awaitMessages(2 * (12 - first.size()), Duration.ofSeconds(10))).hasSize(2 * (12 - first.size()));
  }

  @Test
  @SmtpFault(stage = Fault.Stage.RCPT, match = "*@bounce.example", reply = "550 5.1.1 No such user", times = 1)
  @SmtpFault(stage = Fault.Stage.MAIL, reply = "451 4.3.0 Second rule", times = 1)
  void annotationsScriptTheTest() throws Exception {
    // MAIL comes before RCPT: the MAIL rule fires on the first send, the RCPT rule on the second
    assertThat(cause(sendFails(plain(), "x@bounce.example"), SMTPSendFailedException.class).getMessage()).isEqualTo("451 4.3.0 Second rule\n");
    assertThat(cause(sendFails(plain(), "x@bounce.example"), SMTPAddressFailedException.class).getMessage()).isEqualTo("550 5.1.1 No such user\n");
    Transport.send(message(plain(), "x@bounce.example"));
    assertThat(mail.awaitMessage().envelopeRecipients()).containsExactly("x@bounce.example");
  }

  @Test
  void anAnnotatedTestsFaultsAreGoneInTheNext() throws Exception {
    // Whatever order the tests run in, no fault of another test is in force here.
    Transport.send(message(plain(), "x@bounce.example"));
    assertThat(mail.awaitMessage().envelopeRecipients()).containsExactly("x@bounce.example");
  }

  @Test
  void aWrongAnnotationSaysWhatIsWrong() {
    @SmtpFault(stage = Fault.Stage.AUTH, match = "*@x.example", reply = "535 5.7.8 No")
    class Holder {}
    assertThatThrownBy(() -> PostaExtension.fault(Holder.class.getAnnotation(SmtpFault.class)))
        .hasMessage("@SmtpFault(stage = AUTH, ...): a fault at auth has no address to match (match is for mail, rcpt, data, mid-data, end-of-data)");
  }
}
