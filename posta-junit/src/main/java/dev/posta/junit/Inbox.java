package dev.posta.junit;

import dev.posta.capture.MailQuery;
import java.util.List;
import java.util.Locale;
import java.util.Properties;

/**
 * A namespace of captured mail of its own, for one test: only mail sent to one of its addresses,
 * or by a client logged in with its {@link #login()}, lands there, so tests running in parallel
 * on one server never see each other's mail. Made by {@link PostaExtension#newInbox()}, or given
 * to a test method that declares an {@code Inbox} parameter.
 *
 * <pre>{@code
 * @Test void sendsTheCode(Inbox inbox) {
 *   app.sendLoginCode(inbox.address("ada@example.com"));      // ada+t7@example.com
 *   assertThat(inbox.await().first().code()).hasSize(6);
 * }
 * }</pre>
 *
 * <p>The application need not know of namespaces: it sends to an address the test gave it, where
 * the namespace rides in the plus tag (RFC 5233's subaddress: {@code ada+t7@example.com}, a
 * mailbox of its own in capture mode, which IMAP and POP3 read as usual), or it logs in as the
 * inbox (SMTP AUTH, any password; not with {@link PostaExtension#withAccount}, whose account is
 * the only login) and sends to anyone.
 */
public final class Inbox {
  /** The domain of {@link #address()}: reserved for testing (RFC 2606), never a real one. */
  public static final String DOMAIN = "posta.test";

  private final PostaExtension mail;
  private final String namespace;

  Inbox(PostaExtension mail, String namespace) {
    this.mail = mail;
    this.namespace = namespace;
  }

  /** The namespace, such as {@code t7}: what {@link ReceivedMessage#namespace()} says of its mail. */
  public String namespace() {
    return namespace;
  }

  /** An address of this inbox: {@code inbox+t7@posta.test}. */
  public String address() {
    return "inbox+" + namespace + "@" + DOMAIN;
  }

  /**
   * {@code address} with this inbox's tag: {@code ada@example.com} becomes {@code
   * ada+t7@example.com}, for an application that wants a plausible address.
   *
   * @throws IllegalArgumentException when it is no address or has a plus tag already
   */
  public String address(String address) {
    int at = address.lastIndexOf('@');
    if (at < 1 || at == address.length() - 1) throw new IllegalArgumentException("not an address: " + address);
    String local = address.substring(0, at);
    if (local.indexOf('+') >= 0) {
      throw new IllegalArgumentException(address + " has a plus tag already: the inbox's tag goes there (" + local.substring(0, local.indexOf('+'))
          + "+" + namespace + address.substring(at) + ")");
    }
    return local + "+" + namespace + address.substring(at).toLowerCase(Locale.ROOT);
  }

  /** The SMTP AUTH login that files everything its client sends here: {@link #address()}. */
  public String login() {
    return address();
  }

  /** Any password logs in; this one is as good as another. */
  public String password() {
    return "inbox-password";
  }

  /**
   * Jakarta Mail settings that send as this inbox: the submission port (needs {@link
   * PostaExtension#withSubmission()}), STARTTLS with the chain checked against the test CA and the
   * host name against the certificate (as {@link PostaExtension#mailProperties()}), AUTH as {@link
   * #login()}; pass {@link #password()} to {@code Transport.send(message, user, password)}.
   */
  public Properties mailProperties() {
    Properties p = new Properties();
    p.setProperty("mail.transport.protocol", "smtp");
    p.setProperty("mail.smtp.host", mail.host());
    p.setProperty("mail.smtp.port", Integer.toString(mail.submissionPort()));
    p.setProperty("mail.smtp.auth", "true");
    p.setProperty("mail.smtp.starttls.enable", "true");
    p.setProperty("mail.smtp.starttls.required", "true");
    PostaExtension.trustTheCa(p);
    p.setProperty("mail.user", login());
    return p;
  }

  /** A wait for this inbox's mail only. */
  public Await await() {
    return new Await(mail, MailQuery.ALL.inNamespace(namespace), Await.DEFAULT_TIMEOUT);
  }

  /** This inbox's mail so far, oldest first. */
  public List<ReceivedMessage> messages() {
    return mail.capturedMail().find(MailQuery.ALL.inNamespace(namespace)).stream().map(ReceivedMessage::of).toList();
  }

  @Override
  public String toString() {
    return "Inbox[" + namespace + ", " + address() + "]";
  }
}
