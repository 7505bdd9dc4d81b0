package dev.posta;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import dev.posta.config.PostaConfig;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Each log line's three forms (LogEncoder), exactly; the JSON ones read back by Python's json module. */
class LogEncoderTest {
  private static final LoggerContext context = new LoggerContext();
  private static final long TIME = Instant.parse("2026-12-06T21:40:07.045Z").toEpochMilli();

  private static LoggingEvent event(String logger, Level level, String message, Throwable thrown) {
    var e = new LoggingEvent(LogEncoderTest.class.getName(), context.getLogger(logger), level, message, thrown, null);
    e.setTimeStamp(TIME);
    return e;
  }

  private static String encode(LogEncoder encoder, LoggingEvent event) {
    return new String(encoder.encode(event), StandardCharsets.UTF_8);
  }

  @Test
  void textHasTheTimeInUtcTheLevelAndTheClassAsBefore() {
    var encoder = new LogEncoder();
    encoder.setTimestamps(true);
    assertThat(encode(encoder, event("dev.posta.smtp.SmtpSession", Level.INFO, "smtp[192.0.2.7]#K7QX2M4P: connect from 192.0.2.7:4711", null)))
        .isEqualTo("2026-12-06T21:40:07.045Z INFO  SmtpSession: smtp[192.0.2.7]#K7QX2M4P: connect from 192.0.2.7:4711\n");
    assertThat(encode(encoder, event("dev.posta.queue.Spool", Level.ERROR, "spool: write failed", new java.io.IOException("disk full"))))
        .startsWith("2026-12-06T21:40:07.045Z ERROR Spool: spool: write failed\njava.io.IOException: disk full\n\tat dev.posta.LogEncoderTest.")
        .endsWith(")\n");
  }

  @Test
  void withoutTimestampsALineStartsWithItsSyslogPriorityForJournald() {
    var encoder = new LogEncoder();
    encoder.setTimestamps(false);
    assertThat(encode(encoder, event("dev.posta.smtp.SmtpSession", Level.INFO, "smtp[::1]#K7QX2M4P: connect", null)))
        .isEqualTo("<6>INFO  SmtpSession: smtp[::1]#K7QX2M4P: connect\n");
    assertThat(encode(encoder, event("dev.posta.smtp.SmtpSession", Level.WARN, "smtp[::1]#K7QX2M4P: AUTH PLAIN failed", null)))
        .isEqualTo("<4>WARN  SmtpSession: smtp[::1]#K7QX2M4P: AUTH PLAIN failed\n");
    assertThat(encode(encoder, event("dev.posta.queue.Spool", Level.ERROR, "spool: committer error", null)))
        .isEqualTo("<3>ERROR Spool: spool: committer error\n");
    assertThat(encode(encoder, event("dev.posta.queue.Spool", Level.DEBUG, "spool: sealed", null)))
        .isEqualTo("<7>DEBUG Spool: spool: sealed\n");
  }

  @Test
  void jsonIsOneObjectPerLineWithTheSessionAndQueueIdsAsFields() throws Exception {
    var encoder = new LogEncoder();
    encoder.setFormat(LogEncoder.Format.JSON);
    String lines = encode(encoder, event("dev.posta.smtp.SmtpSession", Level.INFO,
            "smtp[2001:db8::7]#K7QX2M4P: 1A2253C7A6500000: from=<a@b.example>, size=259, nrcpt=1, helo=<\"quoted\\\" \u0001 \u00e9\">, status=queued", null))
        + encode(encoder, event("dev.posta.delivery.LocalDelivery", Level.INFO, "1A2253C7A6500000: to=<b@localhost>, status=delivered (maildir)", null))
        + encode(encoder, event("dev.posta.imap.ImapSession", Level.INFO, "imap[127.0.0.1]#0123ABCD: LOGIN succeeded: user=b@localhost", null))
        + encode(encoder, event("dev.posta.queue.Spool", Level.WARN, "spool: write failed\non two lines", new IllegalStateException("bad\tstate")));
    assertThat(lines.lines()).hasSize(4).allMatch(l -> l.startsWith("{\"time\":\"2026-12-06T21:40:07.045Z\",\"level\":\"") && l.endsWith("}"));
    // Python reads each line as JSON and prints its fields back, one per line.
    var python = new ProcessBuilder("python3", "-c", """
        import json, sys
        for line in sys.stdin:
            o = json.loads(line)
            e = o.pop('exception', None)
            print(json.dumps(o, ensure_ascii=False, sort_keys=True))
            if e: print('exception:', e.splitlines()[0], '|', e.splitlines()[1].startswith('\\tat '))
        """).redirectErrorStream(true).start();
    python.getOutputStream().write(lines.getBytes(StandardCharsets.UTF_8));
    python.getOutputStream().close();
    String out = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(python.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(python.exitValue()).as(out).isZero();
    assertThat(out).isEqualTo("""
        {"client": "2001:db8::7", "level": "INFO", "logger": "dev.posta.smtp.SmtpSession", "message": "smtp[2001:db8::7]#K7QX2M4P: 1A2253C7A6500000: from=<a@b.example>, size=259, nrcpt=1, helo=<\\"quoted\\\\\\" \\u0001 é\\">, status=queued", "protocol": "smtp", "queue_id": "1A2253C7A6500000", "session": "K7QX2M4P", "time": "2026-12-06T21:40:07.045Z"}
        {"level": "INFO", "logger": "dev.posta.delivery.LocalDelivery", "message": "1A2253C7A6500000: to=<b@localhost>, status=delivered (maildir)", "queue_id": "1A2253C7A6500000", "time": "2026-12-06T21:40:07.045Z"}
        {"client": "127.0.0.1", "level": "INFO", "logger": "dev.posta.imap.ImapSession", "message": "imap[127.0.0.1]#0123ABCD: LOGIN succeeded: user=b@localhost", "protocol": "imap", "session": "0123ABCD", "time": "2026-12-06T21:40:07.045Z"}
        {"level": "WARN", "logger": "dev.posta.queue.Spool", "message": "spool: write failed\\non two lines", "time": "2026-12-06T21:40:07.045Z"}
        exception: java.lang.IllegalStateException: bad\tstate | True
        """);
  }

  @Test
  void theLogSectionIsAppliedToTheStandardErrorAppender() {
    LogEncoder encoder = LogSettings.encoder();
    assertThat(encoder).as("logback.xml's STDERR appender writes with LogEncoder").isNotNull();
    LogEncoder.Format format = encoder.format();
    boolean timestamps = encoder.timestamps();
    try {
      LogSettings.apply(new PostaConfig.Log(PostaConfig.Log.Format.JSON, Optional.of(false)));
      assertThat(encoder.format()).isEqualTo(LogEncoder.Format.JSON);
      assertThat(encoder.timestamps()).isFalse();
      // Left out, timestamps stay as found at start (with JOURNAL_STREAM, off).
      LogSettings.apply(new PostaConfig.Log(PostaConfig.Log.Format.TEXT, Optional.empty()));
      assertThat(encoder.format()).isEqualTo(LogEncoder.Format.TEXT);
      assertThat(encoder.timestamps()).isFalse();
    } finally {
      encoder.setFormat(format);
      encoder.setTimestamps(timestamps);
    }
  }
}
