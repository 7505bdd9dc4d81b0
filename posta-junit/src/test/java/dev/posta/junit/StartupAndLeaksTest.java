package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * What the extension leaves behind after stop (no thread, no port, no data folder) and how long
 * it takes to start. The start-up time is measured and written down, not asserted beyond a
 * sanity bound: a tight bound on a shared CI machine would be a flaky test (ColdStartProbe
 * measures a fresh JVM). Figures go to stdout and to target/posta-junit-startup.txt.
 */
class StartupAndLeaksTest {
  /**
   * The platform threads a server starts, by name: accept loops ({@code accept-smtp-2525}), the
   * idle-session parkers and write watchdogs of each listener, the queue's dispatcher, the
   * spool's committer, the file remover; and the extension's own.
   */
  private static final java.util.regex.Pattern SERVER_THREAD =
      java.util.regex.Pattern.compile("accept-.*|.*-idle|.*-watchdog|queue-dispatcher|spool-committer|file-removal-.*|posta-junit-.*");

  /**
   * The names of every thread, virtual ones included (which {@link Thread#getAllStackTraces()}
   * leaves out: the server's sessions, sweepers and deliveries run on them), from the JDK's JSON
   * thread dump.
   */
  private static List<String> allThreadNames() throws java.io.IOException {
    Path dump = Files.createTempDirectory("posta-junit-threads-").resolve("threads.json");
    try {
      java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class)
          .dumpThreads(dump.toString(), com.sun.management.HotSpotDiagnosticMXBean.ThreadDumpFormat.JSON);
      var name = java.util.regex.Pattern.compile("\"name\": \"((?:[^\"\\\\]|\\\\.)*)\"").matcher(Files.readString(dump));
      List<String> names = new ArrayList<>();
      while (name.find()) names.add(name.group(1));
      return names;
    } finally {
      Files.deleteIfExists(dump);
      Files.deleteIfExists(dump.getParent());
    }
  }

  private static Set<Thread> liveThreads() {
    return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).collect(Collectors.toSet());
  }

  @Test
  void stopLeavesNoThreadPortOrFolder() throws Exception {
    // One start and stop first: what a JVM makes once (the test CA and its thread, class loading) is no leak.
    PostaExtension.withDefaults().withSubmission().start().stop();
    Set<Thread> before = liveThreads();
    Set<String> namedBefore = Set.copyOf(allThreadNames());

    PostaExtension mail = PostaExtension.withDefaults().withAccount("a@b.example", "password-123").withImplicitTls().withReaders().start();
    List<Integer> ports = List.of(mail.smtpPort(), mail.submissionPort(), mail.smtpsPort(), mail.imapPort(), mail.pop3Port());
    Path data = mail.server().config().dataDir();
    // over submission with STARTTLS and AUTH, and over implicit TLS, so that those threads ran too
    jakarta.mail.Transport.send(Mails.simple(Mails.session(mail.mailProperties()), "a@b.example", "c@d.example", "s", "t"),
        mail.username(), mail.password());
    jakarta.mail.Transport.send(Mails.simple(Mails.session(mail.implicitTlsMailProperties()), "a@b.example", "c@d.example", "s", "t"),
        mail.username(), mail.password());
    assertThat(mail.awaitMessages(2, Duration.ofSeconds(10))).hasSize(2);
    List<String> running = liveThreads().stream().filter(t -> !before.contains(t)).map(Thread::getName).toList();
    // the pattern finds the server's threads: each listener's accept loop at least
    assertThat(running.stream().filter(n -> SERVER_THREAD.matcher(n).matches()))
        .as("the server's threads while it runs: %s", running)
        .contains("accept-smtp-" + mail.smtpPort(), "accept-submission-" + mail.submissionPort(), "accept-smtps-" + mail.smtpsPort(),
            "accept-imap-" + mail.imapPort(), "accept-pop3-" + mail.pop3Port(), "queue-dispatcher", "spool-committer");
    // and the virtual ones: the control and local sockets' acceptors, the drop folder's pickup
    List<String> whileRunning = allThreadNames().stream().filter(n -> !namedBefore.contains(n)).toList();
    assertThat(whileRunning).as("threads while it runs, virtual ones too").contains("control-socket", "local-socket", "maildrop-pickup");
    mail.stop();

    // Every thread started since, server's or not, must end; each is waited for up to a common deadline, no sleeping.
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    for (Thread t : liveThreads()) {
      if (before.contains(t)) continue;
      long left = deadline - System.nanoTime();
      if (left > 0) t.join(Duration.ofNanos(left));
    }
    List<String> left = liveThreads().stream().filter(t -> !before.contains(t)).map(Thread::getName).toList();
    assertThat(left).as("threads left running after stop").isEmpty();
    // Virtual threads cannot be joined by name: the dump is taken again (each takes a while) until none of them is left, to the same deadline.
    List<String> virtualLeft;
    do {
      List<String> now = allThreadNames();
      virtualLeft = whileRunning.stream().filter(now::contains).toList();
    } while (!virtualLeft.isEmpty() && System.nanoTime() - deadline < 0);
    assertThat(virtualLeft).as("threads, virtual ones too, left running after stop").isEmpty();

    for (int port : ports) {
      try (var socket = new ServerSocket()) {
        socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port)); // throws when still bound
      }
    }
    assertThat(data).doesNotExist();
  }

  @Test
  void startUpTimeIsMeasured() throws Exception {
    PostaExtension.withDefaults().withSubmission().start().stop(); // the JVM's first: class loading, the CA
    List<Long> plain = new ArrayList<>();
    List<Long> withAll = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      PostaExtension a = PostaExtension.withDefaults().start();
      plain.add(a.startupTime().toMillis());
      a.stop();
      PostaExtension b = PostaExtension.withDefaults().withAccount("a@b.example", "password-123").withImplicitTls().withReaders().start();
      withAll.add(b.startupTime().toMillis());
      b.stop();
    }
    String report = "posta-junit start-up per class, ms (SMTP only): " + plain + "\n"
        + "posta-junit start-up per class, ms (SMTP, submission with STARTTLS and an account, SMTPS, IMAP, POP3): " + withAll + "\n";
    System.out.print(report);
    Path target = Path.of("target");
    if (Files.isDirectory(target)) Files.writeString(target.resolve("posta-junit-startup.txt"), report);
    // A sanity bound only, twenty times the figures measured on a busy 2-core machine: start
    // returns once listening, so a start that waits on a timeout somewhere would show here.
    assertThat(plain).allSatisfy(ms -> assertThat(ms).isLessThan(2_000));
    assertThat(withAll).allSatisfy(ms -> assertThat(ms).isLessThan(2_000));
  }
}
