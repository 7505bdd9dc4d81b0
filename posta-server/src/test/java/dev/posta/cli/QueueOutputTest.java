package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.control.QueueReply;
import dev.posta.control.QueueRequest;
import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import dev.posta.queue.SpooledMessage;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * The text {@code posta queue} prints for each answer, exactly (QueueCommandTest and LauncherIT
 * check it against a live server), and how the command line's words become a request.
 */
class QueueOutputTest {
  static final QueueId ID = new QueueId("1A225B91F2A00000");
  static final QueueId OTHER = new QueueId("1A225B9281C00000");
  static final Instant ARRIVAL = Instant.parse("2026-03-01T05:13:38.250Z");
  static final Instant NEXT = Instant.parse("2026-03-01T05:18:38Z");

  /** The listing's times are local: rendered here as the output renders them. */
  static String local(Instant t) {
    return DateTimeFormatter.ofPattern("EEE MMM dd HH:mm:ss", Locale.ROOT).withZone(ZoneId.systemDefault()).format(t);
  }

  static QueueOutput answer(QueueRequest.Command command, String typed, QueueReply reply) {
    QueueId id = typed == null ? null : new QueueId(typed.toUpperCase(Locale.ROOT));
    return QueueOutput.of(new QueueRequest(command, id), typed, reply);
  }

  @Test
  void aListingIsShapedLikePostqueue() {
    var listed = new QueueReply.Listed(List.of(
        new QueueControl.Listing(ID, ARRIVAL, 499, "me@localhost", QueueControl.State.DEFERRED, List.of(
            new QueueControl.PendingRecipient("friend@example.org", 1, NEXT, "deferred by mx.example.org[192.0.2.25]:25: 450 4.2.1 mailbox busy"),
            new QueueControl.PendingRecipient("new@example.org", 0, null, null))),
        new QueueControl.Listing(OTHER, ARRIVAL, 1500, "", QueueControl.State.HELD, List.of()),
        new QueueControl.Listing(new QueueId("1A225B9281C00001"), ARRIVAL, 30, "a@b", QueueControl.State.ACTIVE, List.of())));
    String pad = " ".repeat(44);
    assertThat(answer(QueueRequest.Command.LIST, null, listed)).isEqualTo(new QueueOutput(0, """
        -Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------
        1A225B91F2A00000       499 %1$s  me@localhost
        %2$s(deferred by mx.example.org[192.0.2.25]:25: 450 4.2.1 mailbox busy)
        %2$s(attempt 1, next %3$s)
        %2$sfriend@example.org
        %2$snew@example.org

        1A225B9281C00000!     1500 %1$s  MAILER-DAEMON

        1A225B9281C00001*       30 %1$s  a@b

        -- 2 Kbytes in 3 Requests.
        """.formatted(local(ARRIVAL), pad, local(NEXT))));
    assertThat(answer(QueueRequest.Command.LIST, null, new QueueReply.Listed(List.of(listed.messages().get(1)))).text())
        .endsWith("\n-- 2 Kbytes in 1 Request.\n");
    assertThat(answer(QueueRequest.Command.LIST, null, new QueueReply.Listed(List.of()))).isEqualTo(new QueueOutput(0, "queue is empty\n"));
  }

  @Test
  void aMessageIsShapedLikePostcatWithLfLineEnds() {
    byte[] content = "Subject: grüße\r\n\r\nx\r\n".getBytes(UTF_8);
    var shown = new QueueReply.Shown(new QueueControl.MessageView(ID, content.length, ARRIVAL, "192.0.2.1", "client.example",
        "me@localhost", "HDRS", "xyz+2B1", true, List.of(
            new QueueControl.EnvelopeRecipient("done@example.org", true, null),
            new QueueControl.EnvelopeRecipient("friend@example.org", false, new SpooledMessage.Deferral(2, NEXT, "450 busy")),
            new QueueControl.EnvelopeRecipient("new@example.org", false, null)),
        content));
    assertThat(answer(QueueRequest.Command.SHOW, ID.value().toLowerCase(Locale.ROOT), shown)).isEqualTo(new QueueOutput(0, """
        *** ENVELOPE RECORDS 1A225B91F2A00000 ***
        message_size: %d
        message_arrival_time: %s (2026-03-01T05:13:38.250Z)
        client: client.example [192.0.2.1]
        sender: me@localhost
        ret: HDRS
        envid: xyz+2B1
        held: yes
        done_recipient: done@example.org
        recipient: friend@example.org (attempt 2, next 2026-03-01T05:18:38Z: 450 busy)
        recipient: new@example.org
        *** MESSAGE CONTENTS 1A225B91F2A00000 ***
        Subject: grüße

        x
        *** END OF MESSAGE 1A225B91F2A00000 ***
        """.formatted(content.length, local(ARRIVAL))));
  }

