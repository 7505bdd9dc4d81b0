package dev.posta;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.encoder.EncoderBase;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * Writes each log event as one line, in one of three forms ({@code [log]}, applied at start by
 * {@link LogSettings}):
 *
 * <pre>
 * 2026-12-06T21:40:00.123Z INFO  SmtpSession: smtp[192.0.2.7]#K7QX2M4P: connect from ...   text
 * &lt;6&gt;INFO  SmtpSession: smtp[192.0.2.7]#K7QX2M4P: connect from ...                          text for journald
 * {"time":"2026-12-06T21:40:00.123Z","level":"INFO","logger":"dev.posta.smtp.SmtpSession",
 *  "message":"smtp[192.0.2.7]#K7QX2M4P: connect from ...","session":"K7QX2M4P","protocol":"smtp",
 *  "client":"192.0.2.7"}                                                                 json (one line)
 * </pre>
 *
 * <p>Text without timestamps is for journald or syslog, which stamp each line themselves: it
 * starts with the syslog priority instead (sd-daemon(3): {@code <3>} error, {@code <4>} warning,
 * {@code <6>} info, {@code <7>} debug), which journald takes as the line's level. By default
 * timestamps are left out exactly when standard error is journald's (systemd sets
 * {@code JOURNAL_STREAM} for a service whose output goes there).
 *
 * <p>JSON (RFC 8259) gives a log shipper fields to index: the session ID, protocol and client of
 * a session's line, and the queue ID of a message's line, taken from the message's start where
 * Posta's lines put them ({@code smtp[client]#SESSION: QUEUEID: ...}); a stack trace goes in
 * {@code exception}. Time is UTC to the millisecond. A multi-line message stays on one line in
 * JSON; in text a stack trace follows its line as it always did.
 *
 * <p>Cheap per line: no pattern to interpret; the time's text is remade once a second.
 */
public final class LogEncoder extends EncoderBase<ILoggingEvent> {
  private static final DateTimeFormatter SECOND = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.").withZone(ZoneOffset.UTC);

  /** How lines are written; set at start from {@code [log]}, read by every appending thread. */
  public enum Format {
    TEXT,
    JSON
  }

  private volatile Format format = Format.TEXT;
  private volatile boolean timestamps = System.getenv("JOURNAL_STREAM") == null;

  /** The current second's text, remade when a line of another second comes. */
  private record Second(long epochSecond, String text) {}

  private volatile Second second = new Second(Long.MIN_VALUE, "");

  public void setFormat(Format format) {
    this.format = format;
  }

  /** Text lines with their time (else with their syslog priority instead). */
  public void setTimestamps(boolean timestamps) {
    this.timestamps = timestamps;
  }

  public Format format() {
    return format;
  }

  public boolean timestamps() {
    return timestamps;
  }

  @Override
  public byte[] headerBytes() {
    return null;
  }

  @Override
  public byte[] footerBytes() {
    return null;
  }

  @Override
  public byte[] encode(ILoggingEvent event) {
    var s = new StringBuilder(160);
    if (format == Format.JSON) json(event, s);
    else text(event, s);
    return s.toString().getBytes(StandardCharsets.UTF_8);
  }

  private void text(ILoggingEvent event, StringBuilder s) {
    if (timestamps) {
      time(event.getTimeStamp(), s);
      s.append(' ');
    } else {
      s.append('<').append(priority(event.getLevel())).append('>');
    }
    String level = event.getLevel().toString();
    s.append(level);
    for (int i = level.length(); i < 5; i++) s.append(' ');
    s.append(' ').append(shortName(event.getLoggerName())).append(": ").append(event.getFormattedMessage()).append('\n');
    IThrowableProxy thrown = event.getThrowableProxy();
    if (thrown != null) s.append(ThrowableProxyUtil.asString(thrown)); // its lines, each ended
  }

  private void json(ILoggingEvent event, StringBuilder s) {
    String message = event.getFormattedMessage();
    s.append("{\"time\":\"");
    time(event.getTimeStamp(), s);
    s.append("\",\"level\":\"").append(event.getLevel()).append("\",\"logger\":");
    Json.append(event.getLoggerName(), s);
    s.append(",\"message\":");
    Json.append(message, s);
    int at = 0;
    int bracket = message.indexOf('[');
    int close = message.indexOf("]#");
    // A session's line: protocol[client]#SESSIONID: ...
    if (bracket > 0 && close > bracket && message.length() >= close + 12 && message.startsWith(": ", close + 10) && isWord(message, 0, bracket)) {
      s.append(",\"session\":");
      Json.append(message.substring(close + 2, close + 10), s);
      s.append(",\"protocol\":");
      Json.append(message.substring(0, bracket), s);
      s.append(",\"client\":");
      Json.append(message.substring(bracket + 1, close), s);
      at = close + 12;
    }
    // A message's line: QUEUEID: ... (16 upper-case hex digits, dev.posta.mail.QueueId)
    if (message.length() >= at + 17 && message.charAt(at + 16) == ':' && isQueueId(message, at)) {
      s.append(",\"queue_id\":");
      Json.append(message.substring(at, at + 16), s);
    }
    IThrowableProxy thrown = event.getThrowableProxy();
    if (thrown != null) {
      s.append(",\"exception\":");
      Json.append(ThrowableProxyUtil.asString(thrown).stripTrailing(), s);
    }
    s.append("}\n");
  }

  private static boolean isWord(String s, int from, int to) {
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9')) return false;
    }
    return true;
  }

  private static boolean isQueueId(String s, int from) {
    for (int i = from; i < from + 16; i++) {
      char c = s.charAt(i);
      if (!(c >= '0' && c <= '9' || c >= 'A' && c <= 'F')) return false;
    }
    return true;
  }

  /** {@code 2026-12-06T21:40:00.123Z}. */
  private void time(long millis, StringBuilder s) {
    long epochSecond = Math.floorDiv(millis, 1000);
    Second current = second;
    if (current.epochSecond() != epochSecond) {
      current = new Second(epochSecond, SECOND.format(Instant.ofEpochSecond(epochSecond)));
      second = current;
    }
    int ms = (int) Math.floorMod(millis, 1000);
    s.append(current.text()).append((char) ('0' + ms / 100)).append((char) ('0' + ms / 10 % 10)).append((char) ('0' + ms % 10)).append('Z');
  }

  /** The syslog severity (RFC 5424 §6.2.1) of a level. */
  static int priority(Level level) {
    return switch (level.toInt()) {
      case Level.ERROR_INT -> 3;
      case Level.WARN_INT -> 4;
      case Level.INFO_INT -> 6;
      default -> 7;
    };
  }

  /** The logger's class name without its package, as %logger{0} gives it. */
  private static String shortName(String logger) {
    return logger.substring(logger.lastIndexOf('.') + 1);
  }
}
