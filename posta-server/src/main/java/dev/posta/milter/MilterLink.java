package dev.posta.milter;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The connection to one milter: {@code inet:host:port} (TCP) or {@code unix:/path} (a Unix
 * socket), each packet sent and read under a deadline. A non-blocking channel with a selector
 * gives both kinds of socket the same timeouts (a Unix socket channel has no SO_TIMEOUT).
 */
final class MilterLink implements AutoCloseable {
  private final SocketChannel channel;
  private final Selector selector;
  private final ByteBuffer head = ByteBuffer.allocate(4);

  private MilterLink(SocketChannel channel, Selector selector) {
    this.channel = channel;
    this.selector = selector;
  }

  static MilterLink open(SocketAddress address, Duration timeout) throws IOException {
    SocketAddress target = address instanceof InetSocketAddress i && i.isUnresolved() ? new InetSocketAddress(i.getHostString(), i.getPort()) : address;
    SocketChannel ch = target instanceof UnixDomainSocketAddress ? SocketChannel.open(StandardProtocolFamily.UNIX) : SocketChannel.open();
    Selector sel = null;
    try {
      // Small packets go at once: with Nagle's algorithm on, a packet written before the reply to
      // the last one waits for the milter's delayed ACK (some 40 ms a stage on Linux; a pass-through
      // milter took Posta to 82 messages/s where Postfix did 212). A stage's macros and command go
      // in one write besides, as Postfix flushes them.
      if (!(target instanceof UnixDomainSocketAddress)) ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      ch.configureBlocking(false);
      sel = Selector.open();
      if (!ch.connect(target)) {
        SelectionKey key = ch.register(sel, SelectionKey.OP_CONNECT);
        if (sel.select(timeout.toMillis()) == 0) throw new SocketTimeoutException("connect timed out after " + timeout.toMillis() + " ms");
        ch.finishConnect();
        key.cancel();
        sel.selectNow();
      }
      return new MilterLink(ch, sel);
    } catch (IOException | RuntimeException e) {
      ch.close();
      if (sel != null) sel.close();
      throw e;
    }
  }

  void send(MilterPacket packet, Duration timeout) throws IOException {
    write(ByteBuffer.wrap(packet.encode()), timeout);
  }

  /** Sends packets in one write, as one stage's macros and command go. */
  void send(Duration timeout, MilterPacket... packets) throws IOException {
    var out = new java.io.ByteArrayOutputStream();
    for (MilterPacket p : packets) out.writeBytes(p.encode());
    write(ByteBuffer.wrap(out.toByteArray()), timeout);
  }

  private void write(ByteBuffer b, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (b.hasRemaining()) {
      if (channel.write(b) == 0) await(SelectionKey.OP_WRITE, deadline, "sending");
    }
  }

  MilterPacket receive(Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    head.clear();
    fill(head, deadline);
    int length = head.getInt(0);
    if (length <= 0 || length > MilterProtocol.MAX_PACKET) {
      throw new MilterException("packet length " + Integer.toUnsignedString(length) + " outside 1.." + MilterProtocol.MAX_PACKET);
    }
    ByteBuffer body = ByteBuffer.allocate(length);
    fill(body, deadline);
    byte[] data = new byte[length - 1];
    System.arraycopy(body.array(), 1, data, 0, length - 1);
    return new MilterPacket(body.get(0), data);
  }

  private void fill(ByteBuffer b, long deadline) throws IOException {
    while (b.hasRemaining()) {
      int n = channel.read(b);
      if (n < 0) throw new MilterException("milter closed the connection");
      if (n == 0) await(SelectionKey.OP_READ, deadline, "waiting for a reply");
    }
  }

  private void await(int op, long deadline, String doing) throws IOException {
    long left = deadline - System.nanoTime();
    if (left <= 0) throw new SocketTimeoutException("timed out " + doing);
    SelectionKey key = channel.register(selector, op);
    try {
      if (selector.select(Math.max(1, left / 1_000_000)) == 0) throw new SocketTimeoutException("timed out " + doing);
    } finally {
      key.interestOps(0);
      selector.selectedKeys().clear();
    }
  }

  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // Nothing to tell: the milter is done with either way.
    }
    try {
      selector.close();
    } catch (IOException ignored) {
      // As above.
    }
  }
}