  @Test
  void actsAreConfirmedWithTheIdAsTypedAndRefusalsNameTheMessage() {
    String typed = "1a225b91f2a00000";
    var done = new QueueReply.Done();
    assertThat(answer(QueueRequest.Command.RETRY, typed, done)).isEqualTo(new QueueOutput(0, typed + ": due now\n"));
    assertThat(answer(QueueRequest.Command.HOLD, typed, done)).isEqualTo(new QueueOutput(0, typed + ": held\n"));
    assertThat(answer(QueueRequest.Command.RELEASE, typed, done)).isEqualTo(new QueueOutput(0, typed + ": released, due now\n"));
    assertThat(answer(QueueRequest.Command.DELETE, typed, done)).isEqualTo(new QueueOutput(0, typed + ": deleted\n"));
    assertThat(answer(QueueRequest.Command.BOUNCE, typed, done)).isEqualTo(new QueueOutput(0, typed + ": returned to the sender\n"));
    assertThat(answer(QueueRequest.Command.FLUSH, null, new QueueReply.Flushed(2))).isEqualTo(new QueueOutput(0, "2 message(s) due now\n"));

    assertThat(answer(QueueRequest.Command.DELETE, typed, new QueueReply.Refused(QueueControl.Refusal.NO_SUCH_MESSAGE, ID)))
        .isEqualTo(new QueueOutput(1, "no message 1A225B91F2A00000 in the queue\n"));
    assertThat(answer(QueueRequest.Command.RETRY, typed, new QueueReply.Refused(QueueControl.Refusal.HELD, ID)))
        .isEqualTo(new QueueOutput(1, "1A225B91F2A00000 is held; release it first\n"));
    assertThat(answer(QueueRequest.Command.BOUNCE, typed, new QueueReply.Refused(QueueControl.Refusal.BEING_DELIVERED, ID)))
        .isEqualTo(new QueueOutput(1, "1A225B91F2A00000 is being delivered right now; try again in a moment\n"));
    assertThat(answer(QueueRequest.Command.HOLD, typed, new QueueReply.SpoolError("No space left on device")))
        .isEqualTo(new QueueOutput(1, "spool error: No space left on device\n"));
    assertThat(answer(QueueRequest.Command.FLUSH, null, new QueueReply.Failed("internal error: java.lang.IllegalStateException")))
        .isEqualTo(new QueueOutput(1, "internal error: java.lang.IllegalStateException\n"));
  }

  @Test
  void theWordsBecomeARequestOrTheUsage() throws Exception {
    assertThat(QueueCommand.request(List.of())).isEqualTo(new QueueRequest(QueueRequest.Command.LIST, null));
    assertThat(QueueCommand.request(List.of("list"))).isEqualTo(new QueueRequest(QueueRequest.Command.LIST, null));
    assertThat(QueueCommand.request(List.of("flush"))).isEqualTo(new QueueRequest(QueueRequest.Command.FLUSH, null));
    assertThat(QueueCommand.request(List.of("bounce", "1a225b91f2a00000"))).isEqualTo(new QueueRequest(QueueRequest.Command.BOUNCE, ID));

    String usage = "usage: posta queue [list | show ID | flush | retry ID | hold ID | release ID | delete ID | bounce ID]\n";
    assertThat(badUsage("frobnicate")).isEqualTo(new QueueOutput(2, usage));
    assertThat(badUsage("LIST")).isEqualTo(new QueueOutput(2, usage));
    assertThat(badUsage("list", "x")).isEqualTo(new QueueOutput(2, usage));
    assertThat(badUsage("flush", "x")).isEqualTo(new QueueOutput(2, usage));
    assertThat(badUsage("show")).isEqualTo(new QueueOutput(1, "usage: posta queue show QUEUE-ID\n"));
    assertThat(badUsage("hold", "nonsense")).isEqualTo(new QueueOutput(1, "not a queue ID: nonsense (16 hex digits, as in the log)\n"));
  }

  private static QueueOutput badUsage(String... words) {
    try {
      throw new AssertionError("read as a request: " + QueueCommand.request(List.of(words)));
    } catch (QueueCommand.BadUsage e) {
      return e.output;
    }
  }
}
