package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.RepetitionInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder;
import org.junit.platform.launcher.core.LauncherFactory;
import org.junit.platform.launcher.listeners.SummaryGeneratingListener;

/**
 * Fifty tests at once on one server, faults included: one extension instance (a static field of
 * a holder, which five test classes register as their own, as a shared base class would) serves
 * five classes running in parallel, each running its ten tests in parallel, one of them through
 * a {@code @Nested} class; JUnit's launcher runs them with parallel execution on for classes and
 * methods, as a build that turns it on would.
 *
 * <p>Every test scripts faults with the same triggers and its own number in the reply (the first
 * RCPT 450, the first end-of-data 451, and for those logged in as their inbox the first MAIL
 * 451), all fifty set before any sends (a barrier); then each speaks SMTP itself and must meet
 * exactly its own replies, once each, then get its message through, which its inbox alone
 * holds. Had faults stayed the server's, a test would meet another's number, or none left. One
 * test also sends to an address of no inbox meanwhile, which no test's fault may reach; and one
 * is refused a fault at connect, which cannot be told to be its own while others run. The
 * server starts once, for the first class, and stops after the last: a class that ends first
 * does not stop it under the others.
 */
class ParallelFaultsTest {
  private static final int CLASSES = 5;
  private static final int PER_CLASS = 10;
  private static final int TESTS = CLASSES * PER_CLASS;

  /** Null unless this test runs the classes: then they wait for each other here. */
  private static volatile CyclicBarrier allFaultsSet;
  private static volatile CyclicBarrier allSent;
  private static final Set<dev.posta.PostaServer> servers = ConcurrentHashMap.newKeySet();
  private static final Set<String> threads = ConcurrentHashMap.newKeySet();
  private static final AtomicInteger numbers = new AtomicInteger();
  /** What each test's own dialogue got, by test number. */
  private static final Map<Integer, List<String>> dialogues = new ConcurrentHashMap<>();

  @Test
  void fiftyTestsInFiveClassesShareOneServerAndEachMeetsItsOwnFaultsOnly() {
    allFaultsSet = new CyclicBarrier(TESTS);
    allSent = new CyclicBarrier(TESTS);
    servers.clear();
    threads.clear();
    numbers.set(0);
    dialogues.clear();
    try {
      var request = LauncherDiscoveryRequestBuilder.request()
          .selectors(selectClass(First.class), selectClass(Second.class), selectClass(Third.class), selectClass(Fourth.class),
              selectClass(Fifth.class))
          .configurationParameter("junit.jupiter.execution.parallel.enabled", "true")
          .configurationParameter("junit.jupiter.execution.parallel.mode.default", "concurrent")
          .configurationParameter("junit.jupiter.execution.parallel.mode.classes.default", "concurrent")
          .configurationParameter("junit.jupiter.execution.parallel.config.strategy", "fixed")
          // A thread for each test and one for each class, which waits for its tests: all fifty at
          // once at the barriers needs them all.
          .configurationParameter("junit.jupiter.execution.parallel.config.fixed.parallelism", Integer.toString(TESTS + CLASSES + 1))
          .configurationParameter("junit.jupiter.execution.parallel.config.fixed.max-pool-size", Integer.toString(2 * TESTS))
          .build();
      var summary = new SummaryGeneratingListener();
      LauncherFactory.create().execute(request, summary);
      var result = summary.getSummary();
      var failures = result.getFailures().stream()
          .map(f -> f.getTestIdentifier().getDisplayName() + ": " + f.getException()).toList();
      assertThat(failures).as("failures").isEmpty();
      assertThat(result.getTestsSucceededCount()).isEqualTo(TESTS);
      assertThat(dialogues).hasSize(TESTS);
      assertThat(threads).as("tests ran at once on threads of their own").hasSize(TESTS);
      assertThat(servers).as("one server for all five classes").hasSize(1);
      assertThatThrownBy(Shared.MAIL::server).as("stopped after the last class")
          .isInstanceOf(IllegalStateException.class).hasMessageStartingWith("Posta is not running");
      System.out.println("ParallelFaultsTest: " + TESTS + " tests in " + CLASSES + " classes on " + threads.size() + " threads, one server");
    } finally {
      allFaultsSet = null;
      allSent = null;
    }
  }

  /** What the five classes register: one instance, as a holder or a base class gives it. */
  static final class Shared {
    static final PostaExtension MAIL = PostaExtension.withDefaults();
  }

