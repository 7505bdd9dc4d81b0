package dev.posta.imap;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.net.LineInput;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import org.junit.jupiter.api.Test;

/** Whole commands with their literals, continuation requests only for synchronizing ones, and each limit refused before the octets are read. */
class CommandReaderTest {
  private final ByteArrayOutputStream sent = new ByteArrayOutputStream();

  private CommandReader reader(String input) {
    return reader(input, true);
  }

  private CommandReader reader(String input, boolean loggedIn) {
    return new CommandReader(new LineInput(new ByteArrayInputStream(input.getBytes(ISO_8859_1))), sent, 100, () -> loggedIn);
  }

  private static String command(CommandReader.Read read) {
    return new String(((CommandReader.Read.Command) read).octets(), ISO_8859_1);
  }

  @Test
  void commandsComeWholeWithTheirLiteralsAndOnlySynchronizingOnesAreAnswered() throws IOException {
    CommandReader r = reader("a LOGIN {5}\r\nalice {6+}\r\nsecret\r\nb NOOP\nc APPEND INBOX ~{3}\r\nx\0y\r\n");
    assertThat(command(r.read())).isEqualTo("a LOGIN {5}\r\nalice {6+}\r\nsecret\r\n");
    assertThat(sent.toString(ISO_8859_1)).isEqualTo("+ Ready for literal data\r\n");
    assertThat(command(r.read())).as("a bare LF ends a line too").isEqualTo("b NOOP\r\n");
    assertThat(command(r.read())).isEqualTo("c APPEND INBOX ~{3}\r\nx\0y\r\n");
    assertThat(sent.toString(ISO_8859_1)).isEqualTo("+ Ready for literal data\r\n".repeat(2));
    assertThat(r.read()).isEqualTo(new CommandReader.Read.Ended());
  }

  @Test
  void aLargeAppendMessageIsHandedOnUnreadAndBeforeLoginAppendGetsNoMoreThanAnyCommand() throws IOException {
    var big = new CommandReader(new LineInput(new ByteArrayInputStream("a APPEND INBOX {70000}\r\n".getBytes(ISO_8859_1))), sent,
        100_000, () -> true);
    var read = (CommandReader.Read.AppendMessage) big.read();
    assertThat(new String(read.head(), ISO_8859_1)).isEqualTo("a APPEND INBOX {70000}\r\n");
    assertThat(read.size()).isEqualTo(70000);
    assertThat(read.synchronizing()).isTrue();
    assertThat(sent.size()).as("no continuation: the session decides").isZero();
    var notLoggedIn = new CommandReader(new LineInput(new ByteArrayInputStream("a APPEND INBOX {70000}\r\n".getBytes(ISO_8859_1))), sent,
        100_000, () -> false);
    assertThat(notLoggedIn.read()).isEqualTo(new CommandReader.Read.Refused("a BAD [TOOBIG] Literal of 70000 octets refused", false));
  }

  @Test
  @org.junit.jupiter.api.Timeout(10) // without the limit, the endless line below is read forever
  void aLiteralOverItsLimitIsRefusedUnreadAndOnlyTheUnstoppableOneCloses() throws IOException {
    assertThat(reader("a APPEND INBOX {101}\r\n").read())
        .isEqualTo(new CommandReader.Read.Refused("a NO [TOOBIG] Message larger than 100 octets", false));
    String longTag = "t".repeat(80);
    assertThat(reader(longTag + " APPEND INBOX {101}\r\n").read()).as("APPEND is known by its name, whatever the tag's length")
        .isEqualTo(new CommandReader.Read.Refused(longTag + " NO [TOOBIG] Message larger than 100 octets", false));
    assertThat(reader("a LOGIN {65537}\r\n").read())
        .isEqualTo(new CommandReader.Read.Refused("a BAD [TOOBIG] Literal of 65537 octets refused", false));
    assertThat(reader("a APPEND INBOX {101+}\r\n").read())
        .isEqualTo(new CommandReader.Read.Refused("a BAD [TOOBIG] Literal of 101 octets refused", true));
    assertThat(sent.size()).as("no continuation for any of them").isZero();
    CommandReader lines = reader("a " + "x".repeat(CommandReader.MAX_LINE) + "\r\nb NOOP\r\n");
    assertThat(lines.read()).isEqualTo(new CommandReader.Read.Refused("* BAD Line longer than 65536 octets", true));
    // A line that never ends is refused once it passes the limit, not read on without end.
    var endless = new java.io.InputStream() {
      long served;

      @Override
      public int read() {
        served++;
        return 'x';
      }

      @Override
      public int read(byte[] b, int off, int len) {
        java.util.Arrays.fill(b, off, off + len, (byte) 'x');
        served += len;
        return len;
      }
    };
    var stopped = new CommandReader(new LineInput(endless), sent, 100, () -> true);
    assertThat(stopped.read()).isEqualTo(new CommandReader.Read.Refused("* BAD Line longer than 65536 octets", true));
    assertThat(endless.served).as("read up to the limit, not beyond a buffer or two").isLessThan(CommandReader.MAX_LINE + 64 * 1024);
  }

  @Test
  void manyLiteralsCannotMakeOneCommandTooLarge() throws IOException {
    var input = new StringBuilder("a SEARCH");
    for (int i = 0; i < 5; i++) input.append(" TEXT {60000+}\r\n").append("y".repeat(60000));
    CommandReader.Read read = reader(input + "\r\n").read();
    assertThat(read).isEqualTo(new CommandReader.Read.Refused("a BAD [TOOBIG] Literal of 60000 octets refused", true));
  }
}
