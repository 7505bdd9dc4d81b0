package dev.posta.config;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The whole, validated configuration of one Posta instance.
 *
 * <p>Built only by {@link ConfigLoader} (from a TOML file) or {@link #embeddedDefaults}; every
 * instance has passed validation, so the rest of the server never re-checks it. Domain names
 * are lower-case ASCII (IDNs as A-labels), local parts of mailboxes and aliases lower-case.
 *
 * @param hostname the name this server gives in its greeting, EHLO reply and Received: headers
 * @param dataDir the data folder: spool, mailboxes, generated keys
 * @param listeners the sockets to accept SMTP on, each with its role
 * @param limits the protocol limits, each with a documented reply when crossed
 * @param domains the local domains, whose mail is delivered to mailboxes here
 * @param postmaster the address that {@code postmaster@} every local domain goes to
 *     (RFC 5321 §4.5.1); always delivered, even if no mailbox of that name is listed
 * @param source the file this came from, or empty for the embedded defaults
 * @param tls where the certificate comes from
 * @param submission who may authenticate, relay and use which sender address
 */
public record PostaConfig(
    String hostname,
    Path dataDir,
    List<Listener> listeners,
    Limits limits,
    List<LocalDomain> domains,
    String postmaster,
    Optional<Path> source,
    Tls tls,
    Submission submission) {

  /** With the default TLS and submission settings. */
  public PostaConfig(
      String hostname,
      Path dataDir,
      List<Listener> listeners,
      Limits limits,
      List<LocalDomain> domains,
      String postmaster,
      Optional<Path> source) {
    this(hostname, dataDir, listeners, limits, domains, postmaster, source, Tls.SELF_SIGNED, Submission.defaults());
  }

  /**
   * The server certificate: a PEM chain and key (Let's Encrypt's fullchain.pem and privkey.pem
   * work as they are), or both empty for a self-signed certificate made in the data folder.
   */
  public record Tls(Optional<Path> certificate, Optional<Path> key) {
    public static final Tls SELF_SIGNED = new Tls(Optional.empty(), Optional.empty());
  }

  /**
   * Authentication and relay policy (RFC 4954, RFC 6409).
   *
   * @param trustedNetworks clients that may relay without authenticating
   * @param plaintextAuthOnLoopback offer AUTH without TLS to clients on the loopback address
   * @param senderMustBeOwned an authenticated user may use as MAIL FROM only their own address
   *     and the aliases that lead to it (553 5.7.1 otherwise)
   * @param authFailuresBeforeLockout failed AUTH attempts from one client address, within the
   *     lockout period, after which that address may not try again until the period has passed
   * @param authLockout how long failures are remembered, and how long a lockout lasts
   */
  public record Submission(
      List<Network> trustedNetworks,
      boolean plaintextAuthOnLoopback,
      boolean senderMustBeOwned,
      int authFailuresBeforeLockout,
      Duration authLockout) {

    public static Submission defaults() {
      return new Submission(List.of(), false, true, 10, Duration.ofMinutes(15));
    }
  }

  /** What a listener speaks. Submission and SMTPS require AUTH once the submission issue lands. */
  public enum Protocol {
    /** MTA-to-MTA SMTP, port 25 (RFC 5321). */
    SMTP,
    /** Message submission with STARTTLS, port 587 (RFC 6409). */
    SUBMISSION,
    /** Message submission over implicit TLS, port 465 (RFC 8314). */
    SMTPS
  }

  public record Listener(Protocol protocol, InetSocketAddress address) {}

  /**
   * Protocol limits.
   *
   * @param maxMessageSize octets; advertised with SIZE (RFC 1870), 552 5.3.4 when crossed
   * @param maxRecipients per message; the next RCPT gets 452 4.5.3 (RFC 5321 §4.5.3.1.8)
   * @param maxLineLength octets of one message text line including CRLF (RFC 5321 §4.5.3.1.6)
   * @param maxConnections at once on each kind of listener; more get 421 4.7.0
   * @param maxConnectionsPerIp at once from one client address; more get 421 4.7.0
   * @param maxErrors refusals (5xx) in one session before 421 4.7.0 and close
   * @param commandTimeout how long to wait for the next command (RFC 5321 §4.5.3.2.7)
   * @param dataTimeout how long to wait for the next block of message data (§4.5.3.2.5)
   */
  public record Limits(
      long maxMessageSize,
      int maxRecipients,
      int maxLineLength,
      int maxConnections,
      int maxConnectionsPerIp,
      int maxErrors,
      Duration commandTimeout,
      Duration dataTimeout) {

    public static Limits defaults() {
      return new Limits(
          35L * 1024 * 1024, 100, 1000, 1000, 50, 10, Duration.ofMinutes(5), Duration.ofMinutes(3));
    }
  }

  /**
   * A domain whose mail is delivered here.
   *
   * @param name lower-case domain name
   * @param mailboxes local parts that have a mailbox
   * @param anyLocalPart when true every local part is a mailbox, made on first delivery
   * @param catchAll where mail for an unknown local part goes (a full address), if anywhere
   * @param aliases local part to the full addresses it expands to (local or remote)
   */
  public record LocalDomain(
      String name,
      Set<String> mailboxes,
      boolean anyLocalPart,
      Optional<String> catchAll,
      Map<String, List<String>> aliases) {}

  /**
   * The configuration a newcomer gets with no file: loopback only, unprivileged ports, and the
   * domain {@code localhost} where every local part has a mailbox.
   */
  public static PostaConfig embeddedDefaults(Path dataDir) {
    return new PostaConfig(
        "localhost",
        dataDir,
        List.of(
            new Listener(Protocol.SMTP, new InetSocketAddress("127.0.0.1", 2525)),
            new Listener(Protocol.SUBMISSION, new InetSocketAddress("127.0.0.1", 2587)),
            new Listener(Protocol.SMTPS, new InetSocketAddress("127.0.0.1", 2465))),
        Limits.defaults(),
        List.of(new LocalDomain("localhost", Set.of(), true, Optional.empty(), Map.of())),
        "postmaster@localhost",
        Optional.empty(),
        Tls.SELF_SIGNED,
        Submission.defaults());
  }

  public PostaConfig withDataDir(Path dir) {
    return new PostaConfig(hostname, dir, listeners, limits, domains, postmaster, source, tls, submission);
  }

  public PostaConfig withListeners(List<Listener> replaced) {
    return new PostaConfig(hostname, dataDir, replaced, limits, domains, postmaster, source, tls, submission);
  }

  public PostaConfig withLimits(Limits replaced) {
    return new PostaConfig(hostname, dataDir, listeners, replaced, domains, postmaster, source, tls, submission);
  }

  public PostaConfig withSubmission(Submission replaced) {
    return new PostaConfig(hostname, dataDir, listeners, limits, domains, postmaster, source, tls, replaced);
  }
}
