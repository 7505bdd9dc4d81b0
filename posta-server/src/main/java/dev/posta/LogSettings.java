package dev.posta;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.OutputStreamAppender;
import dev.posta.config.PostaConfig;
import org.slf4j.LoggerFactory;

/**
 * Applies {@code [log]} to the running log: the {@link LogEncoder} of the standard error appender
 * that logback.xml sets up (its level stays {@code POSTA_LOG_LEVEL}'s). Before this runs, at the
 * very start, lines are text, with timestamps unless journald takes them.
 */
public final class LogSettings {
  private LogSettings() {}

  /** Sets format and timestamps; does nothing when logging is set up otherwise (a test's, an embedder's). */
  public static void apply(PostaConfig.Log settings) {
    LogEncoder encoder = encoder();
    if (encoder == null) return;
    encoder.setFormat(settings.format() == PostaConfig.Log.Format.JSON ? LogEncoder.Format.JSON : LogEncoder.Format.TEXT);
    settings.timestamps().ifPresent(encoder::setTimestamps);
  }

  /** Writes out the lines buffered so far: a shutdown hook's last lines may come after the appender's own flush at exit. */
  public static void flush() {
    if (LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof Logger root
        && root.getAppender("STDERR") instanceof StderrAppender stderr) {
      stderr.flush();
    }
  }

  /** The encoder of the standard error appender, or null when there is none. */
  static LogEncoder encoder() {
    if (!(LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME) instanceof Logger root)) return null;
    Appender<?> appender = root.getAppender("STDERR");
    return appender instanceof OutputStreamAppender<?> a && a.getEncoder() instanceof LogEncoder e ? e : null;
  }
}
