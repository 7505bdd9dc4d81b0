package dev.posta.junit;

import java.util.ArrayList;
import java.util.List;

/**
 * The first start in a fresh JVM, which a per-class figure measured inside a test run hides:
 * {@code java -cp ... dev.posta.junit.ColdStartProbe [tls]}. Without an argument the first class
 * has SMTP only; with {@code tls} it has every TLS listener (submission with STARTTLS and an
 * account, SMTPS, IMAP, POP3), so its start includes the test CA's making (on its own thread,
 * overlapping the server's start) and loading the JDK's TLS. Then three later classes of the same
 * kind. Logging is started first, as a test run's framework would have, so that its start is not
 * counted as the server's.
 */
public final class ColdStartProbe {
  public static void main(String[] args) throws Exception {
    boolean tls = args.length > 0 && args[0].equals("tls");
    long t0 = System.nanoTime();
    org.slf4j.LoggerFactory.getLogger(ColdStartProbe.class).debug("logging up");
    long t1 = System.nanoTime();
    List<Long> starts = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      // set up and started back to back, as JUnit does with a @RegisterExtension field
      PostaExtension mail = tls
          ? PostaExtension.withDefaults().withAccount("a@b.example", "password-123").withImplicitTls().withReaders()
          : PostaExtension.withDefaults();
      mail.start();
      starts.add(mail.startupTime().toMillis());
      mail.stop();
    }
    System.out.println((tls ? "smtp+submission+smtps+imap+pop3 (TLS)" : "smtp only") + ": logging start " + (t1 - t0) / 1_000_000
        + " ms, first class " + starts.get(0) + " ms, later classes " + starts.subList(1, starts.size()) + " ms");
  }
}
