package dev.posta.junit;

/**
 * The first start in a fresh JVM, which a per-class figure measured inside a test run hides:
 * {@code java -cp ... dev.posta.junit.ColdStartProbe [tls]}. Logging is started first, as a test
 * run's framework would have, so that its start is not counted as the server's.
 */
public final class ColdStartProbe {
  public static void main(String[] args) throws Exception {
    long t0 = System.nanoTime();
    org.slf4j.LoggerFactory.getLogger(ColdStartProbe.class).debug("logging up");
    long t1 = System.nanoTime();
    PostaExtension first = args.length > 0 ? PostaExtension.withDefaults().withAccount("a@b.example", "password-123").withReaders()
        : PostaExtension.withDefaults();
    first.start();
    first.stop();
    PostaExtension second = args.length > 0 ? PostaExtension.withDefaults().withAccount("a@b.example", "password-123").withReaders()
        : PostaExtension.withDefaults();
    second.start();
    second.stop();
    System.out.println((args.length > 0 ? "smtp+submission+tls+imap+pop3" : "smtp") + ": logging start " + (t1 - t0) / 1_000_000
        + " ms, first start " + first.startupTime().toMillis() + " ms, second " + second.startupTime().toMillis() + " ms");
  }
}
