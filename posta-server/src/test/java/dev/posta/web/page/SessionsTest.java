package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import dev.posta.testing.MutableClock;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The sessions' expiry and bound, on a clock the test moves. */
class SessionsTest {
  @Test
  void aSessionIsGoneAfterThirtyIdleMinutesButUseKeepsItAlive() {
    MutableClock clock = new MutableClock(Instant.parse("2026-12-07T08:00:00Z"));
    Sessions sessions = new Sessions(clock);
    Sessions.Session s = sessions.start("alice@localhost");
    clock.advance(Duration.ofMinutes(29));
    assertThat(sessions.find(s.id)).containsSame(s);
    clock.advance(Duration.ofMinutes(29)); // 58 minutes after sign-in, 29 after its last use
    assertThat(sessions.find(s.id)).containsSame(s);
    clock.advance(Duration.ofMinutes(30));
    assertThat(sessions.find(s.id)).isEmpty();
    assertThat(sessions.size()).isZero();
  }

  @Test
  void aSessionInUseEndsTwelveHoursAfterSignIn() {
    MutableClock clock = new MutableClock(Instant.parse("2026-12-07T08:00:00Z"));
    Sessions sessions = new Sessions(clock);
    Sessions.Session s = sessions.start("alice@localhost");
    for (int i = 0; i < 47; i++) { // every 15 minutes for 11 h 45 min
      clock.advance(Duration.ofMinutes(15));
      assertThat(sessions.find(s.id)).as("after %d minutes", (i + 1) * 15).isPresent();
    }
    clock.advance(Duration.ofMinutes(15));
    assertThat(sessions.find(s.id)).isEmpty();
  }

  @Test
  void idsAndTokensAreFreshRandom256BitValuesAndAnEndedSessionStaysEnded() {
    Sessions sessions = new Sessions(new MutableClock(Instant.parse("2026-12-07T08:00:00Z")));
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 1000; i++) {
      Sessions.Session s = sessions.start("alice@localhost");
      assertThat(s.id).matches("[A-Za-z0-9_-]{43}"); // 32 bytes
      assertThat(seen.add(s.id)).isTrue();
      assertThat(seen.add(s.csrf)).isTrue();
    }
    Sessions.Session s = sessions.start("bob@localhost");
    assertThat(sessions.end(s.id)).isSameAs(s);
    assertThat(sessions.find(s.id)).isEmpty();
    assertThat(sessions.end(s.id)).isNull();
    assertThat(sessions.find(null)).isEmpty();
    assertThat(sessions.find("")).isEmpty();
  }

  @Test
  void beyondTheBoundTheLeastRecentlyUsedSessionEnds() {
    MutableClock clock = new MutableClock(Instant.parse("2026-12-07T08:00:00Z"));
    Sessions sessions = new Sessions(clock, 3);
    Sessions.Session a = sessions.start("a@localhost"), b = sessions.start("b@localhost"), c = sessions.start("c@localhost");
    clock.advance(Duration.ofSeconds(1));
    assertThat(sessions.find(a.id)).isPresent(); // a used last: b is now the least recently used
    Sessions.Session d = sessions.start("d@localhost");
    assertThat(sessions.size()).isEqualTo(3);
    assertThat(sessions.find(b.id)).isEmpty();
    assertThat(sessions.find(a.id)).isPresent();
    assertThat(sessions.find(c.id)).isPresent();
    assertThat(sessions.find(d.id)).isPresent();
  }

  @Test
  void startingASessionSweepsExpiredOnes() {
    MutableClock clock = new MutableClock(Instant.parse("2026-12-07T08:00:00Z"));
    Sessions sessions = new Sessions(clock);
    for (int i = 0; i < 5; i++) sessions.start("u" + i + "@localhost");
    clock.advance(Duration.ofMinutes(31));
    sessions.start("fresh@localhost");
    assertThat(sessions.size()).isEqualTo(1);
  }
}
