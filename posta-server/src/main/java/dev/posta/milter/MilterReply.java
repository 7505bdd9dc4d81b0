package dev.posta.milter;

import static dev.posta.milter.MilterProtocol.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * What a milter answers, decoded from one packet (libmilter's {@code mfdef.h} SMFIR_*, as
 * Postfix's {@code milter8.c} reads them). Decoding is pure and refuses what is malformed: a
 * missing NUL, octets after the end, an unknown reply, a REPLYCODE that is not a 4xx or 5xx SMTP
 * reply whose every line carries the same code. Which replies are allowed at which stage is the
 * {@link MilterClient}'s concern.
 */
public sealed interface MilterReply {

  /** Stop asking this milter about this message (or connection, before MAIL); take it as far as it is concerned. */
  record Accept() implements MilterReply {}

  record Continue() implements MilterReply {}

  /** Take the message and deliver it nowhere. */
  record Discard() implements MilterReply {}

  record Reject() implements MilterReply {}

  record Tempfail() implements MilterReply {}

  /**
   * SMFIR_REPLYCODE: the SMTP reply the milter wants said, with a 4xx or 5xx code; a multi-line
   * one as the lines after their code and separator.
   *
   * @param code the three digits
   * @param lines each line's text after "{@code code-}" or "{@code code }", enhanced status included
   */
  record ReplyCode(int code, List<String> lines) implements MilterReply {
    public ReplyCode {
      lines = List.copyOf(lines);
    }
  }

  /** Send no more body chunks of this message (SMFIP_SKIP). */
  record Skip() implements MilterReply {}

  /** The milter is still working: wait a timeout longer. */
  record Progress() implements MilterReply {}

  /** The milter cannot serve any more connections: treat as a failure. */
  record Shutdown() implements MilterReply {}

  /** The milter wants the SMTP connection closed: treat as a tempfail. */
  record ConnFail() implements MilterReply {}

  /** The negotiated version, actions and steps, and the macros the milter asks for at each stage (SMFIM_* → names). */
  record Negotiated(int version, int actions, int steps, Map<Integer, List<String>> macros) implements MilterReply {}

  /** A change to the message or its envelope, asked for at the end of the message. */
  sealed interface Modification extends MilterReply {}

  record AddHeader(String name, String value) implements Modification {}

  /** Changes the {@code index}th (1-based) field called {@code name}; an empty value deletes it. */
  record ChangeHeader(int index, String name, String value) implements Modification {}

  /** Inserts a field at {@code index} (0: first) among all the fields. */
  record InsertHeader(int index, String name, String value) implements Modification {}

  /** One chunk of the new body; chunks in order replace the whole body. */
  record ReplaceBody(byte[] chunk) implements Modification {}

  record AddRecipient(String address, String parameters) implements Modification {}

  record DeleteRecipient(String address) implements Modification {}

  record ChangeSender(String address, String parameters) implements Modification {}

  record Quarantine(String reason) implements Modification {}

  /** Decodes one packet. */
  static MilterReply decode(MilterPacket p) throws MilterException {
    MilterPacket.Reader r = new MilterPacket.Reader(p, "milter reply '" + printable(p.command()) + "'");
    MilterReply reply = switch (p.command()) {
      case R_ACCEPT -> new Accept();
      case R_CONTINUE -> new Continue();
      case R_DISCARD -> new Discard();
      case R_REJECT -> new Reject();
      case R_TEMPFAIL -> new Tempfail();
      case R_SKIP -> new Skip();
      case R_PROGRESS -> new Progress();
      case R_SHUTDOWN -> new Shutdown();
      case R_CONNFAIL -> new ConnFail();
      case R_REPLYCODE -> replyCode(r.string());
      case OPTNEG -> negotiated(r);
      case R_ADDHEADER -> new AddHeader(fieldName(r.string()), r.string());
      case R_CHGHEADER -> {
        int index = r.uint32();
        yield new ChangeHeader(index, fieldName(r.string()), r.string());
      }
      case R_INSHEADER -> {
        int index = r.uint32();
        yield new InsertHeader(index, fieldName(r.string()), r.string());
      }
      case R_REPLBODY -> {
        r.skipAll();
        yield new ReplaceBody(p.data());
      }
      case R_ADDRCPT -> new AddRecipient(address(r.string()), "");
      case R_ADDRCPT_PAR -> {
        String a = address(r.string());
        yield new AddRecipient(a, r.more() ? r.string() : "");
      }
      case R_DELRCPT -> new DeleteRecipient(address(r.string()));
      case R_CHGFROM -> {
        String a = address(r.string());
        yield new ChangeSender(a, r.more() ? r.string() : "");
      }
      case R_QUARANTINE -> new Quarantine(r.string());
      default -> throw new MilterException("unknown milter reply '" + printable(p.command()) + "'");
    };
    r.end();
    return reply;
  }

  private static Negotiated negotiated(MilterPacket.Reader r) throws MilterException {
    int version = r.uint32();
    int actions = r.uint32();
    int steps = r.uint32();
    if (version < 2 || version > VERSION) throw new MilterException("milter protocol version " + version + ", not 2.." + VERSION);
    Map<Integer, List<String>> macros = new TreeMap<>();
    while (r.more()) {
      int stage = r.uint32();
      if (stage < M_CONNECT || stage > M_EOH) throw new MilterException("macro list for unknown stage " + stage);
      List<String> names = new ArrayList<>();
      for (String n : r.string().split(" ")) if (!n.isEmpty()) names.add(n);
      macros.put(stage, names);
    }
    return new Negotiated(version, actions, steps, macros);
  }

  Pattern LINE = Pattern.compile("([45][0-9][0-9])([ -])([\\x20-\\x7E\\x80-\\x{10FFFF}]*)");

  /**
   * A REPLYCODE's text: {@code 550 5.7.1 text}, or lines {@code 550-5.7.1 a\r\n550 5.7.1 b}.
   * Postfix checks the same: a 4xx or 5xx code, the same on every line, '-' on all lines but
   * the last; nothing but printable text, so a milter cannot smuggle a line break or a control
   * character into our reply.
   */
  static ReplyCode replyCode(String text) throws MilterException {
    String[] raw = text.split("\r\n", -1);
    List<String> lines = new ArrayList<>();
    int code = -1;
    for (int i = 0; i < raw.length; i++) {
      var m = LINE.matcher(raw[i]);
      if (!m.matches()) throw new MilterException("REPLYCODE line is not a 4xx or 5xx reply in printable text: " + printable(raw[i]));
      int c = Integer.parseInt(m.group(1));
      if (code >= 0 && c != code) throw new MilterException("REPLYCODE lines with codes " + code + " and " + c);
      code = c;
      boolean last = i == raw.length - 1;
      if (m.group(2).equals("-") == last) {
        throw new MilterException("REPLYCODE line " + (i + 1) + (last ? " ends the reply with '-'" : " continues without '-'"));
      }
      lines.add(m.group(3));
    }
    return new ReplyCode(code, lines);
  }

  private static String fieldName(String name) throws MilterException {
    if (name.isEmpty() || !name.chars().allMatch(c -> c > 32 && c < 127 && c != ':')) {
      throw new MilterException("header field name is not printable ASCII without ':': " + printable(name));
    }
    return name;
  }

  private static String address(String a) throws MilterException {
    if (a.isEmpty() || a.chars().anyMatch(c -> c < 32 || c == 127)) throw new MilterException("address with control characters: " + printable(a));
    return a;
  }

  static String printable(byte b) {
    return b >= 32 && b < 127 ? String.valueOf((char) b) : String.format("\\x%02x", b & 0xFF);
  }

  static String printable(String s) {
    StringBuilder out = new StringBuilder();
    s.codePoints().limit(200).forEach(c -> {
      if (c < 32 || c == 127) out.append(String.format("\\x%02x", c));
      else out.appendCodePoint(c);
    });
    return out.toString();
  }
}
