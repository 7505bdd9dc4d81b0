package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A server that keeps only 5 messages: thirty messages for others between the two a test waits
 * for, and the wait still returns both; the index forgot the first meanwhile, as it should.
 */
class RetentionTest {
  @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults().withRetention(5);

  @Test
  void retentionNeverHidesAMessageATestIsWaitingFor(Inbox waiting, Inbox busy) throws Exception {
    var session = Mails.session(mail.mailProperties());
    try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
      Future<List<ReceivedMessage>> both = threads.submit(() -> waiting.await().count(2));
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (mail.server().capturedMail().waiting() == 0 && System.nanoTime() < deadline) Thread.sleep(1);
      Mails.send(Mails.simple(session, "app@app.example", waiting.address(), "first", "1"));
      for (int i = 0; i < 30; i++) Mails.send(Mails.simple(session, "app@app.example", busy.address(), "noise " + i, "x"));
      // 31 delivered, 5 kept: wait for the deliveries (the queue's, after each 250) to be done.
      while (mail.server().capturedMail().forgotten() < 26 && System.nanoTime() < deadline + TimeUnit.SECONDS.toNanos(20)) Thread.sleep(5);
      assertThat(mail.server().capturedMail().forgotten()).isEqualTo(26);
      assertThat(waiting.messages()).as("the index forgot it").isEmpty();
      assertThat(mail.server().capturedMail().size()).isEqualTo(5);
      assertThat(both.isDone()).isFalse();
      Mails.send(Mails.simple(session, "app@app.example", waiting.address(), "second", "2"));
      assertThat(both.get(10, TimeUnit.SECONDS)).extracting(ReceivedMessage::subject).containsExactly("first", "second");
    }
  }
}
