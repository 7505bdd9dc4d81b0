package dev.posta.net;

import dev.posta.auth.SaslMechanism;
import dev.posta.metrics.ListenerMeters;
import dev.posta.metrics.ListenerMeters.AuthResult;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import org.slf4j.Logger;

/**
 * One login of a mail reader (IMAP's LOGIN and AUTHENTICATE, POP3's USER/PASS and AUTH): a SASL
 * exchange (RFC 4422) under the {@link AuthThrottle} that every protocol shares, so switching
 * protocols buys no guesses. The attempt takes its slot before any password is checked;
 * challenges go out and responses come back through the protocol's {@link Continuation}; a
 * wrong password is counted, logged in one line with the user when known, never a password (for fail2ban), and answered
 * only after the throttle's delay. The {@link Outcome} says which answer the protocol gives, and
 * the listener's {@link ListenerMeters} count it ({@code posta_auth_total}).
 */
public final class SaslLogin {
  private SaslLogin() {}

  /** How a protocol carries one challenge and its response (IMAP's and POP3's "+ " lines). */
  public interface Continuation {
    /**
     * Sends {@code challenge} and returns the client's decoded response, or null when the client
     * cancelled or sent what cannot be decoded.
     */
    byte[] respond(byte[] challenge) throws IOException;
  }

  /** How the login ended. */
  public sealed interface Outcome permits LoggedIn, LockedOut, Busy, Cancelled, Malformed, Unavailable, Rejected {}

  /** Authenticated as {@code user}, a canonical address. */
  public record LoggedIn(String user) implements Outcome {}

  /** The client's address has failed too often lately: refuse, and end the session. */
  public record LockedOut() implements Outcome {}

  /** As many logins from the client's address are in progress as it has failures left: refuse this one unchecked. */
  public record Busy() implements Outcome {}

  /** The client cancelled the exchange, or a response was not base64. */
  public record Cancelled() implements Outcome {}

  /** A response broke the mechanism's syntax. */
  public record Malformed() implements Outcome {}

  /** The accounts could not be read (logged here). */
  public record Unavailable() implements Outcome {}

  /** A wrong user or password (counted, logged and delayed here). */
  public record Rejected() implements Outcome {}

  /**
   * Runs one login.
   *
   * @param client the client's address, counted by its network ({@link ClientAddress#network})
   * @param initialResponse the initial response, or null when the client sent none
   * @param log the session's logger, so that its lines read as the session's
   * @param how the login as the log line names it: {@code LOGIN}, {@code USER/PASS}, a mechanism
   * @param meters the listener's, where the outcome is counted by {@code how}
   */
  public static Outcome run(AuthThrottle throttle, InetAddress client, SaslMechanism mechanism, byte[] initialResponse,
      Continuation continuation, Logger log, String logPrefix, String how, ListenerMeters meters) throws IOException {
    Outcome outcome = run(throttle, client, mechanism, initialResponse, continuation, log, logPrefix, how);
    meters.login(how, switch (outcome) {
      case LoggedIn in -> AuthResult.SUCCESS;
      case Rejected r -> AuthResult.FAILURE;
      case LockedOut l -> AuthResult.THROTTLED;
      case Busy b -> AuthResult.THROTTLED;
      case Cancelled c -> AuthResult.ABORTED;
      case Malformed m -> AuthResult.ABORTED;
      case Unavailable u -> AuthResult.ERROR;
    });
    return outcome;
  }

  /** One login, not counted in any listener's meters (the web pages' sign-in). */
  public static Outcome run(AuthThrottle throttle, InetAddress client, SaslMechanism mechanism, byte[] initialResponse,
      Continuation continuation, Logger log, String logPrefix, String how) throws IOException {
    InetAddress network = ClientAddress.network(client);
    try (AuthThrottle.Attempt attempt = throttle.begin(network)) {
      if (attempt == null && throttle.isLockedOut(network)) {
        log.warn("{}: {} refused: locked out after {} failures", logPrefix, how, throttle.failures(network));
        return new LockedOut();
      }
      if (attempt == null) {
        log.warn("{}: {} refused: as many attempts in progress from this address as failures are left", logPrefix, how);
        return new Busy();
      }
      SaslMechanism.Step step = mechanism.start(initialResponse);
      while (step instanceof SaslMechanism.Challenge challenge) {
        byte[] response = continuation.respond(challenge.data());
        if (response == null) return new Cancelled();
        step = mechanism.next(response);
      }
      if (step instanceof SaslMechanism.Success success) {
        // SCRAM's server-final message goes in a last challenge, answered empty (RFC 9051 §6.2.2, RFC 5034 §4).
        if (success.additionalData() != null && continuation.respond(success.additionalData()) == null) return new Cancelled();
        return new LoggedIn(success.user());
      }
      SaslMechanism.Failure failure = (SaslMechanism.Failure) step;
      return switch (failure.reason()) {
        case MALFORMED -> new Malformed();
        case TEMPORARY -> {
          log.error("{}: {}: accounts unavailable: {}", logPrefix, how, failure.detail());
          yield new Unavailable();
        }
        case REJECTED -> {
          attempt.failed();
          log.warn("{}: {} failed: {} ({} recent failures from this address)", logPrefix, how, failure.detail(), throttle.failures(network));
          sleep(throttle.delay(network));
          yield new Rejected();
        }
      };
    }
  }

  private static void sleep(Duration delay) {
    try {
      Thread.sleep(delay);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
