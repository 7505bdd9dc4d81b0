package dev.posta.junit;

import static dev.posta.capture.TextMatch.contains;
import static dev.posta.capture.TextMatch.matching;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Inboxes and waits on one per-class server: a test sees its own inbox's mail and the extension's
 * wait sees all; a wait fails listing what did arrive; a waiter returns within milliseconds of
 * the delivery (the figure is printed); the links and one-time codes of text, HTML and multipart
 * mail, exactly; an inbox in {@code @Nested} classes; Python's smtplib logged in as an inbox.
 */
class InboxAwaitTest {
  @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults().withSubmission();

  @TempDir Path dir;

  private static Session smtp() {
    return Mails.session(mail.mailProperties());
  }

  private static void send(String to, String subject, String text) throws Exception {
    Mails.send(Mails.simple(smtp(), "noreply@app.example", to, subject, text));
  }

  @Test
  void anInboxSeesItsOwnMailAndTheExtensionSeesAll(Inbox mine, Inbox theirs) throws Exception {
    assertThat(mine.namespace()).isNotEqualTo(theirs.namespace());
    assertThat(mine.address()).isEqualTo("inbox+" + mine.namespace() + "@posta.test");
    assertThat(mine.address("Ada@Example.COM")).isEqualTo("Ada+" + mine.namespace() + "@example.com");
    assertThatThrownBy(() -> mine.address("ada+news@example.com")).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("ada+news@example.com has a plus tag already: the inbox's tag goes there (ada+" + mine.namespace() + "@example.com)");

    send(theirs.address("bob@example.com"), "Reset your password", "theirs");
    send(mine.address("ada@example.com"), "Reset your password", "mine");
    ReceivedMessage m = mine.await().subject(contains("Reset")).first();
    assertThat(m.text()).isEqualTo("mine\r\n");
    assertThat(m.namespace()).isEqualTo(mine.namespace());
    assertThat(mine.messages()).extracting(ReceivedMessage::text).containsExactly("mine\r\n");
    assertThat(theirs.await().first().text()).isEqualTo("theirs\r\n");

    List<ReceivedMessage> both = mail.await().subject("Reset your password").receivedAfter(Instant.EPOCH).count(2);
    assertThat(both).extracting(ReceivedMessage::namespace).containsExactlyInAnyOrder(mine.namespace(), theirs.namespace());
    assertThat(mail.await().to(mine.address("ADA@example.com")).from("NOREPLY@app.example").first()).isSameAs(m);
    assertThat(mail.await().to(matching("^bob\\+")).matching(r -> r.text().startsWith("the")).all()).extracting(ReceivedMessage::text)
        .containsExactly("theirs\r\n");
    mine.await().subject(contains("never sent")).within(Duration.ofMillis(100)).none();
    assertThatThrownBy(() -> theirs.await().within(Duration.ofMillis(100)).none()).isInstanceOf(AssertionError.class)
        .hasMessageStartingWith("expected no message (namespace " + theirs.namespace() + ") within PT0.1S, but ")
        .hasMessageEndingWith(" [" + theirs.namespace() + "] <noreply@app.example> -> [bob+" + theirs.namespace()
            + "@example.com] \"Reset your password\" arrived");
  }

  @Test
  void aWaitThatTimesOutListsWhatArrivedInItsNamespace(Inbox inbox) throws Exception {
    send(inbox.address(), "Welcome", "hello");
    inbox.await().first();
    assertThatThrownBy(() -> inbox.await().subject(contains("reset")).within(Duration.ofMillis(200)).first())
        .isInstanceOf(AssertionError.class)
        .hasMessageMatching("expected 1 message \\(namespace " + inbox.namespace() + ", subject containing \"reset\"\\) within PT0.2S, got 0; "
            + "1 arrived in namespace " + inbox.namespace() + "\n  \\S+ \\[" + inbox.namespace() + "\\] <noreply@app.example> -> \\["
            + Pattern.quote(inbox.address()) + "\\] \"Welcome\"");
  }

