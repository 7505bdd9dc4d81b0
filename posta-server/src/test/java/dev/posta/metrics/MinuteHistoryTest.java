package dev.posta.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.metrics.MinuteHistory.Minute;
import dev.posta.metrics.MinuteHistory.Totals;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The per-minute history on times the test gives: differences per minute, the minute in progress last, an hour kept. */
class MinuteHistoryTest {
  private static final Instant T0 = Instant.parse("2026-12-07T06:00:00Z");

  private static Instant at(int minute, int second) {
    return T0.plus(Duration.ofMinutes(minute)).plusSeconds(second);
  }

  @Test
  void eachMinuteHasItsOwnCountsAndTheQueueAtItsEnd() {
    MinuteHistory h = new MinuteHistory();
    h.start(at(0, 10), new Totals(5, 4, 1, 0, 2)); // counts from before the start are not the first minute's
    h.roll(at(0, 59), new Totals(7, 6, 1, 0, 3)); // the same minute: nothing rolls
    h.roll(at(1, 0), new Totals(8, 6, 2, 0, 4));
    List<Minute> minutes = h.lastHour(at(1, 30), new Totals(9, 8, 2, 1, 1));
    assertThat(minutes).containsExactly(
        new Minute(at(0, 0), 3, 2, 1, 0, 4),
        new Minute(at(1, 0), 1, 2, 0, 1, 1));
  }

  @Test
  void aReadRollsTheMinuteOverAndMissedMinutesAreNotMadeUp() {
    MinuteHistory h = new MinuteHistory();
    h.start(at(0, 0), new Totals(0, 0, 0, 0, 0));
    // No timer ran for three minutes (a suspended machine): what came is the open minute's.
    List<Minute> minutes = h.lastHour(at(3, 5), new Totals(4, 4, 0, 0, 0));
    assertThat(minutes).containsExactly(new Minute(at(0, 0), 4, 4, 0, 0, 0), new Minute(at(3, 0), 0, 0, 0, 0, 0));
  }

  @Test
  void onlyTheLastHourIsKept() {
    MinuteHistory h = new MinuteHistory();
    h.start(at(0, 0), new Totals(0, 0, 0, 0, 0));
    for (int m = 1; m <= 90; m++) h.roll(at(m, 0), new Totals(m, m, 0, 0, m));
    List<Minute> minutes = h.lastHour(at(90, 1), new Totals(90, 90, 0, 0, 90));
    assertThat(minutes).hasSize(MinuteHistory.MINUTES);
    assertThat(minutes.getFirst()).isEqualTo(new Minute(at(31, 0), 1, 1, 0, 0, 32));
    assertThat(minutes.getLast()).isEqualTo(new Minute(at(90, 0), 0, 0, 0, 0, 90));
  }
}
