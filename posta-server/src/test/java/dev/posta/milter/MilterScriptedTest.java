package dev.posta.milter;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The milter client against a scripted milter on loopback, for what libmilter cannot be made to
 * do: answer the negotiation with bits we do not know or an old version, and ask for more
 * changes than the bounds allow. The script answers CONTINUE to every command that wants an
 * answer and its chosen modifications at the end of the message; it records each command octet.
 */
class MilterScriptedTest {
  private ServerSocket listener;
  private final List<Character> commands = new CopyOnWriteArrayList<>();
  private volatile int offeredSteps = -1;
  /** The script's last word at BODYEOB, after its modifications: CONTINUE unless a test says otherwise. */
  private volatile char finalReply = 'c';

  @AfterEach
  void stop() throws IOException {
    if (listener != null) listener.close();
  }

  private static byte[] packet(char command, byte[] data) {
    return ByteBuffer.allocate(5 + data.length).putInt(data.length + 1).put((byte) command).put(data).array();
  }

  private static byte[] strings(String... s) {
    var out = new ByteArrayOutputStream();
    for (String x : s) {
      out.writeBytes(x.getBytes(StandardCharsets.UTF_8));
      out.write(0);
    }
    return out.toByteArray();
  }

  /** Starts a milter answering the negotiation with {@code version}, {@code actions}, {@code steps}, then {@code atEnd} and CONTINUE at BODYEOB. */
  private String script(int version, int actions, int steps, List<byte[]> atEnd) throws IOException {
    listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
    Thread.ofVirtual().start(() -> {
      try (Socket s = listener.accept()) {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        while (true) {
          byte[] head = in.readNBytes(4);
          if (head.length < 4) return;
          byte[] body = in.readNBytes(ByteBuffer.wrap(head).getInt());
          char c = (char) body[0];
          commands.add(c);
          switch (c) {
            case 'O' -> {
              offeredSteps = ByteBuffer.wrap(body, 9, 4).getInt();
              out.write(packet('O', ByteBuffer.allocate(12).putInt(version).putInt(actions).putInt(steps).array()));
            }
            case 'D', 'A' -> {}
            case 'Q' -> {
              return;
            }
            case 'E' -> {
              for (byte[] p : atEnd) out.write(p);
              out.write(packet(finalReply, new byte[0]));
            }
            default -> out.write(packet('c', new byte[0]));
          }
          out.flush();
        }
      } catch (IOException e) {
        // the test is over
      }
    });
    return "inet:127.0.0.1:" + listener.getLocalPort();
  }

  private static MilterSession session(String address) {
    var m = new PostaConfig.Milter("scripted", address, Set.of(PostaConfig.Protocol.SMTP), false, Duration.ofSeconds(2), Duration.ofSeconds(2),
        Duration.ofSeconds(2), false);
    return MilterSession.open(List.of(m), PostaConfig.Protocol.SMTP, "test");
  }

  private static final byte[] MESSAGE = "Subject: hi\r\n\r\nBody.\r\n".getBytes(StandardCharsets.US_ASCII);

  private static MilterSession.Outcome transaction(MilterSession s, MilterSession.Bounds bounds) throws IOException {
    assertThat(s.connect("[127.0.0.1]", '4', 1025, "127.0.0.1")).isEqualTo(Decision.GO);
    assertThat(s.helo("client.example")).isEqualTo(Decision.GO);
    assertThat(s.mail("a@client.example", List.of())).isEqualTo(Decision.GO);
    assertThat(s.rcpt("b@localhost", List.of())).isEqualTo(Decision.GO);
    assertThat(s.data()).isEqualTo(Decision.GO);
    return s.message(() -> new ByteArrayInputStream(MESSAGE), 1 << 20, bounds);
  }

  private static final MilterSession.Bounds ROOMY = new MilterSession.Bounds(1 << 20, 100);

  @Test
  void stepBitsBeyondThoseKnownAreIgnoredAndRejectedRecipientsAreNotOffered() throws Exception {
    // SMFIP_MDS_1M (0x20000000) and SMFIP_RCPT_REJ (0x800, not offered) asked for: ignored, as Postfix does.
    String address = script(6, MilterProtocol.F_ADDHDRS, 0x20000000 | 0x800, List.of(packet('h', strings("X-Scripted", "yes"))));
    try (var s = session(address)) {
      var out = transaction(s, ROOMY);
      assertThat(out.decision()).isEqualTo(Decision.GO);
      assertThat(out.changes()).containsExactly("scripted added X-Scripted");
    }
    assertThat(offeredSteps).isEqualTo(0x1FF7FF);
  }

