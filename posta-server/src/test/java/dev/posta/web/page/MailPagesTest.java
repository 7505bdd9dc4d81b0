package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.store.MaildirStore;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.eclipse.jetty.util.Fields;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The list's search bound, on a store of its own: a search reads at most its share of messages per request, then goes on. */
class MailPagesTest {
  @TempDir Path dir;

  @Test
  void aSearchReadsAtMostItsLimitPerRequestAndItsNextPageGoesOnFromThere() throws Exception {
    MailboxId carol = new MailboxId("localhost", "carol");
    try (MaildirStore store = new MaildirStore(dir.resolve("mail"), "h")) {
      store.createInbox(carol);
      try (MailboxStore.Lease inbox = store.open(carol, "INBOX")) {
        for (int i = 1; i <= 30; i++) {
          byte[] m = ("From: a@example.org\r\nSubject: " + (i % 3 == 0 ? "match " : "other ") + i + "\r\n\r\nx\r\n").getBytes(StandardCharsets.UTF_8);
          inbox.folder().append(out -> out.write(ByteBuffer.wrap(m)), 0, Instant.parse("2026-12-01T00:00:00Z").plusSeconds(i));
        }
      }
      MailPages pages = new MailPages(store, ZoneOffset.UTC, 10);
      Views.Layout layout = new Views.Layout("Inbox", "carol@localhost", "t", "/static/posta.css", List.of(), false, Views.Section.MAIL);
      Fields query = new Fields();
      query.add("subject", "match");
      Views.MailPage first = pages.list(layout, carol, "INBOX", query);
      assertThat(first.rows()).extracting(Views.MessageRow::subject).containsExactly("match 30", "match 27", "match 24", "match 21");
      assertThat(first.pager().where()).isEqualTo("4 matches in the 10 messages searched; older ones not yet searched");
      assertThat(first.pager().next()).isEqualTo("/mail/INBOX?subject=match&older=21");

      query.add("older", "21");
      Views.MailPage second = pages.list(layout, carol, "INBOX", query);
      assertThat(second.rows()).extracting(Views.MessageRow::subject).containsExactly("match 18", "match 15", "match 12");
      assertThat(second.pager().next()).isEqualTo("/mail/INBOX?subject=match&older=11");
      assertThat(second.pager().first()).isEqualTo("/mail/INBOX?subject=match");

      query.put("older", "11");
      Views.MailPage last = pages.list(layout, carol, "INBOX", query);
      assertThat(last.rows()).extracting(Views.MessageRow::subject).containsExactly("match 9", "match 6", "match 3");
      assertThat(last.pager().next()).isNull();
      assertThat(last.pager().where()).isEqualTo("3 matches");
    }
  }

  @Test
  void sizesReadAsAPersonReadsThem() {
    assertThat(List.of(0L, 999L, 1000L, 2480L, 10_400L, 999_499L, 1_000_000L, 25_000_000L).stream().map(Figures::bytes))
        .containsExactly("0 B", "999 B", "1.0 KB", "2.5 KB", "10 KB", "999 KB", "1.0 MB", "25 MB");
  }
}