  @Test
  void aWaiterReturnsWithinMillisecondsOfTheDelivery(Inbox inbox) throws Exception {
    List<Long> afterDelivery = new ArrayList<>();
    List<Long> afterSending = new ArrayList<>();
    try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < 5; i++) {
        String subject = "latency " + i;
        int waitingBefore = mail.server().capturedMail().waiting();
        Future<Instant> woke = threads.submit(() -> {
          inbox.await().subject(subject).first();
          return Instant.now();
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (mail.server().capturedMail().waiting() <= waitingBefore && System.nanoTime() < deadline) Thread.sleep(1);
        send(inbox.address(), subject, "now");
        Instant sent = Instant.now(); // the 250 after DATA: queued, delivery follows
        Instant returned = woke.get(10, TimeUnit.SECONDS);
        ReceivedMessage m = inbox.await().subject(subject).first();
        afterDelivery.add(Duration.between(m.capturedAt(), returned).toNanos() / 1000);
        afterSending.add(Duration.between(sent, returned).toNanos() / 1000);
      }
    }
    List<Long> sorted = afterDelivery.stream().sorted().toList();
    System.out.println("posta-junit await: returned " + afterDelivery + " µs after the delivery (median " + sorted.get(2) + " µs), "
        + afterSending + " µs after Transport.send returned (250 to DATA, then QUIT)");
    assertThat(sorted.get(2)).as("median µs from the delivery to the waiter's return").isLessThan(100_000);
    assertThat(afterSending).allSatisfy(us -> assertThat(us).as("µs from Transport.send to the waiter's return").isLessThan(2_000_000));
  }

  @Test
  void linksAndCodeOfAPlainTextMessage(Inbox inbox) throws Exception {
    send(inbox.address(), "Your code", "Order https://app.example/o/12345 is ready.\r\nYour code is 482913, valid until 2026.\r\n"
        + "Reset: https://app.example/reset?token=a-b_c&u=1. Help (https://app.example/help) or "
        + "<https://app.example/wiki/Mail_(protocol)>, again https://app.example/help!\r\n");
    ReceivedMessage m = inbox.await().first();
    assertThat(m.links()).containsExactly("https://app.example/o/12345", "https://app.example/reset?token=a-b_c&u=1",
        "https://app.example/help", "https://app.example/wiki/Mail_(protocol)");
    assertThat(m.link("reset")).isEqualTo("https://app.example/reset?token=a-b_c&u=1");
    assertThat(m.code()).isEqualTo("482913"); // not the 12345 of a link, and the first of the rest
    assertThat(m.code(Pattern.compile("valid until (\\d+)"))).isEqualTo("2026");
    assertThatThrownBy(() -> m.link("unsubscribe")).isInstanceOf(AssertionError.class)
        .hasMessageEndingWith("; its links: [https://app.example/o/12345, https://app.example/reset?token=a-b_c&u=1, "
            + "https://app.example/help, https://app.example/wiki/Mail_(protocol)]");
  }

  @Test
  void linksAndCodeOfAnHtmlMessage(Inbox inbox) throws Exception {
    MimeMessage html = new MimeMessage(smtp());
    html.setFrom(new InternetAddress("noreply@app.example"));
    html.addRecipient(Message.RecipientType.TO, new InternetAddress(inbox.address()));
    html.setSubject("Verify");
    html.setContent("<html><body><p>Hi Ada,</p><p><a href=\" https://app.example/verify?t=x&amp;y=2 \">Verify</a> "
        + "<a href=\"mailto:help@app.example\">mail us</a> <a href=\"/relative\">here</a></p>"
        + "<p>Code: <b>55</b><b>0123</b></p><map><area href=\"https://app.example/map\"></map></body></html>", "text/html; charset=UTF-8");
    html.saveChanges();
    Mails.send(html);
    ReceivedMessage m = inbox.await().first();
    assertThat(m.text()).isNull();
    assertThat(m.links()).containsExactly("https://app.example/verify?t=x&y=2", "https://app.example/map");
    assertThat(m.code()).isEqualTo("550123"); // the text a reader sees, tags gone
  }

