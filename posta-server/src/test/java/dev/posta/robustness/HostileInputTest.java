package dev.posta.robustness;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.US_ASCII;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import dev.posta.config.PostaConfig;
import dev.posta.testing.TestServer;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/**
 * Hostile and broken clients against a real in-process server: random bytes, oversized lines,
 * floods, out-of-order commands, truncated chunks, SMTP smuggling endings, bad encodings and odd
 * addresses. For each: the exact reply (RFC 5321 / Replies), no exception escaping a session
 * (no ERROR log event, no uncaught exception), no session left hanging, and afterwards a
 * well-behaved client still gets {@code 250 2.0.0 Ok: queued as} and its message delivered.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class HostileInputTest {
  private static final Duration WAIT = Duration.ofSeconds(10);

  @TempDir Path data;

  private TestServer server;
  private int port;
  private final CapturingAppender logEvents = new CapturingAppender();
  private final Queue<String> uncaught = new ConcurrentLinkedQueue<>();
  private Thread.UncaughtExceptionHandler previousHandler;

  @BeforeEach
  void start() {
    Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    logEvents.setContext(root.getLoggerContext());
    logEvents.start();
    root.addAppender(logEvents);
    previousHandler = Thread.getDefaultUncaughtExceptionHandler();
    Thread.setDefaultUncaughtExceptionHandler((t, e) -> uncaught.add(t.getName() + ": " + e));
    server = TestServer.start(data);
    port = server.smtpPort();
  }

  @AfterEach
  void noSessionDiedSilently() {
    try {
      awaitNoOpenConnections();
      List<String> errors = logEvents.events.stream()
          .filter(e -> e.getLevel().isGreaterOrEqual(Level.ERROR))
          .map(CapturingAppender::describe)
          .toList();
      List<String> withThrowable = logEvents.events.stream()
          .filter(e -> e.getThrowableProxy() != null)
          .map(CapturingAppender::describe)
          .toList();
      assertThat(errors).as("ERROR log events (e.g. 'session failed': an exception escaped a session)").isEmpty();
      assertThat(withThrowable).as("log events carrying an exception").isEmpty();
      assertThat(uncaught).as("uncaught exceptions in server threads").isEmpty();
    } finally {
      server.close();
      Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
      root.detachAppender(logEvents);
      logEvents.stop();
      Thread.setDefaultUncaughtExceptionHandler(previousHandler);
    }
  }

  // --- (a) random bytes --------------------------------------------------------------------------

  @Test
  void twoHundredConnectionsOfRandomBytesNeitherCrashNorHangTheServer() throws Exception {
    long seed = Long.getLong("posta.fuzz.seed", System.nanoTime());
    System.out.println("HostileInputTest random bytes: seed=" + seed + " (rerun with -Dposta.fuzz.seed=" + seed + ")");
    Random master = new Random(seed);
    long[] seeds = new long[200];
    for (int i = 0; i < seeds.length; i++) seeds[i] = master.nextLong();

    Map<String, AtomicInteger> outcomes = new ConcurrentHashMap<>();
    Queue<String> problems = new ConcurrentLinkedQueue<>();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int i = 0; i < seeds.length; i++) {
        int n = i;
        done.add(pool.submit(() -> {
          try {
            String outcome = randomConnection(n, new Random(seeds[n]), problems);
            outcomes.computeIfAbsent(outcome, k -> new AtomicInteger()).incrementAndGet();
          } catch (IOException e) {
            problems.add("connection " + n + ": " + e);
          }
          return null;
        }));
      }
      for (Future<?> f : done) f.get(60, TimeUnit.SECONDS);
    } finally {
      pool.shutdownNow();
    }
    System.out.println("HostileInputTest random bytes: outcomes " + new java.util.TreeMap<>(outcomes));

    assertThat(problems).as("protocol problems with random input (seed %d)", seed).isEmpty();
    awaitNoOpenConnections();
    assertStillServes();
  }

  /**
   * One connection: random input, then a half-close (the server must answer with well-formed
   * replies and close within 10 s) or an abrupt close. Returns how it ended.
   */
  private String randomConnection(int n, Random r, Queue<String> problems) throws IOException {
    byte[] input = n % 25 == 7 ? longLineWithoutLf(r) : switch (r.nextInt(3)) {
      case 0 -> randomBytes(r, r.nextInt(4097));
      case 1 -> hostileAlphabet(r, r.nextInt(4097));
      default -> commandSoup(r, r.nextInt(4097));
    };
    boolean halfClose = r.nextInt(3) > 0;
    try (Socket socket = new Socket("127.0.0.1", port)) {
      socket.setSoTimeout((int) WAIT.toMillis());
      try {
        socket.getOutputStream().write(input);
      } catch (IOException e) {
        return "server closed while client was writing"; // e.g. after 421 for too many errors
      }
      if (!halfClose) return "client closed abruptly";
      socket.shutdownOutput();
      var got = new ByteArrayOutputStream();
      InputStream in = socket.getInputStream();
      byte[] buf = new byte[8192];
      boolean reset = false;
      try {
        for (int k; (k = in.read(buf)) >= 0; ) got.write(buf, 0, k);
      } catch (SocketTimeoutException e) {
        problems.add("connection " + n + ": server did not close within " + WAIT + " after the client's EOF; input "
            + input.length + " octets");
        return "hung";
      } catch (SocketException e) {
        // The server closed with some of our input unread (after 421 or 554), so its TCP sent a
        // reset, and the client's TCP may drop replies it had not yet handed over.
        reset = true;
      }
      String wellFormed = checkReplies(got.toByteArray(), reset);
      if (wellFormed != null) problems.add("connection " + n + ": " + wellFormed);
      String text = got.toString(ISO_8859_1);
      String end = text.contains("\r\n421 4.7.0 Too many errors") ? "421 too many errors"
          : text.contains("\r\n554 5.5.2 ") || text.contains("\r\n554 5.7.0 ") ? "554 and closed"
          : "closed";
      return end + (reset ? " (reset)" : " (EOF)");
    }
  }

  /**
   * Checks the server's output: only CRLF-terminated reply lines of the form {@code NNN SP} or
   * {@code NNN -}, the greeting first, nothing after a 421 or 554 that ends the session.
   * Returns a description of the first problem, or null.
   */
  private static String checkReplies(byte[] output, boolean reset) {
    String text = new String(output, ISO_8859_1);
    if (reset) text = text.substring(0, Math.max(0, text.lastIndexOf("\r\n") + 2)); // the whole lines that came
    // After a reset the output may be cut anywhere, even before the greeting; a clean EOF must
    // bring at least the greeting.
    if (text.isEmpty()) return reset ? null : "no reply at all before EOF";
    if (!text.startsWith("220 localhost ESMTP Posta\r\n")) return "bad greeting: " + abbreviate(text);
    if (!text.endsWith("\r\n")) return "output does not end with CRLF: " + abbreviate(text);
    String[] lines = text.substring(0, text.length() - 2).split("\r\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i];
      if (!line.matches("[2-5][0-9][0-9][ -][^\r\n]*")) return "malformed reply line " + abbreviate(line);
      boolean closing = line.startsWith("421 ") || line.startsWith("221 ")
          || line.startsWith("554 5.5.2 ") || line.startsWith("554 5.7.0 ");
      if (closing && i != lines.length - 1) return "reply after a closing " + line.substring(0, 3) + ": " + abbreviate(lines[i + 1]);
    }
    return null;
  }

  private static String abbreviate(String s) {
    return s.length() <= 200 ? s : s.substring(0, 200) + "...";
  }

  private static byte[] randomBytes(Random r, int length) {
    byte[] b = new byte[length];
    r.nextBytes(b);
    return b;
  }

  /** Bytes that matter to a line parser and an address parser, NUL and 0xFF included. */
  private static byte[] hostileAlphabet(Random r, int length) {
    byte[] alphabet = {0, (byte) 0xFF, '\r', '\n', ' ', '<', '>', '@', '"', '\\', '.', ':', '[', ']', 'A', 'z',
        (byte) 0xC3, (byte) 0x80, (byte) 0xED, '\t'};
    byte[] b = new byte[length];
    for (int i = 0; i < length; i++) b[i] = alphabet[r.nextInt(alphabet.length)];
    return b;
  }

  /** Fragments of real commands glued with CRLF, bare LF, lone CR, NUL and junk. */
  private static byte[] commandSoup(Random r, int length) {
    String[] words = {"EHLO fuzz.example", "HELO x", "MAIL FROM:<a@b.example>", "MAIL FROM:<", "MAIL FROM:<>",
        "RCPT TO:<fuzz@localhost>", "RCPT TO:<", "RCPT TO:<Postmaster>", "DATA", "BDAT ", "BDAT 5", "BDAT 3 LAST",
        "BDAT 0 LAST", "RSET", "NOOP", "VRFY x", "HELP", "EXPN x", ".", "..", "Subject: x", " SIZE=", " BODY=8BITMIME",
        " SMTPUTF8", " NOTIFY=", " ORCPT=rfc822;", "<\"q\\\"\"@localhost>", "[IPv6:::1]", "999999999999", "\u00e9"};
    String[] separators = {"\r\n", "\r\n", "\r\n", "\n", "\r", "\0", " ", ""};
    var out = new ByteArrayOutputStream();
    while (out.size() < length) {
      if (r.nextInt(8) == 0) {
        out.writeBytes(randomBytes(r, 1 + r.nextInt(20)));
      } else {
        out.writeBytes(words[r.nextInt(words.length)].getBytes(UTF_8));
      }
      out.writeBytes(separators[r.nextInt(separators.length)].getBytes(US_ASCII));
    }
    return Arrays.copyOf(out.toByteArray(), length);
  }

  /** 100 KiB without LF: random bytes, but never '\n'. */
  private static byte[] longLineWithoutLf(Random r) {
    byte[] b = randomBytes(r, 100 * 1024);
    for (int i = 0; i < b.length; i++) if (b[i] == '\n') b[i] = 'x';
    return b;
  }

  // --- (b) adversarial sequences ---------------------------------------------------------------

  @Test
  void oneMebibyteLineWithoutLfIsRefusedAs500LineTooLongAndTheSessionGoesOn() throws Exception {
    byte[] mebibyte = new byte[1 << 20];
    Arrays.fill(mebibyte, (byte) 'x');
    try (Client c = Client.ehlo(port)) {
      c.send(mebibyte).send("\r\n");
      assertThat(c.reply()).isEqualTo("500 5.5.2 Line too long");
      assertThat(c.command("NOOP")).isEqualTo("250 2.0.0 OK");
      assertThat(c.transaction("long-line@localhost", "after a 1 MiB line")).startsWith("250 2.0.0 Ok: queued as ");
    }
    awaitMessage("long-line", "after a 1 MiB line");
    try (Client c = Client.connect(port)) {
      c.send(mebibyte).shutdownOutput();
      assertThat(c.reply()).as("reply to 1 MiB without LF, then EOF").isNull();
    }
    assertStillServes();
  }

  @Test
  void overlongAddressesAreRefusedWithTheirOwnReplies() throws Exception {
    try (Client c = Client.ehlo(port)) {
      assertThat(c.command("MAIL FROM:<" + "a".repeat(10_000) + ">")).isEqualTo("500 5.5.2 Line too long");
      assertThat(c.command("MAIL FROM:<" + "a".repeat(65) + "@example.org>"))
          .isEqualTo("501 5.1.7 Bad sender address syntax: local part longer than 64 octets");
      assertThat(c.command("MAIL FROM:<" + "a".repeat(64) + "@" + "b".repeat(60) + "." + "c".repeat(60) + "."
          + "d".repeat(60) + "." + "e".repeat(60) + ".org>"))
          .isEqualTo("501 5.1.7 Bad sender address syntax: path longer than 256 octets");
      assertThat(c.command("MAIL FROM:<a@" + "b".repeat(64) + ".org>"))
          .isEqualTo("501 5.1.7 Bad sender address syntax: domain label longer than 63 octets");
      assertThat(c.command("MAIL FROM:<sender@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("RCPT TO:<" + "b".repeat(10_000) + "@localhost>")).isEqualTo("500 5.5.2 Line too long");
      assertThat(c.command("RCPT TO:<" + "b".repeat(65) + "@localhost>"))
          .isEqualTo("501 5.1.3 Bad recipient address syntax: local part longer than 64 octets");
      assertThat(c.command("RSET")).isEqualTo("250 2.0.0 OK");
    }
    assertStillServes();
  }

  @Test
  void tenThousandPipelinedNoopsEachGet250() throws Exception {
    int count = 10_000;
    try (Client c = Client.ehlo(port)) {
      byte[] noops = "NOOP\r\n".repeat(count).getBytes(US_ASCII);
      // Written from another thread: the replies (17 octets each) must be read meanwhile.
      Thread writer = Thread.ofPlatform().start(() -> {
        try {
          c.send(noops);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
      int ok = 0;
      for (int i = 0; i < count; i++) {
        String reply = c.reply();
        assertThat(reply).as("reply to pipelined NOOP #%d", i + 1).isEqualTo("250 2.0.0 OK");
        ok++;
      }
      writer.join(10_000);
      assertThat(ok).isEqualTo(count);
      assertThat(c.command("QUIT")).isEqualTo("221 2.0.0 Bye");
      assertThat(c.closedByServer()).isTrue();
    }
    assertStillServes();
  }

  @Test
  void commandsOutOfSequenceGet503AndTheTransactionStillWorks() throws Exception {
    try (Client c = Client.connect(port)) {
      assertThat(c.command("MAIL FROM:<a@example.org>")).isEqualTo("503 5.5.1 Bad sequence of commands: send HELO/EHLO first");
      assertThat(c.command("RCPT TO:<seq@localhost>")).isEqualTo("503 5.5.1 Bad sequence of commands: need MAIL before RCPT");
      assertThat(c.command("EHLO client.example")).startsWith("250-localhost greets client.example\n");
      assertThat(c.command("RCPT TO:<seq@localhost>")).isEqualTo("503 5.5.1 Bad sequence of commands: need MAIL before RCPT");
      assertThat(c.command("DATA")).isEqualTo("503 5.5.1 Bad sequence of commands: need MAIL and RCPT first");
      // RFC 3030 §2: the chunk follows BDAT regardless, and must be read past to stay in sync.
      assertThat(c.send("BDAT 3 LAST\r\nabc").reply()).isEqualTo("503 5.5.1 Bad sequence of commands: need MAIL and RCPT first");
      assertThat(c.command("MAIL FROM:<a@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("MAIL FROM:<b@example.org>")).isEqualTo("503 5.5.1 Sender already specified");
      assertThat(c.command("DATA")).isEqualTo("503 5.5.1 Need RCPT command");
      assertThat(c.command("RCPT TO:<seq@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(c.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      assertThat(c.command("Subject: in order at last\r\n\r\nseven errors before me\r\n."))
          .startsWith("250 2.0.0 Ok: queued as ");
    }
    awaitMessage("seq", "seven errors before me");
    assertStillServes();
  }

  /**
   * Issue 10: a chunk that alone exceeds the message size limit is refused at once, before any
   * of it is read, with the oversized message's reply, and the session ends; in a transaction or
   * outside one. Nothing is stored.
   */
  @Test
  void bdatChunkOverTheSizeLimitIsRefusedAtOnceAndTheSessionEnds() throws Exception {
    String tooBig = "552 5.3.4 Message size exceeds fixed maximum message size (36700160 octets)";
    try (Client c = Client.ehlo(port)) {
      assertThat(c.command("MAIL FROM:<a@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("RCPT TO:<bdat-huge@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(c.command("BDAT 99999999999999 LAST")).isEqualTo(tooBig);
      assertThat(c.closedByServer()).isTrue();
    }
    try (Client c = Client.ehlo(port)) {
      assertThat(c.command("MAIL FROM:<a@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("RCPT TO:<bdat-huge@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(c.send("BDAT 5\r\nhello").reply()).isEqualTo("250 2.0.0 5 octets received");
      assertThat(c.command("BDAT 36700161")).isEqualTo(tooBig); // one octet over
      assertThat(c.closedByServer()).isTrue();
    }
    try (Client c = Client.ehlo(port)) {
      assertThat(c.command("BDAT 999999999999")).isEqualTo(tooBig);
      assertThat(c.closedByServer()).isTrue();
    }
    // As a real sender does: the chunk's first octets right behind the command. The reply must
    // still arrive, not be lost to a TCP reset for the unread octets.
    try (Client c = Client.ehlo(port)) {
      byte[] command = "BDAT 99999999 LAST\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
      byte[] stream = java.util.Arrays.copyOf(command, command.length + 512 * 1024);
      java.util.Arrays.fill(stream, command.length, stream.length, (byte) 'x');
      assertThat(c.send(stream).reply()).isEqualTo(tooBig);
      assertThat(c.closedByServer()).isTrue();
    }
    assertStillServes();
    assertThat(data.resolve("mail/localhost/bdat-huge")).as("mailbox of the refused BDAT").doesNotExist();
  }

  @Test
  void bdatChunkShorterThanAnnouncedThenCloseIsNeverDelivered() throws Exception {
    try (Client c = Client.ehlo(port)) {
      assertThat(c.command("MAIL FROM:<a@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("RCPT TO:<bdat-short@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(c.send("BDAT 5\r\nhello").reply()).isEqualTo("250 2.0.0 5 octets received");
      c.send("BDAT 10 LAST\r\nabc").shutdownOutput();
      assertThat(c.reply()).as("reply to BDAT 10 with 3 octets, then EOF").isNull();
    }
    try (Client c = Client.ehlo(port)) {
      assertThat(c.command("MAIL FROM:<a@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("RCPT TO:<bdat-short@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
      c.send("BDAT 10\r\nabc").shutdownOutput();
      assertThat(c.reply()).as("reply to BDAT 10 with 3 octets, then EOF").isNull();
    }
    assertStillServes();
    assertThat(data.resolve("mail/localhost/bdat-short")).as("mailbox of the cut-short BDAT").doesNotExist();
  }

  /**
   * SMTP smuggling (CVE-2023-51764/51766): an end of data other than CRLF.CRLF must not end the
   * message, and whatever follows must not become a second message.
   */
  @ParameterizedTest(name = "end of data written as {0}")
  @ValueSource(strings = {"\\r\\n.\\n", "\\n.\\r\\n", "\\r.\\r\\n"})
  void dataWithBareLfOrCrAroundTheDotIs554AndClosedAndNothingIsSmuggled(String ending) throws Exception {
    String end = ending.replace("\\r", "\r").replace("\\n", "\n");
    try (Client c = Client.ehlo(port)) {
      assertThat(c.command("MAIL FROM:<a@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("RCPT TO:<victim@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(c.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      c.send("Subject: first\r\n\r\nfirst body" + end
          + "MAIL FROM:<evil@example.org>\r\nRCPT TO:<smuggled@localhost>\r\nDATA\r\n"
          + "Subject: smuggled\r\n\r\nsmuggled body\r\n.\r\n");
      assertThat(c.reply())
          .isEqualTo("554 5.5.2 Bare LF or CR in message data; lines must end with CRLF. Closing connection");
      assertThat(c.closedByServer()).isTrue();
    }
    assertStillServes();
    assertThat(data.resolve("mail/localhost/victim")).as("mailbox of the refused message").doesNotExist();
    assertThat(data.resolve("mail/localhost/smuggled")).as("mailbox of the smuggled message").doesNotExist();
  }

  @Test
  void invalidUtf8InCommandsIs500AndTheSessionGoesOn() throws Exception {
    try (Client c = Client.ehlo(port)) {
      String notUtf8 = "500 5.5.2 Command is not valid UTF-8";
      assertThat(c.command(bytes("EHLO ", 0xC3, 0x28))).as("truncated sequence").isEqualTo(notUtf8);
      assertThat(c.command(bytes("MAIL FROM:<", 0xFF, "@example.org>"))).as("0xFF").isEqualTo(notUtf8);
      assertThat(c.command(bytes("NOOP ", 0xC0, 0xAE))).as("overlong encoding").isEqualTo(notUtf8);
      assertThat(c.command(bytes("NOOP ", 0xED, 0xA0, 0x80))).as("encoded surrogate").isEqualTo(notUtf8);
      assertThat(c.command("NOOP")).isEqualTo("250 2.0.0 OK");
      // Valid UTF-8 is fine, but an address in it needs SMTPUTF8 (RFC 6531 §3.5).
      assertThat(c.command("MAIL FROM:<jösé@example.org>"))
          .isEqualTo("553 5.6.7 Non-ASCII address requires the SMTPUTF8 parameter");
      assertThat(c.command("MAIL FROM:<jösé@example.org> SMTPUTF8")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("RSET")).isEqualTo("250 2.0.0 OK");
    }
    assertStillServes();
  }

  @Test
  void bareCrOrLfInCommandsIs500() throws Exception {
    try (Client c = Client.ehlo(port)) {
      String bare = "500 5.5.2 Bare LF or CR in command; lines must end with CRLF";
      assertThat(c.send("NOOP\n").reply()).as("bare LF").isEqualTo(bare);
      assertThat(c.send("NO\rOP\r\n").reply()).as("lone CR inside").isEqualTo(bare);
      assertThat(c.send("NOOP\r\r\n").reply()).as("CR CR LF").isEqualTo(bare);
      assertThat(c.command("NOOP")).isEqualTo("250 2.0.0 OK");
    }
    assertStillServes();
  }

  @Test
  void httpRequestOnTheSmtpPortIs554AndClosed() throws Exception {
    for (String request : List.of("GET / HTTP/1.1", "POST /cgi-bin/x HTTP/1.0", "CONNECT mail.example:25 HTTP/1.1",
        "Host: mail.example")) {
      try (Client c = Client.connect(port)) {
        assertThat(c.command(request)).as(request).isEqualTo("554 5.7.0 This is an SMTP server; that looked like HTTP. Closing connection");
        assertThat(c.closedByServer()).as("closed after " + request).isTrue();
      }
    }
    assertStillServes();
  }

  @Test
  void elevenUnknownCommandsGetTen500sThen421AndClose() throws Exception {
    try (Client c = Client.ehlo(port)) {
      for (int i = 1; i <= 10; i++) {
        assertThat(c.command("XYZZY" + i)).as("reply to unknown command #%d", i).isEqualTo("500 5.5.1 Command unrecognized");
      }
      // The default max-errors is 10: the tenth error ends the session.
      assertThat(c.reply()).isEqualTo("421 4.7.0 Too many errors, closing connection");
      try {
        c.send("XYZZY11\r\n");
      } catch (IOException e) {
        // already reset: just as good
      }
      assertThat(c.closedByServer()).as("no reply to the eleventh, connection closed").isTrue();
    }
    assertStillServes();
  }

  @Test
  void nulBytesInAddressesAre501() throws Exception {
    try (Client c = Client.connect(port)) {
      assertThat(c.command("EHLO nul\0host")).startsWith("250-localhost greets nul?host\n");
      assertThat(c.command("MAIL FROM:<a\0b@example.org>"))
          .isEqualTo("501 5.1.7 Bad sender address syntax: bad character in local part");
      assertThat(c.command("MAIL FROM:<ab@exa\0mple.org>"))
          .isEqualTo("501 5.1.7 Bad sender address syntax: bad character in domain");
      assertThat(c.command("MAIL FROM:<\"a\0b\"@example.org>"))
          .isEqualTo("501 5.1.7 Bad sender address syntax: bad character in quoted local part");
      assertThat(c.command("MAIL FROM:<\"a\\\0\"@example.org>"))
          .isEqualTo("501 5.1.7 Bad sender address syntax: bad quoted pair");
      assertThat(c.command("MAIL FROM:<a@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("RCPT TO:<nul\0@localhost>"))
          .isEqualTo("501 5.1.3 Bad recipient address syntax: bad character in local part");
      assertThat(c.command("RCPT TO:<\0>")).isEqualTo("501 5.1.3 Bad recipient address syntax: bad character in local part");
      assertThat(c.command("RSET")).isEqualTo("250 2.0.0 OK");
    }
    assertStillServes();
  }

  @Test
  void quotedLocalPartWithEscapedQuotesAndSpacesIsDeliveredToItsOwnMailbox() throws Exception {
    String recipient = "\"john \\\"the man\\\" doe\"@localhost";
    try (Client c = Client.ehlo(port)) {
      assertThat(c.command("MAIL FROM:<\"sender \\\"x\\\"\"@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("RCPT TO:<\"unterminated@localhost>"))
          .isEqualTo("501 5.1.3 Bad recipient address syntax: missing >");
      assertThat(c.command("RCPT TO:<\"bad \\\u00e9\"@localhost>"))
          .isEqualTo("501 5.1.3 Bad recipient address syntax: bad quoted pair");
      assertThat(c.command("RCPT TO:<" + recipient + ">")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(c.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      assertThat(c.command("Subject: quoted\r\n\r\nfor the man\r\n.")).startsWith("250 2.0.0 Ok: queued as ");
    }
    // The unquoted local part, lower-cased and percent-encoded, names the folder.
    String message = awaitMessage("john%20%22the%20man%22%20doe", "for the man");
    assertThat(message).startsWith("Return-Path: <\"sender \\\"x\\\"\"@example.org>\n");
    assertThat(message).contains("\n\tfor <" + recipient + ">;\n");
    assertStillServes();
  }

  @Test
  void addressLiteralsAreParsedAndNeverRelayed() throws Exception {
    try (Client c = Client.ehlo(port)) {
      assertThat(c.command("MAIL FROM:<a@[IPv6:::1]>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("RCPT TO:<b@[IPv6:::1]>")).isEqualTo("554 5.7.1 <b@[IPv6:::1]>: Relay access denied");
      assertThat(c.command("RCPT TO:<c@[127.0.0.1]>")).isEqualTo("554 5.7.1 <c@[127.0.0.1]>: Relay access denied");
      assertThat(c.command("RCPT TO:<v6@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(c.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      assertThat(c.command("Subject: v6\r\n\r\nfrom a literal\r\n.")).startsWith("250 2.0.0 Ok: queued as ");
      String bad = "501 5.1.7 Bad sender address syntax: ";
      assertThat(c.command("MAIL FROM:<a@[IPv6:::g]>")).isEqualTo(bad + "bad IPv6 address literal");
      assertThat(c.command("MAIL FROM:<a@[IPv6:1:2:3:4:5:6:7:8:9]>")).isEqualTo(bad + "bad IPv6 address literal");
      assertThat(c.command("MAIL FROM:<a@[::1]>")).isEqualTo(bad + "bad address literal");
      assertThat(c.command("MAIL FROM:<a@[IPv6:::1>")).isEqualTo(bad + "bad address literal");
      assertThat(c.command("MAIL FROM:<a@[256.0.0.1]>")).isEqualTo(bad + "bad IPv4 address literal");
      assertThat(c.command("MAIL FROM:<a@[127.0.0.1]>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("RSET")).isEqualTo("250 2.0.0 OK");
    }
    assertThat(awaitMessage("v6", "from a literal")).startsWith("Return-Path: <a@[IPv6:::1]>\n");
    assertStillServes();
  }

  /** RFC 3030 §2: "If a DATA statement is issued after a BDAT for the current transaction, a 503 ... MUST be issued." */
  @Test
  void dataAfterBdatInTheSameTransactionIs503AndBdatStillFinishesTheMessage() throws Exception {
    try (Client c = Client.ehlo(port)) {
      assertThat(c.command("MAIL FROM:<a@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(c.command("RCPT TO:<mixed@localhost>")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(c.send("BDAT 7\r\nchunk\r\n").reply()).isEqualTo("250 2.0.0 7 octets received");
      assertThat(c.command("DATA"))
          .isEqualTo("503 5.5.1 Bad sequence of commands: DATA after BDAT; finish with BDAT LAST or RSET");
      assertThat(c.send("BDAT 6 LAST\r\nended\n").reply()).startsWith("250 2.0.0 Ok: queued as ");
    }
    assertThat(awaitMessage("mixed", "chunk\nended\n")).endsWith("\nchunk\nended\n");
    assertStillServes();
  }

  /**
   * RFC 2920 §3.2: replies may wait in the server's buffer only while more input is waiting. At
   * EOF none is, so the replies to every complete command received must still be sent.
   */
  @Test
  void repliesToCompleteCommandsAreSentWhenTheClientHalfClosesAfterAnIncompleteLine() throws Exception {
    try (Client c = Client.connect(port)) {
      c.send("NOOP\r\nNOOP").shutdownOutput();
      assertThat(c.reply()).as("reply to the complete NOOP").isEqualTo("250 2.0.0 OK");
      assertThat(c.reply()).as("then the connection closes").isNull();
    }
    assertStillServes();
  }

  // --- The well-behaved client -------------------------------------------------------------------

  /** A full, correct transaction on a new connection: 250 queued, then delivered. */
  private void assertStillServes() throws Exception {
    String token = "probe-" + UUID.randomUUID();
    try (Client c = Client.ehlo(port)) {
      assertThat(c.transaction("probe@localhost", token)).startsWith("250 2.0.0 Ok: queued as ");
      assertThat(c.command("QUIT")).isEqualTo("221 2.0.0 Bye");
    }
    awaitMessage("probe", token);
    awaitEmptyQueue();
  }

  /** The message in {@code user@localhost}'s new/ containing {@code text}, waiting up to 10 s. */
  private String awaitMessage(String user, String text) throws Exception {
    Path dir = data.resolve("mail/localhost").resolve(user).resolve("Maildir/new");
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (System.nanoTime() < deadline) {
      if (Files.isDirectory(dir)) {
        try (Stream<Path> files = Files.list(dir)) {
          for (Path f : files.toList()) {
            String content = Files.readString(f, UTF_8);
            if (content.contains(text)) return content;
          }
        }
      }
      Thread.sleep(20);
    }
    throw new AssertionError("no message containing '" + text + "' delivered to " + dir + " within " + WAIT);
  }

  private void awaitEmptyQueue() throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (server.server().queue().size() > 0 && System.nanoTime() < deadline) Thread.sleep(10);
    assertThat(server.server().queue().size()).as("messages still queued").isZero();
  }

  /** Every session ends once its client is gone: none may hang on (a leaked or stuck thread). */
  private void awaitNoOpenConnections() {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (server.server().connectionCount() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    assertThat(server.server().connectionCount()).as("sessions still open after every client left").isZero();
  }

  /** Text and raw octets (ints) in one command line, without the CRLF. */
  private static byte[] bytes(Object... parts) {
    var out = new ByteArrayOutputStream();
    for (Object p : parts) {
      if (p instanceof String s) out.writeBytes(s.getBytes(UTF_8));
      else out.write((Integer) p);
    }
    return out.toByteArray();
  }

  // --- Helpers -----------------------------------------------------------------------------------

  /** A byte-exact SMTP client with buffered reading; replies are returned whole, lines joined by "\n". */
  private static final class Client implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    private Client(int port) throws IOException {
      socket = new Socket("127.0.0.1", port);
      socket.setSoTimeout((int) WAIT.toMillis());
      in = new BufferedInputStream(socket.getInputStream());
      out = socket.getOutputStream();
    }

    /** Connects and checks the greeting. */
    static Client connect(int port) throws IOException {
      Client c = new Client(port);
      assertThat(c.reply()).isEqualTo("220 localhost ESMTP Posta");
      return c;
    }

    /** Connects, checks the greeting and says EHLO. */
    static Client ehlo(int port) throws IOException {
      Client c = connect(port);
      // The extension list grows with features (STARTTLS, AUTH...); only its frame is checked here.
      assertThat(c.command("EHLO client.example")).matches("(?s)250-localhost greets client\\.example\n.*\n250 [^\n]+");
      return c;
    }

    Client send(String raw) throws IOException {
      return send(raw.getBytes(UTF_8));
    }

    Client send(byte[] raw) throws IOException {
      out.write(raw);
      out.flush();
      return this;
    }

    String command(String line) throws IOException {
      return send(line + "\r\n").reply();
    }

    String command(byte[] line) throws IOException {
      send(line);
      return send("\r\n").reply();
    }

    /** MAIL, RCPT, DATA and a small message; returns the reply to the final dot. */
    String transaction(String recipient, String text) throws IOException {
      assertThat(command("MAIL FROM:<sender@example.org>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(command("RCPT TO:<" + recipient + ">")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      return command("Subject: " + text + "\r\n\r\n" + text + "\r\n.");
    }

    Client shutdownOutput() throws IOException {
      socket.shutdownOutput();
      return this;
    }

    /** One whole reply, or null when the server closed the connection before any of it. */
    String reply() throws IOException {
      List<String> lines = new ArrayList<>();
      while (true) {
        String line = readLine();
        if (line == null) return lines.isEmpty() ? null : String.join("\n", lines);
        lines.add(line);
        if (line.length() < 4 || line.charAt(3) != '-') return String.join("\n", lines);
      }
    }

    private String readLine() throws IOException {
      var buf = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) >= 0) {
        if (b == '\n') {
          byte[] bytes = buf.toByteArray();
          assertThat(bytes.length > 0 && bytes[bytes.length - 1] == '\r').as("reply line ends with CRLF").isTrue();
          return new String(bytes, 0, bytes.length - 1, UTF_8);
        }
        buf.write(b);
      }
      assertThat(buf.size()).as("octets of an unterminated reply line before EOF").isZero();
      return null;
    }

    /** True when the server closed the connection (EOF or reset) without sending anything more. */
    boolean closedByServer() throws IOException {
      try {
        return in.read() < 0;
      } catch (SocketException e) {
        return true;
      }
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  /** Keeps WARN and ERROR events from every logger, for the checks after each test. */
  private static final class CapturingAppender extends AppenderBase<ILoggingEvent> {
    final Queue<ILoggingEvent> events = new ConcurrentLinkedQueue<>();

    @Override
    protected void append(ILoggingEvent event) {
      if (event.getLevel().isGreaterOrEqual(Level.WARN)) events.add(event);
    }

    static String describe(ILoggingEvent e) {
      var tp = e.getThrowableProxy();
      return e.getLevel() + " " + e.getLoggerName() + ": " + e.getFormattedMessage()
          + (tp == null ? "" : " [" + tp.getClassName() + ": " + tp.getMessage() + "]");
    }
  }
}
