package dev.posta;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Log lines to standard error, written in batches: under load one write(2) carries many lines
 * instead of one each (a mail server logs a few lines per message; those writes were a visible
 * share of its system calls). A line is written when the buffer fills, within
 * {@value #FLUSH_MILLIS} ms otherwise, and at exit; a kill -9 can lose at most that much log,
 * never mail.
 */
public final class StderrAppender extends OutputStreamAppender<ILoggingEvent> {
  static final long FLUSH_MILLIS = 100;
  private ScheduledExecutorService flusher;

  @Override
  public void start() {
    PrintStream err = System.err;
    OutputStream notClosing = new FilterOutputStream(err) {
      @Override
      public void write(byte[] b, int off, int len) {
        err.write(b, off, len);
      }

      @Override
      public void close() {
        err.flush(); // standard error outlives any appender
      }
    };
    setOutputStream(new BufferedOutputStream(notClosing, 64 * 1024));
    setImmediateFlush(false);
    flusher = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("log-flusher").daemon().factory());
    flusher.scheduleWithFixedDelay(this::flush, FLUSH_MILLIS, FLUSH_MILLIS, TimeUnit.MILLISECONDS);
    Runtime.getRuntime().addShutdownHook(new Thread(this::flush, "log-flush-at-exit"));
    super.start();
  }

  /** Writes what is buffered now (the server's last lines, from a shutdown hook that runs beside ours). */
  void flush() {
    streamWriteLock.lock();
    try {
      OutputStream out = getOutputStream();
      if (out != null) out.flush();
    } catch (IOException e) {
      // nowhere left to report it
    } finally {
      streamWriteLock.unlock();
    }
  }

  @Override
  public void stop() {
    flush();
    if (flusher != null) flusher.shutdownNow();
    super.stop();
  }
}
