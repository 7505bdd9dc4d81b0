package dev.posta.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.delivery.Router;
import dev.posta.mail.MailAddress;
import dev.posta.smtp.CommandParser;
import dev.posta.smtp.EnvelopePolicy;
import dev.posta.smtp.Replies;
import dev.posta.smtp.Reply;
import dev.posta.smtp.SmtpCommand;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Fuzzes the way from a MAIL or RCPT command line to its policy decision: {@link CommandParser},
 * then the {@link EnvelopePolicy} the session calls for sender ownership and relaying, against
 * a real {@link Router} and {@link UserStore} (aliases, any-local-part, accounts). Whatever the
 * line, no exception escapes and the reply is a well-formed RFC 5321 reply line. The corpus holds
 * the senders of issue 10 that once crashed the session.
 */
class EnvelopeFuzzTest {
  private static final List<String> ACCOUNTS = List.of("alice@example.org", "carol@localhost", "noreply@elsewhere.example");
  private static final EnvelopePolicy POLICY = policy();

  private static EnvelopePolicy policy() {
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
      return new EnvelopePolicy(router, true);
    } catch (IOException | UserStore.UserException e) {
      throw new IllegalStateException(e);
    }
  }

  @FuzzTest(maxDuration = "30s")
  void mailAndRcptAlwaysGetAWellFormedReply(FuzzedDataProvider data) {
    SmtpCommand c = CommandParser.parse(data.consumeRemainingAsString());
    if (c instanceof SmtpCommand.Mail mail) {
      for (String account : ACCOUNTS) wellFormed(orElse(POLICY.senderRefusal(account, mail.sender()), Replies.SENDER_OK));
    }
    if (c instanceof SmtpCommand.Rcpt rcpt) {
      MailAddress to = rcpt.recipient() != null ? rcpt.recipient() : new MailAddress("postmaster", "localhost");
      wellFormed(orElse(POLICY.recipientRefusal(to, false), Replies.RECIPIENT_OK));
      wellFormed(orElse(POLICY.recipientRefusal(to, true), Replies.RECIPIENT_OK));
    }
  }

  private static Reply orElse(Reply refusal, Reply ok) {
    return refusal != null ? refusal : ok;
  }

  private static void wellFormed(Reply r) {
    assertThat(new String(r.toBytes(), java.nio.charset.StandardCharsets.UTF_8)).matches("[245]\\d\\d \\d\\.\\d{1,3}\\.\\d{1,3} [^\r\n]*\r\n");
  }
}
