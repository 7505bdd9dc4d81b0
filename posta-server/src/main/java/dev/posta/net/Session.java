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
  /** The reason {@link #end} is given when the server stops, and the disconnect line's words for it. */
  String SERVER_STOPPING = "server stopping";

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

  /**
   * Ends an idle session without reading on: it cannot be parked, or the server is stopping
   * ({@link #SERVER_STOPPING}: the client is told so first).
   */
  void end(String reason);

  /**
   * The server is stopping: the session ends at its next read, its client told so (SMTP's
   * {@code 421}, IMAP's {@code BYE}, POP3's {@code -ERR}), so what it is doing now, such as
   * committing a message it has received whole, finishes and is answered first. Any thread.
   */
  void stop();

  /**
   * After {@link #stop}: a read still waiting for the client (one silent in the middle of a
   * command or message) ends as at the end of its input, and the session ends, its client told
   * where the connection allows (not through TLS, whose layer takes the cut input as an attack).
   */
  void interruptRead();
}
