package dev.posta.storage;

/** I/O errors as an operator reads them in the log. */
public final class IoErrors {
  private IoErrors() {}

  /**
   * An I/O error in one log line: its class and message, and those of its causes. A stack trace
   * says nothing more about a full disk, and a full disk fails every message.
   */
  public static String oneLine(Throwable e) {
    StringBuilder s = new StringBuilder(e.toString());
    Throwable c = e.getCause();
    for (int depth = 0; c != null && depth < 5; depth++, c = c.getCause()) s.append("; cause: ").append(c);
    return s.toString().replaceAll("[\\r\\n]+", " ");
  }
}
