package dev.posta.web.page;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The browser pages' signed-in sessions, in memory: a session is made only by a successful
 * sign-in, under a new random ID (256 bits from {@link SecureRandom}), so an ID a browser held
 * before signing in is never promoted (no session fixation, OWASP's Session Management Cheat
 * Sheet). Each carries its own CSRF token for the forms it is shown. A session ends after
 * {@link #IDLE} without a request, {@link #ABSOLUTE} after sign-in whatever its use, at sign-out,
 * or when the server stops (sessions are not kept on disk: a restart signs everyone out).
 *
 * <p>Expiry is checked when a session is presented, and stale sessions are swept when a new one
 * is made: no thread of its own, so an idle server spends nothing on sessions. At most {@link
 * #MAX_SESSIONS} live at once; beyond that the least recently used is dropped (logged), the
 * bound on what a flood of sign-ins can hold.
 *
 * <p>In a cluster a session stays in the memory of the node that made it (a browser signed in on
 * one node is not on the others), and is not kept in the database: what must hold across nodes is
 * that a removed or disabled account is signed out, and that holds without it. Each request checks
 * the session's account ({@code Pages.session}) against the accounts the node has read, which are
 * the cluster's ({@code auth.DatabaseAccounts}): a {@code posta user del} or {@code disable} on any
 * node ends the session at its next request once this node has the change, at once by its
 * notification, within 5 s when the notification was lost. (API tokens, which any node takes,
 * are looked up in the database at each request instead: {@code auth.ApiTokens}.)
 */
final class Sessions {
  private static final Logger log = LoggerFactory.getLogger(Sessions.class);
  static final Duration IDLE = Duration.ofMinutes(30);
  static final Duration ABSOLUTE = Duration.ofHours(12);
  static final int MAX_SESSIONS = 10_000;
  /** Random bytes in a session ID and in a CSRF token: 256 bits, twice OWASP's 128-bit minimum. */
  private static final int RANDOM_BYTES = 32;

  /** One signed-in browser: its account, the token its forms carry, and its times. */
  static final class Session {
    final String id;
    final String account;
    final String csrf;
    final Instant created;
    /** The last request's time; guarded by the map's lock. */
    private Instant used;

    private Session(String id, String account, String csrf, Instant created) {
      this.id = id;
      this.account = account;
      this.csrf = csrf;
      this.created = created;
      this.used = created;
    }
  }

  private final Clock clock;
  private final SecureRandom random = new SecureRandom();
  /** In access order, so the eldest entry is the least recently used; guarded by itself. */
  private final LinkedHashMap<String, Session> sessions = new LinkedHashMap<>(64, 0.75f, true);
  private final int max;

  Sessions(Clock clock) {
    this(clock, MAX_SESSIONS);
  }

  Sessions(Clock clock, int max) {
    this.clock = clock;
    this.max = max;
  }

  /** A new random token, URL-safe base64 without padding: for session IDs and CSRF tokens. */
  String token() {
    byte[] bytes = new byte[RANDOM_BYTES];
    random.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  /** Starts a session for {@code account}, just signed in. */
  Session start(String account) {
    Instant now = clock.instant();
    Session s = new Session(token(), account, token(), now);
    synchronized (sessions) {
      sweep(now);
      while (sessions.size() >= max) {
        Iterator<Map.Entry<String, Session>> eldest = sessions.entrySet().iterator();
        Session dropped = eldest.next().getValue();
        eldest.remove();
        log.warn("sessions: {} signed-in sessions, the most kept; the least recently used (user={}) is ended", max, dropped.account);
      }
      sessions.put(s.id, s);
    }
    return s;
  }

  /** The live session with this ID, now used; empty when unknown, ended or expired (then forgotten). */
  Optional<Session> find(String id) {
    if (id == null || id.isEmpty()) return Optional.empty();
    Instant now = clock.instant();
    synchronized (sessions) {
      Session s = sessions.get(id);
      if (s == null) return Optional.empty();
      if (expired(s, now)) {
        sessions.remove(id);
        return Optional.empty();
      }
      s.used = now;
      return Optional.of(s);
    }
  }

  /** Whether {@code s} is still live, without counting this as its use (an open event stream is not the user at work). */
  boolean live(Session s) {
    Instant now = clock.instant();
    synchronized (sessions) {
      return sessions.get(s.id) == s && !expired(s, now);
    }
  }

  /** Ends a session (sign-out); returns it, or null when it was not live. */
  Session end(String id) {
    synchronized (sessions) {
      return sessions.remove(id);
    }
  }

  int size() {
    synchronized (sessions) {
      return sessions.size();
    }
  }

  private static boolean expired(Session s, Instant now) {
    return !now.isBefore(s.used.plus(IDLE)) || !now.isBefore(s.created.plus(ABSOLUTE));
  }

  /**
   * Forgets expired sessions from the least recently used on, stopping at the first live one:
   * an absolute expiry behind it is caught when that session is presented or reaches the front.
   */
  private void sweep(Instant now) {
    for (Iterator<Session> it = sessions.values().iterator(); it.hasNext(); ) {
      Session s = it.next();
      if (!expired(s, now)) break; // later ones were used more recently: not idle-expired either
      it.remove();
    }
  }
}
