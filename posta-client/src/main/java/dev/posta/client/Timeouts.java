package dev.posta.client;

import java.time.Duration;
import java.util.Objects;

/**
 * How long the client waits at each stage of a session before it gives up and closes the
 * connection (RFC 5321 §4.5.3.2). Reads time out on the socket; writes that block (a server
 * that stopped reading) are cut off by a watchdog after the same time.
 *
 * @param connect the TCP connection (the RFC sets none; Postfix's smtp_connect_timeout)
 * @param greeting the 220 greeting, and the TLS handshake on an implicit-TLS port
 * @param command EHLO/HELO, STARTTLS and its handshake, AUTH, RSET, QUIT
 * @param mail the reply to MAIL (§4.5.3.2.2)
 * @param rcpt the reply to each RCPT (§4.5.3.2.3)
 * @param dataInit the 354 reply to DATA (§4.5.3.2.4)
 * @param dataBlock each write of message data (§4.5.3.2.5)
 * @param dataEnd the reply after the final dot, or to BDAT LAST (§4.5.3.2.6)
 */
public record Timeouts(
    Duration connect,
    Duration greeting,
    Duration command,
    Duration mail,
    Duration rcpt,
    Duration dataInit,
    Duration dataBlock,
    Duration dataEnd) {

  public Timeouts {
    for (Duration d : new Duration[] {connect, greeting, command, mail, rcpt, dataInit, dataBlock, dataEnd}) {
      Objects.requireNonNull(d, "timeout");
      // Zero would mean "wait forever" to a socket; a negative one means nothing.
      if (d.isNegative() || d.isZero()) throw new IllegalArgumentException("timeout must be positive: " + d);
    }
  }

  /** The RFC 5321 §4.5.3.2 minimums, and 30 s to connect. */
  public static Timeouts rfc5321() {
    return new Timeouts(Duration.ofSeconds(30), Duration.ofMinutes(5), Duration.ofMinutes(5), Duration.ofMinutes(5),
        Duration.ofMinutes(5), Duration.ofMinutes(2), Duration.ofMinutes(3), Duration.ofMinutes(10));
  }

  /** Every stage the same: for tests, and for applications talking to a server they know. */
  public static Timeouts all(Duration d) {
    return new Timeouts(d, d, d, d, d, d, d, d);
  }
}
