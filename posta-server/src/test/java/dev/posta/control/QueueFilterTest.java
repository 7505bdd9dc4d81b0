package dev.posta.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The listing's filter and pages that the API and the queue pages share: which messages show,
 * where each page starts and ends, what a cursor is, and the refusals in the API's words.
 */
class QueueFilterTest {
  private static final Instant T0 = Instant.parse("2026-03-01T05:00:00Z");

  /** Seven messages a minute apart, the fourth held, the sixth for example.net; the first two arrive at the same instant. */
  private static List<QueueControl.Listing> queue() {
    List<QueueControl.Listing> l = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      Instant arrival = T0.plus(Duration.ofMinutes(Math.max(0, i - 1)));
      QueueControl.State state = i == 3 ? QueueControl.State.HELD : QueueControl.State.DEFERRED;
      String to = i == 5 ? "bob@example.net" : "bob@example.org";
      l.add(new QueueControl.Listing(new QueueId("1A225B91F2A0000" + i), arrival, 100, "alice@example.com", state,
          List.of(new QueueControl.PendingRecipient(to, 1, arrival.plus(Duration.ofMinutes(5)), "451 4.3.0 later"))));
    }
    return l;
  }

  private static List<String> ids(QueueFilter.Page page) {
    return page.messages().stream().map(m -> m.id().value().substring(15)).toList();
  }

  @Test
  void pagesFollowEachOtherByCursorWithoutGapOrRepeatEvenAtTheSameArrival() {
    List<QueueControl.Listing> q = queue();
    QueueFilter.Page first = QueueFilter.ALL.page(q, T0, null, 3);
    assertThat(ids(first)).containsExactly("0", "1", "2");
    assertThat(first.next()).hasToString("2026-03-01T05:01:00Z_1A225B91F2A00002");
    assertThat(first.matched()).isEqualTo(7);
    assertThat(first.before()).isZero();
    QueueFilter.Page second = QueueFilter.ALL.page(q, T0, QueueFilter.Cursor.parse(first.next().toString()), 3);
    assertThat(ids(second)).containsExactly("3", "4", "5");
    assertThat(second.before()).isEqualTo(3);
    QueueFilter.Page last = QueueFilter.ALL.page(q, T0, second.next(), 3);
    assertThat(ids(last)).containsExactly("6");
    assertThat(last.next()).as("the last page").isNull();
    // A cursor between two messages of the same arrival: the one with the greater queue ID comes next.
    QueueFilter.Page mid = QueueFilter.ALL.page(q, T0, new QueueFilter.Cursor(T0, new QueueId("1A225B91F2A00000")), 1);
    assertThat(ids(mid)).containsExactly("1");
    // Exactly full: no next page.
    assertThat(QueueFilter.ALL.page(q, T0, null, 7).next()).isNull();
  }

  @Test
  void aFilterNarrowsByStateAndSelectorsAndCountsWhatItMatches() throws Exception {
    List<QueueControl.Listing> q = queue();
    assertThat(ids(QueueFilter.typed("held", null, null, null).page(q, T0, null, 50))).containsExactly("3");
    QueueFilter deferredToOrg = QueueFilter.typed("deferred, incoming", "EXAMPLE.org", "<alice@example.com>", "");
    QueueFilter.Page page = deferredToOrg.page(q, T0, null, 2);
    assertThat(ids(page)).containsExactly("0", "1");
    assertThat(page.matched()).isEqualTo(5);
    assertThat(deferredToOrg.everyState()).isFalse();
    assertThat(QueueFilter.typed("", null, null, null).everyState()).isTrue();
    assertThat(ids(QueueFilter.typed(null, null, null, "3m").page(q, T0.plus(Duration.ofMinutes(5)), null, 50)))
        .as("older than 3 minutes at 05:05").containsExactly("0", "1", "2");
    assertThat(QueueFilter.typed(null, null, "", null).page(q, T0, null, 50).matched()).as("from the null sender").isZero();
  }

  @Test
  void aWrongFilterOrCursorIsRefusedNamingItsParameter() {
    assertThatThrownBy(() -> QueueFilter.typed("lost", null, null, null)).isInstanceOf(QueueFilter.Refused.class)
        .hasMessage("expected incoming, deferred, active or held (several with commas), got 'lost'")
        .extracting(e -> ((QueueFilter.Refused) e).parameter()).isEqualTo("state");
    assertThatThrownBy(() -> QueueFilter.typed(null, "a@b", null, null)).hasMessage("not a domain: a@b")
        .extracting(e -> ((QueueFilter.Refused) e).parameter()).isEqualTo("toDomain");
    assertThatThrownBy(() -> QueueFilter.typed(null, null, null, "2 hours"))
        .hasMessage("not an age: 2 hours (a number and s, m, h, d or w: 30m, 2h, 7d)")
        .extracting(e -> ((QueueFilter.Refused) e).parameter()).isEqualTo("olderThan");
    assertThat(QueueFilter.Cursor.parse("")).isNull();
    assertThat(QueueFilter.Cursor.parse(null)).isNull();
    for (String bad : new String[] {"5", "_1A225B91F2A00000", "2026-03-01T05:00:00Z_nothex", "yesterday_1A225B91F2A00000"}) {
      assertThatThrownBy(() -> QueueFilter.Cursor.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
  }
}