  @Test
  void linksAndCodeOfAMultipartMessage(Inbox inbox) throws Exception {
    MimeMessage multi = new MimeMessage(smtp());
    multi.setFrom(new InternetAddress("noreply@app.example"));
    multi.addRecipient(Message.RecipientType.TO, new InternetAddress(inbox.address("ada@example.com")));
    multi.setSubject("Sign in");
    var alternative = new MimeMultipart("alternative");
    var text = new MimeBodyPart();
    text.setText("Sign in: https://app.example/s?c=Zm9v%3D\r\nOr type AB12CD.\r\n", "UTF-8", "plain");
    text.setHeader("Content-Transfer-Encoding", "quoted-printable");
    var htmlPart = new MimeBodyPart();
    htmlPart.setContent("<a href=\"https://app.example/s?c=Zm9v%3D\">Sign in</a> <a href='https://app.example/privacy'>Privacy</a>"
        + " Or type <code>AB12CD</code>.", "text/html; charset=UTF-8");
    alternative.addBodyPart(text);
    alternative.addBodyPart(htmlPart);
    var body = new MimeBodyPart();
    body.setContent(alternative);
    var attachment = new MimeBodyPart();
    attachment.setText("https://app.example/in-an-attachment 999999", "UTF-8");
    attachment.setFileName("notes.txt");
    var mixed = new MimeMultipart("mixed");
    mixed.addBodyPart(body);
    mixed.addBodyPart(attachment);
    multi.setContent(mixed);
    multi.saveChanges();
    Mails.send(multi);
    ReceivedMessage m = inbox.await().first();
    assertThat(m.links()).containsExactly("https://app.example/s?c=Zm9v%3D", "https://app.example/privacy"); // once each, no attachment's
    assertThat(m.code(Pattern.compile("\\b[A-Z]{2}[0-9]{2}[A-Z]{2}\\b"))).isEqualTo("AB12CD");
    assertThatThrownBy(m::code).isInstanceOf(AssertionError.class)
        .hasMessageEndingWith("; its text: \"Sign in: https://app.example/s?c=Zm9v%3D Or type AB12CD. | Sign in Privacy Or type AB12CD.\"");
  }

  @Test
  void pythonSmtplibLoggedInAsAnInbox(Inbox inbox) throws Exception {
    Path script = dir.resolve("send.py");
    try (var in = getClass().getResourceAsStream("/python/send.py")) {
      Files.copy(in, script);
    }
    var pb = new ProcessBuilder("/usr/bin/python3", script.toString(), mail.host(), Integer.toString(mail.submissionPort()), "submission",
        mail.caCertificate().toString(), inbox.login(), inbox.password()).redirectErrorStream(true);
    pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("python3 did not finish: " + out);
    }
    assertThat(out.lines()).as(out).containsExactly("250", "220", "250", "235", "refused {}");
    ReceivedMessage m = inbox.await().first();
    assertThat(m.envelopeRecipients()).containsExactly("dev@team.example", "hidden@elsewhere.example"); // no tag: the login files it
    assertThat(m.subject()).isEqualTo("smtplib submission");
    assertThat(inbox.messages()).hasSize(1);
  }

  @Nested
  class ANestedClass {
    @Test
    void hasInboxesOfTheOuterServer(Inbox inbox) throws Exception {
      send(inbox.address(), "nested", "from a nested class");
      assertThat(inbox.await().first().text()).isEqualTo("from a nested class\r\n");
      assertThat(inbox.messages()).hasSize(1);
    }

    @Nested
    class AndDeeper {
      @Test
      void stillTheSameServer(Inbox inbox) throws Exception {
        send(inbox.address(), "deeper", "two levels down");
        assertThat(inbox.await().first().subject()).isEqualTo("deeper");
        assertThat(mail.await().subject("deeper").first().namespace()).isEqualTo(inbox.namespace());
      }
    }
  }
}
