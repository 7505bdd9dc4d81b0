package dev.posta.net;

import java.time.Duration;

/**
 * One client's conversation as {@link Listeners} runs it: on a virtual thread while the client
 * talks, parked without a thread ({@link IdleSessions}) while it is silent between commands.
 * Whatever happens, a session that returns {@link Outcome#ENDED} has closed its socket, and one
 * that returns {@link Outcome#IDLE} has nothing buffered: readiness of the channel is all it
 * waits for.
 */
public interface Session {
  /** How {@link #run()} or {@link #resume} returned. */
  enum Outcome {
    /** The session is over; its socket is closed. */
    ENDED,
    /**
     * Waiting for the client's next command, with nothing buffered and no TLS: the caller may
     * hold the channel without a thread and {@link #resume} once it is readable.
     */
    IDLE
  }

  /** Greets the client and serves it until the session ends or goes idle. */
  Outcome run();

  /**
   * Goes on after {@link Outcome#IDLE}, on any thread, once the client has written again; or,
   * {@code timedOut}, ends the session as its command timeout does.
   */
  Outcome resume(boolean timedOut);

  /** How long an idle session may still wait for its client's next command. */
  Duration idleTimeout();

  /** Ends an idle session without reading on: it cannot be parked, or the server is stopping. */
  void end(String reason);
}
