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
 * it takes to start. The start-up time is measured and written down, not asserted: a bound on a
 * shared CI machine would be a flaky test. Figures go to stdout and to
 * target/posta-junit-startup.txt.
 */
class StartupAndLeaksTest {
  private static Set<Thread> liveThreads() {
    return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).collect(Collectors.toSet());
  }

  @Test
  void stopLeavesNoThreadPortOrFolder() throws Exception {
    // One start and stop first: what a JVM makes once (the test certificate, class loading) is no leak.
    PostaExtension.withDefaults().start().stop();
    Set<Thread> before = liveThreads();

    PostaExtension mail = PostaExtension.withDefaults().withAccount("a@b.example", "password-123").withReaders().start();
    List<Integer> ports = List.of(mail.smtpPort(), mail.submissionPort(), mail.imapPort(), mail.pop3Port());
    Path data = mail.server().config().dataDir();
    // over submission with STARTTLS and AUTH, so that those threads ran too
    jakarta.mail.Transport.send(Mails.simple(Mails.session(mail.mailProperties()), "a@b.example", "c@d.example", "s", "t"),
        mail.username(), mail.password());
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).hasSize(1);
    mail.stop();

    List<Thread> left = new ArrayList<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    do {
      left = liveThreads().stream().filter(t -> !before.contains(t)).toList();
      if (left.isEmpty()) break;
      Thread.sleep(50);
    } while (System.nanoTime() < deadline);
    assertThat(left).as("threads the server left running").isEmpty();

    for (int port : ports) {
      try (var socket = new ServerSocket()) {
        socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port)); // throws when still bound
      }
    }
    assertThat(data).doesNotExist();
  }

  @Test
  void startUpTimeIsMeasured() throws Exception {
    PostaExtension.withDefaults().start().stop(); // the JVM's first: class loading, the certificate
    List<Long> plain = new ArrayList<>();
    List<Long> withAll = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      PostaExtension a = PostaExtension.withDefaults().start();
      plain.add(a.startupTime().toMillis());
      a.stop();
      PostaExtension b = PostaExtension.withDefaults().withAccount("a@b.example", "password-123").withReaders().start();
      withAll.add(b.startupTime().toMillis());
      b.stop();
    }
    String report = "posta-junit start-up per class, ms (SMTP only): " + plain + "\n"
        + "posta-junit start-up per class, ms (SMTP, submission with STARTTLS and an account, IMAP, POP3): " + withAll + "\n";
    System.out.print(report);
    Path target = Path.of("target");
    if (Files.isDirectory(target)) Files.writeString(target.resolve("posta-junit-startup.txt"), report);
    assertThat(plain).hasSize(5);
  }
}
