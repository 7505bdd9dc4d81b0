package dev.posta.operations;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.posta.testing.Await;
import dev.posta.testing.ImapWire;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * A stopping server (SIGTERM, {@code systemctl stop}) tells its clients so before it closes
 * their connections (issue 15), whatever they were doing: waiting between commands, sending a
 * message, or silent in the middle of one. A message not yet acknowledged is not kept (the
 * client's 421 tells it to send again); one the client sees 250 for is.
 */
class StopTest {
  @TempDir Path data;
  TestServer server;
  final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  final Logger posta = (Logger) LoggerFactory.getLogger("dev.posta");

  @BeforeEach
  void start() {
    logs.start();
    posta.addAppender(logs);
    server = TestServer.start(data);
  }

  @AfterEach
  void stop() {
    server.close();
    posta.detachAppender(logs);
  }

  /** Stops the server on another thread, as the SIGTERM handler does, while the test goes on as the client. */
  private CompletableFuture<Void> stopping() {
    return CompletableFuture.runAsync(server::close);
  }

  @Test
  void aClientBetweenCommandsHears421() throws Exception {
    try (var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      stopping().get(10, TimeUnit.SECONDS);
      assertThat(smtp.reply()).isEqualTo("421 4.3.2 Server shutting down, try again later");
      assertThat(smtp.isClosedByServer()).isTrue();
    }
    assertThat(lines()).anyMatch(l -> l.matches("smtp\\[127\\.0\\.0\\.1\\]#\\w{8}: disconnect from 127\\.0\\.0\\.1:\\d+ ehlo=1 commands=1 \\(server stopping\\)"));
  }

  @Test
  void aClientSendingAMessageOverTlsHears421AtItsNextLineAndTheMessageIsNotKept() throws Exception {
    try (var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.startTls(server.clientTls());
      smtp.command("EHLO client.example");
      smtp.envelope("sender@example.com", "someone@localhost");
      assertThat(smtp.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      smtp.send("Subject: cut short\r\n\r\nfirst line\r\n");
      var stopped = stopping();
      Thread.sleep(300); // the server is stopping; the client goes on writing its message
      smtp.send("second line\r\n");
      assertThat(smtp.reply()).isEqualTo("421 4.3.2 Server shutting down, try again later");
      stopped.get(10, TimeUnit.SECONDS);
    }
    assertThat(server.mail("someone")).isEmpty();
    assertThat(lines()).anyMatch(l -> l.matches("smtp\\[127\\.0\\.0\\.1\\]#\\w{8}: \\w{16}: transaction abandoned in state RCPT"));
  }

  @Test
  void aClientSilentInTheMiddleOfAMessageHears421WhenItsReadIsCut() throws Exception {
    try (var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("sender@example.com", "someone@localhost");
      assertThat(smtp.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      smtp.send("Subject: cut short\r\n\r\nhalf a mess");
      Thread.sleep(300); // the server has read it and waits for more
      long start = System.nanoTime();
      var stopped = stopping();
      assertThat(smtp.reply()).isEqualTo("421 4.3.2 Server shutting down, try again later");
      stopped.get(10, TimeUnit.SECONDS);
      long took = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
      assertThat(took).as("its read cut after a second, not left to the data timeout").isBetween(900L, 5000L);
    }
    assertThat(server.mail("someone")).isEmpty();
  }

  @Test
  void aMessageAcknowledgedBeforeTheStopIsKept() throws Exception {
    try (var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("sender@example.com", "someone@localhost");
      assertThat(smtp.data("Subject: kept\r\n\r\nkept")).matches("250 2\\.0\\.0 Ok: queued as \\w{16}");
      stopping().get(10, TimeUnit.SECONDS);
      assertThat(smtp.reply()).isEqualTo("421 4.3.2 Server shutting down, try again later");
    }
    // Delivered before the stop, or at the next start: once either way.
    server = TestServer.start(data);
    assertThat(server.awaitMail("someone", 1)).hasSize(1);
    Await.await("the queue empty", () -> server.queued() == 0);
    assertThat(server.mail("someone")).hasSize(1);
  }

  @Test
  void anImapClientHearsBye() throws Exception {
    try (var imap = new ImapWire(server.imapPort())) {
      imap.line();
      stopping().get(10, TimeUnit.SECONDS);
      assertThat(imap.line()).isEqualTo("* BYE Server shutting down\r\n");
    }
  }

  private java.util.List<String> lines() {
    return logs.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }
}
