package dev.posta.imap;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.store.Flags;
import dev.posta.store.MailboxId;
import dev.posta.store.MaildirFolder;
import dev.posta.store.MaildirStore;
import dev.posta.testing.DovecotImap;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Strings, flags and dates as they go on the wire, the date checked against Dovecot's own. */
class ResponseWriterTest {
  @TempDir java.nio.file.Path temp;

  private static String written(ResponseWriter w) {
    return new String(w.toByteArray(), UTF_8);
  }

  @Test
  void stringsAreQuotedWhereTheyCanBeAndLiteralsWhereTheyMust() {
    assertThat(written(new ResponseWriter(false).nstring("Hello \"you\" \\ there"))).isEqualTo("\"Hello \\\"you\\\" \\\\ there\"");
    assertThat(written(new ResponseWriter(false).nstring(null))).isEqualTo("NIL");
    assertThat(written(new ResponseWriter(false).nstring("two\r\nlines"))).isEqualTo("{10}\r\ntwo\r\nlines");
    assertThat(written(new ResponseWriter(false).nstring("Grüße"))).as("8-bit for a rev1 client: a literal").isEqualTo("{7}\r\nGrüße");
    assertThat(written(new ResponseWriter(true).nstring("Grüße"))).as("after ENABLE UTF8=ACCEPT: quoted").isEqualTo("\"Grüße\"");
    assertThat(written(new ResponseWriter(false).nstring(""))).isEqualTo("\"\"");
  }

  @Test
  void flagListsHaveTheSystemFlagsThenTheKeywords() {
    assertThat(written(new ResponseWriter(false).flags(Flags.SEEN | Flags.ANSWERED, List.of("$Label1", "Junk"))))
        .isEqualTo("(\\Answered \\Seen $Label1 Junk)");
    assertThat(written(new ResponseWriter(false).flags(0, List.of()))).isEqualTo("()");
  }

  @Test
  void theInternalDateReadsAsDovecotWritesIt() throws Exception {
    Instant date = Instant.parse("2025-02-03T04:05:06Z");
    assertThat(written(new ResponseWriter(false).dateTime(date, ZoneOffset.UTC))).isEqualTo("\"03-Feb-2025 04:05:06 +0000\"");
    assertThat(written(new ResponseWriter(false).dateTime(Instant.parse("1994-02-08T05:52:25Z"), ZoneId.of("America/Los_Angeles"))))
        .isEqualTo("\"07-Feb-1994 21:52:25 -0800\"");
    MailboxId erin = new MailboxId("example.org", "erin");
    try (MaildirStore store = new MaildirStore(temp.resolve("mail"), "h")) {
      MaildirFolder inbox = store.open(erin, "INBOX").folder();
      inbox.append(out -> out.write(ByteBuffer.wrap("Subject: x\r\n\r\ny\r\n".getBytes(UTF_8))), 0, date);
      String dovecot = DovecotImap.run(temp, store.folderPath(erin, "INBOX"), temp.resolve("dovecot"), List.of("a EXAMINE INBOX", "b FETCH 1 INTERNALDATE"));
      assertThat(dovecot).contains("* 1 FETCH (INTERNALDATE " + written(new ResponseWriter(false).dateTime(date, ZoneId.systemDefault())) + ")");
    }
  }
}
