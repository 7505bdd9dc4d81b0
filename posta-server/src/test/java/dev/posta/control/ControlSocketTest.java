package dev.posta.control;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import dev.posta.queue.QueueSelection;
import java.io.IOException;
import java.net.ProtocolException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control socket: a request in, its answer back as records, also when the request cannot be
 * read or the command fails; a client that finds nobody listening, or an answer that is none,
 * is told which.
 */
class ControlSocketTest {
  @TempDir Path dir;
  static final QueueId ID = new QueueId("0123456789ABCDEF");

  @Test
  void theRequestGoesInAndItsAnswerComesBack() throws Exception {
    AtomicReference<QueueRequest> seen = new AtomicReference<>();
    try (ControlSocket socket = ControlSocket.open(dir.resolve("c.sock"), request -> {
      seen.set(request);
      return new QueueReply.Refused(QueueControl.Refusal.HELD, request.id());
    })) {
      assertThat(ControlSocket.send(dir.resolve("c.sock"), new QueueRequest(QueueRequest.Command.RETRY, ID)))
          .isEqualTo(new QueueReply.Refused(QueueControl.Refusal.HELD, ID));
      assertThat(seen.get()).isEqualTo(new QueueRequest(QueueRequest.Command.RETRY, ID));
    }
  }

  @Test
  void aBulkOfTenThousandIdsIsOneRequestAndOneAnswer() throws Exception {
    List<QueueId> ids = new ArrayList<>();
    for (int i = 0; i < 10_000; i++) ids.add(new QueueId("%016X".formatted(0x1A225B91F2A00000L + i)));
    AtomicInteger requests = new AtomicInteger();
    try (ControlSocket socket = ControlSocket.open(dir.resolve("c.sock"), request -> {
      requests.incrementAndGet();
      var named = (QueueSelection.Named) request.selection();
      return new QueueReply.ActedOn(new QueueControl.BulkResult(named.ids().subList(1, named.ids().size()),
          List.of(new QueueControl.Declined(QueueControl.Refusal.NO_SUCH_MESSAGE, named.ids().getFirst()))));
    })) {
      QueueReply reply = ControlSocket.send(dir.resolve("c.sock"), QueueRequest.bulk(QueueRequest.Command.DELETE, new QueueSelection.Named(ids)));
      assertThat(requests).hasValue(1);
      assertThat(reply).isEqualTo(new QueueReply.ActedOn(new QueueControl.BulkResult(ids.subList(1, ids.size()),
          List.of(new QueueControl.Declined(QueueControl.Refusal.NO_SUCH_MESSAGE, ids.getFirst())))));
    }
  }

  @Test
  void aRequestItCannotReadIsAnsweredWithWhy() throws Exception {
    try (ControlSocket socket = ControlSocket.open(dir.resolve("c.sock"), request -> new QueueReply.Done())) {
      assertThat(raw("hold\tnonsense\n")).isEqualTo("failed\tthe server cannot read the request: "
          + "'hold' field 1 is not a queue ID: 'nonsense'\nend\n");
      assertThat(raw("frobnicate\n")).isEqualTo("failed\tthe server cannot read the request: unknown command 'frobnicate'\nend\n");
      assertThat(raw("list" + "\t".repeat(ControlProtocol.MAX_REQUEST) + "\n"))
          .isEqualTo("failed\tthe server cannot read the request: a record longer than 1024 octets\nend\n");
    }
  }

  @Test
  void aCommandThatFailsUnexpectedlyIsAnsweredNotDropped() throws Exception {
    try (ControlSocket socket = ControlSocket.open(dir.resolve("c.sock"), request -> {
      throw new IllegalStateException("a bug");
    })) {
      assertThat(ControlSocket.send(dir.resolve("c.sock"), new QueueRequest(QueueRequest.Command.FLUSH, null)))
          .isEqualTo(new QueueReply.Failed("internal error: java.lang.IllegalStateException: a bug"));
    }
  }

  @Test
  void nobodyListeningIsAnIOExceptionAndAnAnswerThatIsNoneAProtocolException() throws Exception {
    assertThatThrownBy(() -> ControlSocket.send(dir.resolve("none.sock"), new QueueRequest(QueueRequest.Command.LIST, null)))
        .isInstanceOf(IOException.class).isNotInstanceOf(ProtocolException.class);

    // What a server of the earlier text protocol answered: an exit code, then the text.
    try (ServerSocketChannel old = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      old.bind(UnixDomainSocketAddress.of(dir.resolve("old.sock")));
      Thread.ofVirtual().start(() -> {
        try (SocketChannel client = old.accept()) {
          Channels.newInputStream(client).readAllBytes(); // until the client's end of request
          client.write(ByteBuffer.wrap("0\nqueue is empty\n".getBytes(UTF_8)));
        } catch (IOException ignored) {
          // the test fails on its own side
        }
      });
      assertThatThrownBy(() -> ControlSocket.send(dir.resolve("old.sock"), new QueueRequest(QueueRequest.Command.LIST, null)))
          .isInstanceOf(ProtocolException.class).hasMessage("an answer that begins with '0'");
    }
  }

  /** Sends {@code request} as it is and returns the answer as text. */
  private String raw(String request) throws IOException {
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(dir.resolve("c.sock")))) {
      ch.write(ByteBuffer.wrap(request.getBytes(UTF_8)));
      ch.shutdownOutput();
      return new String(Channels.newInputStream(ch).readAllBytes(), UTF_8);
    }
  }
}
