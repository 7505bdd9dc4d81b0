package dev.posta.metrics;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The meters of one kind of listener ({@code smtp}, {@code submission}, {@code imaps}, {@code
 * http}...), or of one way in that is no listener ({@code local} for {@code posta sendmail},
 * {@code maildrop}, {@code api}): every meter carries its name as the {@code listener} label, and
 * nothing else about the client (no address, host or user: a label per client would make a new
 * time series per client, which Prometheus keeps for weeks).
 *
 * <p>A session takes its listener's meters when it starts; each event is then one increment of a
 * {@link LongAdder} it already holds (no lookup, no tags built, no lock, nothing of Micrometer's).
 * Only refusals, TLS versions and AUTH mechanisms, whose values are not all known beforehand,
 * look their adder up in a small map, made at the first of each. Micrometer reads the adders when
 * scraped ({@link #register}).
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

  /** What a listener kind does, and so which of its meters are shown (at zero) from the start; others once used. */
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

  private final String name;
  private final Kind kind;
  private final boolean implicitTls;
  private final LongAdder connections = new LongAdder();
  /** Connections open now. */
  private final AtomicInteger open = new AtomicInteger();
  private final LongAdder refusedTooMany = new LongAdder();
  private final LongAdder refusedFromClient = new LongAdder();
  private final LongAdder accepted = new LongAdder();
  private final LongAdder receivedBytes = new LongAdder();
  private final LongAdder tlsFailedImplicit = new LongAdder();
  private final LongAdder tlsFailedStarttls = new LongAdder();
  private final ConcurrentHashMap<Refusal, LongAdder> refusals = new ConcurrentHashMap<>();
  /** SMTP clients refused by the {@code [screen]} tests, by reason: dnsbl, pregreet, pipelining. */
  private final ConcurrentHashMap<String, LongAdder> screened = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Handshake, LongAdder> handshakes = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<Login, LongAdder> logins = new ConcurrentHashMap<>();

  private record Refusal(String command, int code, String status) {}

  private record Handshake(String mode, String version) {}

  private record Login(String mechanism, String result) {}

  /** @param implicitTls TLS from the first octet (smtps, imaps, pop3s, https), else STARTTLS */
  ListenerMeters(String name, Kind kind, boolean implicitTls) {
    this.name = name;
    this.kind = kind;
    this.implicitTls = implicitTls;
  }

  /** A connection was accepted; {@link #connectionClosed} follows when it ends, however it ends. */
  public void connectionOpened() {
    connections.increment();
    open.incrementAndGet();
  }

  public void connectionClosed() {
    open.decrementAndGet();
  }

  /** A connection was refused by a limit (it was counted as opened too). */
  public void connectionRefused(ConnectionRefusal why) {
    (why == ConnectionRefusal.TOO_MANY_CONNECTIONS ? refusedTooMany : refusedFromClient).increment();
  }

  /** A message of {@code octets} (as the client sent it, before any header field of ours) was stored in the queue and acknowledged. */
  public void messageAccepted(long octets) {
    accepted.increment();
    receivedBytes.add(octets);
  }

  /**
   * A command of the mail transaction ({@code mail}, {@code rcpt}, {@code data}, {@code bdat}) was
   * refused with {@code code} and the enhanced status {@code status} (RFC 3463; empty when the
   * reply had none).
   */
  public void refused(String command, int code, String status) {
    refusals.computeIfAbsent(new Refusal(command, code, status.isEmpty() ? "none" : status), r -> new LongAdder()).increment();
  }

  /**
   * A TLS handshake succeeded: {@code version} as the JSSE names it ({@code TLSv1.3}), {@code
   * starttls} when it followed STARTTLS (or STLS), not a connection to an implicit-TLS port.
   */
  public void tlsEstablished(String version, boolean starttls) {
    String v = TLS_VERSIONS.contains(version) ? version : "other";
    handshakes.computeIfAbsent(new Handshake(starttls ? "starttls" : "implicit", v), k -> new LongAdder()).increment();
  }

  /** A TLS handshake failed or ran out of time. */
  public void tlsFailed(boolean starttls) {
    (starttls ? tlsFailedStarttls : tlsFailedImplicit).increment();
  }

  /**
   * A login ended: {@code mechanism} as the client named it (SASL's names; {@code USER/PASS} for
   * POP3's USER and PASS, {@code LOGIN} for IMAP's LOGIN command too); a name not known here is
   * counted as {@code other}.
   */
  public void login(String mechanism, AuthResult result) {
    String m = mechanism.toUpperCase(Locale.ROOT);
    logins.computeIfAbsent(new Login(MECHANISMS.contains(m) ? m : "other", result.label), k -> new LongAdder()).increment();
  }

  /** An SMTP client was refused by a {@code [screen]} test: {@code reason} is dnsbl, pregreet or pipelining. */
  public void screened(String reason) {
    screened.computeIfAbsent(reason, r -> new LongAdder()).increment();
  }

  /** Messages accepted so far, for the per-minute history. */
  long acceptedCount() {
    return accepted.sum();
  }

  /**
   * Shows these meters in {@code registry}: those of the listener's kind always (at zero until
   * used), the others once used. Idempotent: a scrape calls it each time, and the registry
   * answers a meter it has with the one it has.
   */
  void register(MeterRegistry registry) {
    if (kind.connections || connections.sum() > 0) {
      counter("posta.connections", "Connections accepted, refused ones included", connections).register(registry);
      Gauge.builder("posta.sessions.active", open, AtomicInteger::get).description("Connections open now, idle sessions included")
          .tag("listener", name).register(registry);
    }
    for (ConnectionRefusal why : ConnectionRefusal.values()) {
      LongAdder n = why == ConnectionRefusal.TOO_MANY_CONNECTIONS ? refusedTooMany : refusedFromClient;
      if (kind.connections || n.sum() > 0) {
        counter("posta.connections.refused", "Connections refused by a connection limit before their session started", n)
            .tag("reason", why.label).register(registry);
      }
    }
    if (kind.messages || accepted.sum() > 0) {
      counter("posta.messages.accepted", "Messages accepted: stored in the queue and answered 250", accepted).register(registry);
      counter("posta.messages.received", "Octets of the messages accepted, as the client sent them", receivedBytes)
          .baseUnit("bytes").register(registry);
    }
    boolean shownImplicit = kind.tls && implicitTls;
    boolean shownStarttls = kind.tls && !implicitTls && kind != Kind.WEB;
    if (shownImplicit || tlsFailedImplicit.sum() > 0) tlsFailures(registry, "implicit", tlsFailedImplicit);
    if (shownStarttls || tlsFailedStarttls.sum() > 0) tlsFailures(registry, "starttls", tlsFailedStarttls);
    refusals.forEach((r, n) -> counter("posta.smtp.refusals",
        "MAIL, RCPT, DATA and BDAT commands refused, by the reply's code and enhanced status code", n)
        .tag("command", r.command()).tag("code", Integer.toString(r.code())).tag("status", r.status()).register(registry));
    screened.forEach((reason, n) -> counter("posta.smtp.screened",
        "Clients refused by the [screen] tests before their session went on, by reason: dnsbl, pregreet, pipelining", n)
        .tag("reason", reason).register(registry));
    handshakes.forEach((h, n) -> counter("posta.tls.handshakes", "TLS handshakes completed", n)
        .tag("mode", h.mode()).tag("version", h.version()).register(registry));
    logins.forEach((l, n) -> counter("posta.auth",
        "Logins (SMTP AUTH, IMAP LOGIN and AUTHENTICATE, POP3 USER/PASS and AUTH), by mechanism and result", n)
        .tag("mechanism", l.mechanism()).tag("result", l.result()).register(registry));
  }

  private void tlsFailures(MeterRegistry registry, String mode, LongAdder n) {
    counter("posta.tls.handshake.failures", "TLS handshakes that failed or ran out of time", n).tag("mode", mode).register(registry);
  }

  private FunctionCounter.Builder<LongAdder> counter(String meter, String description, LongAdder n) {
    return FunctionCounter.builder(meter, n, LongAdder::doubleValue).description(description).tag("listener", name);
  }
}
