package dev.posta.control;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import dev.posta.queue.QueueSelection;
import dev.posta.queue.SpooledMessage;
import dev.posta.queue.Timeline;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ProtocolException;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The control protocol's records: every request and answer comes back as it went, whatever
 * its text holds (tabs, line breaks, backslashes, {@code \N} itself, non-ASCII, raw octets in
 * the content); and what is not a whole answer is refused with a reason, never read as one.
 */
class ControlProtocolTest {
  static final QueueId ID = new QueueId("1A225B91F2A00000");
  static final QueueId OTHER = new QueueId("1A225B9281C00000");
  static final Instant ARRIVAL = Instant.parse("2026-03-01T12:34:56.123456789Z");
  static final Instant NEXT = Instant.parse("2026-03-01T12:39:56Z");
  /** What a hostile server's reply may leave in a last error: every character the records escape. */
  static final String NASTY = "450\t4.2.1 busy\nsecond line\r\\ back\\slash \\N \\t not a tab";

  static final QueueReply.Listed LISTED = new QueueReply.Listed(List.of(
      new QueueControl.Listing(ID, ARRIVAL, 499, "jörg@bücher.example", QueueControl.State.DEFERRED, List.of(
          new QueueControl.PendingRecipient("用户@例子.测试", 3, NEXT, NASTY + " (für 用户)"),
          new QueueControl.PendingRecipient("\"a\\\\b\"@example.org", 0, null, null))),
      new QueueControl.Listing(OTHER, ARRIVAL.plusSeconds(1), 12, "", QueueControl.State.HELD, List.of()),
      new QueueControl.Listing(new QueueId("1A225B9281C00001"), ARRIVAL, 1, "\\N", QueueControl.State.ACTIVE,
          List.of(new QueueControl.PendingRecipient("x@y", 1, NEXT, "")))));

  /** Content with CRLF, a line that reads like the end record, and octets that are not UTF-8. */
  static final byte[] CONTENT = concat("Subject: grüße\r\n\r\nend\nshown\n\\N\t".getBytes(UTF_8), new byte[] {(byte) 0xFF, 0, '\r'});

  static final QueueReply.Shown SHOWN = new QueueReply.Shown(new QueueControl.MessageView(ID, CONTENT.length, ARRIVAL,
      "2001:db8::1", "helo\twith tab", "jörg@bücher.example", "HDRS", null, true, List.of(
          new QueueControl.EnvelopeRecipient("done@example.org", true, null),
          new QueueControl.EnvelopeRecipient("用户@例子.测试", false, new SpooledMessage.Deferral(2, NEXT, NASTY)),
          new QueueControl.EnvelopeRecipient("new@example.org", false, null)),
      CONTENT, "jörg\t@bücher.example", "submission [2001:db8::2]:587", new Timeline(List.of(
          new Timeline.Event(ARRIVAL, Timeline.Kind.DEFERRED, List.of("用户@例子.测试", "\\N@example.org"), "4.2.1", "mx\\N", NASTY, null),
          new Timeline.Event(NEXT, Timeline.Kind.NOTICE, List.of("done@example.org"), "failed", null, null, OTHER.value()),
          Timeline.Event.act(NEXT, Timeline.Kind.HELD)), 7)));

  static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  static byte[] encode(QueueReply reply) throws IOException {
    var out = new ByteArrayOutputStream();
    ControlProtocol.writeAnswer(reply, out);
    return out.toByteArray();
  }

  static QueueReply decode(byte[] answer) throws IOException {
    return ControlProtocol.readAnswer(new ByteArrayInputStream(answer));
  }

  static QueueReply roundTrip(QueueReply reply) throws IOException {
    return decode(encode(reply));
  }

