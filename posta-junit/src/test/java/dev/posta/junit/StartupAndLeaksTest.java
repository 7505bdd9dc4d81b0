package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.HotSpotDiagnosticMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * What the extension leaves behind after stop (no thread, no port, no data folder) and how long
 * it takes to start. The start-up time is measured and written down, not asserted beyond a
 * sanity bound: a tight bound on a shared CI machine would be a flaky test (ColdStartProbe
 * measures a fresh JVM). Figures go to stdout and to target/posta-junit-startup.txt.
 */
class StartupAndLeaksTest {
  /**
   * The threads a server starts, by name, platform and virtual: accept loops ({@code
   * accept-smtp-2525}), each listener's idle-session parker and write watchdog, the queue's
   * dispatcher and deliveries, the spool's committer, the file remover, the control and local
   * sockets' acceptors and their clients, the drop folder's pickup, the connection sweeper, and
   * one per session ({@code submission-/127.0.0.1:40312}). Other threads of the JVM (JUnit's
   * workers, the JDK's own) come and go as they please and are no server's leak.
   */
  private static final Pattern SERVER_THREAD = Pattern.compile("accept-.*|.*-idle|.*-watchdog|queue-dispatcher|deliver-.*"
      + "|spool-committer|file-removal-.*|control-socket|control|local-socket|local|maildrop-pickup|smtp-connection-sweeper"
      + "|(smtp|submission|smtps|imap|imaps|pop3|pop3s)-/.*");

  /**
   * How many threads of each server name run now, virtual ones included (which {@link
   * Thread#getAllStackTraces()} leaves out), from the JDK's JSON thread dump.
   */
  private static Map<String, Long> serverThreads() throws java.io.IOException {
    Path dump = Files.createTempDirectory("posta-junit-threads-").resolve("threads.json");
    try {
      ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class).dumpThreads(dump.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.JSON);
      Matcher name = Pattern.compile("\"name\": \"((?:[^\"\\\\]|\\\\.)*)\"").matcher(Files.readString(dump));
      Map<String, Long> counts = new TreeMap<>();
      while (name.find()) {
        if (SERVER_THREAD.matcher(name.group(1)).matches()) counts.merge(name.group(1), 1L, Long::sum);
      }
      return counts;
    } finally {
      Files.deleteIfExists(dump);
      Files.deleteIfExists(dump.getParent());
    }
  }

  /** The names of which more threads run in {@code now} than in {@code before}. */
  private static List<String> more(Map<String, Long> now, Map<String, Long> before) {
    return now.entrySet().stream().filter(e -> e.getValue() > before.getOrDefault(e.getKey(), 0L)).map(Map.Entry::getKey).toList();
  }

  /**
   * Waits until no more server threads run than in {@code before}, to {@code deadline}: platform
   * threads are joined; virtual ones cannot be found by name, so the dump is taken again (each
   * takes a while) until they are gone. No sleeping. Returns those still running.
   */
  private static List<String> awaitBackTo(Map<String, Long> before, long deadline) throws Exception {
    List<String> running = more(serverThreads(), before);
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      long left = deadline - System.nanoTime();
      if (left > 0 && running.contains(t.getName())) {
        t.join(Duration.ofNanos(left));
      }
    }
    List<String> left;
    do {
      left = more(serverThreads(), before);
    } while (!left.isEmpty() && System.nanoTime() - deadline < 0);
    return left;
  }

  @Test
  void stopLeavesNoThreadPortOrFolder() throws Exception {
    // One start and stop first (what a JVM makes once, the test CA and class loading, is no leak), and its threads gone.
    Map<String, Long> base = serverThreads();
    PostaExtension.withDefaults().withSubmission().start().stop();
    assertThat(awaitBackTo(base, System.nanoTime() + Duration.ofSeconds(10).toNanos())).as("the first server's threads").isEmpty();
    Map<String, Long> before = serverThreads();

    PostaExtension mail = PostaExtension.withDefaults().withAccount("a@b.example", "password-123").withImplicitTls().withReaders().start();
    List<Integer> ports = List.of(mail.smtpPort(), mail.submissionPort(), mail.smtpsPort(), mail.imapPort(), mail.pop3Port());
    Path data = mail.server().config().dataDir();
    // over submission with STARTTLS and AUTH, and over implicit TLS, so that those threads ran too
    jakarta.mail.Transport.send(Mails.simple(Mails.session(mail.mailProperties()), "a@b.example", "c@d.example", "s", "t"),
        mail.username(), mail.password());
    jakarta.mail.Transport.send(Mails.simple(Mails.session(mail.implicitTlsMailProperties()), "a@b.example", "c@d.example", "s", "t"),
        mail.username(), mail.password());
    assertThat(mail.awaitMessages(2, Duration.ofSeconds(10))).hasSize(2);
    // the pattern finds the server's threads, platform and virtual
    assertThat(more(serverThreads(), before)).as("the server's threads while it runs")
        .contains("accept-smtp-" + mail.smtpPort(), "accept-submission-" + mail.submissionPort(), "accept-smtps-" + mail.smtpsPort(),
            "accept-imap-" + mail.imapPort(), "accept-pop3-" + mail.pop3Port(), "queue-dispatcher", "spool-committer",
            "control-socket", "local-socket", "maildrop-pickup");
    mail.stop();

    assertThat(awaitBackTo(before, System.nanoTime() + Duration.ofSeconds(10).toNanos())).as("server threads left running after stop").isEmpty();

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
