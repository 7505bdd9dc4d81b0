package dev.posta.net;

import java.io.InterruptedIOException;

/**
 * A session's read refused because the server is stopping ({@link SessionClock#stop}): the
 * session tells its client so and ends. Thrown before the read, never from inside a TLS layer,
 * so the connection can still carry the goodbye.
 */
public final class ServerStopping extends InterruptedIOException {
  public ServerStopping() {
    super(Session.SERVER_STOPPING);
  }
}