  @Test
  void everyRequestComesBackAsItWent() throws IOException {
    for (QueueRequest.Command c : QueueRequest.Command.values()) {
      QueueRequest request = new QueueRequest(c, c.namesMessage() ? ID : null);
      var out = new ByteArrayOutputStream();
      ControlProtocol.writeRequest(request, out);
      assertThat(out.toString(UTF_8)).isEqualTo(c.namesMessage() ? c.word() + "\t" + ID + "\n" : c.word() + "\n");
      assertThat(ControlProtocol.readRequest(new ByteArrayInputStream(out.toByteArray()))).isEqualTo(request);
    }
  }

  @Test
  void aBulkRequestIsOneRequestOfRecordsEndedByEnd() throws IOException {
    var named = QueueRequest.bulk(QueueRequest.Command.DELETE, new QueueSelection.Named(List.of(ID, OTHER, ID)));
    assertThat(requestText(named)).isEqualTo("bulk\tdelete\nid\t" + ID + "\nid\t" + OTHER + "\nend\n");
    var matching = QueueRequest.bulk(QueueRequest.Command.HOLD,
        new QueueSelection.Matching("Bücher.Example", "Spam\t\\N@Bücher.Example", Duration.ofHours(2)));
    assertThat(requestText(matching)).isEqualTo("bulk\thold\nmatch\txn--bcher-kva.example\tSpam\\t\\\\N@xn--bcher-kva.example\tPT2H\nend\n");
    var all = QueueRequest.bulk(QueueRequest.Command.RELEASE, QueueSelection.Matching.ALL);
    assertThat(requestText(all)).isEqualTo("bulk\trelease\nmatch\t\\N\t\\N\t\\N\nend\n");
    var nullSender = QueueRequest.bulk(QueueRequest.Command.BOUNCE, new QueueSelection.Matching(null, "", null));
    var none = QueueRequest.bulk(QueueRequest.Command.RETRY, new QueueSelection.Named(List.of()));
    assertThat(requestText(none)).isEqualTo("bulk\tretry\nend\n");
    for (QueueRequest r : List.of(named, matching, all, nullSender, none)) {
      assertThat(ControlProtocol.readRequest(new ByteArrayInputStream(requestText(r).getBytes(UTF_8)))).isEqualTo(r);
    }
    assertThat(((QueueSelection.Named) named.selection()).ids()).as("each once").containsExactly(ID, OTHER);
  }

  private static String requestText(QueueRequest request) throws IOException {
    var out = new ByteArrayOutputStream();
    ControlProtocol.writeRequest(request, out);
    return out.toString(UTF_8);
  }

  @Test
  void aBulkRequestCutShortOrMixedIsRefusedWithWhy() {
    assertThat(badRequest("bulk\tdelete\nid\t" + ID + "\n")).isEqualTo("cut short: it ends before its end record");
    assertThat(badRequest("bulk\tdelete\nid\t" + ID + "\nmatch\t\\N\t\\N\t\\N\nend\n")).isEqualTo("'match' where 'end' belongs");
    assertThat(badRequest("bulk\tdelete\nmatch\t\\N\t\\N\t\\N\nid\t" + ID + "\nend\n")).isEqualTo("'id' where 'end' belongs");
    assertThat(badRequest("bulk\tshow\nend\n")).isEqualTo("no bulk command 'show'");
    assertThat(badRequest("bulk\tflush\nend\n")).isEqualTo("no bulk command 'flush'");
    assertThat(badRequest("bulk\tdelete\nmatch\t\\N\t\\N\t2h\nend\n")).isEqualTo("'match' field 3 is not an age: '2h'");
    assertThat(badRequest("bulk\tdelete\nmatch\t\\N\t\\N\tPT-2H\nend\n")).isEqualTo("'match' field 3 is not an age: 'PT-2H'");
    assertThat(badRequest("bulk\tdelete\nid\tnonsense\nend\n")).isEqualTo("'id' field 1 is not a queue ID: 'nonsense'");
  }

