package dev.posta.junit;

import dev.posta.smtp.Fault;
import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Repeatable;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A scripted SMTP fault for a test method, or for every test of a class (its subclasses and its
 * {@code @Nested} classes included): {@link PostaExtension} puts it in force before the test
 * (the outermost class's first, then each nested class's, then the method's, in the order
 * written: the first that matches an attempt fires) and clears it after. Each test gets its
 * own, with its own counts, met by its own mail only (see {@link PostaExtension}); a fault at
 * connect, EHLO, STARTTLS or AUTH fails the test before it runs when another test runs on the
 * server. The same as {@link
 * PostaExtension#fault()}; {@link Fault} says what each stage's fault replaces.
 *
 * <pre>{@code
 * @Test
 * @SmtpFault(stage = Fault.Stage.RCPT, match = "*@bounce.example", reply = "550 5.1.1 No such user", times = 2)
 * @SmtpFault(stage = Fault.Stage.CONNECT, refuse = true, times = 1)
 * void retriesABouncedRecipient() { ... }
 * }</pre>
 *
 * Exactly one of {@link #reply}, {@link #refuse} (connect only), {@link #disconnect} or {@link
 * #delay}; a mistake fails the test before it runs, saying what is wrong.
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.METHOD, ElementType.TYPE})
@Repeatable(SmtpFault.List.class)
public @interface SmtpFault {
  Fault.Stage stage();

  /** A glob on the sender (MAIL), recipient (RCPT) or either (data stages); "" matches all. */
  String match() default "";

  /** The reply the client gets, exactly: {@code "451 4.3.0 Try again later"}. */
  String reply() default "";

  /** At CONNECT: close at once, no greeting. */
  boolean refuse() default false;

  /** Drop the connection without a reply. */
  boolean disconnect() default false;

  /** At MID_DATA with {@link #disconnect}: after this many octets of the message. */
  long afterOctets() default 0;

  /** The usual reply after this long: {@code "2s"}, {@code "500ms"}. */
  String delay() default "";

  /** Only the first {@code times} matching attempts (0: every one). */
  int times() default 0;

  /** The chance that a matching attempt fires. */
  double probability() default 1;

  /** The draws' seed, for a repeatable run (with {@link #probability} under 1). */
  long seed() default 0;

  /** The container of repeated {@link SmtpFault}s. */
  @Documented
  @Inherited
  @Retention(RetentionPolicy.RUNTIME)
  @Target({ElementType.METHOD, ElementType.TYPE})
  @interface List {
    SmtpFault[] value();
  }
}
