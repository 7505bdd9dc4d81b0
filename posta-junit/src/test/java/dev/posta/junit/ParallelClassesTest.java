package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import jakarta.mail.Transport;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;

/**
 * Test classes run in parallel (JUnit's parallel execution, classes CONCURRENT), as a build that
 * turns it on runs them: each class gets a server of its own on ports the OS picked, TLS with the
 * one CA of the JVM, and sees its own mail only; a {@code @Nested} class shares its outer
 * class's server meanwhile. The classes below are run through the JUnit launcher with parallel
 * execution on; each waits at a barrier until all three are running with their servers started,
 * so a run that is not parallel fails at the barrier instead of passing.
 */
class ParallelClassesTest {
  private static final int CLASSES = 3;
  private static volatile CyclicBarrier allRunning;
  /** The ports each class's server got, by class. */
  private static final Map<String, List<Integer>> ports = new ConcurrentHashMap<>();

  @Test
  void classesRunInParallelEachWithItsOwnServer() {
    allRunning = new CyclicBarrier(CLASSES);
    ports.clear();
    try {
      var request = LauncherDiscoveryRequestBuilder.request()
          .selectors(selectClass(PerClassWithNested.class), selectClass(ServerPerMethod.class), selectClass(ImplicitTls.class))
          .configurationParameter("junit.jupiter.execution.parallel.enabled", "true")
          .configurationParameter("junit.jupiter.execution.parallel.mode.default", "same_thread")
          .configurationParameter("junit.jupiter.execution.parallel.mode.classes.default", "concurrent")
          .configurationParameter("junit.jupiter.execution.parallel.config.strategy", "fixed")
          .configurationParameter("junit.jupiter.execution.parallel.config.fixed.parallelism", Integer.toString(CLASSES))
          .build();
      var summary = new SummaryGeneratingListener();
      LauncherFactory.create().execute(request, summary);
      var result = summary.getSummary();
      var failures = result.getFailures().stream()
          .map(f -> f.getTestIdentifier().getDisplayName() + ": " + f.getException()).toList();
      assertThat(failures).as("failures").isEmpty();
      assertThat(result.getTestsSucceededCount()).isEqualTo(4); // three classes, one @Nested
      assertThat(ports).containsOnlyKeys("PerClassWithNested", "ServerPerMethod", "ImplicitTls");
      assertThat(ports.values().stream().flatMap(List::stream).distinct().count())
          .as("every port is a server's own: %s", ports).isEqualTo(ports.values().stream().mapToLong(List::size).sum());
    } finally {
      allRunning = null;
    }
  }

  /** What each class does: waits for the others, then sends over STARTTLS and finds its message alone. */
  private static void sendAlongsideTheOthers(PostaExtension mail, String name, List<Integer> classPorts, boolean implicit)
      throws Exception {
    CyclicBarrier barrier = allRunning;
    Assumptions.assumeTrue(barrier != null, "run by ParallelClassesTest only");
    ports.put(name, classPorts);
    barrier.await(60, TimeUnit.SECONDS); // every class is running, its server listening
    var props = implicit ? mail.implicitTlsMailProperties() : mail.mailProperties();
    Transport.send(Mails.simple(Mails.session(props), "app@app.example", name.toLowerCase() + "@customer.example", name, "text"));
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).extracting(ReceivedMessage::subject).containsExactly(name);
  }

  static class PerClassWithNested {
    @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults().withSubmission();
    static volatile dev.posta.PostaServer server;

    @Test
    void sends() throws Exception {
      server = mail.server();
      sendAlongsideTheOthers(mail, "PerClassWithNested", List.of(mail.smtpPort(), mail.submissionPort()), false);
    }

    @Nested
    class Inner {
      @Test
      void sharesTheOuterServer() {
        Assumptions.assumeTrue(allRunning != null, "run by ParallelClassesTest only");
        assertThat(mail.server()).isSameAs(server);
        assertThat(mail.messages()).extracting(ReceivedMessage::subject).containsExactly("PerClassWithNested");
      }
    }
  }

  static class ServerPerMethod {
    @RegisterExtension PostaExtension mail = PostaExtension.withDefaults().withReaders();

    @Test
    void sends() throws Exception {
      sendAlongsideTheOthers(mail, "ServerPerMethod", List.of(mail.smtpPort(), mail.imapPort(), mail.pop3Port()), false);
    }
  }

  static class ImplicitTls {
    @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults().withImplicitTls();

    @Test
    void sends() throws Exception {
      sendAlongsideTheOthers(mail, "ImplicitTls", List.of(mail.smtpPort(), mail.smtpsPort()), true);
    }
  }
}
