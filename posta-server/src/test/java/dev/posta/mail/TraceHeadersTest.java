package dev.posta.mail;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The trace fields of a header section: each row a message and the hops and Delivered-To it yields. */
class TraceHeadersTest {
  static Stream<Arguments> messages() {
    return Stream.of(
        row("none", "Subject: x\r\n\r\nbody\r\n", 0),
        row("two Received", "Received: from a\r\nReceived: from b\r\nSubject: x\r\n\r\nbody\r\n", 2),
        row("any case, space before the colon", "RECEIVED: a\r\nreceived : b\r\n\r\n", 2),
        row("folded fields count once", "Received: from a\r\n\tby b;\r\n\tdate\r\nReceived: c\r\n  by d\r\n\r\n", 2),
        row("LF line ends", "Received: a\nReceived: b\n\nReceived: in the body\n", 2),
        row("the body is not read", "Subject: x\r\n\r\nReceived: from a\r\nDelivered-To: x@example.org\r\n", 0),
        row("a field name that only starts alike", "Received-SPF: pass\r\nX-Received: a\r\n\r\n", 0),
        row("all header section, no empty line", "Received: a\r\nReceived: b", 2),
        row("Delivered-To, any form", "Delivered-To: X@Example.ORG\r\nDelivered-To:<y@example.org>\r\nDelivered-To:\r\n z@example.org\r\n\r\n",
            0, "x@example.org", "y@example.org", "z@example.org"));
  }

  static Arguments row(String name, String message, int received, String... deliveredTo) {
    return Arguments.of(name, message, received, Set.of(deliveredTo));
  }

  /** Whole, one octet at a time, and in pieces of 3 that split fields and line ends: the same trace. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("messages")
  void readsTheHeaderSectionInAnyPieces(String name, String message, int received, Set<String> deliveredTo) {
    byte[] bytes = message.getBytes(StandardCharsets.UTF_8);
    for (int piece : new int[] {bytes.length, 1, 3}) {
      TraceHeaders trace = new TraceHeaders();
      for (int at = 0; at < bytes.length; at += piece) trace.accept(bytes, at, Math.min(piece, bytes.length - at));
      trace.finish();
      assertThat(trace.received()).as("in pieces of %d", piece).isEqualTo(received);
      assertThat(trace.deliveredTo()).as("in pieces of %d", piece).isEqualTo(deliveredTo);
      assertThat(trace.wasDeliveredTo("X@EXAMPLE.org")).isEqualTo(deliveredTo.contains("x@example.org"));
    }
    assertThat(TraceHeaders.of(bytes).received()).isEqualTo(received);
  }

  @org.junit.jupiter.api.Test
  void aVeryLongFieldStillCountsAndIsCut() {
    String message = "Delivered-To: " + "a".repeat(5000) + "@example.org\r\nReceived: x\r\n\r\n";
    TraceHeaders trace = TraceHeaders.of(message.getBytes(StandardCharsets.UTF_8));
    assertThat(trace.received()).isEqualTo(1);
    assertThat(trace.deliveredTo()).singleElement().satisfies(a -> assertThat(a).hasSize(TraceHeaders.MAX_FIELD - "Delivered-To: ".length()));
  }
}
