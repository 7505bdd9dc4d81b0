package dev.posta.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The client's pure parts, without sockets: replies, EHLO keywords, dot-stuffing. Got/want tables. */
class ClientParsingTest {

  private static SmtpReply reply(String wire) throws IOException {
    return new ReplyReader(new ByteArrayInputStream(wire.getBytes(StandardCharsets.UTF_8))).read();
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', quoteCharacter = '\'', value = {
      // wire                                              | code | lines joined with /      | oneLine
      "'250 OK\\r\\n'                                        | 250  | OK                       | 250 OK",
      "'250\\r\\n'                                           | 250  | ''                       | 250",
      "'250-a\\r\\n250-\\r\\n250 b\\r\\n'                        | 250  | a//b                     | 250 a b",
      "'550-5.1.1 No such\\r\\n550 5.1.1 user here\\r\\n'      | 550  | 5.1.1 No such/5.1.1 user here | 550 5.1.1 No such 5.1.1 user here",
      "'220 bare LF ending\\n'                              | 220  | bare LF ending           | 220 bare LF ending",
      "'554 tab\\there, bell\\u0007 and CR\\r inside\\r\\n'     | 554  | tab\\there, bell? and CR? inside | 554 tab\\there, bell? and CR? inside",
  })
  void repliesAreReadWhole(String wire, int code, String lines, String oneLine) throws IOException {
    SmtpReply r = reply(unescape(wire));
    assertThat(r.code()).isEqualTo(code);
    assertThat(String.join("/", r.lines())).isEqualTo(unescape(lines));
    assertThat(r.oneLine()).isEqualTo(unescape(oneLine));
    assertThat(r.toString()).isEqualTo(r.oneLine());
  }

  @Test
  void badUtf8IsReplacedNotRefused() throws IOException {
    byte[] wire = {'5', '5', '0', ' ', 'x', (byte) 0xff, 'y', '\r', '\n'};
    SmtpReply r = new ReplyReader(new ByteArrayInputStream(wire)).read();
    assertThat(r.lines()).containsExactly("x\uFFFDy");
  }

