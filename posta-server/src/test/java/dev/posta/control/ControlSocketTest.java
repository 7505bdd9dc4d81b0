package dev.posta.control;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.queue.QueueControl;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The control socket's protocol: arguments in, exit code and output back, a bounded number of arguments. */
class ControlSocketTest {
  @TempDir Path dir;

  @Test
  void argumentsGoInAndTheResultComesBack() throws Exception {
    try (ControlSocket socket = ControlSocket.open(dir.resolve("c.sock"), args -> new QueueControl.Result(3, String.join(",", args) + "\n"))) {
      assertThat(ControlSocket.send(dir.resolve("c.sock"), List.of("hold", "0123456789ABCDEF")))
          .isEqualTo(new QueueControl.Result(3, "hold,0123456789ABCDEF\n"));
    }
  }

  @Test
  void argumentsBeyondTheLimitAreNotRead() throws Exception {
    try (ControlSocket socket = ControlSocket.open(dir.resolve("c.sock"), args -> new QueueControl.Result(0, args.size() + "\n"))) {
      List<String> many = new ArrayList<>();
      for (int i = 0; i < ControlSocket.MAX_ARGS + 4; i++) many.add("a" + i);
      assertThat(ControlSocket.send(dir.resolve("c.sock"), many)).isEqualTo(new QueueControl.Result(0, ControlSocket.MAX_ARGS + "\n"));
    }
  }

  @Test
  void nobodyListeningIsAnIOException() {
    assertThatThrownBy(() -> ControlSocket.send(dir.resolve("none.sock"), List.of("list"))).isInstanceOf(IOException.class);
  }
}
