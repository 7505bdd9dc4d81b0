package dev.posta.web;

import dev.posta.PostaServer;
import dev.posta.auth.ApiTokens;
import dev.posta.auth.UserStore;
import dev.posta.net.AuthThrottle;
import dev.posta.web.api.MessagesApi;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The API's sign-in: {@code Authorization: Bearer <token>} (RFC 6750 §2.1), a token from {@code
 * posta token create} ({@link ApiTokens}; in cluster mode the cluster's, looked up in its database at
 * each request) whose account still exists. The answer to no token or a
 * wrong one is 401 with {@code WWW-Authenticate: Bearer} (§3).
 *
 * <p>Guessing is throttled by the AUTH throttle SMTP, IMAP and POP3 share ({@link AuthThrottle}),
 * so switching to HTTP buys no guesses: a wrong token counts as a failed login of its client
 * address, and is answered only after the throttle's delay; an address at its limit gets 429 with
 * {@code Retry-After}, before any token is looked at. A request with no token at all is not a
 * guess and does not count. Each refused token logs one line, for fail2ban:
 * {@code WebServer: http[192.0.2.7]: bearer token refused: unknown or revoked token (3 recent failures from this address)}.
 */
final class BearerAuth implements MessagesApi.SignIn {
  private static final Logger log = LoggerFactory.getLogger(WebServer.class);
  private final PostaServer server;

  BearerAuth(PostaServer server) {
    this.server = server;
  }

  /** The account the request's token acts as. */
  @Override
  public String account(Exchange x) throws ApiError, IOException {
    InetAddress client = x.client();
    AuthThrottle throttle = server.authThrottle();
    if (throttle.isLockedOut(client)) {
      long retry = server.config().submission().authLockout().toSeconds();
      throw new ApiError(429, "too many failed sign-ins from " + client.getHostAddress() + "; try again later",
          Map.of("Retry-After", Long.toString(retry)));
    }
    String header = x.header("Authorization");
    if (header == null || header.isBlank()) {
      throw new ApiError(401, "this needs an API token: Authorization: Bearer <token> (posta token create --user ADDRESS)",
          Map.of("WWW-Authenticate", "Bearer realm=\"posta\""));
    }
    if (header.length() < 7 || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      throw new ApiError(401, "the Authorization header must be Bearer <token>",
          Map.of("WWW-Authenticate", "Bearer realm=\"posta\", error=\"invalid_request\""));
    }
    Optional<ApiTokens.Token> token = server.apiTokens().find(header.substring(7).strip());
    Optional<UserStore.User> owner = token.isPresent() ? server.users().find(token.get().user()) : Optional.empty();
    if (owner.isPresent() && !owner.get().disabled()) return token.get().user();
    String why = token.isEmpty() ? "unknown or revoked token"
        : owner.isEmpty() ? "its account " + token.get().user() + " no longer exists" : "its account " + token.get().user() + " is disabled";
    AuthThrottle.Attempt attempt = throttle.begin(client);
    if (attempt != null) attempt.failed();
    int failures = throttle.failures(client);
    log.warn("http[{}]: bearer token refused: {} ({} recent failure{} from this address)", client.getHostAddress(), why, failures,
        failures == 1 ? "" : "s");
    Duration delay = throttle.delay(client);
    if (!delay.isZero()) {
      try {
        Thread.sleep(delay); // a virtual thread: the wait holds no platform thread
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    throw new ApiError(401, "the API token is not valid (unknown, revoked, or its account was removed or disabled)",
        Map.of("WWW-Authenticate", "Bearer realm=\"posta\", error=\"invalid_token\""));
  }

  /**
   * The account of the request's token, which must be an administrator's ({@code posta user
   * admin}), read at each request so that a revocation holds at the next one; 403 otherwise,
   * saying {@code why} the request needs one, and logged:
   * {@code WebServer: http[192.0.2.7]: GET /api/v1/queue refused: bob@example.org is not an administrator}.
   */
  @Override
  public String administrator(Exchange x, String why) throws ApiError, IOException {
    String account = account(x);
    if (server.users().find(account).map(UserStore.User::admin).orElse(false)) return account;
    log.warn("http[{}]: {} {} refused: {} is not an administrator", x.client().getHostAddress(), x.method(), x.path(), account);
    throw new ApiError(403, account + " is not an administrator: " + why + " (posta user admin " + account + ")");
  }
}