  @Test
  void aBulkAnswerComesBackAsItWent() throws IOException {
    var acted = new QueueReply.ActedOn(new QueueControl.BulkResult(List.of(ID, OTHER),
        List.of(new QueueControl.Declined(QueueControl.Refusal.NO_SUCH_MESSAGE, new QueueId("0000000000000000")),
            new QueueControl.Declined(QueueControl.Refusal.BEING_DELIVERED, new QueueId("1A225B9281C00001")))));
    assertThat(new String(encode(acted), UTF_8)).isEqualTo("acted-on\nacted\t" + ID + "\nacted\t" + OTHER
        + "\ndeclined\tno-such-message\t0000000000000000\ndeclined\tbeing-delivered\t1A225B9281C00001\nend\n");
    assertThat(roundTrip(acted)).isEqualTo(acted);
    var nothing = new QueueReply.ActedOn(new QueueControl.BulkResult(List.of(), List.of()));
    assertThat(roundTrip(nothing)).isEqualTo(nothing);
    byte[] whole = encode(acted);
    for (int n = 0; n < whole.length; n++) {
      byte[] cut = Arrays.copyOf(whole, n);
      assertThatThrownBy(() -> decode(cut)).isInstanceOf(ProtocolException.class).hasMessageContaining("cut short");
    }
    assertThat(badAnswer("acted-on\ndeclined\theld\t" + ID + "\nacted\t" + OTHER + "\nend\n")).isEqualTo("'acted' where 'end' belongs");
  }

  @Test
  void aRequestThatIsNoneIsRefusedWithWhy() {
    assertThat(badRequest("")).isEqualTo("cut short: it ends before its end record");
    assertThat(badRequest("list")).isEqualTo("cut short in a record");
    assertThat(badRequest("list\tx\n")).isEqualTo("'list' with 1 field(s), not 0");
    assertThat(badRequest("hold\n")).isEqualTo("'hold' with 0 field(s), not 1");
    assertThat(badRequest("hold\t1a225b91f2a00000\n")).isEqualTo("'hold' field 1 is not a queue ID: '1a225b91f2a00000'");
    assertThat(badRequest("LIST\n")).isEqualTo("unknown command 'LIST'");
  }

