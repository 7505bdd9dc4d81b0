package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.smtp.Fault;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import java.util.Properties;
import org.eclipse.angus.mail.smtp.SMTPAddressFailedException;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A class-level {@link SmtpFault} holds for the tests of its {@code @Nested} classes too, once
 * (not once per enclosing level), before a nested class's own and a method's: Angus Mail gets
 * exactly the outer class's RCPT reply (RFC 5321 §4.2) in a nested test, and the nested
 * class's for its own domain.
 */
@SmtpFault(stage = Fault.Stage.RCPT, match = "*@outer.example", reply = "550 5.1.1 outer says no")
class NestedSmtpFaultTest {
  @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults().resetBetweenTests();

  private static void send(String to) throws Exception {
    Properties p = new Properties();
    p.setProperty("mail.smtp.host", mail.host());
    p.setProperty("mail.smtp.port", Integer.toString(mail.smtpPort()));
    Session session = Mails.session(p);
    Transport.send(Mails.simple(session, "app@shop.example", to, "order", "Your order ships.\r\n"));
  }

  private static SMTPAddressFailedException refused(String to) {
    Throwable e = org.junit.jupiter.api.Assertions.assertThrows(jakarta.mail.MessagingException.class, () -> send(to));
    for (Throwable t = e; t != null; t = t instanceof jakarta.mail.MessagingException m && m.getNextException() != null ? m.getNextException() : t.getCause()) {
      if (t instanceof SMTPAddressFailedException a) return a;
    }
    throw new AssertionError("no SMTPAddressFailedException in " + e, e);
  }

  @Test
  void theOuterClassFaultHoldsForItsOwnTests() {
    SMTPAddressFailedException e = refused("ada@outer.example");
    assertThat(e.getReturnCode()).isEqualTo(550);
    assertThat(e.getMessage()).isEqualTo("550 5.1.1 outer says no\n");
  }

  @Nested
  @SmtpFault(stage = Fault.Stage.RCPT, match = "*@inner.example", reply = "450 4.2.0 inner says later")
  class Inner {
    @Test
    void theOuterClassFaultHoldsInANestedClass() throws Exception {
      SMTPAddressFailedException e = refused("ada@outer.example");
      assertThat(e.getReturnCode()).isEqualTo(550);
      assertThat(e.getMessage()).isEqualTo("550 5.1.1 outer says no\n");
      SMTPAddressFailedException inner = refused("ada@inner.example");
      assertThat(inner.getMessage()).isEqualTo("450 4.2.0 inner says later\n");
      send("ada@customer.example");
      assertThat(mail.awaitMessage().envelopeRecipients()).containsExactly("ada@customer.example");
    }

    @Test
    void classFaultsAreAddedOnce() {
      assertThat(PostaExtension.classFaults(Inner.class)).extracting(SmtpFault::reply)
          .containsExactly("550 5.1.1 outer says no", "450 4.2.0 inner says later");
    }
  }

  /** A subclass inherits its superclass's class-level faults (@Inherited). */
  static class Base {}

  @SmtpFault(stage = Fault.Stage.MAIL, reply = "421 4.3.2 base")
  static class Annotated extends Base {}

  static class Sub extends Annotated {}

  @Test
  void aSubclassInheritsTheFaults() {
    assertThat(PostaExtension.classFaults(Sub.class)).extracting(SmtpFault::reply).containsExactly("421 4.3.2 base");
  }
}
