package dev.posta.junit;

/**
 * Keeps the server's INFO lines out of a test run: when the test project's SLF4J backend is
 * logback and nothing set a level for {@code dev.posta}, that logger gets WARN. Any other
 * backend is left as the project configured it.
 */
final class Logs {
  private Logs() {}

  private static volatile boolean done;

  static void quiet() {
    if (done) return;
    done = true;
    try {
      Class.forName("ch.qos.logback.classic.Logger", false, Logs.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      return;
    }
    Logback.quiet();
  }

  /** Apart, so that logback's classes are loaded only when they are there. */
  private static final class Logback {
    static void quiet() {
      if (org.slf4j.LoggerFactory.getLogger("dev.posta") instanceof ch.qos.logback.classic.Logger posta && posta.getLevel() == null) {
        posta.setLevel(ch.qos.logback.classic.Level.WARN);
      }
    }
  }
}
