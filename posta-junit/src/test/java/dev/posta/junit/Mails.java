package dev.posta.junit;

import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import java.util.Properties;

/** Messages as an application builds them with Jakarta Mail (Angus Mail). */
final class Mails {
  private Mails() {}

  static Session session(Properties props) {
    props.setProperty("mail.smtp.connectiontimeout", "10000");
    props.setProperty("mail.smtp.timeout", "10000");
    return Session.getInstance(props);
  }

  static MimeMessage simple(Session session, String from, String to, String subject, String text) throws MessagingException {
    var m = new MimeMessage(session);
    m.setFrom(new InternetAddress(from));
    m.addRecipient(Message.RecipientType.TO, new InternetAddress(to));
    m.setSubject(subject, "UTF-8");
    m.setText(text, "UTF-8");
    m.saveChanges();
    return m;
  }

  /** Text and HTML alternatives, a PDF attachment with a non-ASCII name, a Cc and a Bcc. */
  static MimeMessage rich(Session session) throws Exception {
    var m = new MimeMessage(session);
    m.setFrom(new InternetAddress("shop@app.example", "The Shop"));
    m.addRecipient(Message.RecipientType.TO, new InternetAddress("ada@example.com"));
    m.addRecipient(Message.RecipientType.CC, new InternetAddress("ops@corp.example"));
    m.addRecipient(Message.RecipientType.BCC, new InternetAddress("audit@corp.example"));
    m.setSubject("Ihre Bestellung № 42 ✓", "UTF-8");
    var alternative = new MimeMultipart("alternative");
    var text = new MimeBodyPart();
    text.setText("Grüße: your order ships today.\r\nhttps://shop.example/o/42\r\n", "UTF-8");
    var html = new MimeBodyPart();
    html.setContent("<p>Grüße: your order <b>ships</b> today.</p>", "text/html; charset=UTF-8");
    alternative.addBodyPart(text);
    alternative.addBodyPart(html);
    var body = new MimeBodyPart();
    body.setContent(alternative);
    var pdf = new MimeBodyPart();
    pdf.setContent(new byte[] {'%', 'P', 'D', 'F', '-', '1', '.', '7', 0, (byte) 0xff}, "application/pdf");
    pdf.setFileName("Rechnung-März.pdf");
    pdf.setDisposition("attachment");
    var mixed = new MimeMultipart("mixed");
    mixed.addBodyPart(body);
    mixed.addBodyPart(pdf);
    m.setContent(mixed);
    m.setHeader("X-App-Order", "42");
    m.saveChanges();
    return m;
  }

  static void send(MimeMessage m) throws MessagingException {
    Transport.send(m);
  }
}