  @Test
  void consecutiveRepliesAreReadInTurn() throws IOException {
    var reader = new ReplyReader(new ByteArrayInputStream("250 a\r\n550-b\r\n550 c\r\n354 d\r\n".getBytes(StandardCharsets.US_ASCII)));
    assertThat(reader.read().oneLine()).isEqualTo("250 a");
    assertThat(reader.read().oneLine()).isEqualTo("550 b c");
    assertThat(reader.available()).isEqualTo(7);
    assertThat(reader.read().oneLine()).isEqualTo("354 d");
    assertThat(reader.available()).isZero();
    assertThatThrownBy(reader::read).isInstanceOf(EOFException.class);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "'OK\\r\\n'                      | reply line without a reply code: \"OK\"",
      "'250-a\\r\\n251 b\\r\\n'          | reply code changed from 250 to 251 within one reply",
      "'250_a\\r\\n'                   | reply code not followed by a space or hyphen: \"250_a\"",
      "'199 x\\r\\n'                   | reply line without a reply code: \"199 x\"",
      "'260 x\\r\\n'                   | reply line without a reply code: \"260 x\"",
      "'2a0 x\\r\\n'                   | reply line without a reply code: \"2a0 x\"",
  })
  void malformedRepliesAreRefused(String wire, String message) {
    assertThatThrownBy(() -> reply(unescape(wire)))
        .isInstanceOf(ReplyReader.MalformedReplyException.class)
        .hasMessage(message);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "550 | 5.1.1 No such user      | 5.1.1",
      "550 | 5.1.1                   | 5.1.1",
      "451 | 4.3.0 Local error       | 4.3.0",
      "250 | 2.0.0 Ok: queued        | 2.0.0",
      "552 | 5.3.40 x                | 5.3.40",
      "554 | 5.123.456 x             | 5.123.456",
      "550 | 4.1.1 class differs     | ",
      "550 | 5.1 too short           | ",
      "550 | 5.1.1.1 four parts      | ",
      "550 | 5.1234.1 long subject   | ",
      "550 | 5.1.x not digits        | ",
      "550 | 5.1.1, comma            | ",
      "550 | No such user            | ",
      "354 | 3.0.0 no class 3        | ",
  })
  void enhancedStatusMustMatchTheReplyClass(int code, String text, String status) {
    assertThat(new SmtpReply(code, List.of(text.strip(), "2.0.0 second line ignored")).enhancedStatus()).isEqualTo(status);
  }

  @Test
  void replyClasses() {
    assertThat(new SmtpReply(354, List.of("go")).isPositive()).isTrue();
    assertThat(new SmtpReply(421, List.of("bye")).isTransient()).isTrue();
    assertThat(new SmtpReply(421, List.of("bye")).isPositive()).isFalse();
    assertThat(new SmtpReply(554, List.of("no")).isPermanent()).isTrue();
    assertThatThrownBy(() -> new SmtpReply(600, List.of("x"))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new SmtpReply(250, List.of())).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void extensionsFromEhlo() throws IOException {
    Extensions e = Extensions.parse(reply("250-mx.example greets you\r\n250-pipelining\r\n250-SIZE 35882577\r\n"
        + "250-8BITMIME\r\n250-AUTH PLAIN login\r\n250-AUTH=CRAM-MD5 LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n250 CHUNKING\r\n"));
    assertThat(e.pipelining()).isTrue();
    assertThat(e.has("Pipelining")).isTrue();
    assertThat(e.chunking()).isTrue();
    assertThat(e.eightBitMime()).isTrue();
    assertThat(e.sizeLimit()).isEqualTo(35882577);
    assertThat(e.authMechanisms()).containsExactly("PLAIN", "LOGIN", "CRAM-MD5");
    assertThat(e.smtpUtf8()).isFalse();
    assertThat(e.dsn()).isFalse();
    assertThat(e.startTls()).isFalse();
    assertThat(e.has("mx.example")).isFalse(); // the first line is the greeting, not a keyword
    assertThat(e.toString()).isEqualTo("PIPELINING, SIZE 35882577, 8BITMIME, AUTH PLAIN login CRAM-MD5 LOGIN, ENHANCEDSTATUSCODES, CHUNKING");
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "'250-x\\r\\n250 SIZE\\r\\n'           | 0",
      "'250-x\\r\\n250 SIZE abc\\r\\n'       | 0",
      "'250-x\\r\\n250 SIZE -5\\r\\n'        | 0",
      "'250-x\\r\\n250 SIZE 0\\r\\n'         | 0",
      "'250-x\\r\\n250 SIZE 1048576\\r\\n'   | 1048576",
      "'250 x\\r\\n'                       | 0",
  })
  void sizeLimit(String wire, long limit) throws IOException {
    assertThat(Extensions.parse(reply(unescape(wire))).sizeLimit()).isEqualTo(limit);
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      // content (as written)            | DATA wire form
      "''                                 | '.\\r\\n'",
      "'a\\r\\n'                            | 'a\\r\\n.\\r\\n'",
      "'a'                                | 'a\\r\\n.\\r\\n'",
      "'.'                                | '..\\r\\n.\\r\\n'",
      "'.\\r\\n'                            | '..\\r\\n.\\r\\n'",
      "'a\\r\\n.b\\r\\n..c\\r\\n'               | 'a\\r\\n..b\\r\\n...c\\r\\n.\\r\\n'",
      "'a.b\\r\\n'                          | 'a.b\\r\\n.\\r\\n'",
      "'a\\nb\\n'                           | 'a\\r\\nb\\r\\n.\\r\\n'",
      "'a\\rb\\r'                           | 'a\\r\\nb\\r\\n.\\r\\n'",
      "'a\\r\\r\\nb'                         | 'a\\r\\n\\r\\nb\\r\\n.\\r\\n'",
      "'a\\n\\rb'                           | 'a\\r\\n\\r\\nb\\r\\n.\\r\\n'",
      "'\\n.x'                             | '\\r\\n..x\\r\\n.\\r\\n'",
      "'\\r.x'                             | '\\r\\n..x\\r\\n.\\r\\n'",
      "'a\\r\\n.\\r\\nb'                      | 'a\\r\\n..\\r\\nb\\r\\n.\\r\\n'",
  })
  void dotStuffing(String content, String wire) throws IOException {
    assertThat(stuff(unescape(content), 1)).isEqualTo(unescape(wire));
    assertThat(stuff(unescape(content), 3)).isEqualTo(unescape(wire));
  }

  /** Whatever the write sizes, across the staging buffer's edges, the wire form is the same. */
  @Test
  void dotStuffingAcrossBufferEdges() throws IOException {
    String line = ".x\r\n".repeat(3) + "y\n" + "z\r";
    String content = line.repeat(5000);
    String wire = "..x\r\n".repeat(3) + "y\r\n" + "z\r\n";
    String expected = wire.repeat(5000) + ".\r\n";
    for (int chunk : new int[] {1, 7, 4096, 16384, 100_000}) {
      assertThat(stuff(content, chunk)).as("writes of %d", chunk).isEqualTo(expected);
    }
  }

  private static String stuff(String content, int chunk) throws IOException {
    var out = new ByteArrayOutputStream();
    var stuffer = new DotStuffer(out);
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < bytes.length; i += chunk) {
      stuffer.write(ByteBuffer.wrap(bytes, i, Math.min(chunk, bytes.length - i)));
    }
    stuffer.finish();
    assertThat(stuffer.isOpen()).isFalse();
    return out.toString(StandardCharsets.UTF_8);
  }

  @Test
  void transactionsRefuseWhatCouldInjectCommands() {
    MessageWriter none = out -> {};
    List<Transaction.Recipient> one = List.of(new Transaction.Recipient("a@b"));
    assertThatThrownBy(() -> new Transaction("a@b>\r\nRCPT TO:<evil@x", List.of(), one, 0, none)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Transaction("a@b", List.of("BODY=8BITMIME\r\nDATA"), one, 0, none)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Transaction("a@b", List.of("A B"), one, 0, none)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Transaction.Recipient("a@b\n")).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> new Transaction("a@b", List.of(), List.of(), 0, none)).isInstanceOf(IllegalArgumentException.class);
    assertThat(new Transaction("", List.of(), one, 0, none).reversePath()).isEmpty();
  }

  @Test
  void outcomePerRecipient() {
    SmtpReply ok = new SmtpReply(250, List.of("ok"));
    SmtpReply refused = new SmtpReply(550, List.of("5.1.1 no"));
    SmtpReply queued = new SmtpReply(250, List.of("2.0.0 queued"));
    var result = new TransactionResult(ok, List.of(ok, refused), queued);
    assertThat(result.outcome(0)).isSameAs(queued);
    assertThat(result.outcome(1)).isSameAs(refused);
    SmtpReply mailRefused = new SmtpReply(451, List.of("4.3.0 later"));
    var failed = new TransactionResult(mailRefused, List.of(mailRefused, mailRefused), null);
    assertThat(failed.outcome(1)).isSameAs(mailRefused);
  }

  /** CSV cells spell CR, LF, TAB and BEL as \r, \n, \t and \u0007. */
  private static String unescape(String s) {
    return s.replace("\\r", "\r").replace("\\n", "\n").replace("\\t", "\t").replace("\\u0007", "\u0007");
  }
}
