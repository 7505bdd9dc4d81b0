package dev.posta.net;

import java.io.IOException;

/**
 * Told of every read that may block, so that a session can bound how long its client takes
 * over a whole command or message, not only between two octets (see {@link SessionClock}).
 */
public interface ReadTimer {
  /** Before a read that may block: sets how long it may wait, or throws when no time is left. */
  void beforeRead() throws IOException;

  /** After that read, with the octets it brought (0 at the end of the stream or on an error). */
  void afterRead(int octets);

  /** No bound beyond the socket's own read timeout. */
  ReadTimer NONE = new ReadTimer() {
    @Override
    public void beforeRead() {}

    @Override
    public void afterRead(int octets) {}
  };
}