  @Test
  void aVersionTwoMilterIsNotSentData() throws Exception {
    String address = script(2, 0, 0, List.of());
    try (var s = session(address)) {
      assertThat(transaction(s, ROOMY).decision()).isEqualTo(Decision.GO);
    }
    assertThat(commands).containsSubsequence('C', 'H', 'M', 'R', 'L', 'N', 'B', 'E').doesNotContain('T');
  }

  @Test
  void moreAddedRecipientsThanTheBoundFailTheMilterAndNoneOfItsChangesCount() throws Exception {
    List<byte[]> three = new ArrayList<>();
    three.add(packet('h', strings("X-Before", "kept?")));
    for (String r : List.of("<c1@localhost>", "<c2@localhost>", "<c3@localhost>")) three.add(packet('+', strings(r)));
    String address = script(6, MilterProtocol.F_ADDRCPT | MilterProtocol.F_ADDHDRS, 0, three);
    try (var s = session(address)) {
      var out = transaction(s, new MilterSession.Bounds(1 << 20, 2));
      assertThat(out.decision()).isEqualTo(Decision.GO); // on-failure accept: as if it were not there
      assertThat(out.recipientChanges()).isEmpty();
      assertThat(out.changes()).isEmpty();
      assertThat(out.contentChanged()).isFalse();
    }
  }

  @Test
  void aFieldValueThatWouldBreakOutOfItsFieldFailsTheMilterWithNoneOfItsEarlierChanges() throws Exception {
    String address = script(6, MilterProtocol.F_ADDHDRS, 0,
        List.of(packet('h', strings("X-Good", "fine")), packet('h', strings("X-Bad", "a\nInjected: yes"))));
    try (var s = session(address)) {
      var out = transaction(s, ROOMY);
      assertThat(out.decision()).isEqualTo(Decision.GO);
      assertThat(out.changes()).isEmpty();
      assertThat(out.contentChanged()).isFalse();
    }
  }

  @Test
  void aRefusalStandsWhenAChangeBeforeItBrokeTheBounds() throws Exception {
    // A scanner adds a status field over the bounds, then rejects: under on-failure=accept the
    // message must still be refused, only the changes dropped.
    finalReply = 'r';
    String address = script(6, MilterProtocol.F_ADDHDRS, 0, List.of(packet('h', strings("X-Status", "x".repeat(MilterSession.MAX_FIELD + 1)))));
    try (var s = session(address)) {
      var out = transaction(s, ROOMY);
      assertThat(out.decision()).isEqualTo(new Decision.Refuse("scripted", false, 0, List.of(), "reject"));
      assertThat(out.changes()).isEmpty();
      assertThat(out.contentChanged()).isFalse();
    }
  }

  @Test
  void aReplacedBodyOverTheMessageSizeLimitFailsTheMilter() throws Exception {
    String address = script(6, MilterProtocol.F_CHGBODY, 0, List.of(packet('b', new byte[600]), packet('b', new byte[600])));
    try (var s = session(address)) {
      var out = transaction(s, new MilterSession.Bounds(1000, 100));
      assertThat(out.decision()).isEqualTo(Decision.GO);
      assertThat(out.contentChanged()).isFalse();
    }
  }

  @Test
  void aChangeHeaderIndexOfTwoToTheThirtyFirstIsPastEveryFieldNotTheFirst() throws Exception {
    byte[] chg = ByteBuffer.allocate(4 + strings("Subject", "new").length).putInt(0x80000000).put(strings("Subject", "new")).array();
    String address = script(6, MilterProtocol.F_CHGHDRS, 0, List.of(packet('m', chg)));
    try (var s = session(address)) {
      var out = transaction(s, ROOMY);
      var written = new ByteArrayOutputStream();
      out.writeTo(written);
      // libmilter: an index past the last such field adds one; the first Subject is left as it was.
      assertThat(written.toString(StandardCharsets.US_ASCII)).isEqualTo("Subject: hi\r\nSubject: new\r\n\r\nBody.\r\n");
    }
  }
}
