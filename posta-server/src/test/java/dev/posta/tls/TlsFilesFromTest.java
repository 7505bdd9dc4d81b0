package dev.posta.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.PostaServer;
import dev.posta.config.PostaConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link PostaServer#tlsFilesFrom}: an embedder (the JUnit extension, whose test CA is made on
 * another thread) writes the configured certificate files while the server starts. The server
 * does not wait for them: it starts with its implicit-TLS listener bound, reads the files only
 * once the future is done, and a client that connects before then has its handshake held until
 * they are read; when they cannot be made, the start still succeeds and each TLS connection
 * fails, the server saying why.
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

  /** A client that trusts anything: what is checked here is which certificate comes, and when. */
  private static SSLSocket connect(int port) throws Exception {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, new javax.net.ssl.TrustManager[] {new X509TrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) {}

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    }}, null);
    SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket("127.0.0.1", port);
    socket.setSoTimeout(10_000);
    return socket;
  }

  @Test
  void theServerStartsWithoutTheFilesAndAHandshakeWaitsForThem() throws Exception {
    Path[] seed = seedPair();
    Path certificate = dir.resolve("given/chain.pem"), key = dir.resolve("given/key.pem");
    CompletableFuture<Void> written = new CompletableFuture<>();
    try (PostaServer server = new PostaServer(config(dir.resolve("data"), certificate, key)).tlsFilesFrom(written).start()) {
      assertThat(certificate).as("started before the files were written").doesNotExist();
      int port = server.listeners().getFirst().address().getPort();
      CompletableFuture<String> greeting = CompletableFuture.supplyAsync(() -> {
        try (SSLSocket socket = connect(port)) {
          socket.startHandshake();
          X509Certificate got = (X509Certificate) socket.getSession().getPeerCertificates()[0];
          return ServerTls.fingerprint(got) + " " + new String(socket.getInputStream().readNBytes(3), java.nio.charset.StandardCharsets.US_ASCII);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      Thread.sleep(300);
      assertThat(greeting).as("the handshake is held until the files are read").isNotDone();

      Files.createDirectories(certificate.getParent());
      Files.copy(seed[0], certificate);
      Files.copy(seed[1], key);
      written.complete(null);
      String expected = ServerTls.fingerprint(KeyMaterial.load(seed[0], seed[1]).leaf());
      assertThat(greeting.get(10, TimeUnit.SECONDS)).isEqualTo(expected + " 220");
      assertThat(server.tls().certificatePath()).isEqualTo(certificate);
      assertThat(ServerTls.fingerprint(server.tls().certificate())).isEqualTo(expected);
      assertThat(server.tls().failure()).isEmpty();
    }
  }

  @Test
  void filesThatCannotBeMadeFailEachTlsConnectionSayingWhy() throws Exception {
    var failed = CompletableFuture.failedFuture(new IllegalStateException("no CA today"));
    try (PostaServer server = new PostaServer(config(dir.resolve("data"), dir.resolve("chain.pem"), dir.resolve("key.pem")))
        .tlsFilesFrom(failed).start()) {
      assertThat(server.tls().failure()).hasValueSatisfying(e -> assertThat(e)
          .hasMessage("the TLS certificate files could not be made: java.lang.IllegalStateException: no CA today"));
      try (SSLSocket socket = connect(server.listeners().getFirst().address().getPort())) {
        assertThatThrownBy(socket::startHandshake).isInstanceOf(IOException.class);
      }
      assertThatThrownBy(() -> server.tls().certificate()).isInstanceOf(java.io.UncheckedIOException.class)
          .hasMessageEndingWith("the TLS certificate files could not be made: java.lang.IllegalStateException: no CA today");
    }
  }
}
