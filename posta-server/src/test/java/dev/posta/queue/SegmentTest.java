package dev.posta.queue;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mail.QueueId;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A segment's progress log ends with the segment: a line written after its last message finished (its timeline) leaves no file behind. */
class SegmentTest {
  @TempDir Path dir;

  @Test
  void aLineAfterTheSegmentIsDeletedLeavesNoOrphanLog() throws Exception {
    Path file = Files.createFile(dir.resolve("1.seg"));
    Segment segment = new Segment(file);
    segment.addOutstanding();
    assertThat(segment.seal()).isFalse();
    segment.recordDone(new QueueId("1A225B91F2A00000"), 0);
    assertThat(dir.resolve("1.done")).exists();
    assertThat(segment.messageFinished()).as("sealed, nothing outstanding: deleted").isTrue();
    assertThat(dir.resolve("1.seg")).doesNotExist();
    assertThat(dir.resolve("1.done")).doesNotExist();

    segment.record("1A225B91F2A00000\tevent\tthe last attempt's timeline");
    assertThat(dir.resolve("1.done")).as("no orphan log reopened").doesNotExist();
  }
}
