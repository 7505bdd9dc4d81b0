package dev.posta.junit;

import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import javax.net.SocketFactory;
import javax.net.ssl.SSLSocketFactory;

/**
 * TLS sockets that trust the test run's CA and nothing else, for clients configured by class
 * name: Jakarta Mail's {@code mail.smtp.ssl.socketFactory.class} (which calls the static {@link
 * #getDefault()}), and so Spring Boot's {@code spring.mail.properties.*}, which carry strings only.
 * {@link PostaExtension#mailProperties()} sets it.
 *
 * <p>It checks the chain only; the host name is the client's to check (RFC 6125), as Jakarta
 * Mail does with {@code mail.smtp.ssl.checkserveridentity=true}, which the extension's
 * properties set too.
 */
public final class TestCaSocketFactory extends SSLSocketFactory {
  private final SSLSocketFactory delegate;

  private TestCaSocketFactory(SSLSocketFactory delegate) {
    this.delegate = delegate;
  }

  /** A factory trusting the test CA only (made first if this is its first use in the JVM). */
  public static SocketFactory getDefault() {
    return new TestCaSocketFactory(TestCa.get().clientContext().getSocketFactory());
  }

  @Override
  public String[] getDefaultCipherSuites() {
    return delegate.getDefaultCipherSuites();
  }

  @Override
  public String[] getSupportedCipherSuites() {
    return delegate.getSupportedCipherSuites();
  }

  @Override
  public Socket createSocket(Socket s, String host, int port, boolean autoClose) throws IOException {
    return delegate.createSocket(s, host, port, autoClose);
  }

  @Override
  public Socket createSocket() throws IOException {
    return delegate.createSocket();
  }

  @Override
  public Socket createSocket(String host, int port) throws IOException {
    return delegate.createSocket(host, port);
  }

  @Override
  public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
    return delegate.createSocket(host, port, localHost, localPort);
  }

  @Override
  public Socket createSocket(InetAddress host, int port) throws IOException {
    return delegate.createSocket(host, port);
  }

  @Override
  public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort) throws IOException {
    return delegate.createSocket(address, port, localAddress, localPort);
  }
}
