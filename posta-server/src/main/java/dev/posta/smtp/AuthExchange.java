package dev.posta.smtp;

import dev.posta.auth.SaslMechanism;
import dev.posta.metrics.ListenerMeters;
import dev.posta.metrics.ListenerMeters.AuthResult;
import dev.posta.net.AuthThrottle;
import dev.posta.net.ClientAddress;
import dev.posta.net.LineInput;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One AUTH command's SASL exchange (RFC 4954), once the session has found AUTH allowed now:
 * the brute-force throttle first (an attempt takes its slot before any password is checked, so
 * parallel connections from one client get no more guesses than the limit), then the
 * mechanism's challenges and responses, each response under the command deadline. Its outcome
 * is counted in the listener's meters, by mechanism ({@code posta_auth_total}).
 */
final class AuthExchange {
  private static final Logger log = LoggerFactory.getLogger(SmtpSession.class);
  /** RFC 4954 §4: a line of the exchange may be 12288 octets. */
  private static final int MAX_AUTH_LINE = 12288;

  private final SmtpConnection conn;
  private final SmtpServer.Context context;
  private final String logPrefix;
  private final String client;
  private final ListenerMeters meters;

  AuthExchange(SmtpConnection conn, SmtpServer.Context context, String logPrefix, String client, ListenerMeters meters) {
    this.conn = conn;
    this.meters = meters;
    this.context = context;
    this.logPrefix = logPrefix;
    this.client = client;
  }

  /** How the exchange ended, for the meters (a connection lost in the middle: aborted); null when it did not start. */
  private AuthResult result;

  /** Runs the exchange; returns the authenticated user, or null after the refusal was sent. */
  String run(SmtpCommand.Auth c) throws IOException, Closing {
    try {
      return exchange(c);
    } finally {
      if (result != null) meters.login(c.mechanism(), result);
    }
  }

  private String exchange(SmtpCommand.Auth c) throws IOException, Closing {
    AuthThrottle throttle = context.authThrottle();
    InetAddress address = ClientAddress.network(conn.socket().getInetAddress()); // an IPv6 /64 is one client
    // The attempt takes its slot before any password is checked, so parallel connections from
    // one address cannot have more guesses checked than the limit.
    try (AuthThrottle.Attempt attempt = throttle.begin(address)) {
      if (attempt == null && throttle.isLockedOut(address)) {
        log.warn("{}: AUTH refused: locked out after {} failures", logPrefix, throttle.failures(address));
        result = AuthResult.THROTTLED;
        conn.reply(Replies.AUTH_LOCKED_OUT.format(client));
        conn.flush();
        throw new Closing("AUTH lockout");
      }
      if (attempt == null) {
        log.warn("{}: AUTH refused: as many attempts in progress from this address as failures are left", logPrefix);
        result = AuthResult.THROTTLED;
        conn.error(Replies.AUTH_BUSY.format(client));
        return null;
      }
      return authenticate(c, attempt, throttle, address);
    }
  }

  /** The SASL exchange of one AUTH command, its slot in the throttle taken. */
  private String authenticate(SmtpCommand.Auth c, AuthThrottle.Attempt attempt, AuthThrottle throttle, InetAddress address)
      throws IOException, Closing {
    result = AuthResult.ABORTED; // until it ends otherwise: cancelled, malformed, an unknown mechanism
    var mechanism = SaslMechanism.create(c.mechanism(), context.users());
    if (mechanism.isEmpty()) {
      conn.error(Replies.AUTH_UNKNOWN_MECHANISM);
      return null;
    }
    String initial = c.initialResponse();
    byte[] initialBytes = initial == null ? null : base64(initial);
    if (initial != null && initialBytes == null) {
      conn.error(Replies.AUTH_BAD_BASE64);
      return null;
    }
    SaslMechanism.Step step = mechanism.get().start(initialBytes);
    while (true) {
      switch (step) {
        case SaslMechanism.Challenge challenge -> {
          byte[] response = exchange(challenge.data());
          if (response == null) return null;
          step = mechanism.get().next(response);
        }
        case SaslMechanism.Success success -> {
          // RFC 4954 §4: data with success (SCRAM's server-final) goes in a last 334.
          if (success.additionalData() != null && exchange(success.additionalData()) == null) return null;
          log.info("{}: AUTH {} succeeded: user={}", logPrefix, c.mechanism(), success.user());
          result = AuthResult.SUCCESS;
          conn.reply(Replies.AUTH_OK);
          return success.user();
        }
        case SaslMechanism.Failure failure -> {
          switch (failure.reason()) {
            case MALFORMED -> conn.error(Replies.AUTH_MALFORMED);
            case TEMPORARY -> {
              log.error("{}: AUTH {}: accounts unavailable: {}", logPrefix, c.mechanism(), failure.detail());
              result = AuthResult.ERROR;
              conn.reply(Replies.AUTH_TEMPORARY);
            }
            case REJECTED -> {
              attempt.failed();
              result = AuthResult.FAILURE;
              // One line per failure, the user when known, never a password; fail2ban: 'smtp\[<HOST>\]#\S+: AUTH \S+ failed'
              log.warn("{}: AUTH {} failed: {} ({} recent failures from this address)", logPrefix, c.mechanism(), failure.detail(),
                  throttle.failures(address));
              sleep(throttle.delay(address));
              conn.error(Replies.AUTH_FAILED);
            }
          }
          return null;
        }
      }
    }
  }

  /** Sends a 334 challenge and returns the decoded answer, or null after refusing it. */
  private byte[] exchange(byte[] challenge) throws IOException, Closing {
    conn.reply(Replies.AUTH_CHALLENGE.format(Base64.getEncoder().encodeToString(challenge)));
    conn.flush();
    conn.clock().command(); // each response of the exchange gets the time of a command
    LineInput.Line line = conn.readLine(MAX_AUTH_LINE, null);
    switch (line.ending()) {
      case EOF -> throw new Closing("connection lost during AUTH");
      case TOO_LONG -> {
        conn.error(Replies.AUTH_LINE_TOO_LONG);
        return null;
      }
      default -> {}
    }
    String text = new String(line.bytes(), 0, line.length(), StandardCharsets.US_ASCII);
    if (!line.isClean()) {
      conn.error(Replies.BARE_NEWLINE_COMMAND);
      return null;
    }
    if (text.equals("*")) {
      conn.error(Replies.AUTH_CANCELLED);
      return null;
    }
    byte[] decoded = base64(text);
    if (decoded == null) conn.error(Replies.AUTH_BAD_BASE64);
    return decoded;
  }

  /** Decodes a SASL response: "=" is the empty initial response (RFC 4954 §4). */
  private static byte[] base64(String text) {
    if (text.equals("=")) return new byte[0];
    try {
      return Base64.getDecoder().decode(text);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static void sleep(java.time.Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
