package dev.posta.milter;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The milter codec, table by table: the exact octets of each command Posta sends (as libmilter
 * reads them), each reply decoded, and the malformed packets refused with their reason.
 */
class MilterCodecTest {

  private static String hex(MilterPacket p) {
    return HexFormat.of().formatHex(p.encode());
  }

  private static String ascii(String s) {
    return HexFormat.of().formatHex(s.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void commandsAsOctets() {
    record Row(MilterPacket packet, String want) {}
    Map<String, String> macros = new LinkedHashMap<>();
    macros.put("j", "mx.example");
    macros.put("{client_addr}", "192.0.2.1");
    List<Row> rows = List.of(
        // length 13: 'O', version 6, every action (0x1FF), every step (0x1FFFFF)
        new Row(MilterPacket.optneg(6, 0x1FF, 0x1FFFFF), "0000000d" + "4f" + "00000006" + "000001ff" + "001fffff"),
        // 'C', "[192.0.2.1]\0", '4', port 25 (0x0019), "192.0.2.1\0"
        new Row(MilterPacket.connect("[192.0.2.1]", '4', 25, "192.0.2.1"),
            "0000001a" + "43" + ascii("[192.0.2.1]") + "00" + "34" + "0019" + ascii("192.0.2.1") + "00"),
        new Row(MilterPacket.connect("unknown", 'U', 0, ""), "0000000a" + "43" + ascii("unknown") + "00" + "55"),
        new Row(MilterPacket.helo("client.example"), "00000010" + "48" + ascii("client.example") + "00"),
        new Row(MilterPacket.mail("a@b.example", List.of("SIZE=10")), "00000017" + "4d" + ascii("<a@b.example>") + "00" + ascii("SIZE=10") + "00"),
        new Row(MilterPacket.mail("", List.of()), "00000004" + "4d" + ascii("<>") + "00"),
        new Row(MilterPacket.rcpt("c@d.example", List.of()), "0000000f" + "52" + ascii("<c@d.example>") + "00"),
        new Row(MilterPacket.header("Subject", "hi"), "0000000c" + "4c" + ascii("Subject") + "00" + ascii("hi") + "00"),
        new Row(MilterPacket.body("abc".getBytes(StandardCharsets.US_ASCII), 0, 3), "00000004" + "42" + ascii("abc")),
        new Row(MilterPacket.bare(MilterProtocol.DATA), "00000001" + "54"),
        new Row(MilterPacket.bare(MilterProtocol.EOH), "00000001" + "4e"),
        new Row(MilterPacket.bare(MilterProtocol.BODYEOB), "00000001" + "45"),
        new Row(MilterPacket.bare(MilterProtocol.ABORT), "00000001" + "41"),
        new Row(MilterPacket.bare(MilterProtocol.QUIT), "00000001" + "51"),
        new Row(MilterPacket.bare(MilterProtocol.QUIT_NC), "00000001" + "4b"),
        // 'D', for 'C', then name\0value\0 pairs
        new Row(MilterPacket.macros(MilterProtocol.CONNECT, macros),
            "00000027" + "44" + "43" + ascii("j") + "00" + ascii("mx.example") + "00" + ascii("{client_addr}") + "00" + ascii("192.0.2.1") + "00"));
    for (Row row : rows) assertThat(hex(row.packet())).as("%s", (char) row.packet().command()).isEqualTo(row.want());
  }

  @Test
  void aBodyChunkIsAtMost65535Octets() {
    assertThatThrownBy(() -> MilterPacket.body(new byte[65536], 0, 65536)).hasMessage("body chunk of 65536 octets");
    assertThat(MilterPacket.body(new byte[65535], 0, 65535).data()).hasSize(65535);
  }

  @Test
  void aStringWithANulIsNotSent() {
    assertThatThrownBy(() -> MilterPacket.helo("a\0b")).hasMessage("a NUL inside a milter string");
  }

  private static MilterPacket packet(char command, byte[] data) {
    return new MilterPacket((byte) command, data);
  }

  private static byte[] strings(String... s) {
    var out = new ByteArrayOutputStream();
    for (String x : s) {
      out.writeBytes(x.getBytes(StandardCharsets.UTF_8));
      out.write(0);
    }
    return out.toByteArray();
  }

  private static byte[] indexed(int index, String... s) {
    byte[] rest = strings(s);
    return ByteBuffer.allocate(4 + rest.length).putInt(index).put(rest).array();
  }

  @Test
  void repliesDecoded() throws Exception {
    record Row(MilterPacket packet, MilterReply want) {}
    List<Row> rows = List.of(
        new Row(packet('a', new byte[0]), new MilterReply.Accept()),
        new Row(packet('c', new byte[0]), new MilterReply.Continue()),
        new Row(packet('d', new byte[0]), new MilterReply.Discard()),
        new Row(packet('r', new byte[0]), new MilterReply.Reject()),
        new Row(packet('t', new byte[0]), new MilterReply.Tempfail()),
        new Row(packet('s', new byte[0]), new MilterReply.Skip()),
        new Row(packet('p', new byte[0]), new MilterReply.Progress()),
        new Row(packet('y', strings("550 5.7.1 Go away")), new MilterReply.ReplyCode(550, List.of("5.7.1 Go away"))),
        new Row(packet('y', strings("451-4.7.1 one\r\n451 4.7.1 two")), new MilterReply.ReplyCode(451, List.of("4.7.1 one", "4.7.1 two"))),
        new Row(packet('h', strings("X-Spam", "yes")), new MilterReply.AddHeader("X-Spam", "yes")),
        new Row(packet('m', indexed(2, "Subject", "")), new MilterReply.ChangeHeader(2, "Subject", "")),
        new Row(packet('i', indexed(0, "X-First", "v")), new MilterReply.InsertHeader(0, "X-First", "v")),
        new Row(packet('+', strings("<x@y.example>")), new MilterReply.AddRecipient("<x@y.example>", "")),
        new Row(packet('2', strings("<x@y.example>", "NOTIFY=NEVER")), new MilterReply.AddRecipient("<x@y.example>", "NOTIFY=NEVER")),
        new Row(packet('-', strings("<x@y.example>")), new MilterReply.DeleteRecipient("<x@y.example>")),
        new Row(packet('e', strings("<n@y.example>")), new MilterReply.ChangeSender("<n@y.example>", "")),
        new Row(packet('q', strings("spam")), new MilterReply.Quarantine("spam")),
        new Row(packet('O', ByteBuffer.allocate(12).putInt(6).putInt(0x21).putInt(0x400).array()),
            new MilterReply.Negotiated(6, 0x21, 0x400, Map.of())));
    for (Row row : rows) assertThat(MilterReply.decode(row.packet())).as("%s", (char) row.packet().command()).isEqualTo(row.want());
    var body = (MilterReply.ReplaceBody) MilterReply.decode(packet('b', "new body".getBytes(StandardCharsets.US_ASCII)));
    assertThat(new String(body.chunk(), StandardCharsets.US_ASCII)).isEqualTo("new body");
  }

  @Test
  void theNegotiationCarriesTheMacrosAskedForEachStage() throws Exception {
    byte[] lists = strings("{rcpt_addr} i");
    byte[] data = ByteBuffer.allocate(16 + lists.length).putInt(6).putInt(0x1FF).putInt(0).putInt(MilterProtocol.M_ENVRCPT).put(lists).array();
    assertThat(MilterReply.decode(packet('O', data)))
        .isEqualTo(new MilterReply.Negotiated(6, 0x1FF, 0, Map.of(MilterProtocol.M_ENVRCPT, List.of("{rcpt_addr}", "i"))));
  }

  @Test
  void malformedRepliesAreRefusedWithTheirReason() {
    record Row(MilterPacket packet, String why) {}
    List<Row> rows = List.of(
        new Row(packet('Z', new byte[0]), "unknown milter reply 'Z'"),
        new Row(packet('a', new byte[] {1}), "milter reply 'a': 1 octets after the end"),
        new Row(packet('h', "X-Spam".getBytes(StandardCharsets.US_ASCII)), "milter reply 'h': a string without its terminating NUL"),
        new Row(packet('h', strings("X Spam", "v")), "header field name is not printable ASCII without ':': X Spam"),
        new Row(packet('h', strings("X:Spam", "v")), "header field name is not printable ASCII without ':': X:Spam"),
        new Row(packet('m', new byte[] {0, 0}), "milter reply 'm': 2 octets where a 32-bit number was due"),
        new Row(packet('y', strings("250 2.0.0 fine")), "REPLYCODE line is not a 4xx or 5xx reply in printable text: 250 2.0.0 fine"),
        new Row(packet('y', strings("550 5.7.1 a\nRSET")), "REPLYCODE line is not a 4xx or 5xx reply in printable text: 550 5.7.1 a\\x0aRSET"),
        new Row(packet('y', strings("550-5.7.1 a\r\n451 4.7.1 b")), "REPLYCODE lines with codes 550 and 451"),
        new Row(packet('y', strings("550 5.7.1 a\r\n550 5.7.1 b")), "REPLYCODE line 1 continues without '-'"),
        new Row(packet('y', strings("550-5.7.1 a")), "REPLYCODE line 1 ends the reply with '-'"),
        new Row(packet('+', strings("<a\r\nb>")), "address with control characters: <a\\x0d\\x0ab>"),
        new Row(packet('O', ByteBuffer.allocate(12).putInt(7).putInt(0).putInt(0).array()), "milter protocol version 7, not 2..6"),
        new Row(packet('O', ByteBuffer.allocate(20).putInt(6).putInt(0).putInt(0).putInt(9).putInt(0).array()), "macro list for unknown stage 9"));
    for (Row row : rows) {
      assertThatThrownBy(() -> MilterReply.decode(row.packet())).as("%s", row.why()).isInstanceOf(MilterException.class).hasMessage(row.why());
    }
  }

  @Test
  void packetsAreReadWholeOrRefused() throws Exception {
    MilterPacket read = MilterPacket.read(new ByteArrayInputStream(HexFormat.of().parseHex("0000000268" + "00")));
    assertThat(read.command()).isEqualTo((byte) 'h');
    assertThat(read.data()).containsExactly(0);
    assertThat(MilterPacket.read(new ByteArrayInputStream(new byte[0]))).isNull();
    assertThatThrownBy(() -> MilterPacket.read(new ByteArrayInputStream(HexFormat.of().parseHex("00000000"))))
        .isInstanceOf(MilterException.class).hasMessage("packet length 0 outside 1..1049600");
    assertThatThrownBy(() -> MilterPacket.read(new ByteArrayInputStream(HexFormat.of().parseHex("ffffffff63"))))
        .isInstanceOf(MilterException.class).hasMessage("packet length 4294967295 outside 1..1049600");
    // 1 MiB and 1 KiB is the most (a REPLBODY chunk of SMFIP_MDS_1M); one octet more is refused before it is read.
    assertThatThrownBy(() -> MilterPacket.read(new ByteArrayInputStream(HexFormat.of().parseHex("0010040163"))))
        .isInstanceOf(MilterException.class).hasMessage("packet length 1049601 outside 1..1049600");
    assertThatThrownBy(() -> MilterPacket.read(new ByteArrayInputStream(HexFormat.of().parseHex("0000000a63616263"))))
        .isInstanceOf(EOFException.class).hasMessage("milter closed the connection inside a packet of 10 octets");
    assertThatThrownBy(() -> MilterPacket.read(new ByteArrayInputStream(HexFormat.of().parseHex("000000"))))
        .isInstanceOf(EOFException.class).hasMessage("milter closed the connection inside a packet's length");
  }

  @Test
  void headerValuesFromAMilterCannotStartAFieldOfTheirOwn() throws Exception {
    assertThat(MessageEditor.written("a\n\tb", false)).isEqualTo(" a\r\n\tb");
    assertThat(MessageEditor.written("a\r\n b", false)).isEqualTo(" a\r\n b");
    assertThat(MessageEditor.written(" already spaced", false)).isEqualTo(" already spaced");
    assertThatThrownBy(() -> MessageEditor.written("a\r\nBcc: victim@example.org", false)).isInstanceOf(MilterException.class)
        .hasMessage("header value with a line break not followed by a space or tab: a\\x0d\\x0aBcc: victim@example.org");
    assertThatThrownBy(() -> MessageEditor.written("a\rb", false)).hasMessage("header value with a bare CR or NUL");
    assertThatThrownBy(() -> MessageEditor.written("a\n", false)).isInstanceOf(MilterException.class);
  }

  @Test
  void theEditorChangesFieldsAsLibmilterSays() throws Exception {
    byte[] message = "Received: x\r\n\tfolded\r\nSubject: one\r\nsubject: two\r\n\r\nBody\r\n".getBytes(StandardCharsets.US_ASCII);
    MessageEditor e = MessageEditor.read(() -> new ByteArrayInputStream(message), 1000);
    assertThat(e.fields).extracting(MessageEditor.Field::name).containsExactly("Received", "Subject", "subject");
    assertThat(MessageEditor.shown(e.fields.getFirst(), false)).isEqualTo("x\n\tfolded");
    e.change(2, "Subject", "second", false); // the second field of that name, in any case
    e.change(1, "SUBJECT", "", false); // deleted
    e.change(5, "X-New", "added past the last", false);
    e.insert(0, "X-Top", "first", false);
    e.add("X-End", "last", false);
    var out = new ByteArrayOutputStream();
    e.writeTo(out);
    assertThat(out.toString(StandardCharsets.US_ASCII)).isEqualTo(
        "X-Top: first\r\nReceived: x\r\n\tfolded\r\nsubject: second\r\nX-New: added past the last\r\nX-End: last\r\n\r\nBody\r\n");
    e.replaceBody("new\nbody".getBytes(StandardCharsets.US_ASCII), true);
    out.reset();
    e.writeTo(out);
    assertThat(out.toString(StandardCharsets.US_ASCII)).endsWith("X-End: last\r\n\r\nnew\r\nbody");
  }
}
