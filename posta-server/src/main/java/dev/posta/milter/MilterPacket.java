package dev.posta.milter;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * One milter packet: a 4-octet big-endian length (counting the command octet), one command
 * octet, and the data. The same framing both ways. Reading refuses a length of zero or over
 * {@link MilterProtocol#MAX_PACKET} before reading on, and a stream that ends mid-packet.
 * Builders here make the commands Posta sends (libmilter's {@code mfdef.h}, Postfix's
 * {@code milter8.c}); strings in them are NUL-terminated and may not contain a NUL themselves.
 */
public record MilterPacket(byte command, byte[] data) {

  public MilterPacket {
    if (data.length + 1 > MilterProtocol.MAX_PACKET) throw new IllegalArgumentException("packet of " + (data.length + 1) + " octets");
  }

  /** The octets on the wire. */
  public byte[] encode() {
    ByteBuffer b = ByteBuffer.allocate(5 + data.length);
    b.putInt(data.length + 1).put(command).put(data);
    return b.array();
  }

  /** Reads one packet, or null when the stream ends cleanly between packets. */
  public static MilterPacket read(InputStream in) throws IOException {
    byte[] head = new byte[5];
    int n = in.readNBytes(head, 0, 4);
    if (n == 0) return null;
    if (n < 4) throw new EOFException("milter closed the connection inside a packet's length");
    int length = ByteBuffer.wrap(head, 0, 4).getInt();
    if (length <= 0 || length > MilterProtocol.MAX_PACKET) {
      throw new MilterException("packet length " + Integer.toUnsignedString(length) + " outside 1.." + MilterProtocol.MAX_PACKET);
    }
    int command = in.read();
    if (command < 0) throw new EOFException("milter closed the connection before a packet's command");
    byte[] data = in.readNBytes(length - 1);
    if (data.length < length - 1) throw new EOFException("milter closed the connection inside a packet of " + length + " octets");
    return new MilterPacket((byte) command, data);
  }

  // ---- The commands Posta sends. ----

  public static MilterPacket optneg(int version, int actions, int steps) {
    return new MilterPacket(MilterProtocol.OPTNEG, ByteBuffer.allocate(12).putInt(version).putInt(actions).putInt(steps).array());
  }

  /**
   * SMFIC_CONNECT: the client's name, then its family ('4', '6', 'L' for a local socket, 'U'
   * unknown), and for a known family the port and address.
   */
  public static MilterPacket connect(String hostname, char family, int port, String address) {
    Writer w = new Writer().string(hostname);
    w.out.write(family);
    if (family != 'U') {
      w.out.write((port >> 8) & 0xFF);
      w.out.write(port & 0xFF);
      w.string(address);
    }
    return new MilterPacket(MilterProtocol.CONNECT, w.bytes());
  }

  public static MilterPacket helo(String name) {
    return new MilterPacket(MilterProtocol.HELO, new Writer().string(name).bytes());
  }

  /** SMFIC_MAIL: {@code <sender>}, then each ESMTP parameter as its own string. */
  public static MilterPacket mail(String sender, List<String> parameters) {
    return new MilterPacket(MilterProtocol.MAIL, new Writer().string("<" + sender + ">").strings(parameters).bytes());
  }

  public static MilterPacket rcpt(String recipient, List<String> parameters) {
    return new MilterPacket(MilterProtocol.RCPT, new Writer().string("<" + recipient + ">").strings(parameters).bytes());
  }

  /** SMFIC_HEADER: name and value as ISO-8859-1 text, one char per octet, sent as those octets (8-bit fields as they came). */
  public static MilterPacket header(String name, String value) {
    return new MilterPacket(MilterProtocol.HEADER, new Writer().octets(name).octets(value).bytes());
  }

  public static MilterPacket body(byte[] chunk, int offset, int length) {
    if (length > MilterProtocol.BODY_CHUNK) throw new IllegalArgumentException("body chunk of " + length + " octets");
    byte[] data = new byte[length];
    System.arraycopy(chunk, offset, data, 0, length);
    return new MilterPacket(MilterProtocol.BODY, data);
  }

  /** A command with no data: DATA, EOH, BODYEOB, ABORT, QUIT, QUIT_NC. */
  public static MilterPacket bare(byte command) {
    return new MilterPacket(command, new byte[0]);
  }

  /** SMFIC_MACRO: the command the macros go with, then name and value pairs. */
  public static MilterPacket macros(byte command, Map<String, String> macros) {
    Writer w = new Writer();
    w.out.write(command);
    for (var e : macros.entrySet()) w.string(e.getKey()).string(e.getValue());
    return new MilterPacket(MilterProtocol.MACRO, w.bytes());
  }

  private static final class Writer {
    final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Writer string(String s) {
      if (s.indexOf('\0') >= 0) throw new IllegalArgumentException("a NUL inside a milter string");
      out.writeBytes(s.getBytes(StandardCharsets.UTF_8));
      out.write(0);
      return this;
    }

    Writer octets(String s) {
      if (s.indexOf('\0') >= 0) throw new IllegalArgumentException("a NUL inside a milter string");
      out.writeBytes(s.getBytes(StandardCharsets.ISO_8859_1));
      out.write(0);
      return this;
    }

    Writer strings(List<String> list) {
      for (String s : list) string(s);
      return this;
    }

    byte[] bytes() {
      return out.toByteArray();
    }
  }

  // ---- Reading the data of a reply. ----

  /** A cursor over a packet's data that refuses what is not there. */
  static final class Reader {
    private final byte[] data;
    private int at;
    private final String what;

    Reader(MilterPacket p, String what) {
      this.data = p.data;
      this.what = what;
    }

    int uint32() throws MilterException {
      if (data.length - at < 4) throw new MilterException(what + ": " + (data.length - at) + " octets where a 32-bit number was due");
      int v = ByteBuffer.wrap(data, at, 4).getInt();
      at += 4;
      return v;
    }

    /** A NUL-terminated string, decoded as UTF-8 (invalid octets replaced, as they are only logged or written in header fields checked later). */
    String string() throws MilterException {
      int end = at;
      while (end < data.length && data[end] != 0) end++;
      if (end == data.length) throw new MilterException(what + ": a string without its terminating NUL");
      String s = new String(data, at, end - at, StandardCharsets.UTF_8);
      at = end + 1;
      return s;
    }

    void skipAll() {
      at = data.length;
    }

    boolean more() {
      return at < data.length;
    }

    List<String> rest() throws MilterException {
      List<String> out = new ArrayList<>();
      while (more()) out.add(string());
      return out;
    }

    void end() throws MilterException {
      if (more()) throw new MilterException(what + ": " + (data.length - at) + " octets after the end");
    }
  }
}
