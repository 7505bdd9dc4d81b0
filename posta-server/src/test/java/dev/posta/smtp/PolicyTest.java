package dev.posta.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.config.PostaConfig.Protocol;
import dev.posta.delivery.Router;
import dev.posta.mail.MailAddress;
import dev.posta.queue.MessageContent;
import dev.posta.queue.Spool;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The policy checks at MAIL, RCPT and the end of the data, in their order, each with its exact reply and logged reason. */
class PolicyTest {
  private static final InetAddress STRANGER = InetAddress.ofLiteral("198.51.100.7");
  private static final InetAddress TRUSTED = InetAddress.ofLiteral("192.0.2.10");

  private final Policy policy = policy();

  private static Policy policy() {
    PostaConfig defaults = PostaConfig.embeddedDefaults(Path.of("/nonexistent"));
    PostaConfig config = defaults.toBuilder()
        .domains(List.of(new PostaConfig.LocalDomain("example.org", Set.of("alice", "bob"), false, Optional.empty(),
            Map.of("sales", List.of("alice@example.org")))))
        .postmaster("alice@example.org")
        .submission(new PostaConfig.Submission(List.of(Network.parse("192.0.2.0/24")), false, true, 10, java.time.Duration.ofMinutes(15)))
        .build();
    return new Policy(config, new Router(config));
  }

  private static MailAddress address(String local, String domain) {
    return new MailAddress(local, domain);
  }

  private static String refusal(Policy.Refusal r) {
    return r == null ? null : new String(r.reply().toBytes(), StandardCharsets.UTF_8).strip() + " / " + r.reason();
  }

  @Test
  void mailOnSubmissionWantsAuthFirstThenAnAddressTheUserOwns() {
    MailAddress bob = address("bob", "example.org");
    assertThat(refusal(policy.mail(new Policy.Client(STRANGER, Protocol.SUBMISSION, null), bob)))
        .isEqualTo("530 5.7.0 Authentication required / MAIL before AUTH on submission");
    assertThat(refusal(policy.mail(new Policy.Client(STRANGER, Protocol.SMTPS, null), null)))
        .as("even the null sender: submission is for users").isEqualTo("530 5.7.0 Authentication required / MAIL before AUTH on smtps");
    assertThat(refusal(policy.mail(new Policy.Client(STRANGER, Protocol.SUBMISSION, "alice@example.org"), bob)))
        .isEqualTo("553 5.7.1 <bob@example.org>: Sender address rejected: not owned by user alice@example.org / not owned by user alice@example.org");
    assertThat(policy.mail(new Policy.Client(STRANGER, Protocol.SUBMISSION, "alice@example.org"), address("sales", "example.org")))
        .as("an alias that resolves to her mailbox").isNull();
    assertThat(policy.mail(new Policy.Client(STRANGER, Protocol.SUBMISSION, "alice@example.org"), address("alice+news", "example.org"))).isNull();
    assertThat(policy.mail(new Policy.Client(STRANGER, Protocol.SUBMISSION, "alice@example.org"), null)).isNull();
    assertThat(policy.mail(new Policy.Client(STRANGER, Protocol.SMTP, null), bob)).as("port 25 takes any sender").isNull();
  }

  @Test
  void rcptTakesKnownLocalRecipientsAndRelaysOnlyForUsersAndTrustedNetworks() {
    Policy.Client stranger = new Policy.Client(STRANGER, Protocol.SMTP, null);
    assertThat(refusal(policy.rcpt(stranger, address("nobody", "example.org"))))
        .isEqualTo("550 5.1.1 <nobody@example.org>: Recipient address rejected: no such user here / no such user");
    assertThat(refusal(policy.rcpt(new Policy.Client(TRUSTED, Protocol.SMTP, null), address("nobody", "example.org"))))
        .as("a trusted network relays, but a local address must still exist")
        .isEqualTo("550 5.1.1 <nobody@example.org>: Recipient address rejected: no such user here / no such user");
    assertThat(refusal(policy.rcpt(stranger, address("carol", "elsewhere.example"))))
        .isEqualTo("554 5.7.1 <carol@elsewhere.example>: Relay access denied / relay access denied");
    assertThat(policy.rcpt(stranger, address("sales", "example.org"))).isNull();
    assertThat(policy.rcpt(new Policy.Client(TRUSTED, Protocol.SMTP, null), address("carol", "elsewhere.example"))).isNull();
    assertThat(policy.rcpt(new Policy.Client(STRANGER, Protocol.SUBMISSION, "alice@example.org"), address("carol", "elsewhere.example"))).isNull();
  }

  /** A message whose header section has {@code hops} Received: fields. */
  private static MessageContent withHops(Spool spool, int hops) {
    MessageContent content = spool.newContent();
    byte[] header = ("Received: from a.example by b.example; Thu, 1 Jan 2026 00:00:00 +0000\r\n".repeat(hops) + "Subject: x\r\n\r\nbody\r\n")
        .getBytes(StandardCharsets.US_ASCII);
    content.write(header, 0, header.length);
    return content;
  }

  @Test
  void atTheEndOfDataMoreReceivedFieldsThanMaxHopsAreALoop(@TempDir Path dir) throws Exception {
    Policy.Client client = new Policy.Client(STRANGER, Protocol.SMTP, null);
    try (Spool spool = new Spool(dir)) {
      int max = PostaConfig.Limits.DEFAULT_MAX_HOPS;
      assertThat(policy.endOfData(client, withHops(spool, max))).isNull();
      assertThat(refusal(policy.endOfData(client, withHops(spool, max + 1))))
          .isEqualTo("554 5.4.6 Too many hops (101 Received: header fields): mail loop? / 101 Received: header fields, over max-hops 100 (a mail loop?)");
    }
  }
}