  /** One test of fifty: scripts its faults, waits for all, speaks SMTP and checks every reply. */
  static void meetItsOwnFaultsOnly(PostaExtension mail, Inbox inbox) throws Exception {
    CyclicBarrier faultsSet = allFaultsSet;
    CyclicBarrier sent = allSent;
    Assumptions.assumeTrue(faultsSet != null, "run by ParallelFaultsTest only");
    int n = numbers.incrementAndGet();
    threads.add(Thread.currentThread().getName());
    servers.add(mail.server());
    boolean byLogin = n % 2 == 0;
    boolean noInbox = n == 7; // sends to an address of no inbox: no test's fault is its own
    if (!noInbox) {
      mail.fault().atRcpt().times(1).reply("450 4.2.0 Busy for test " + n);
      mail.fault().atEndOfData().times(1).reply("451 4.3.0 Not yet for test " + n);
      if (byLogin) mail.fault().atMail().times(1).reply("451 4.3.0 Sender busy for test " + n);
    }
    faultsSet.await(60, TimeUnit.SECONDS); // fifty tests running, every one's faults in force

    if (n == 3) {
      assertThatThrownBy(() -> mail.fault().atConnect().refuse())
          .isInstanceOf(IllegalStateException.class)
          .hasMessageStartingWith("a fault at connect (connect refuse) cannot tell this test's connections from those of the other tests"
              + " running on this server now [");
    }
    List<String> got = new ArrayList<>();
    String to = noInbox ? "nobody" + n + "@example.com" : inbox.address("user" + n + "@example.com");
    try (Smtp smtp = new Smtp(mail.host(), mail.smtpPort())) {
      got.add(smtp.read());
      got.add(smtp.command("EHLO test" + n));
      if (byLogin && !noInbox) {
        String plain = Base64.getEncoder().encodeToString(("\0" + inbox.login() + "\0" + inbox.password()).getBytes(StandardCharsets.UTF_8));
        got.add(smtp.command("AUTH PLAIN " + plain));
        got.add(smtp.command("MAIL FROM:<app@app.example>"));
      }
      got.add(smtp.command("MAIL FROM:<app@app.example>"));
      got.add(smtp.command("RCPT TO:<" + to + ">"));
      got.add(smtp.command("RCPT TO:<" + to + ">"));
      got.add(smtp.command("DATA"));
      got.add(smtp.command("Subject: test " + n + "\r\n\r\nfor test " + n + "\r\n."));
      if (!noInbox) {
        got.add(smtp.command("MAIL FROM:<app@app.example>"));
        got.add(smtp.command("RCPT TO:<" + to + ">"));
        got.add(smtp.command("DATA"));
        got.add(smtp.command("Subject: test " + n + "\r\n\r\nfor test " + n + "\r\n."));
      }
      got.add(smtp.command("QUIT"));
    }
    dialogues.put(n, got);
    List<String> want = new ArrayList<>(List.of("220", "250"));
    if (noInbox) {
      want.addAll(List.of("250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", "250 2.1.5 Recipient OK", "354", "250 2.0.0 Ok: queued as"));
    } else {
      if (byLogin) want.addAll(List.of("235", "451 4.3.0 Sender busy for test " + n));
      want.addAll(List.of("250 2.1.0 Sender OK", "450 4.2.0 Busy for test " + n, "250 2.1.5 Recipient OK", "354",
          "451 4.3.0 Not yet for test " + n, "250 2.1.0 Sender OK", "250 2.1.5 Recipient OK", "354", "250 2.0.0 Ok: queued as"));
    }
    want.add("221");
    assertThat(got).as("test %d's dialogue", n).hasSize(want.size());
    for (int i = 0; i < want.size(); i++) {
      String w = want.get(i);
      // The exact reply where it is the fault's or a constant's; the code where the text is the server's own (greeting, EHLO, queue ID).
      if (w.length() == 3 || w.endsWith("queued as")) assertThat(got.get(i)).as("test %d, reply %d of %s", n, i, got).startsWith(w);
      else assertThat(got.get(i)).as("test %d, reply %d of %s", n, i, got).isEqualTo(w);
    }
    sent.await(60, TimeUnit.SECONDS); // every test's mail is in: each inbox is read among all of it

    // Captured when delivered, a moment after the 250: wait for it, then check nothing else came.
    if (noInbox) {
      mail.await().to(to).within(java.time.Duration.ofSeconds(30)).count(1);
      assertThat(mail.messages()).filteredOn(m -> m.envelopeRecipients().contains(to)).extracting(ReceivedMessage::subject)
          .containsExactly("test " + n);
    } else {
      inbox.await().within(java.time.Duration.ofSeconds(30)).count(1);
      assertThat(inbox.messages()).extracting(ReceivedMessage::subject).containsExactly("test " + n);
    }
  }

  /** A line-at-a-time SMTP client: each command's last reply line, as the client reads it. */
  static final class Smtp implements AutoCloseable {
    private final Socket socket;
    private final BufferedReader in;
    private final OutputStream out;

    Smtp(String host, int port) throws IOException {
      socket = new Socket(host, port);
      socket.setSoTimeout(30_000);
      in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
      out = socket.getOutputStream();
    }

    String read() throws IOException {
      String line;
      do {
        line = in.readLine();
        if (line == null) throw new IOException("the server closed the connection");
      } while (line.length() > 3 && line.charAt(3) == '-');
      return line;
    }

    String command(String line) throws IOException {
      out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      return read();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  static class First {
    @RegisterExtension static PostaExtension mail = Shared.MAIL;

    @RepeatedTest(PER_CLASS)
    void meetsItsOwnFaultsOnly(Inbox inbox) throws Exception {
      meetItsOwnFaultsOnly(mail, inbox);
    }
  }

  static class Second {
    @RegisterExtension static PostaExtension mail = Shared.MAIL;

    @RepeatedTest(PER_CLASS)
    void meetsItsOwnFaultsOnly(Inbox inbox) throws Exception {
      meetItsOwnFaultsOnly(mail, inbox);
    }
  }

  static class Third {
    @RegisterExtension static PostaExtension mail = Shared.MAIL;

    @RepeatedTest(PER_CLASS)
    void meetsItsOwnFaultsOnly(Inbox inbox) throws Exception {
      meetItsOwnFaultsOnly(mail, inbox);
    }
  }

  static class Fourth {
    @RegisterExtension static PostaExtension mail = Shared.MAIL;

    @RepeatedTest(PER_CLASS)
    void meetsItsOwnFaultsOnly(Inbox inbox) throws Exception {
      meetItsOwnFaultsOnly(mail, inbox);
    }
  }

  /** Its tests run in a {@code @Nested} class, which shares the outer class's (the one) server. */
  static class Fifth {
    @RegisterExtension static PostaExtension mail = Shared.MAIL;

    @Nested
    class Inner {
      @RepeatedTest(PER_CLASS)
      void meetsItsOwnFaultsOnly(Inbox inbox, RepetitionInfo repetition) throws Exception {
        meetItsOwnFaultsOnly(mail, inbox);
      }
    }
  }
}
