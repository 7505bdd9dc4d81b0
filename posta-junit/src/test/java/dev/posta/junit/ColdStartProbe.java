package dev.posta.junit;

import java.util.ArrayList;
import java.util.List;

/**
 * The first start in a fresh JVM, which a per-class figure measured inside a test run hides:
 * {@code java -cp ... dev.posta.junit.ColdStartProbe [tls]}. Without an argument the first class
 * has SMTP only; with {@code tls} it has every TLS listener (submission with STARTTLS and an
 * account, SMTPS, IMAP, POP3), so its start includes the test CA's making (on its own thread,
 * overlapping the server's start) and loading the JDK's TLS. Then three later classes of the same
 * kind; with {@code tls}, also how long after the first start began a client (trusting the CA)
 * has its first greeting over implicit TLS, which waits for the server's TLS set-up that start()
 * does not. Logging is started first, as a test run's framework would have, so that its start is not
 * counted as the server's. Besides the wall-clock time it prints the CPU time the whole process
 * spent in the first start (every thread: the CA's, the JIT compilers', the collector's), which
 * other work on the machine does not inflate as it does the wall clock: on a 2-core machine the
 * wall time of an idle run is at least half of it.
 */
public final class ColdStartProbe {
  public static void main(String[] args) throws Exception {
    boolean tls = args.length > 0 && args[0].equals("tls");
    long t0 = System.nanoTime();
    org.slf4j.LoggerFactory.getLogger(ColdStartProbe.class).debug("logging up");
    long t1 = System.nanoTime();
    var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    long firstCpu = 0;
    long firstGreeting = 0;
    List<Long> starts = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      long cpu = os.getProcessCpuTime(); // before the set-up, which starts making the CA
      // set up and started back to back, as JUnit does with a @RegisterExtension field
      PostaExtension mail = tls
          ? PostaExtension.withDefaults().withAccount("a@b.example", "password-123").withImplicitTls().withReaders()
          : PostaExtension.withDefaults();
      long began = System.nanoTime();
      mail.start();
      if (i == 0) firstCpu = os.getProcessCpuTime() - cpu;
      starts.add(mail.startupTime().toMillis());
      if (i == 0 && tls) {
        // What a test that talks TLS at once waits for: the server's TLS set-up finishes after
        // start() returns, and this client's (a context trusting the CA) is made meanwhile.
        try (var socket = (javax.net.ssl.SSLSocket) mail.sslContext().getSocketFactory().createSocket(mail.host(), mail.smtpsPort())) {
          socket.startHandshake();
          if (!new String(socket.getInputStream().readNBytes(3), java.nio.charset.StandardCharsets.US_ASCII).equals("220")) {
            throw new IllegalStateException("no greeting over TLS");
          }
        }
        firstGreeting = (System.nanoTime() - began) / 1_000_000;
      }
      mail.stop();
    }
    System.out.println((tls ? "smtp+submission+smtps+imap+pop3 (TLS)" : "smtp only") + ": logging start " + (t1 - t0) / 1_000_000
        + " ms, first class " + starts.get(0) + " ms (" + firstCpu / 1_000_000 + " ms of CPU)"
        + (tls ? ", its first greeting over implicit TLS " + firstGreeting + " ms after the start began" : "") + ", later classes "
        + starts.subList(1, starts.size()) + " ms; load average " + os.getSystemLoadAverage());
  }
}
