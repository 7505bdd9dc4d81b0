package dev.posta.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.delivery.Router;
import dev.posta.mail.MailAddress;
import dev.posta.smtp.CommandParser;
import dev.posta.smtp.Policy;
import dev.posta.smtp.Replies;
import dev.posta.smtp.Reply;
import dev.posta.smtp.SmtpCommand;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Fuzzes the way from a MAIL or RCPT command line to its policy decision: {@link CommandParser},
 * then the {@link Policy} checks the session runs at MAIL and RCPT (sender ownership, local
 * recipients, relaying), against
 * a real {@link Router} and {@link UserStore} (aliases, any-local-part, accounts). Whatever the
 * line, no exception escapes and the reply is a well-formed RFC 5321 reply line. The corpus holds
 * the senders of issue 10 that once crashed the session.
 */
class EnvelopeFuzzTest {
  private static final List<String> ACCOUNTS = List.of("alice@example.org", "carol@localhost", "noreply@elsewhere.example");
  private static final Policy POLICY = policy();
  /** Neither loopback nor in a trusted network: no relaying without AUTH. */
  private static final InetAddress STRANGER = InetAddress.ofLiteral("192.0.2.1");

  private static Policy policy() {
    try {
      Path data = Files.createTempDirectory("envelope-fuzz");
      UserStore users = new UserStore(data);
      for (String a : ACCOUNTS) users.add(a, "pw".toCharArray());
      PostaConfig defaults = PostaConfig.embeddedDefaults(data);
      PostaConfig config = new PostaConfig("localhost", data, defaults.listeners(), defaults.limits(),
          List.of(
              new PostaConfig.LocalDomain("example.org", Set.of("alice", "bob"), false, Optional.empty(),
                  Map.of("sales", List.of("alice@example.org", "bob@example.org"), "out", List.of("x@remote.example"))),
              new PostaConfig.LocalDomain("localhost", Set.of(), true, Optional.empty(), Map.of())),
          "alice@example.org", Optional.empty(), PostaConfig.Tls.SELF_SIGNED, defaults.submission(), defaults.delivery());
      // As PostaServer asks: an address has a mailbox when it has an account.
      Router router = new Router(config, address -> {
        try {
          return users.find(address).isPresent();
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
      return new Policy(config, router);
    } catch (IOException | UserStore.UserException e) {
      throw new IllegalStateException(e);
    }
  }

  @FuzzTest(maxDuration = "30s")
  void mailAndRcptAlwaysGetAWellFormedReply(FuzzedDataProvider data) {
    SmtpCommand c = CommandParser.parse(data.consumeRemainingAsString());
    if (c instanceof SmtpCommand.Mail mail) {
      wellFormed(orElse(POLICY.mail(new Policy.Client(STRANGER, PostaConfig.Protocol.SUBMISSION, null), mail.sender()), Replies.SENDER_OK));
      for (String account : ACCOUNTS) {
        wellFormed(orElse(POLICY.mail(new Policy.Client(STRANGER, PostaConfig.Protocol.SUBMISSION, account), mail.sender()), Replies.SENDER_OK));
      }
    }
    if (c instanceof SmtpCommand.Rcpt rcpt) {
      MailAddress to = rcpt.recipient() != null ? rcpt.recipient() : new MailAddress("postmaster", "localhost");
      wellFormed(orElse(POLICY.rcpt(new Policy.Client(STRANGER, PostaConfig.Protocol.SMTP, null), to), Replies.RECIPIENT_OK));
      wellFormed(orElse(POLICY.rcpt(new Policy.Client(STRANGER, PostaConfig.Protocol.SUBMISSION, "alice@example.org"), to), Replies.RECIPIENT_OK));
    }
  }

  private static Reply orElse(Policy.Refusal refusal, Reply ok) {
    if (refusal == null) return ok;
    assertThat(refusal.reason()).isNotBlank().doesNotContain("\r", "\n");
    return refusal.reply();
  }

  private static void wellFormed(Reply r) {
    assertThat(new String(r.toBytes(), java.nio.charset.StandardCharsets.UTF_8)).matches("[245]\\d\\d \\d\\.\\d{1,3}\\.\\d{1,3} [^\r\n]*\r\n");
  }
}
