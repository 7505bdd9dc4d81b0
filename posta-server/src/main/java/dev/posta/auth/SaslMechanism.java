package dev.posta.auth;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * One SASL authentication exchange (RFC 4422), server side, as a state machine without I/O: the
 * protocol (SMTP AUTH, RFC 4954; later IMAP and POP3) decodes the client's Base64, feeds the bytes
 * in, and sends what comes out. An instance serves one exchange and is not thread-safe.
 *
 * <p>{@link #start} takes the initial response ({@code null} when the client sent none; an empty
 * array when it sent an empty one, "=" in SMTP). Each call returns a {@link Step}: a {@link
 * Challenge} is answered with {@link #next}; {@link Success} and {@link Failure} end the exchange,
 * and calling on after them throws IllegalStateException.
 *
 * <p>SMTP cannot carry additional data with success (RFC 4954 §4): send {@link
 * Success#additionalData} as a 334 challenge, expect an empty response, then reply 235. Suggested
 * SMTP replies for failures are on {@link Reason}. PLAIN and LOGIN send the password in the clear:
 * offer them only over TLS.
 */
public interface SaslMechanism {
  /** Mechanism names, strongest first, as advertised in EHLO {@code AUTH}. */
  List<String> NAMES = List.of("SCRAM-SHA-256", "PLAIN", "LOGIN");

  /** The registered mechanism name (upper case). */
  String name();

  Step start(byte[] initialResponse);

  Step next(byte[] response);

  /** A new exchange of mechanism {@code name} (any case), or empty when not supported. */
  static Optional<SaslMechanism> create(String name, UserStore users) {
    if (!users.mechanisms().contains(name.toUpperCase(Locale.ROOT))) return Optional.empty();
    return Optional.ofNullable(switch (name.toUpperCase(Locale.ROOT)) {
      case "SCRAM-SHA-256" -> new ScramSha256Mechanism(users);
      case "PLAIN" -> new PlainMechanism(users);
      case "LOGIN" -> new LoginMechanism(users);
      default -> null;
    });
  }

  /** What a mechanism says after each message. */
  sealed interface Step permits Challenge, Success, Failure {}

  /** Send {@code data} to the client and pass its answer to {@link #next}. */
  record Challenge(byte[] data) implements Step {}

  /**
   * Authenticated as {@code user}, a canonical address ({@link UserStore#canonicalAddress});
   * {@code additionalData} (SCRAM's server-final message) is null when there is none.
   */
  record Success(String user, byte[] additionalData) implements Step {}

  /** The exchange failed; {@code detail} is for the log, not the client. */
  record Failure(Reason reason, String detail) implements Step {}

  enum Reason {
    /** The client's message does not follow the mechanism's syntax. SMTP: 501 5.5.2. */
    MALFORMED,
    /**
     * Wrong password, unknown user, another authorization identity, or a required feature we
     * do not have (channel binding). SMTP: 535 5.7.8.
     */
    REJECTED,
    /** The accounts could not be read. SMTP: 454 4.7.0. */
    TEMPORARY
  }
}
