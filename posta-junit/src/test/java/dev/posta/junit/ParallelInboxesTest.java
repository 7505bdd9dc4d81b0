package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;

import jakarta.mail.Transport;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;

/**
 * Fifty tests at once on one server, each with an inbox of its own (an {@link Inbox} parameter),
 * each sending with Angus Mail: the odd ones over plain SMTP to their inbox's tagged address,
 * the even ones logged in as their inbox on submission (STARTTLS, AUTH PLAIN) to an untagged
 * address. No test looks at its mail before all fifty have sent theirs (a latch), so every
 * inbox is read while forty-nine other tests' mail is in the index; each sees exactly its own
 * message, and nothing else.
 */
@Execution(ExecutionMode.CONCURRENT)
class ParallelInboxesTest {
  private static final int TESTS = 50;

  @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults().withSubmission();

  private static final CountDownLatch allSent = new CountDownLatch(TESTS);
  private static final Set<String> namespaces = ConcurrentHashMap.newKeySet();
  private static final Set<String> threads = ConcurrentHashMap.newKeySet();

  @RepeatedTest(TESTS)
  void eachTestSeesItsOwnMailOnly(Inbox inbox, RepetitionInfo repetition) throws Exception {
    threads.add(Thread.currentThread().getName());
    int n = repetition.getCurrentRepetition();
    String subject = "message of test " + n;
    boolean byLogin = n % 2 == 0;
    if (byLogin) {
      var session = Mails.session(inbox.mailProperties());
      Transport.send(Mails.simple(session, "app@app.example", "user" + n + "@example.com", subject, "for test " + n + " only"),
          inbox.login(), inbox.password());
    } else {
      var session = Mails.session(mail.mailProperties());
      Mails.send(Mails.simple(session, "app@app.example", inbox.address("user" + n + "@example.com"), subject, "for test " + n + " only"));
    }
    allSent.countDown();
    assertThat(allSent.await(60, TimeUnit.SECONDS)).as("all %d tests sent at once (%d did)", TESTS, TESTS - allSent.getCount()).isTrue();

    ReceivedMessage m = inbox.await().first();
    assertThat(m.subject()).isEqualTo(subject);
    assertThat(m.namespace()).isEqualTo(inbox.namespace());
    assertThat(m.text()).isEqualTo("for test " + n + " only\r\n"); // the end of DATA ends the last line
    assertThat(m.envelopeRecipients()).containsExactly(byLogin ? "user" + n + "@example.com" : "user" + n + "+" + inbox.namespace() + "@example.com");
    assertThat(inbox.messages()).extracting(ReceivedMessage::subject).containsExactly(subject);
    namespaces.add(inbox.namespace());
  }

  @AfterAll
  static void everyMessageInItsOwnNamespace() {
    List<ReceivedMessage> all = mail.messages();
    assertThat(all).hasSize(TESTS);
    assertThat(all.stream().map(ReceivedMessage::namespace).collect(Collectors.toSet())).hasSize(TESTS).isEqualTo(namespaces);
    System.out.println("ParallelInboxesTest: " + TESTS + " tests on " + threads.size() + " threads, " + all.size() + " messages in "
        + namespaces.size() + " namespaces");
  }
}
