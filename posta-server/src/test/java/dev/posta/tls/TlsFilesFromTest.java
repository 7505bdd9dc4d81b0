package dev.posta.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.PostaServer;
import dev.posta.config.PostaConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link PostaServer#tlsFilesFrom}: an embedder (the JUnit extension, whose test CA is made on
 * another thread) writes the configured certificate files while the server starts; the server
 * reads them only after the future is done, and a failure to make them fails the start, with
 * nothing left running.
 */
class TlsFilesFromTest {
  @TempDir Path dir;

  private PostaConfig config(Path data, Path certificate, Path key) {
    return PostaConfig.embeddedDefaults(data).toBuilder()
        .listeners(List.of(new PostaConfig.Listener(PostaConfig.Protocol.SMTPS, new InetSocketAddress("127.0.0.1", 0))))
        .tls(new PostaConfig.Tls(Optional.of(certificate), Optional.of(key)))
        .build();
  }

  /** A certificate and key to hand over: the self-signed pair a server makes in its data folder. */
  private Path[] seedPair() throws IOException {
    Path seed = dir.resolve("seed");
    try (var s = new PostaServer(PostaConfig.embeddedDefaults(seed).toBuilder().listeners(List.of()).build()).start()) {
      return new Path[] {s.tls().certificatePath(), s.tls().keyPath()};
    }
  }

  @Test
  void theFilesAreReadOnlyOnceTheFutureIsDone() throws Exception {
    Path[] seed = seedPair();
    Path certificate = dir.resolve("given/chain.pem"), key = dir.resolve("given/key.pem");
    // The files come into being only when the server asks for them: had it read them earlier, its start would fail.
    Future<Void> writtenWhenAsked = new Future<>() {
      private volatile boolean done;

      @Override
      public Void get() {
        try {
          Files.createDirectories(certificate.getParent());
          Files.copy(seed[0], certificate);
          Files.copy(seed[1], key);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        done = true;
        return null;
      }

      @Override
      public Void get(long timeout, TimeUnit unit) {
        return get();
      }

      @Override
      public boolean cancel(boolean mayInterruptIfRunning) {
        return false;
      }

      @Override
      public boolean isCancelled() {
        return false;
      }

      @Override
      public boolean isDone() {
        return done;
      }
    };
    assertThat(certificate).doesNotExist();
    try (PostaServer server = new PostaServer(config(dir.resolve("data"), certificate, key)).tlsFilesFrom(writtenWhenAsked).start()) {
      assertThat(writtenWhenAsked.isDone()).isTrue();
      assertThat(server.tls().certificatePath()).isEqualTo(certificate);
      assertThat(ServerTls.fingerprint(server.tls().certificate())).isEqualTo(
          ServerTls.fingerprint(KeyMaterial.load(seed[0], seed[1]).leaf()));
    }
  }

  @Test
  void filesThatCannotBeMadeFailTheStartAndLeaveNothingRunning() throws Exception {
    Path data = dir.resolve("data");
    var failed = CompletableFuture.failedFuture(new IllegalStateException("no CA today"));
    assertThatThrownBy(() -> new PostaServer(config(data, dir.resolve("chain.pem"), dir.resolve("key.pem"))).tlsFilesFrom(failed).start())
        .isInstanceOf(IOException.class)
        .hasMessage("the TLS certificate files could not be made: java.lang.IllegalStateException: no CA today");
    // the data folder's lock was released: a server with files at hand starts on it at once
    Path[] seed = seedPair();
    try (PostaServer again = new PostaServer(config(data, seed[0], seed[1])).start()) {
      assertThat(again.listeners()).hasSize(1);
    }
  }
}
