package dev.posta.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The meters of one kind of listener ({@code smtp}, {@code submission}, {@code imaps}, {@code
 * http}...), or of one way in that is no listener ({@code local} for {@code posta sendmail},
 * {@code maildrop}, {@code api}): every meter carries its name as the {@code listener} label, and
 * nothing else about the client (no address, host or user: a label per client would make a new
 * time series per client, which Prometheus keeps for weeks).
 *
 * <p>A session takes its listener's meters once, when it starts; each event is then one
 * increment of a counter it already holds (no lookup, no tags built, no lock). Only refusals,
 * TLS versions and AUTH mechanisms, whose values are not all known beforehand, look their
 * counter up in a small map, made at the first of each kind.
 */
public final class ListenerMeters {
  /** The SASL mechanisms named as they are; any other name a client sends is counted as {@code other}. */
  private static final Set<String> MECHANISMS = Set.of("PLAIN", "LOGIN", "CRAM-MD5", "DIGEST-MD5", "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS",
      "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS", "XOAUTH2", "OAUTHBEARER", "EXTERNAL", "ANONYMOUS", "GSSAPI", "NTLM", "USER/PASS");
  /** The TLS versions named as they are; anything else (an SSL or a future version) as {@code other}. */
  private static final Set<String> TLS_VERSIONS = Set.of("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3");

  /** How a login ended, as the {@code result} label of {@code posta_auth_total} says it. */
  public enum AuthResult {
    /** Logged in. */
    SUCCESS,
    /** A wrong user or password: counted by the AUTH throttle too. */
    FAILURE,
    /** Refused before any password was checked: the client's address is locked out, or has too many logins in progress. */
    THROTTLED,
    /** Cancelled by the client, or a response that broke the mechanism's syntax. */
    ABORTED,
    /** The accounts could not be read: not the client's fault. */
    ERROR;

    final String label = name().toLowerCase(Locale.ROOT);
  }

  /** Why a connection was refused before its session started, as the {@code reason} label says it. */
  public enum ConnectionRefusal {
    /** The listener's kind had {@code max-connections} already. */
    TOO_MANY_CONNECTIONS,
    /** The client's network had {@code max-connections-per-ip} already. */
    TOO_MANY_FROM_CLIENT;

    final String label = name().toLowerCase(Locale.ROOT);
  }

  /** What a listener kind does, and so which of its meters are made (at zero) with it; others are made at their first use. */
  enum Kind {
    /** SMTP: connections, messages, refusals, TLS, AUTH. */
    SMTP(true, true, true),
    /** IMAP and POP3: connections, TLS, logins. */
    READER(true, false, true),
    /** HTTP: connections (and TLS for https). */
    WEB(true, false, true),
    /** A way in without connections of its own ({@code local}, {@code maildrop}, {@code api}): messages. */
    SUBMISSION(false, true, false);

    final boolean connections;
    final boolean messages;
    final boolean tls;

    Kind(boolean connections, boolean messages, boolean tls) {
      this.connections = connections;
      this.messages = messages;
      this.tls = tls;
    }
  }

  private final MeterRegistry registry;
  private final String name;
  /** Connections open now: a gauge reads it on each scrape. */
  private final AtomicInteger open = new AtomicInteger();
  // Made at the first use (or with the listener, for its kind's meters) and kept: a race makes
  // the same meter twice, which the registry answers with the one it has.
  private Counter connections;
  private Counter refusedTooMany;
  private Counter refusedFromClient;
  private Counter accepted;
  private Counter receivedBytes;
  private Counter tlsFailedImplicit;
  private Counter tlsFailedStarttls;
  private final ConcurrentHashMap<Refusal, Counter> refusals = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Counter> handshakes = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Counter> logins = new ConcurrentHashMap<>();

  /** One refusal's labels. */
  private record Refusal(String command, int code, String status) {}

  /**
   * @param kind which meters are there from the start, at zero, so that a rate over them is
   *     defined before the first event
   * @param implicitTls TLS from the first octet (smtps, imaps, pop3s, https), else STARTTLS
   */
  ListenerMeters(MeterRegistry registry, String name, Kind kind, boolean implicitTls) {
    this.registry = registry;
    this.name = name;
    if (kind.connections) {
      connections();
      Gauge.builder("posta.sessions.active", open, AtomicInteger::get).description("Connections open now, idle sessions included")
          .tag("listener", name).register(registry);
      refusedTooMany();
      refusedFromClient();
    }
    if (kind.messages) {
      accepted();
      receivedBytes();
    }
    if (kind.tls && implicitTls) tlsFailedImplicit();
    if (kind.tls && !implicitTls && kind != Kind.WEB) tlsFailedStarttls();
  }

  private Counter connections() {
    Counter c = connections;
    if (c == null) {
      connections = c = Counter.builder("posta.connections").description("Connections accepted, refused ones included")
          .tag("listener", name).register(registry);
    }
    return c;
  }

  private Counter refusedTooMany() {
    Counter c = refusedTooMany;
    if (c == null) refusedTooMany = c = refused(ConnectionRefusal.TOO_MANY_CONNECTIONS);
    return c;
  }