  private static String badRequest(String request) {
    try {
      ControlProtocol.readRequest(new ByteArrayInputStream(request.getBytes(UTF_8)));
    } catch (ProtocolException e) {
      return e.getMessage();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("read as a request: " + request);
  }

  @Test
  void aListingComesBackAsItWentWhateverItsTextHolds() throws IOException {
    assertThat(roundTrip(LISTED)).isEqualTo(LISTED);
    assertThat(roundTrip(new QueueReply.Listed(List.of()))).isEqualTo(new QueueReply.Listed(List.of()));
  }

  @Test
  void aMessageComesBackAsItWentContentOctetForOctet() throws IOException {
    QueueReply back = roundTrip(SHOWN);
    assertThat(back).usingRecursiveComparison().isEqualTo(SHOWN);
    assertThat(((QueueReply.Shown) back).message().content()).isEqualTo(CONTENT);
  }

  @Test
  void everyOtherAnswerComesBackAsItWent() throws IOException {
    List<QueueReply> replies = List.of(new QueueReply.Flushed(0), new QueueReply.Flushed(Integer.MAX_VALUE), new QueueReply.Done(),
        new QueueReply.Refused(QueueControl.Refusal.NO_SUCH_MESSAGE, ID), new QueueReply.Refused(QueueControl.Refusal.HELD, ID),
        new QueueReply.Refused(QueueControl.Refusal.BEING_DELIVERED, OTHER), new QueueReply.SpoolError("No space left on device: " + NASTY),
        new QueueReply.SpoolError(null), new QueueReply.Failed("internal error: ünicode\tand\ttabs"));
    for (QueueReply reply : replies) assertThat(roundTrip(reply)).isEqualTo(reply);
  }

  @Test
  void theRecordsAreLinesOfEscapedFieldsAndTheContentARawBlock() throws IOException {
    assertThat(new String(encode(new QueueReply.Listed(List.of(new QueueControl.Listing(ID, NEXT, 1, "", QueueControl.State.INCOMING,
        List.of(new QueueControl.PendingRecipient("a@b", 0, null, null), new QueueControl.PendingRecipient("c@d", 1, NEXT, "x\ty\nz\\\r")))))), UTF_8))
        .isEqualTo("""
            listed
            message\t1A225B91F2A00000\t2026-03-01T12:39:56Z\t1\t\tincoming
            pending\ta@b\t0\t\\N\t\\N
            pending\tc@d\t1\t2026-03-01T12:39:56Z\tx\\ty\\nz\\\\\\r
            end
            """);
    assertThat(new String(encode(new QueueReply.Refused(QueueControl.Refusal.BEING_DELIVERED, ID)), UTF_8))
        .isEqualTo("refused\tbeing-delivered\t1A225B91F2A00000\nend\n");
    String shown = new String(encode(SHOWN), UTF_8);
    assertThat(shown).contains("\ncontent\t" + CONTENT.length + "\n" + new String(CONTENT, UTF_8) + "end\n");
  }

  @Test
  void anAnswerCutShortAnywhereIsRefusedNeverReadAsAShorterOne() throws IOException {
    for (QueueReply reply : List.of(LISTED, SHOWN, new QueueReply.Done(), new QueueReply.Refused(QueueControl.Refusal.HELD, ID))) {
      byte[] whole = encode(reply);
      for (int n = 0; n < whole.length; n++) {
        byte[] cut = Arrays.copyOf(whole, n);
        assertThatThrownBy(() -> decode(cut)).as("%d of %d octets of %s", n, whole.length, reply)
            .isInstanceOf(ProtocolException.class).hasMessageContaining("cut short");
      }
    }
    assertThatThrownBy(() -> decode(Arrays.copyOf(encode(SHOWN), encode(SHOWN).length - 6)))
        .hasMessage("cut short: content of " + (CONTENT.length - 2) + " of " + CONTENT.length + " octets");
  }

  /**
   * A listing goes out as it is read: its first message is pushed on to the client (flushed)
   * before the next one is even asked for, so a queue of a million starts showing at once.
   */
  @Test
  void aListingsFirstMessageIsSentBeforeTheNextIsRead() throws IOException {
    var buffer = new ByteArrayOutputStream();
    var flushed = new StringBuilder();
    var sent = new java.io.FilterOutputStream(buffer) {
      @Override
      public void write(byte[] b, int off, int len) {
        buffer.write(b, off, len);
      }

      @Override
      public void flush() {
        flushed.setLength(0);
        flushed.append(buffer.toString(UTF_8));
      }
    };
    List<String> whenAskedForTheSecond = new java.util.ArrayList<>();
    Iterable<QueueControl.Listing> messages = () -> new java.util.Iterator<>() {
      int n;

      @Override
      public boolean hasNext() {
        if (n == 1) whenAskedForTheSecond.add(flushed.toString());
        return n < LISTED.messages().size();
      }

      @Override
      public QueueControl.Listing next() {
        return LISTED.messages().get(n++);
      }
    };
    ControlProtocol.writeListing(messages, sent);
    assertThat(whenAskedForTheSecond).singleElement().satisfies(text -> {
      assertThat(text).startsWith("listed\nmessage\t" + ID.value() + "\t");
      assertThat(text).doesNotContain(OTHER.value());
    });
    assertThat(decode(buffer.toByteArray())).isEqualTo(LISTED);
  }

  /** The client takes a listing's messages as they are read: those before a cut are handed on, then the cut is refused. */
  @Test
  void aListingIsHandedOnMessageByMessageAsItIsRead() throws IOException {
    byte[] whole = encode(LISTED);
    List<QueueControl.Listing> each = new java.util.ArrayList<>();
    assertThat(ControlProtocol.readAnswer(new ByteArrayInputStream(whole), each::add)).isEqualTo(new QueueReply.Listed(List.of()));
    assertThat(each).isEqualTo(LISTED.messages());

    each.clear();
    String text = new String(whole, UTF_8);
    byte[] cut = text.substring(0, text.indexOf("message\t1A225B9281C00001")).getBytes(UTF_8); // the third message's record not yet come
    assertThatThrownBy(() -> ControlProtocol.readAnswer(new ByteArrayInputStream(cut), each::add)).isInstanceOf(ProtocolException.class)
        .hasMessageContaining("cut short");
    // A message is whole once the next record shows its pending ones are over: the first is, the second not yet.
    assertThat(each).extracting(QueueControl.Listing::id).containsExactly(ID);
  }

  @Test
  void whatIsNotAnAnswerIsRefusedWithWhy() {
    assertThat(badAnswer("0\nqueue is empty\n")).isEqualTo("an answer that begins with '0'");
    assertThat(badAnswer("done\tmore\nend\n")).isEqualTo("'done' with 1 field(s), not 0");
    assertThat(badAnswer("done\ndone\n")).isEqualTo("'done' where 'end' belongs");
    assertThat(badAnswer("listed\npending\ta@b\t0\t\\N\t\\N\nend\n")).isEqualTo("'pending' where 'message' belongs");
    assertThat(badAnswer("listed\nmessage\t" + ID + "\tyesterday\t1\t\tincoming\nend\n"))
        .isEqualTo("'message' field 2 is not a time: 'yesterday'");
    assertThat(badAnswer("listed\nmessage\t" + ID + "\t" + NEXT + "\t1\t\tlost\nend\n"))
        .isEqualTo("'message' field 5 is not one of [incoming, deferred, active, held]: 'lost'");
    assertThat(badAnswer("flushed\t-1\nend\n")).isEqualTo("'flushed' field 1 is not a count: '-1'");
    assertThat(badAnswer("failed\tback\\slash\nend\n")).isEqualTo("a bad escape in the field 'back\\slash'");
    assertThat(badAnswer("failed\ttrailing\\\nend\n")).isEqualTo("a bad escape in the field 'trailing\\'");
    assertThat(badAnswer("refused\tHELD\t" + ID + "\nend\n")).isEqualTo("'refused' field 1 is not one of [no-such-message, held, being-delivered]: 'HELD'");
    String envelope = "shown\nenvelope\t" + ID + "\t1\t" + NEXT + "\tc\th\ts\t\\N\t\\N\tno\t\\N\t\\N\n";
    assertThat(badAnswer(envelope + "timeline\t0\ncontent\t99999999999\n")).isEqualTo("content of 99999999999 octets");
    assertThat(badAnswer(envelope + "content\t1\nx")).isEqualTo("'content' where 'timeline' belongs");
    assertThat(badAnswer(envelope + "timeline\t0\nevent\t" + NEXT + "\theld\t\\N\t\\N\t\\N\ncontent\t0\nend\n"))
        .isEqualTo("'event' with 5 field(s), not 6 or more");
    assertThat(badAnswer(envelope + "timeline\t0\nevent\t" + NEXT + "\tlost\t\\N\t\\N\t\\N\t\\N\ncontent\t0\nend\n"))
        .isEqualTo("'event' field 2 is not one of [delivered, relayed, deferred, failed, expired, notice, held, released, retried]: 'lost'");
  }

  @Test
  void aRecordThatIsNotUtf8OrTooLongIsRefused() {
    byte[] latin1 = "failed\tK\u00f6ln\nend\n".getBytes(ISO_8859_1);
    assertThatThrownBy(() -> decode(latin1)).isInstanceOf(ProtocolException.class).hasMessage("a record that is not UTF-8");
    byte[] huge = ("failed\t" + "x".repeat(ControlProtocol.MAX_RECORD) + "\nend\n").getBytes(UTF_8);
    assertThatThrownBy(() -> decode(huge)).isInstanceOf(ProtocolException.class).hasMessage("a record longer than 1048576 octets");
  }

  private static String badAnswer(String answer) {
    try {
      decode(answer.getBytes(UTF_8));
    } catch (ProtocolException e) {
      return e.getMessage();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
    throw new AssertionError("read as an answer: " + answer);
  }
}
