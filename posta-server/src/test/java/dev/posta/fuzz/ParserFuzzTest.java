package dev.posta.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.posta.config.Toml;
import dev.posta.imap.ImapCommand;
import dev.posta.imap.ImapParser;
import dev.posta.imap.MessageStructureFuzzing;
import dev.posta.mail.AddressParser;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailAddress;
import dev.posta.mail.TraceHeaders;
import dev.posta.net.LineInput;
import dev.posta.smtp.CommandParser;
import dev.posta.smtp.Reply;
import dev.posta.smtp.SmtpCommand;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Coverage-guided fuzzing of the pure parsers with Jazzer. Under {@code ./mvnw verify} each
 * test replays its seed corpus (regression mode); {@code JAZZER_FUZZ=1} fuzzes for real (see
 * the README). Properties checked beyond "no exception escapes": replies are well-formed, a
 * parsed address re-parses to itself, and line reading never exceeds its limit.
 */
class ParserFuzzTest {

  @FuzzTest(maxDuration = "30s")
  void commandParserNeverThrowsAndRepliesAreWellFormed(FuzzedDataProvider data) {
    String line = data.consumeRemainingAsString();
    SmtpCommand c = CommandParser.parse(line);
    if (c instanceof SmtpCommand.Invalid invalid) {
      Reply r = invalid.reply();
      assertThat(r.code()).isBetween(500, 555);
      assertThat(r.toString()).doesNotContain("\r", "\n");
    }
    if (c instanceof SmtpCommand.Mail mail && mail.sender() != null) reparses(mail.sender());
    if (c instanceof SmtpCommand.Rcpt rcpt && rcpt.recipient() != null) reparses(rcpt.recipient());
  }

  private static void reparses(MailAddress a) {
    try {
      assertThat(AddressParser.parseMailbox(a.toString())).isEqualTo(a);
    } catch (AddressParser.SyntaxException e) {
      throw new AssertionError("accepted address does not re-parse: " + a, e);
    }
  }

  /** An IMAP command parses or is refused with a one-line reason, whatever its octets (literals included). */
  @FuzzTest(maxDuration = "30s")
  void imapParserNeverThrowsAndItsReasonsAreOneLine(FuzzedDataProvider data) {
    ImapCommand c = ImapParser.parse(data.consumeRemainingAsBytes());
    assertThat(c.tag()).isNotEmpty().doesNotContain(" ", "\r", "\n");
    if (c instanceof ImapCommand.Invalid invalid) assertThat(invalid.reason()).isNotEmpty().doesNotContain("\r", "\n");
    if (c instanceof ImapCommand.Unknown unknown) assertThat(unknown.name()).doesNotContain(" ", "\r", "\n");
  }

  /** Any octets get a MIME structure, and every FETCH and SEARCH reading of it answers without an exception. */
  @FuzzTest(maxDuration = "30s")
  void messageStructureNeverThrows(FuzzedDataProvider data) {
    MessageStructureFuzzing.exercise(data.consumeRemainingAsBytes());
  }

  @FuzzTest(maxDuration = "30s")
  void lineReaderRespectsItsLimit(FuzzedDataProvider data) throws IOException {
    int max = data.consumeInt(1, 2000);
    byte[] bytes = data.consumeRemainingAsBytes();
    LineInput in = new LineInput(new ByteArrayInputStream(bytes));
    int consumed = 0;
    while (true) {
      LineInput.Line l = in.readLine(max, null);
      assertThat(l.length()).isLessThanOrEqualTo(max);
      if (l.ending() == LineInput.Ending.EOF) break;
      if (l.ending() == LineInput.Ending.CRLF) {
        assertThat(l.bareCr()).isEqualTo(new String(l.bytes(), 0, l.length(), StandardCharsets.ISO_8859_1).indexOf('\r') >= 0);
      }
      assertThat(++consumed).isLessThanOrEqualTo(bytes.length);
    }
  }

  @FuzzTest(maxDuration = "30s")
  void tomlParserFailsOnlyWithALineNumber(FuzzedDataProvider data) {
    try {
      Toml.parse(data.consumeRemainingAsString());
    } catch (Toml.TomlException e) {
      assertThat(e.line()).isPositive();
    }
  }

  @FuzzTest(maxDuration = "30s")
  void envelopeDecoderRejectsGarbageCleanly(FuzzedDataProvider data) {
    byte[] bytes = data.consumeRemainingAsBytes();
    try {
      Envelope e = Envelope.decode(bytes);
      assertThat(Envelope.decode(e.encode())).isEqualTo(e);
    } catch (IllegalArgumentException expected) {
      // garbage is refused with IllegalArgumentException and nothing else
    }
  }

  /**
   * The trace of a header section (hops, Delivered-To) does not depend on how the octets arrive:
   * the session and the spool feed it in whatever pieces the network and the disk give.
   */
  @FuzzTest(maxDuration = "30s")
  void traceHeadersReadTheSameInAnyPieces(FuzzedDataProvider data) {
    int cut = data.consumeInt(0, 4096);
    byte[] message = data.consumeRemainingAsBytes();
    TraceHeaders whole = TraceHeaders.of(message);
    TraceHeaders pieces = new TraceHeaders();
    int at = Math.min(cut, message.length);
    pieces.accept(message, 0, at);
    for (int i = at; i < message.length; i++) pieces.accept(message, i, 1);
    pieces.finish();
    assertThat(pieces.received()).isEqualTo(whole.received()).isLessThanOrEqualTo(message.length / 9);
    assertThat(pieces.deliveredTo()).isEqualTo(whole.deliveredTo());
  }
}
