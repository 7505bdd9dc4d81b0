package dev.posta.example;

import java.net.URI;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.http.ResponseEntity;
import org.springframework.mail.SimpleMailMessage;
import org.springframework.mail.javamail.JavaMailSender;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.support.ServletUriComponentsBuilder;

/**
 * The application under test in Posta's Spring Boot example: a password reset by mail, as most
 * web applications have one. {@code POST /password-reset?email=...} mails a one-time link through
 * Spring's {@link JavaMailSender} (configured by {@code spring.mail.*}); {@code GET} on that link
 * asks for the new password, once.
 *
 * <p>Deliberately ordinary: nothing in it knows about Posta. The test ({@code
 * PasswordResetTest}) points {@code spring.mail.*} at a Posta in the test's JVM.
 */
@SpringBootApplication
@RestController
public class ResetApplication {
  private final JavaMailSender mailSender;
  private final SecureRandom random = new SecureRandom();
  /** Token to the address it was sent to; a token works once. */
  private final Map<String, String> pending = new ConcurrentHashMap<>();

  public ResetApplication(JavaMailSender mailSender) {
    this.mailSender = mailSender;
  }

  public static void main(String[] args) {
    SpringApplication.run(ResetApplication.class, args);
  }

  @PostMapping("/password-reset")
  public ResponseEntity<String> requestReset(@RequestParam("email") String email) {
    byte[] bytes = new byte[16];
    random.nextBytes(bytes);
    String token = HexFormat.of().formatHex(bytes);
    pending.put(token, email);
    URI link = ServletUriComponentsBuilder.fromCurrentContextPath().path("/password-reset/{token}").buildAndExpand(token).toUri();

    SimpleMailMessage mail = new SimpleMailMessage();
    mail.setFrom("no-reply@shop.example");
    mail.setTo(email);
    mail.setSubject("Reset your password");
    mail.setText("""
        Someone asked to reset the password of your account.

        To choose a new password, open this link (it works once):
        %s

        If it was not you, ignore this message.
        """.formatted(link));
    mailSender.send(mail);
    return ResponseEntity.accepted().body("If an account exists for " + email + ", a link is on its way.\n");
  }

  @GetMapping("/password-reset/{token}")
  public ResponseEntity<String> openLink(@PathVariable("token") String token) {
    String email = pending.remove(token);
    if (email == null) return ResponseEntity.status(410).body("This link has expired.\n");
    return ResponseEntity.ok("Choose a new password for " + email + ".\n");
  }
}
