package dev.posta.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;

/** Waiting in tests for what another thread does: polled, bounded, and failing with what was awaited. */
public final class Await {
  /** Long enough for a loaded CI machine; a test that needs it all has failed anyway. */
  private static final Duration LIMIT = Duration.ofSeconds(30);

  private Await() {}

  public static void await(String what, BooleanSupplier done) throws InterruptedException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    while (!done.getAsBoolean()) {
      assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
      Thread.sleep(10);
    }
  }

  /** Waits until {@code value} is {@code expected}; a failure says what it was instead. */
  public static void await(String what, IntSupplier value, int expected) throws InterruptedException {
    long deadline = System.nanoTime() + LIMIT.toNanos();
    for (int now = value.getAsInt(); now != expected; now = value.getAsInt()) {
      assertThat(System.nanoTime()).as("waiting for " + what + ": " + now + ", expected " + expected).isLessThan(deadline);
      Thread.sleep(10);
    }
  }
}
