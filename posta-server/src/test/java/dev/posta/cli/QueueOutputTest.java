package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.control.QueueReply;
import dev.posta.control.QueueRequest;
import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import dev.posta.queue.SpooledMessage;
import dev.posta.queue.Timeline;
import dev.posta.queue.QueueSelection;
import java.io.BufferedReader;
import java.io.StringReader;
import java.time.Duration;
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

  /**
   * A running server's listing is printed as its messages come: the heading with the first
   * message, each message whole as it is handed on, the totals at the end; the same text as the
   * whole listing's, in the memory of one message.
   */
  @Test
  void aListingPrintedAsItComesReadsAsTheWholeOne() {
    var messages = List.of(
        new QueueControl.Listing(ID, ARRIVAL, 499, "me@localhost", QueueControl.State.DEFERRED,
            List.of(new QueueControl.PendingRecipient("friend@example.org", 1, NEXT, "450 4.2.1 mailbox busy"))),
        new QueueControl.Listing(OTHER, ARRIVAL, 1500, "", QueueControl.State.HELD, List.of()));
    for (boolean json : List.of(false, true)) {
      List<String> printed = new java.util.ArrayList<>();
      var printer = new QueueOutput.ListPrinter(json, printed::add);
      printer.accept(messages.get(0));
      int afterFirst = printed.size();
      printer.accept(messages.get(1));
      QueueOutput end = printer.end("");
      QueueOutput whole = json ? QueueOutput.json(messages) : answer(QueueRequest.Command.LIST, null, new QueueReply.Listed(messages));
      assertThat(String.join("", printed) + end.out()).isEqualTo(whole.out());
      assertThat(String.join("", printed.subList(0, afterFirst))).as("json %s: the first message whole", json)
          .contains(ID.value()).doesNotContain(OTHER.value()).endsWith(json ? "]}\n" : "\n\n");
      assertThat(end.exitCode()).isZero();
    }
    assertThat(new QueueOutput.ListPrinter(false, text -> {}).end("")).isEqualTo(new QueueOutput(0, "queue is empty\n"));
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
        *** TIMELINE 1A225B91F2A00000 ***
        2026-03-01T05:13:38.250Z received from client.example [192.0.2.1]
        *** MESSAGE CONTENTS 1A225B91F2A00000 ***
        Subject: grüße

        x
        *** END OF MESSAGE 1A225B91F2A00000 ***
        """.formatted(content.length, local(ARRIVAL))));
  }

  @Test
  void theTimelineSaysWhoSentItAndEachEventOnALineWithTheEventsLeftOutCounted() {
    byte[] content = "x\r\n".getBytes(UTF_8);
    var deferred = new Timeline.Event(NEXT, Timeline.Kind.DEFERRED, List.of("friend@example.org", "other@example.org"), "4.2.1",
        "mx.example.org", "450 4.2.1 mailbox busy", "deferred by mx.example.org[192.0.2.25]:25");
    List<Timeline.Event> events = new java.util.ArrayList<>();
    for (int i = 0; i < Timeline.FIRST; i++) events.add(Timeline.Event.act(NEXT, Timeline.Kind.RETRIED));
    events.addAll(List.of(deferred,
        new Timeline.Event(NEXT, Timeline.Kind.FAILED, List.of("gone@example.org"), "5.1.1", "mx.example.org", "550 5.1.1 no such user",
            "refused by mx.example.org[192.0.2.25]:25"),
        new Timeline.Event(NEXT, Timeline.Kind.NOTICE, List.of("gone@example.org"), "failed", null, null, OTHER.value()),
        new Timeline.Event(NEXT, Timeline.Kind.DELIVERED, List.of("me@localhost"), "2.0.0", null, null, "delivered to mailbox me@localhost"),
        Timeline.Event.act(NEXT, Timeline.Kind.HELD), Timeline.Event.act(NEXT, Timeline.Kind.RELEASED)));
    var shown = new QueueReply.Shown(new QueueControl.MessageView(ID, content.length, ARRIVAL, "192.0.2.1", "client.example",
        "me@localhost", null, null, false, List.of(), content, "me@localhost", "submission 127.0.0.1:587", new Timeline(events, 3)));
    String out = answer(QueueRequest.Command.SHOW, ID.value(), shown).out();
    String retried = "2026-03-01T05:18:38Z made due now by the administrator\n";
    assertThat(out).contains("""
        sender: me@localhost
        login: me@localhost
        listener: submission 127.0.0.1:587
        *** TIMELINE 1A225B91F2A00000 ***
        2026-03-01T05:13:38.250Z received from client.example [192.0.2.1] as me@localhost on submission 127.0.0.1:587
        """ + retried.repeat(Timeline.FIRST) + """
        (3 more events)
        2026-03-01T05:18:38Z deferred friend@example.org, other@example.org [4.2.1]: deferred by mx.example.org[192.0.2.25]:25: 450 4.2.1 mailbox busy
        2026-03-01T05:18:38Z failed gone@example.org [5.1.1]: refused by mx.example.org[192.0.2.25]:25: 550 5.1.1 no such user
        2026-03-01T05:18:38Z notice (failed) to the sender for gone@example.org: 1A225B9281C00000
        2026-03-01T05:18:38Z delivered me@localhost [2.0.0]: delivered to mailbox me@localhost
        2026-03-01T05:18:38Z held by the administrator
        2026-03-01T05:18:38Z released by the administrator
        *** MESSAGE CONTENTS 1A225B91F2A00000 ***
        """);
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

    String usage = "usage: posta queue [list [--json] | show ID | flush | retry|hold|release|delete|bounce ID...|-|ALL]"
        + " [--to-domain DOMAIN] [--from ADDRESS] [--older-than AGE]\n";
    assertThat(badUsage("frobnicate")).isEqualTo(new QueueOutput(2, usage));
    assertThat(badUsage("LIST")).isEqualTo(new QueueOutput(2, usage));
    assertThat(badUsage("list", "x")).isEqualTo(new QueueOutput(2, usage));
    assertThat(badUsage("flush", "x")).isEqualTo(new QueueOutput(2, usage));
    assertThat(badUsage("show")).isEqualTo(new QueueOutput(1, "usage: posta queue show QUEUE-ID\n"));
    assertThat(badUsage("hold", "nonsense")).isEqualTo(new QueueOutput(1, "not a queue ID: nonsense (16 hex digits, as in the log)\n"));
    assertThat(badUsage("hold")).isEqualTo(new QueueOutput(1,
        "usage: posta queue hold QUEUE-ID... | - | ALL [--to-domain DOMAIN] [--from ADDRESS] [--older-than AGE]\n"));
  }

  static final QueueCommand.Selectors NONE = QueueCommand.Selectors.NONE;

  static QueueRequest request(QueueCommand.Selectors selectors, String stdin, String... words) throws QueueCommand.BadUsage {
    return QueueCommand.request(List.of(words), selectors, false, () -> new BufferedReader(new StringReader(stdin)));
  }

  @Test
  void severalIdsStandardInputAllAndSelectorsMakeOneBulkRequest() throws Exception {
    var delete = QueueRequest.Command.DELETE;
    assertThat(request(NONE, "", "delete", "1a225b91f2a00000")).as("one ID: as it always was").isEqualTo(new QueueRequest(delete, ID));
    assertThat(request(NONE, "", "delete", ID.value(), OTHER.value(), ID.value()))
        .isEqualTo(QueueRequest.bulk(delete, new QueueSelection.Named(List.of(ID, OTHER))));
    // What posta queue | awk, postqueue -j | jq -r .queue_id or a hand-made list give.
    assertThat(request(NONE, "1A225B91F2A00000*\n\n  1a225b9281c00000!  \r\n\t\n", "hold", "-"))
        .isEqualTo(QueueRequest.bulk(QueueRequest.Command.HOLD, new QueueSelection.Named(List.of(ID, OTHER))));
    assertThat(request(NONE, OTHER + "\n", "release", ID.value(), "-"))
        .isEqualTo(QueueRequest.bulk(QueueRequest.Command.RELEASE, new QueueSelection.Named(List.of(ID, OTHER))));
    assertThat(request(NONE, "", "retry", "-")).as("nothing piped: nothing to do")
        .isEqualTo(QueueRequest.bulk(QueueRequest.Command.RETRY, new QueueSelection.Named(List.of())));
    assertThat(request(NONE, "", "delete", "ALL")).isEqualTo(QueueRequest.bulk(delete, QueueSelection.Matching.ALL));
    var selectors = new QueueCommand.Selectors("Bücher.EXAMPLE", "<Spam@Bücher.Example>", "7d");
    var matching = new QueueSelection.Matching("xn--bcher-kva.example", "Spam@xn--bcher-kva.example", Duration.ofDays(7));
    assertThat(request(selectors, "", "bounce")).isEqualTo(QueueRequest.bulk(QueueRequest.Command.BOUNCE, matching));
    assertThat(request(selectors, "", "bounce", "ALL")).isEqualTo(QueueRequest.bulk(QueueRequest.Command.BOUNCE, matching));
    assertThat(request(new QueueCommand.Selectors(null, "<>", null), "", "delete"))
        .isEqualTo(QueueRequest.bulk(delete, new QueueSelection.Matching(null, "", null)));
    assertThat(request(new QueueCommand.Selectors(null, "", "30m"), "", "delete"))
        .isEqualTo(QueueRequest.bulk(delete, new QueueSelection.Matching(null, "", Duration.ofMinutes(30))));
    for (var age : List.of(List.of("45s", "PT45S"), List.of("2h", "PT2H"), List.of("1w", "PT168H"))) {
      assertThat(request(new QueueCommand.Selectors(null, null, age.get(0)), "", "delete"))
          .isEqualTo(QueueRequest.bulk(delete, new QueueSelection.Matching(null, null, Duration.parse(age.get(1)))));
    }
  }

  @Test
  void selectorsWithIdsAllWithIdsAndBadSelectorsAreBadUsage() {
    String usage = "usage: posta queue [list [--json] | show ID | flush | retry|hold|release|delete|bounce ID...|-|ALL]"
        + " [--to-domain DOMAIN] [--from ADDRESS] [--older-than AGE]\n";
    var from = new QueueCommand.Selectors(null, "spam@example.com", null);
    assertThat(badUsage(from, "", "delete", ID.value())).isEqualTo(new QueueOutput(2,
        "posta queue: --to-domain, --from and --older-than pick from ALL, not from queue IDs: give one or the other\n" + usage));
    assertThat(badUsage(from, ID + "\n", "delete", "-")).isEqualTo(badUsage(from, "", "delete", ID.value()));
    assertThat(badUsage(NONE, "", "delete", "ALL", ID.value())).isEqualTo(new QueueOutput(2,
        "posta queue: ALL is every message: give it alone, or queue IDs without it\n" + usage));
    assertThat(badUsage(from, "", "list")).isEqualTo(new QueueOutput(2,
        "posta queue: --to-domain, --from and --older-than pick messages to act on, not to list\n" + usage));
    assertThat(badUsage(new QueueCommand.Selectors(null, null, "2 hours"), "", "delete")).isEqualTo(new QueueOutput(2,
        "posta queue: --older-than: not an age: 2 hours (a number and s, m, h, d or w: 30m, 2h, 7d)\n" + usage));
    assertThat(badUsage(new QueueCommand.Selectors(null, "spam", null), "", "delete")).isEqualTo(new QueueOutput(2,
        "posta queue: --from: not an address: spam (missing @domain; \"<>\" for the null sender)\n" + usage));
    assertThat(badUsage(new QueueCommand.Selectors("a@example.com", null, null), "", "delete")).isEqualTo(new QueueOutput(2,
        "posta queue: --to-domain: not a domain: a@example.com\n" + usage));
    assertThat(badUsage(NONE, ID + "\n-Queue ID-  --Size--\n", "delete", "-")).as("nothing done: not even the first ID")
        .isEqualTo(new QueueOutput(1, "not a queue ID on standard input, line 2: -Queue ID-  --Size-- (one ID per line); nothing done\n"));
    assertThat(badUsage(NONE, "", "delete", "all")).isEqualTo(new QueueOutput(1, "not a queue ID: all (16 hex digits, as in the log)\n"));
  }

  private static QueueOutput badUsage(String... words) {
    return badUsage(NONE, "", words);
  }

  private static QueueOutput badUsage(QueueCommand.Selectors selectors, String stdin, String... words) {
    try {
      throw new AssertionError("read as a request: " + request(selectors, stdin, words));
    } catch (QueueCommand.BadUsage e) {
      return e.output;
    }
  }

  @Test
  void aBulkCommandSaysHowManyOnStandardOutputAndEachMessageNotActedOnOnStandardError() {
    var three = new QueueControl.BulkResult(List.of(ID, OTHER, new QueueId("1A225B9281C00001")), List.of());
    var one = new QueueControl.BulkResult(List.of(ID), List.of());
    var none = new QueueControl.BulkResult(List.of(), List.of());
    assertThat(bulk(QueueRequest.Command.DELETE, three)).isEqualTo(new QueueOutput(0, "Deleted: 3 messages\n", ""));
    assertThat(bulk(QueueRequest.Command.HOLD, one)).isEqualTo(new QueueOutput(0, "Placed on hold: 1 message\n", ""));
    assertThat(bulk(QueueRequest.Command.RELEASE, none)).isEqualTo(new QueueOutput(0, "Released from hold: 0 messages\n", ""));
    assertThat(bulk(QueueRequest.Command.RETRY, three)).isEqualTo(new QueueOutput(0, "Due now: 3 messages\n", ""));
    assertThat(bulk(QueueRequest.Command.BOUNCE, one)).isEqualTo(new QueueOutput(0, "Returned to the sender: 1 message\n", ""));
    var some = new QueueControl.BulkResult(List.of(ID), List.of(
        new QueueControl.Declined(QueueControl.Refusal.NO_SUCH_MESSAGE, new QueueId("0000000000000000")),
        new QueueControl.Declined(QueueControl.Refusal.HELD, OTHER),
        new QueueControl.Declined(QueueControl.Refusal.BEING_DELIVERED, new QueueId("1A225B9281C00001"))));
    assertThat(bulk(QueueRequest.Command.RETRY, some)).isEqualTo(new QueueOutput(1, "Due now: 1 message\n", """
        no message 0000000000000000 in the queue
        1A225B9281C00000 is held; release it first
        1A225B9281C00001 is being delivered right now; try again in a moment
        """));
  }

  private static QueueOutput bulk(QueueRequest.Command command, QueueControl.BulkResult result) {
    return QueueOutput.of(QueueRequest.bulk(command, QueueSelection.Matching.ALL), null, new QueueReply.ActedOn(result));
  }

  @Test
  void theJsonListingIsOneObjectPerLineThatPythonReadsBackExactly() throws Exception {
    var listings = List.of(
        new QueueControl.Listing(ID, ARRIVAL, 499, "jörg@bücher.example", QueueControl.State.DEFERRED, List.of(
            new QueueControl.PendingRecipient("用户@例子.测试", 3, NEXT, "450\t4.2.1 \"busy\"\nsecond\r\\ \u0001\u007f\u2028 😀"),
            new QueueControl.PendingRecipient("new@example.org", 0, null, null))),
        new QueueControl.Listing(OTHER, ARRIVAL, 1500, "", QueueControl.State.HELD, List.of()),
        new QueueControl.Listing(new QueueId("1A225B9281C00001"), ARRIVAL, 30, "a@b", QueueControl.State.ACTIVE, List.of()),
        new QueueControl.Listing(new QueueId("1A225B9281C00002"), ARRIVAL, 30, "a@b", QueueControl.State.INCOMING,
            List.of(new QueueControl.PendingRecipient("c@d", 0, null, null))));
    QueueOutput json = QueueOutput.json(listings);
    assertThat(json.exitCode()).isZero();
    assertThat(json.err()).isEmpty();
    assertThat(json.out()).as("ASCII, whatever the terminal's encoding").matches("\\p{ASCII}*");
    long arrival = ARRIVAL.getEpochSecond();
    assertThat(json.out().lines().toList()).containsExactly(
        "{\"queue_name\": \"deferred\", \"queue_id\": \"1A225B91F2A00000\", \"arrival_time\": " + arrival + ", \"message_size\": 499, "
            + "\"sender\": \"j\\u00f6rg@b\\u00fccher.example\", \"recipients\": [{\"address\": \"\\u7528\\u6237@\\u4f8b\\u5b50.\\u6d4b\\u8bd5\", "
            + "\"delay_reason\": \"450\\t4.2.1 \\\"busy\\\"\\nsecond\\r\\\\ \\u0001\\u007f\\u2028 \\ud83d\\ude00\", \"attempts\": 3, "
            + "\"next_attempt\": " + NEXT.getEpochSecond() + "}, {\"address\": \"new@example.org\"}]}",
        "{\"queue_name\": \"hold\", \"queue_id\": \"1A225B9281C00000\", \"arrival_time\": " + arrival
            + ", \"message_size\": 1500, \"sender\": \"\", \"recipients\": []}",
        "{\"queue_name\": \"active\", \"queue_id\": \"1A225B9281C00001\", \"arrival_time\": " + arrival
            + ", \"message_size\": 30, \"sender\": \"a@b\", \"recipients\": []}",
        "{\"queue_name\": \"incoming\", \"queue_id\": \"1A225B9281C00002\", \"arrival_time\": " + arrival
            + ", \"message_size\": 30, \"sender\": \"a@b\", \"recipients\": [{\"address\": \"c@d\"}]}");

    // A real parser gives back every text exactly: Python's, each line on its own, every string as its code points.
    List<String> parsed = PythonJson.parseLines(json.out());
    assertThat(parsed).containsExactly(
        PythonJson.of("deferred", ID.value(), arrival, 499, "jörg@bücher.example", "用户@例子.测试",
            "450\t4.2.1 \"busy\"\nsecond\r\\ \u0001\u007f\u2028 😀", 3, NEXT.getEpochSecond(), "new@example.org"),
        PythonJson.of("hold", OTHER.value(), arrival, 1500, ""),
        PythonJson.of("active", "1A225B9281C00001", arrival, 30, "a@b"),
        PythonJson.of("incoming", "1A225B9281C00002", arrival, 30, "a@b", "c@d"));
    assertThat(QueueOutput.json(List.of())).isEqualTo(new QueueOutput(0, "", ""));
  }
}
