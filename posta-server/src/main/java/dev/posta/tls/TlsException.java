package dev.posta.tls;

import java.io.IOException;

/**
 * Certificate or key files that cannot be used, or a TLS context that cannot be built.
 *
 * <p>The message is one line, ready for an operator, and names the file it is about, e.g. {@code
 * certificate /etc/posta/fullchain.pem: no CERTIFICATE block found}. It is an {@link IOException}
 * so that server start-up, which already throws that, can pass it on unchanged.
 */
public final class TlsException extends IOException {
  public TlsException(String message) {
    super(message);
  }

  public TlsException(String message, Throwable cause) {
    super(message, cause);
  }
}
