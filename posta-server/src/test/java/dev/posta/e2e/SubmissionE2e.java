package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.TestServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Shared helpers of the submission end-to-end tests (real clients over STARTTLS and implicit
 * TLS, with AUTH): the account, the TLS form of the delivery headers, the queue, and running a
 * program with input.
 */
final class SubmissionE2e {
  private SubmissionE2e() {}

  /** The account every submission test sends as: an address in the local domain. */
  static final String USER = "sender@localhost";
  static final String PASSWORD = "password";

  /** RFC 5322 date as Posta writes it in Received: (always UTC). */
  private static final String DATE = "[A-Z][a-z]{2}, \\d{1,2} [A-Z][a-z]{2} \\d{4} \\d{2}:\\d{2}:\\d{2} \\+0000";

  /** A server with the test account. */
  static TestServer start(Path data) {
    return TestServer.start(data).addUser(USER, PASSWORD);
  }

  /**
   * The headers Posta puts in front of a message received over TLS from an authenticated
   * client (Return-Path and Delivered-To at delivery, Received at reception), exactly: group 1
   * the TLS protocol, group 2 the cipher suite, group 3 the queue ID. {@code helo} null
   * accepts any client name (smtplib sends one derived from the host's name).
   */
  static Pattern tlsDeliveryHeaders(String helo, String recipient) {
    String from = helo == null ? "[^\r\n ]+" : Pattern.quote(helo);
    return Pattern.compile("\\AReturn-Path: <" + Pattern.quote(USER) + ">\n"
        + "Delivered-To: " + Pattern.quote(recipient) + "\n"
        + "Received: from " + from + " \\(\\[127\\.0\\.0\\.1\\]\\)\n"
        + "\t\\(using (TLSv1\\.[23]) with cipher (TLS_[A-Z0-9_]+)\\)\n"
        + "\tby localhost \\(Posta\\) with ESMTPSA id (" + E2e.QUEUE_ID + ")\n"
        + "\tfor <" + Pattern.quote(recipient) + ">;\n"
        + "\t" + DATE + "\n");
  }

  /** A message as delivered over TLS: what the Received: header says, and what the client sent. */
  record TlsDelivered(String protocol, String cipher, String queueId, String content) {}

  /**
   * Asserts that {@code message} starts with exactly the TLS delivery headers (ESMTPSA, the
   * {@code (using TLSv1.3 with cipher ...)} comment) and splits it.
   */
  static TlsDelivered splitTlsDelivered(String message, String helo, String recipient) {
    Pattern headers = tlsDeliveryHeaders(helo, recipient);
    Matcher m = headers.matcher(message);
    assertThat(m.lookingAt())
        .as("delivered message starts with the Posta headers %s, but was:%n%s", headers.pattern(), message)
        .isTrue();
    return new TlsDelivered(m.group(1), m.group(2), m.group(3), message.substring(m.end()));
  }

  /** The one message delivered to {@code user@localhost}, once the queue is empty. */
  static String onlyMessage(TestServer server, String user) {
    assertThat(server.awaitMail(user, 1)).as("mail for %s@localhost", user).isNotEmpty();
    E2e.awaitQueueEmpty(server);
    List<String> mail = server.mail(user);
    assertThat(mail).as("messages in %s's mailbox", user).hasSize(1);
    return mail.getFirst();
  }

  /**
   * Waits until {@code count} messages are in the queue (accepted, deferred for remote delivery,
   * since tests have no DNS), then checks that they stay there and that nothing was delivered
   * to a local mailbox.
   */
  static void assertQueuedForRelay(TestServer server, int count) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (server.queued() < count && System.nanoTime() < deadline) pause(10);
    assertThat(server.queued()).as("messages waiting in the queue").isEqualTo(count);
    pause(200); // a delivery attempt, had there been one, would have run by now
    assertThat(server.queued()).as("messages still waiting in the queue").isEqualTo(count);
    assertThat(deliveredAnywhere(server)).as("files in any local mailbox").isEmpty();
  }

  /** Asserts that the server took no message: nothing queued, nothing delivered. */
  static void assertNothingAccepted(TestServer server) {
    pause(100);
    assertThat(server.queued()).as("messages in the queue").isZero();
    assertThat(deliveredAnywhere(server)).as("files in any local mailbox").isEmpty();
  }

  /** Every file under {@code <data>/mail}, the local mailboxes. */
  static List<Path> deliveredAnywhere(TestServer server) {
    Path mail = server.server().config().dataDir().resolve("mail");
    if (!Files.isDirectory(mail)) return List.of();
    try (Stream<Path> files = Files.walk(mail)) {
      return files.filter(Files::isRegularFile).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  /** Runs a program with {@code input} on its standard input; see {@link E2e#run}. */
  static E2e.Run run(Duration timeout, String input, List<String> command) {
    return E2e.run(timeout, input, command);
  }

}