  private Counter refusedFromClient() {
    Counter c = refusedFromClient;
    if (c == null) refusedFromClient = c = refused(ConnectionRefusal.TOO_MANY_FROM_CLIENT);
    return c;
  }

  private Counter accepted() {
    Counter c = accepted;
    if (c == null) {
      accepted = c = Counter.builder("posta.messages.accepted").description("Messages accepted: stored in the queue and answered 250")
          .tag("listener", name).register(registry);
    }
    return c;
  }

  private Counter receivedBytes() {
    Counter c = receivedBytes;
    if (c == null) {
      receivedBytes = c = Counter.builder("posta.messages.received").baseUnit("bytes")
          .description("Octets of the messages accepted, as the client sent them").tag("listener", name).register(registry);
    }
    return c;
  }

  private Counter tlsFailedImplicit() {
    Counter c = tlsFailedImplicit;
    if (c == null) tlsFailedImplicit = c = tlsFailed("implicit");
    return c;
  }

  private Counter tlsFailedStarttls() {
    Counter c = tlsFailedStarttls;
    if (c == null) tlsFailedStarttls = c = tlsFailed("starttls");
    return c;
  }

  private Counter refused(ConnectionRefusal why) {
    return Counter.builder("posta.connections.refused").description("Connections refused by a connection limit before their session started")
        .tag("listener", name).tag("reason", why.label).register(registry);
  }

  private Counter tlsFailed(String mode) {
    return Counter.builder("posta.tls.handshake.failures").description("TLS handshakes that failed or ran out of time")
        .tag("listener", name).tag("mode", mode).register(registry);
  }

  /** The listener's name, the {@code listener} label. */
  public String name() {
    return name;
  }

  /** A connection was accepted; {@link #connectionClosed} follows when it ends, however it ends. */
  public void connectionOpened() {
    connections().increment();
    open.incrementAndGet();
  }

  public void connectionClosed() {
    open.decrementAndGet();
  }

  /** A connection was refused by a limit (it was counted as opened too). */
  public void connectionRefused(ConnectionRefusal why) {
    (why == ConnectionRefusal.TOO_MANY_CONNECTIONS ? refusedTooMany() : refusedFromClient()).increment();
  }

  /** A message of {@code octets} (as the client sent it, before any header field of ours) was stored in the queue and acknowledged. */
  public void messageAccepted(long octets) {
    accepted().increment();
    receivedBytes().increment(octets);
  }

  /**
   * A command of the mail transaction ({@code mail}, {@code rcpt}, {@code data}, {@code bdat}) was
   * refused with {@code code} and the enhanced status {@code status} (RFC 3463; empty when the
   * reply had none).
   */
  public void refused(String command, int code, String status) {
    refusals.computeIfAbsent(new Refusal(command, code, status), r -> Counter.builder("posta.smtp.refusals")
        .description("MAIL, RCPT, DATA and BDAT commands refused, by the reply's code and enhanced status code")
        .tag("listener", name).tag("command", r.command()).tag("code", Integer.toString(r.code()))
        .tag("status", r.status().isEmpty() ? "none" : r.status()).register(registry)).increment();
  }

  /**
   * A TLS handshake succeeded: {@code version} as the JSSE names it ({@code TLSv1.3}), {@code
   * starttls} when it followed STARTTLS (or STLS), not a connection to an implicit-TLS port.
   */
  public void tlsEstablished(String version, boolean starttls) {
    String v = TLS_VERSIONS.contains(version) ? version : "other";
    String key = starttls ? "s" + v : "i" + v;
    handshakes.computeIfAbsent(key, k -> Counter.builder("posta.tls.handshakes").description("TLS handshakes completed")
        .tag("listener", name).tag("mode", starttls ? "starttls" : "implicit").tag("version", v).register(registry)).increment();
  }

  /** A TLS handshake failed or ran out of time. */
  public void tlsFailed(boolean starttls) {
    (starttls ? tlsFailedStarttls() : tlsFailedImplicit()).increment();
  }

  /**
   * A login ended: {@code mechanism} as the client named it (SASL's names; {@code USER/PASS} for
   * POP3's USER and PASS, {@code LOGIN} for IMAP's LOGIN command too); a name not known here is
   * counted as {@code other}.
   */
  public void login(String mechanism, AuthResult result) {
    String m = mechanism.toUpperCase(Locale.ROOT);
    if (!MECHANISMS.contains(m)) m = "other";
    String mech = m;
    logins.computeIfAbsent(mech + " " + result.label, k -> Counter.builder("posta.auth")
        .description("Logins (SMTP AUTH, IMAP LOGIN and AUTHENTICATE, POP3 USER/PASS and AUTH), by mechanism and result")
        .tag("listener", name).tag("mechanism", mech).tag("result", result.label).register(registry)).increment();
  }

  /** Messages accepted so far, for the per-minute history. */
  double acceptedCount() {
    Counter c = accepted;
    return c == null ? 0 : c.count();
  }
}
