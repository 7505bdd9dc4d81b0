package dev.posta.tls;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/** Test fixtures: certificates made with the openssl command, a loopback TLS server, a client. */
final class Fixtures {
  private Fixtures() {}

  /** Runs openssl in {@code dir}; fails the test with its output if it fails. */
  static void openssl(Path dir, String... args) {
    List<String> command = new ArrayList<>();
    command.add("openssl");
    command.addAll(List.of(args));
    try {
      Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as("openssl %s: %s", String.join(" ", args), out).isZero();
    } catch (IOException e) {
      throw new AssertionError("cannot run openssl", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** {@code -newkey} argument for the key kind: {@code rsa} (2048), {@code P-256}, {@code P-384}. */
  private static List<String> newKey(String kind) {
    return kind.equals("rsa")
        ? List.of("-newkey", "rsa:2048")
        : List.of("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:" + kind);
  }

  /**
   * A self-signed certificate {@code <name>.crt} for {@code localhost} (DNS and 127.0.0.1) with
   * its PKCS#8 key {@code <name>.key}, in {@code dir}.
   */
  static Path[] selfSigned(Path dir, String name, String kind) {
    List<String> args = new ArrayList<>(List.of("req", "-x509"));
    args.addAll(newKey(kind));
    args.addAll(List.of("-nodes", "-keyout", name + ".key", "-out", name + ".crt", "-days", "2",
        "-subj", "/CN=localhost/O=" + name, "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"));
    openssl(dir, args.toArray(String[]::new));
    return new Path[] {dir.resolve(name + ".crt"), dir.resolve(name + ".key")};
  }

  /** The PKCS#1 (RSA) or SEC1 (EC) form of a PKCS#8 key. */
  static Path traditional(Path key) {
    Path out = key.resolveSibling(key.getFileName() + ".traditional");
    openssl(key.getParent(), "pkey", "-in", key.toString(), "-traditional", "-out", out.toString());
    return out;
  }

  /**
   * A CA-issued chain in {@code dir}: {@code root.crt}, {@code fullchain.pem} (leaf for localhost,
   * then the intermediate) and {@code privkey.pem}, like Let's Encrypt's.
   */
  static void chain(Path dir, String kind) throws IOException {
    Files.writeString(dir.resolve("ca.ext"), "basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n");
    Files.writeString(dir.resolve("leaf.ext"), "basicConstraints=critical,CA:false\n"
        + "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
        + "subjectAltName=DNS:localhost\n");
    openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "root.key", "-out", "root.crt", "-days", "2", "-subj", "/CN=Test Root");
    openssl(dir, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "int.key", "-out", "int.csr", "-subj", "/CN=Test Intermediate");
    openssl(dir, "x509", "-req", "-in", "int.csr", "-CA", "root.crt", "-CAkey", "root.key", "-set_serial", "2",
        "-days", "2", "-extfile", "ca.ext", "-out", "int.crt");
    List<String> leaf = new ArrayList<>(List.of("req", "-new"));
    leaf.addAll(newKey(kind));
    leaf.addAll(List.of("-nodes", "-keyout", "privkey.pem", "-out", "leaf.csr", "-subj", "/CN=localhost"));
    openssl(dir, leaf.toArray(String[]::new));
    openssl(dir, "x509", "-req", "-in", "leaf.csr", "-CA", "int.crt", "-CAkey", "int.key", "-set_serial", "3",
        "-days", "2", "-extfile", "leaf.ext", "-out", "leaf.crt");
    Files.writeString(dir.resolve("fullchain.pem"),
        Files.readString(dir.resolve("leaf.crt")) + Files.readString(dir.resolve("int.crt")));
  }

  static X509Certificate certificate(Path pem) throws Exception {
    try (InputStream in = Files.newInputStream(pem)) {
      return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
    }
  }

  /** A client context that trusts exactly {@code trusted}. */
  static SSLContext clientTrusting(X509Certificate... trusted) throws Exception {
    KeyStore store = KeyStore.getInstance("PKCS12");
    store.load(null, null);
    for (int i = 0; i < trusted.length; i++) store.setCertificateEntry("t" + i, trusted[i]);
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(store);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, tmf.getTrustManagers(), null);
    return context;
  }

  /** What the server side of one connection saw: the session description, or the failure. */
  record ServerResult(String description, Throwable failure) {}

  /**
   * A loopback listener that accepts one connection, runs implicit TLS on it with {@code tls}
   * and completes with what happened. Close it to stop.
   */
  static final class OneShotServer implements AutoCloseable {
    final ServerSocket listener;
    final CompletableFuture<ServerResult> result = new CompletableFuture<>();

    OneShotServer(ServerTls tls) throws IOException {
      listener = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
      Thread.ofVirtual().start(() -> {
        try (Socket plain = listener.accept()) {
          plain.setSoTimeout(10_000);
          SSLSocket s = tls.acceptImplicit(plain);
          try {
            s.startHandshake();
            // One byte of application data each way, so the client sees a finished handshake.
            s.getOutputStream().write('S');
            s.getOutputStream().flush();
            int c = s.getInputStream().read();
            result.complete(new ServerResult(ServerTls.describe(s.getSession()) + (c == 'C' ? "" : " (no C)"), null));
          } catch (IOException e) {
            result.complete(new ServerResult(null, e));
          } finally {
            s.close();
          }
        } catch (IOException | RuntimeException e) {
          result.completeExceptionally(e);
        }
      });
    }

    int port() {
      return listener.getLocalPort();
    }

    ServerResult await() throws Exception {
      return result.get(20, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws IOException {
      listener.close();
    }
  }

  /**
   * Connects to {@code port} with {@code client}, configures the socket, handshakes and exchanges
   * a byte; returns the client socket's session certificate chain and session (socket closed).
   */
  static SSLSocket connect(SSLContext client, int port, Consumer<SSLSocket> configure) throws IOException {
    SSLSocket s = (SSLSocket) client.getSocketFactory().createSocket("localhost", port);
    s.setSoTimeout(10_000);
    configure.accept(s);
    try {
      s.startHandshake();
      int c = s.getInputStream().read();
      assertThat(c).isEqualTo('S');
      s.getOutputStream().write('C');
      s.getOutputStream().flush();
    } finally {
      s.close();
    }
    return s;
  }

  /** One full handshake against {@code tls}; returns the certificate the client was given. */
  static X509Certificate servedCertificate(ServerTls tls, SSLContext client) throws Exception {
    try (OneShotServer server = new OneShotServer(tls)) {
      SSLSocket s = connect(client, server.port(), x -> {});
      assertThat(server.await().failure()).isNull();
      return (X509Certificate) s.getSession().getPeerCertificates()[0];
    }
  }

  /** A client context that trusts any server certificate; for checking which one is served. */
  static SSLContext clientTrustingAll() throws Exception {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, new javax.net.ssl.TrustManager[] {new javax.net.ssl.X509TrustManager() {
      @Override public void checkClientTrusted(X509Certificate[] chain, String authType) {}
      @Override public void checkServerTrusted(X509Certificate[] chain, String authType) {}
      @Override public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    }}, null);
    return context;
  }

  /**
   * A raw TLS ClientHello record: {@code version} as the legacy version (0x0301 TLS 1.0, 0x0302
   * TLS 1.1, 0x0303 TLS 1.2), offering only {@code suites}, with the usual TLS 1.2 extensions.
   */
  static byte[] clientHello(int version, int... suites) {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    u16(body, version);
    body.writeBytes(new byte[32]); // random
    body.write(0); // no session id
    u16(body, suites.length * 2);
    for (int s : suites) u16(body, s);
    body.write(1);
    body.write(0); // null compression
    ByteArrayOutputStream ext = new ByteArrayOutputStream();
    extension(ext, 0x000a, new int[] {0x0004, 0x001d, 0x0017}); // supported_groups: x25519, secp256r1
    extension(ext, 0x000b, new int[] {0x0100}); // ec_point_formats: uncompressed
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256
    extension(ext, 0x000d, new int[] {0x0006, 0x0403, 0x0804, 0x0401});
    u16(body, ext.size());
    body.writeBytes(ext.toByteArray());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(0x16);
    u16(out, 0x0301);
    u16(out, body.size() + 4);
    out.write(0x01);
    out.write(0);
    u16(out, body.size());
    out.writeBytes(body.toByteArray());
    return out.toByteArray();
  }

  private static void extension(ByteArrayOutputStream out, int type, int[] u16s) {
    u16(out, type);
    u16(out, u16s.length * 2);
    for (int v : u16s) u16(out, v);
  }

  private static void u16(ByteArrayOutputStream out, int v) {
    out.write(v >> 8);
    out.write(v & 0xff);
  }

  /**
   * Sends {@code hello} to a fresh connection at {@code port} and returns the first record the
   * server answers with (at most 7 bytes; an alert is exactly 7), or what came before EOF.
   */
  static byte[] rawExchange(int port, byte[] hello) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
      s.setSoTimeout(10_000);
      s.getOutputStream().write(hello);
      s.getOutputStream().flush();
      return s.getInputStream().readNBytes(7);
    }
  }
}
