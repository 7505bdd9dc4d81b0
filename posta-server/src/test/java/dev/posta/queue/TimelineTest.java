package dev.posta.queue;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mail.QueueId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A message's history as lines of its segment's progress log: the exact line written, read back
 * the same, other messages' lines and progress lines passed over, a torn last line ignored, what
 * is shown bounded, and a line a hostile server's reply tried to break kept on one line.
 */
class TimelineTest {
  @TempDir Path dir;
  static final QueueId ID = new QueueId("1A225B91F2A00000");
  static final QueueId OTHER = new QueueId("1A225B91F2A00001");
  static final Instant AT = Instant.parse("2026-03-01T05:18:38.250Z");

  static final Timeline.Event DEFERRED = new Timeline.Event(AT, Timeline.Kind.DEFERRED, List.of("far@example.org", "near@example.org"),
      "4.2.1", "mx.example.org", "450 4.2.1 mailbox busy", "deferred by mx.example.org[192.0.2.25]:25");

  @Test
  void anEventIsOneLineAfterItsQueueIdAndReadsBackAsItWent() {
    String line = Timeline.line(ID, DEFERRED);
    assertThat(line).isEqualTo("1A225B91F2A00000 event\t1772342318250\tdeferred\t4.2.1\tmx.example.org\t450 4.2.1 mailbox busy\t"
        + "deferred by mx.example.org[192.0.2.25]:25\tfar@example.org\tnear@example.org");
    assertThat(Timeline.parse(line.substring((ID + " event\t").length()))).isEqualTo(DEFERRED);

    var held = Timeline.Event.act(AT, Timeline.Kind.HELD);
    assertThat(Timeline.line(ID, held)).isEqualTo("1A225B91F2A00000 event\t1772342318250\theld\t\t\t\t\t");
    assertThat(Timeline.parse("1772342318250\theld\t\t\t\t\t")).isEqualTo(held);
  }

  @Test
  void controlCharactersInAReplyBecomeSpacesSoTheLineStaysOne() {
    var nasty = new Timeline.Event(AT, Timeline.Kind.FAILED, List.of("a@b"), "5.0.0", "mx", "550 no\r\nsecond\tline", null);
    String line = Timeline.line(ID, nasty);
    assertThat(line).doesNotContain("\n").doesNotContain("\r");
    assertThat(Timeline.parse(line.substring((ID + " event\t").length())))
        .isEqualTo(new Timeline.Event(AT, Timeline.Kind.FAILED, List.of("a@b"), "5.0.0", "mx", "550 no  second line", null));
  }

  @Test
  void readingPicksThisMessagesWholeEventLinesOnly() throws Exception {
    Path log = dir.resolve("000000000001.done");
    var notice = new Timeline.Event(AT.plusSeconds(1), Timeline.Kind.NOTICE, List.of("far@example.org"), "failed", null, null, OTHER.value());
    Files.writeString(log, String.join("\n",
        ID + " 0 deferred 1772342618250 1 450 4.2.1 mailbox busy", // a progress line, not an event
        Timeline.line(OTHER, DEFERRED),                             // another message's
        Timeline.line(ID, DEFERRED),
        ID + " event\tnonsense",                                    // not one this version wrote: skipped
        ID + " event\t1\tunknown-kind\t\t\t\t\t",
        Timeline.line(ID, notice),
        Timeline.line(ID, Timeline.Event.act(AT, Timeline.Kind.RELEASED)).substring(0, 30)) // torn: no newline
        , UTF_8);
    assertThat(Timeline.read(log, ID)).isEqualTo(new Timeline(List.of(DEFERRED, notice), 0));
    assertThat(Timeline.read(log, OTHER)).isEqualTo(new Timeline(List.of(DEFERRED), 0));
    assertThat(Timeline.read(dir.resolve("gone.done"), ID)).isEqualTo(Timeline.EMPTY);
  }

  @Test
  void whatIsShownIsTheFirstEventsAndTheLatestWithTheCountLeftOut() throws Exception {
    Path log = dir.resolve("000000000001.done");
    List<Timeline.Event> all = new ArrayList<>();
    var lines = new StringBuilder();
    for (int i = 0; i < 250; i++) {
      var e = new Timeline.Event(AT.plusSeconds(i), Timeline.Kind.DEFERRED, List.of("far@example.org"), "4.2.1", "mx", "450 " + i, null);
      all.add(e);
      lines.append(Timeline.line(ID, e)).append('\n');
      // Another message's long lines between: the log is read in 64 KiB blocks, and lines straddle them.
      lines.append(Timeline.line(OTHER, new Timeline.Event(AT, Timeline.Kind.DEFERRED, List.of("x@y"), "4.0.0", "mx", "4" + "5".repeat(600), null)))
          .append('\n');
    }
    Files.writeString(log, lines, UTF_8);
    assertThat(Files.size(log)).isGreaterThan(2 * 64 * 1024);
    Timeline t = Timeline.read(log, ID);
    assertThat(t.omitted()).isEqualTo(150);
    assertThat(t.events()).hasSize(Timeline.SHOWN);
    assertThat(t.events().subList(0, Timeline.FIRST)).isEqualTo(all.subList(0, Timeline.FIRST));
    assertThat(t.events().subList(Timeline.FIRST, Timeline.SHOWN)).isEqualTo(all.subList(250 - (Timeline.SHOWN - Timeline.FIRST), 250));
  }

  @Test
  void olderVersionsProgressReadingSkipsEventLines() throws Exception {
    // The progress log's own reader (recovery, posta queue on a stopped server) must take an
    // event line for nothing: an event's "1772342318250" is no recipient index to mark done.
    Path queue = dir.resolve("queue");
    try (Spool spool = new Spool(queue)) {
      spool.recover();
      spool.start();
      var env = new dev.posta.mail.Envelope(ID, AT, "192.0.2.1", "client.example", null,
          new dev.posta.mail.MailParameters(-1, dev.posta.mail.MailParameters.BodyType.SEVEN_BIT, false, null, null),
          List.of(new dev.posta.mail.Recipient(new dev.posta.mail.MailAddress("far", "example.org"), dev.posta.mail.RcptParameters.NONE)));
      MessageContent c = spool.newContent();
      c.write("x\r\n".getBytes(UTF_8), 0, 3);
      SpooledMessage m = spool.store(env, c);
      spool.recordEvents(m, List.of(DEFERRED, Timeline.Event.act(AT, Timeline.Kind.HELD)));
      spool.sync(m);
      assertThat(Spool.timeline(m)).isEqualTo(new Timeline(List.of(DEFERRED, Timeline.Event.act(AT, Timeline.Kind.HELD)), 0));
    }
    List<SpooledMessage> back = Spool.inspect(queue);
    assertThat(back).singleElement().satisfies(m -> {
      assertThat(m.pending()).containsExactly(0);
      assertThat(m.isHeld()).as("a HELD event is history, not the held line").isFalse();
      assertThat(Spool.timeline(m).events()).hasSize(2);
    });
  }
}
