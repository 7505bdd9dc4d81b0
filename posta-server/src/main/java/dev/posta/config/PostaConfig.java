package dev.posta.config;

import dev.posta.storage.FileModes;
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
 * <p>Built by {@link ConfigLoader} (from a TOML file), as {@link #embeddedDefaults}, or in code
 * with a {@link Builder}; the first two validate, so the rest of the server never re-checks a
 * setting (a builder's user vouches for what it sets). Domain names
 * are lower-case ASCII (IDNs as A-labels), local parts of mailboxes and aliases lower-case.
 *
 * @param hostname the name this server gives in its greeting, EHLO reply and Received: headers
 * @param dataDir the data folder: spool, mailboxes, generated keys
 * @param listeners the sockets to accept connections on (SMTP, IMAP, POP3), each with its role
 * @param limits the protocol limits, each with a documented reply when crossed
 * @param domains the local domains, whose mail is delivered to mailboxes here
 * @param postmaster the address that {@code postmaster@} every local domain goes to
 *     (RFC 5321 §4.5.1); always delivered, even if no mailbox of that name is listed
 * @param source the file this came from, or empty for the embedded defaults
 * @param tls where the certificate comes from
 * @param submission who may authenticate, relay and use which sender address
 * @param delivery how mail leaves: retry schedule, concurrency, TLS towards other servers, DNS,
 *     smart hosts
 * @param dkim which keys sign the submitted mail of which domain
 * @param senderChecks the SPF, DKIM and DMARC checks of mail from other servers
 * @param mailboxModes what mailbox folders and message files are made with ({@code
 *     mailbox-mode}): private, or shared with a group for another reader such as Dovecot
 * @param log how log lines are written: text or JSON, with or without timestamps
 * @param capture capture mode ({@code posta dev}, the JUnit extension): every address is a local
 *     mailbox and nothing is ever relayed; {@link Capture#OFF} for a real server. Not a key of
 *     the configuration file: only {@code posta dev} and code turn it on
 * @param http the {@code [http]} section: plain HTTP off the loopback, the readiness threshold
 * @param greylisting the {@code [greylisting]} section: greylisting at RCPT, off by default
 * @param screen the {@code [screen]} section: DNS lists, early talkers and pipelining before the
 *     EHLO reply, tested before a client's session goes on (Postfix's postscreen)
 * @param milters the {@code [[milters]]}: mail filters asked in order at each SMTP stage (none by default)
 * @param cluster the {@code [cluster]} section: where the node keeps its state (the data folder, or
 *     a PostgreSQL shared with other nodes)
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
    Submission submission,
    Delivery delivery,
    Dkim dkim,
    SenderChecks senderChecks,
    FileModes mailboxModes,
    Log log,
    Capture capture,
    Http http,
    Greylisting greylisting,
    Screen screen,
    List<Milter> milters,
    Cluster cluster) {

  /** A configuration without greylisting ({@link Greylisting#DEFAULTS}: off) nor {@code [screen]} settings ({@link Screen#DEFAULTS}). */
  public PostaConfig(String hostname, Path dataDir, List<Listener> listeners, Limits limits, List<LocalDomain> domains, String postmaster,
      Optional<Path> source, Tls tls, Submission submission, Delivery delivery, Dkim dkim, SenderChecks senderChecks, FileModes mailboxModes,
      Log log, Capture capture, Http http) {
    this(hostname, dataDir, listeners, limits, domains, postmaster, source, tls, submission, delivery, dkim, senderChecks, mailboxModes, log,
        capture, http, Greylisting.DEFAULTS, Screen.DEFAULTS);
  }

  /** A configuration without milters. */
  public PostaConfig(String hostname, Path dataDir, List<Listener> listeners, Limits limits, List<LocalDomain> domains, String postmaster,
      Optional<Path> source, Tls tls, Submission submission, Delivery delivery, Dkim dkim, SenderChecks senderChecks, FileModes mailboxModes,
      Log log, Capture capture, Http http, Greylisting greylisting, Screen screen) {
    this(hostname, dataDir, listeners, limits, domains, postmaster, source, tls, submission, delivery, dkim, senderChecks, mailboxModes, log,
        capture, http, greylisting, screen, List.of());
  }

  /** A configuration in embedded mode: its state in the data folder. */
  public PostaConfig(String hostname, Path dataDir, List<Listener> listeners, Limits limits, List<LocalDomain> domains, String postmaster,
      Optional<Path> source, Tls tls, Submission submission, Delivery delivery, Dkim dkim, SenderChecks senderChecks, FileModes mailboxModes,
      Log log, Capture capture, Http http, Greylisting greylisting, Screen screen, List<Milter> milters) {
    this(hostname, dataDir, listeners, limits, domains, postmaster, source, tls, submission, delivery, dkim, senderChecks, mailboxModes, log,
        capture, http, greylisting, screen, milters, Cluster.embedded(hostname));
  }

  /**
   * The {@code [cluster]} section: a node of several sharing one PostgreSQL, or (no database) a
   * server on its own, its state in the data folder.
   *
   * @param database the PostgreSQL URL ({@code postgresql://user:password@host:port/database}),
   *     empty for the embedded mode
   * @param node this node's name among the others (default: the host name)
   * @param poolSize connections to the database, at most
   * @param sharedVersion the version of the cluster's shared configuration read with the node's
   *     file (0: none pushed yet, or a server on its own)
   * @param blobs where message content is kept, and how its orphans are swept
   */
  public record Cluster(Optional<String> database, String node, int poolSize, long sharedVersion, Blobs blobs) {
    public static final int POOL_SIZE = 16;

    /** The database's URL with its password masked, as every log line and message must show it. */
    @Override
    public String toString() {
      return "Cluster[database=" + database.map(dev.posta.database.Database::shownUrl) + ", node=" + node + ", poolSize=" + poolSize
          + ", sharedVersion=" + sharedVersion + ", blobs=" + blobs + "]";
    }

    public Cluster(Optional<String> database, String node, int poolSize) {
      this(database, node, poolSize, 0);
    }

    public Cluster(Optional<String> database, String node, int poolSize, long sharedVersion) {
      this(database, node, poolSize, sharedVersion, Blobs.DATABASE);
    }

    /**
     * Where a cluster keeps message content ({@code blobs}): in the database ({@code s3} empty),
     * or in an S3-compatible store; every {@code sweepEvery} one node removes the content that
     * nothing names and that was not written again for {@code sweepAge}.
     */
    public record Blobs(Optional<S3> s3, Duration sweepEvery, Duration sweepAge) {
      public static final Duration SWEEP_EVERY = Duration.ofMinutes(10), SWEEP_AGE = Duration.ofHours(1);
      public static final Blobs DATABASE = new Blobs(Optional.empty(), SWEEP_EVERY, SWEEP_AGE);

      /** {@code "database"} or {@code "s3"}, as the file writes it. */
      public String store() {
        return s3.isPresent() ? "s3" : "database";
      }
    }

    /**
     * An S3-compatible store: its endpoint ({@code https://s3.eu-central-1.amazonaws.com}, {@code
     * http://127.0.0.1:9000}), region, bucket and keys. The secret key is never shown.
     */
    public record S3(java.net.URI endpoint, String region, String bucket, String accessKey, String secretKey) {
      @Override
      public String toString() {
        return "S3[endpoint=" + endpoint + ", region=" + region + ", bucket=" + bucket + ", access-key=" + accessKey + ", secret-key=***]";
      }
    }

    /** The embedded mode: no database; the node named by the host name. */
    public static Cluster embedded(String hostname) {
      return new Cluster(Optional.empty(), hostname, POOL_SIZE);
    }

    /** Whether a running node could take {@code next} at a reload: the same database, the same name, the same blob store. */
    public boolean sameNode(Cluster next) {
      return database.equals(next.database) && node.equals(next.node) && poolSize == next.poolSize && blobs.equals(next.blobs);
    }

    public boolean clustered() {
      return database.isPresent();
    }
  }

  /**
   * One {@code [[milters]]} entry: a mail filter spoken to with the Sendmail milter protocol
   * (version 6, as Postfix's smtpd_milters), in the order the entries are written.
   *
   * @param name what the log lines call it
   * @param address {@code inet:host:port} or {@code unix:/path}
   * @param listeners the listener kinds whose sessions it filters (default smtp only)
   * @param failureTempfails when the milter is down, times out or breaks the protocol: answer
   *     451 4.7.1 (true, Postfix's milter_default_action = tempfail) or go on without it
   * @param connectTimeout Postfix's milter_connect_timeout (30s)
   * @param commandTimeout Postfix's milter_command_timeout (30s)
   * @param contentTimeout Postfix's milter_content_timeout (300s): headers, body, end of message
   * @param quarantineHolds a quarantined message is held in the queue (true) or delivered to the
   *     local recipients' Junk folder (false, the default)
   */
  public record Milter(String name, String address, java.util.Set<Protocol> listeners, boolean failureTempfails,
      java.time.Duration connectTimeout, java.time.Duration commandTimeout, java.time.Duration contentTimeout, boolean quarantineHolds) {
    public static final java.time.Duration CONNECT_TIMEOUT = java.time.Duration.ofSeconds(30);
    public static final java.time.Duration COMMAND_TIMEOUT = java.time.Duration.ofSeconds(30);
    public static final java.time.Duration CONTENT_TIMEOUT = java.time.Duration.ofSeconds(300);

    public Milter {
      listeners = java.util.Set.copyOf(listeners);
    }
  }

  /**
   * The {@code [greylisting]} section (RFC 6647): a first attempt from an unknown (client network,
   * sender, recipient) triplet is refused with a temporary error, and taken when retried after
   * {@code delay}, as a real mail server's queue does and most spam software does not.
   *
   * @param enabled off by default: greylisting delays the first mail of every new correspondent
   * @param delay how long a retry must wait to pass
   * @param retryWindow how long after the first attempt a retry still passes; later, it counts as a first attempt again
   * @param expire how long a passed triplet (and an auto-allowlisted client) is remembered since its last mail
   * @param autoAllowlistAfter a client network is no longer greylisted once this many of its triplets passed; 0: never
   * @param maxEntries the most triplets kept; past it the oldest are forgotten (logged), which bounds memory and the file
   * @param exemptNetworks clients never greylisted (default the loopback); the trusted networks and authenticated users always are
   * @param exemptSpfDomains sender domains not greylisted when SPF passes for them (lower-case A-labels)
   * @param listeners the listener kinds greylisting runs on (default {@code smtp} only)
   */
  public record Greylisting(boolean enabled, java.time.Duration delay, java.time.Duration retryWindow, java.time.Duration expire,
      int autoAllowlistAfter, int maxEntries, List<Network> exemptNetworks, List<String> exemptSpfDomains, java.util.Set<Protocol> listeners) {
    public static final Greylisting DEFAULTS = new Greylisting(false, java.time.Duration.ofMinutes(5), java.time.Duration.ofDays(2),
        java.time.Duration.ofDays(35), 5, 200_000, List.of(Network.parse("127.0.0.0/8"), Network.parse("::1/128")), List.of(),
        java.util.Set.of(Protocol.SMTP));

    public Greylisting {
      exemptNetworks = List.copyOf(exemptNetworks);
      exemptSpfDomains = List.copyOf(exemptSpfDomains);
      listeners = listeners.isEmpty() ? java.util.Set.of() : java.util.Collections.unmodifiableSet(java.util.EnumSet.copyOf(listeners));
    }

    /** Whether mail arriving on a {@code protocol} listener is greylisted. */
    public boolean appliesTo(Protocol protocol) {
      return enabled && listeners.contains(protocol);
    }

    /** Whether {@code client} is in an exempt network (an IPv4-mapped address as the IPv4 one it is). */
    public boolean exempts(java.net.InetAddress client) {
      java.net.InetAddress address = dev.posta.mail.IpAddresses.unmapped(client);
      return exemptNetworks.stream().anyMatch(n -> n.contains(address));
    }
  }

  /**
   * The {@code [screen]} section: postscreen's tests of a client before its greeting, on the
   * listener kinds named ({@code smtp} by default), for clients outside {@code skipNetworks}.
   *
   * @param listeners the listener kinds whose clients are screened
   * @param dnsbl the DNS blocklists asked at connect (RFC 5782), each with a positive weight
   * @param dnswl the DNS allowlists asked at connect, each with a negative weight
   * @param dnsblThreshold a client whose listed zones' weights sum to this or more is refused
   * @param dnswlThreshold a client whose sum is this or less is allowlisted (greylisting skips it)
   * @param greetWait how long a new client must stay silent before the 220; zero: not tested
   * @param skipNetworks clients never screened; by default the loopback and {@code [submission]
   *     trusted-networks}
   * @param pipelining whether a command sent before the EHLO or HELO reply is refused (postscreen's
   *     postscreen_pipelining_enable, which Postfix leaves off; on here, as issue 20 asks for smtp)
   */
  public record Screen(
      java.util.Set<Protocol> listeners, List<DnsList> dnsbl, List<DnsList> dnswl, int dnsblThreshold, int dnswlThreshold,
      java.time.Duration greetWait, List<Network> skipNetworks, boolean pipelining) {
    /** postscreen's greet wait (postscreen_greet_wait, 6s). */
    public static final java.time.Duration GREET_WAIT = java.time.Duration.ofSeconds(6);
    public static final List<Network> LOOPBACK = List.of(Network.parse("127.0.0.0/8"), Network.parse("::1/128"));
    /** Pregreet on for smtp, no DNS lists until some are named (which lists to trust is the operator's choice). */
    public static final Screen DEFAULTS = new Screen(java.util.Set.of(Protocol.SMTP), List.of(), List.of(), 1, -1, GREET_WAIT, LOOPBACK, true);

    /** With the pipelining test on (its default). */
    public Screen(java.util.Set<Protocol> listeners, List<DnsList> dnsbl, List<DnsList> dnswl, int dnsblThreshold, int dnswlThreshold,
        java.time.Duration greetWait, List<Network> skipNetworks) {
      this(listeners, dnsbl, dnswl, dnsblThreshold, dnswlThreshold, greetWait, skipNetworks, true);
    }

    public Screen {
      listeners = listeners.isEmpty() ? java.util.Set.of() : java.util.Collections.unmodifiableSet(java.util.EnumSet.copyOf(listeners));
      dnsbl = List.copyOf(dnsbl);
      dnswl = List.copyOf(dnswl);
      skipNetworks = List.copyOf(skipNetworks);
    }

    /**
     * One DNS list (RFC 5782): its zone, the weight a listing adds to the client's score, and the
     * answers that count as listed.
     *
     * @param zone the list's zone, lower case, without the trailing dot
     * @param weight added to the score when the client is listed
     * @param codes the answers that count ({@code "127.0.0.2"}, {@code "127.0.0.4-11"}, {@code
     *     "127.0.10-20.0-3"}); empty: any 127.0.0.0/8 answer but the lists' error codes,
     *     127.255.255.0/24 (Spamhaus answers 127.255.255.254 to queries through public resolvers)
     *     and any answer ending in .255 (dnswl.org answers 127.0.0.255 once a resolver passed its
     *     query limit: counted, it would allowlist every client)
     */
    public record DnsList(String zone, int weight, List<Code> codes) {
      public DnsList {
        codes = List.copyOf(codes);
      }

      /** Whether an A answer of this list counts as a listing. */
      public boolean counts(java.net.InetAddress answer) {
        byte[] a = answer.getAddress();
        if (a.length != 4 || a[0] != 127) return false; // RFC 5782 §2.1: answers are in 127.0.0.0/8
        if (codes.isEmpty()) return !((a[1] & 0xff) == 255 && (a[2] & 0xff) == 255) && (a[3] & 0xff) != 255;
        for (Code c : codes) {
          if (c.matches(a)) return true;
        }
        return false;
      }
    }

    /**
     * An answer, or a range of them, that counts: four octets, each {@code N} or {@code N-M}
     * ({@code "127.0.0.4-11"}). {@code lows} and {@code highs} hold the four bounds, first octet
     * highest, so two equal codes are equal records.
     */
    public record Code(String text, int lows, int highs) {
      /**
       * @throws IllegalArgumentException when {@code text} is not four octet ranges starting 127
       */
      public static Code parse(String text) {
        String[] octets = text.split("\\.", -1);
        if (octets.length != 4) throw new IllegalArgumentException("'" + text + "' is not an answer like \"127.0.0.2\" or \"127.0.0.4-11\"");
        int lows = 0;
        int highs = 0;
        for (String octet : octets) {
          if (!octet.matches("[0-9]{1,3}(-[0-9]{1,3})?")) {
            throw new IllegalArgumentException("'" + text + "': '" + octet + "' is not an octet (0-255) or a range like 4-11");
          }
          int dash = octet.indexOf('-');
          int low = Integer.parseInt(dash < 0 ? octet : octet.substring(0, dash));
          int high = dash < 0 ? low : Integer.parseInt(octet.substring(dash + 1));
          if (high > 255 || low > high) throw new IllegalArgumentException("'" + text + "': '" + octet + "' is not within 0-255, low to high");
          lows = lows << 8 | low;
          highs = highs << 8 | high;
        }
        if (lows >>> 24 != 127 || highs >>> 24 != 127) {
          throw new IllegalArgumentException("'" + text + "': DNS list answers are in 127.0.0.0/8 (RFC 5782 §2.1)");
        }
        return new Code(text, lows, highs);
      }

      boolean matches(byte[] address) {
        for (int i = 0; i < 4; i++) {
          int shift = 24 - 8 * i;
          int octet = address[i] & 0xff;
          if (octet < (lows >>> shift & 0xff) || octet > (highs >>> shift & 0xff)) return false;
        }
        return true;
      }
    }
  }

  /** A configuration with the default {@code [http]} settings ({@link Http#DEFAULTS}). */
  public PostaConfig(String hostname, Path dataDir, List<Listener> listeners, Limits limits, List<LocalDomain> domains, String postmaster,
      Optional<Path> source, Tls tls, Submission submission, Delivery delivery, Dkim dkim, SenderChecks senderChecks, FileModes mailboxModes,
      Log log, Capture capture) {
    this(hostname, dataDir, listeners, limits, domains, postmaster, source, tls, submission, delivery, dkim, senderChecks, mailboxModes, log,
        capture, Http.DEFAULTS);
  }

  /**
   * The {@code [http]} section: what the HTTP listeners ({@code [listeners] http}, {@code https})
   * allow beyond their addresses.
   *
   * @param allowPlainHttp an {@code http} listener (no TLS) may be on an address other than the
   *     loopback: API tokens and mail would cross the network readable, so it must be asked for
   *     (a TLS-terminating proxy in front, a private network). Off: refused at config load
   * @param readyMinFreeSpace octets the data folder's file system must have free for {@code
   *     /readyz} to answer 200: below it, accepting mail would soon fail
   * @param metricsPublic {@code /metrics} answers without an API token on every listener, not only
   *     to requests made to a loopback address: for a Prometheus on another machine without a
   *     token of its own (the meters name no address or user, but tell how busy the server is)
   */
  public record Http(boolean allowPlainHttp, long readyMinFreeSpace, boolean metricsPublic) {
    public static final Http DEFAULTS = new Http(false, 512L * 1024 * 1024, false);

    /** With {@code /metrics} behind a token off the loopback. */
    public Http(boolean allowPlainHttp, long readyMinFreeSpace) {
      this(allowPlainHttp, readyMinFreeSpace, false);
    }
  }

  /**
   * Why {@code listener} may not be used under {@code http}, or null: plain HTTP on an address
   * other than the loopback, unless {@link Http#allowPlainHttp} (a wildcard address counts as
   * every address, so it is refused too).
   */
  public static String plainHttpRefusal(Listener listener, Http http) {
    if (listener.protocol() != Protocol.HTTP || http.allowPlainHttp() || listener.address().getAddress().isLoopbackAddress()) return null;
    return "plain HTTP on " + listener.address().getAddress().getHostAddress() + " would carry API tokens and mail unencrypted beyond this"
        + " machine: listen on 127.0.0.1 or ::1, use listeners.https, or set [http] allow-plain-http = true";
  }

  /** A real server's configuration: capture mode off. */
  public PostaConfig(String hostname, Path dataDir, List<Listener> listeners, Limits limits, List<LocalDomain> domains, String postmaster,
      Optional<Path> source, Tls tls, Submission submission, Delivery delivery, Dkim dkim, SenderChecks senderChecks, FileModes mailboxModes,
      Log log) {
    this(hostname, dataDir, listeners, limits, domains, postmaster, source, tls, submission, delivery, dkim, senderChecks, mailboxModes, log,
        Capture.OFF);
  }

  /**
   * Capture mode, for developing and testing applications that send mail (Mailpit's and
   * GreenMail's job), as a setting of the real server rather than a server of its own:
   *
   * <ul>
   *   <li>every recipient in every domain is accepted and delivered to a mailbox of its own,
   *       made on first delivery ({@code mail/<domain>/<user>}), and a copy goes to the
   *       {@link #EVERYTHING} mailbox, which therefore holds every captured message;
   *   <li>nothing is ever relayed: the router never names a remote address (aliases, catch-alls
   *       and smart hosts of a configuration file are not followed) and the server builds no
   *       remote delivery and no DNS resolver at all;
   *   <li>the submission listeners take mail without AUTH, and an authenticated user may send as
   *       anyone;
   *   <li>with no {@code logins}, every login (SMTP AUTH, IMAP, POP3) as any address succeeds
   *       with any password and opens that address's mailbox; with {@code logins}, only those
   *       addresses with those passwords log in (the JUnit extension's test account), and
   *       submission wants AUTH again. SCRAM-SHA-256 is not offered (it needs a stored
   *       password): PLAIN and LOGIN are;
   *   <li>every delivered message is also kept in memory, in the index of captured mail that
   *       the JUnit extension (and the HTTP API) query and wait on, filed under one
   *       <em>namespace</em> so that tests running side by side never see each other's mail.
   *       The namespace is chosen by these rules, in order:
   *       <ol>
   *         <li>when the client logged in with SMTP AUTH and {@code loginNamespaces} is on: the
   *             login's namespace, which is the {@code namespacePattern}'s group in the login
   *             when it matches ({@code inbox+t1@posta.test} is {@code t1}), else the whole
   *             login ({@code app@example.com});
   *         <li>else the first envelope recipient, in RCPT TO order, that {@code
   *             namespacePattern} matches: its group ({@code ada+t1@example.com} is {@code t1});
   *         <li>else {@link #DEFAULT_NAMESPACE}.
   *       </ol>
   *       Namespaces are lower case. The index keeps the newest {@code retention} messages;
   *       the mailboxes keep them all;
   *   <li>every captured message, whichever listener took it, gets SPF, DKIM and DMARC checked
   *       and an Authentication-Results field, against a test DNS zone held in memory (never a
   *       real DNS query): the built-in test domain ({@code mailauth/TestDomain}) and the
   *       {@code zone}'s records. The result is recorded only: no DMARC policy refuses, defers
   *       or moves a captured message.
   * </ul>
   *
   * @param enabled capture mode on
   * @param logins the only accepted logins, address (canonical: lower-case domain) to password;
   *     empty: any address with any password
   * @param loginNamespaces whether an SMTP AUTH login names the namespace (rule 1); the JUnit
   *     extension turns it off with a test account, which every client shares
   * @param namespacePattern a regular expression with one capturing group, found in a lower-cased
   *     address, whose group names the namespace; {@link #PLUS_TAG} by default (the part after
   *     {@code +}); empty: recipients name no namespace
   * @param retention how many captured messages the index keeps, oldest forgotten first; a
   *     message a caller is waiting for is handed to it on arrival, so forgetting never hides it
   * @param zone the developer's own DNS records for the test zone, besides the built-in test domain
   */
  public record Capture(boolean enabled, Map<String, String> logins, boolean loginNamespaces, String namespacePattern, int retention,
      Zone zone) {
    /** The part of the local part after {@code +} (RFC 5233's subaddress) names the namespace. */
    public static final String PLUS_TAG = "^[^@+]*\\+([^@+]+)@";
    /** Where mail goes that no rule files elsewhere. */
    public static final String DEFAULT_NAMESPACE = "default";
    /** How many messages the index keeps by default. */
    public static final int DEFAULT_RETENTION = 10_000;
    public static final Capture OFF = new Capture(false, Map.of());
    /** Capture mode where anyone logs in as anyone. */
    public static final Capture ANY_LOGIN = new Capture(true, Map.of());
    /** The mailbox, and the login, that every captured message also goes to. */
    public static final String EVERYTHING = "all@localhost";

    public Capture {
      logins = Map.copyOf(logins);
      if (retention < 1) throw new IllegalArgumentException("capture retention must be at least 1, not " + retention);
      if (!namespacePattern.isEmpty()) {
        java.util.regex.Pattern p;
        try {
          p = java.util.regex.Pattern.compile(namespacePattern);
        } catch (java.util.regex.PatternSyntaxException e) {
          throw new IllegalArgumentException("capture namespace pattern '" + namespacePattern + "' is no regular expression: "
              + e.getDescription());
        }
        if (p.matcher("").groupCount() < 1) {
          throw new IllegalArgumentException("capture namespace pattern '" + namespacePattern
              + "' has no capturing group: put the namespace's part in ( )");
        }
      }
    }

    /** Namespaces by login and by plus tag, {@link #DEFAULT_RETENTION} messages kept. */
    public Capture(boolean enabled, Map<String, String> logins) {
      this(enabled, logins, true, PLUS_TAG, DEFAULT_RETENTION);
    }

    /** With no records of the developer's: the built-in test domain only. */
    public Capture(boolean enabled, Map<String, String> logins, boolean loginNamespaces, String namespacePattern, int retention) {
      this(enabled, logins, loginNamespaces, namespacePattern, retention, Zone.EMPTY);
    }

    /** This capture mode with {@code replaced} as its zone. */
    public Capture withZone(Zone replaced) {
      return new Capture(enabled, logins, loginNamespaces, namespacePattern, retention, replaced);
    }

    /** Don't print passwords. */
    @Override
    public String toString() {
      return "Capture[enabled=" + enabled + ", logins=" + logins.keySet() + ", loginNamespaces=" + loginNamespaces
          + ", namespacePattern=" + namespacePattern + ", retention=" + retention + ", zone=" + zone + "]";
    }

    /**
     * The developer's records in capture mode's test DNS zone ({@code [capture.dns]} of {@code
     * posta dev --config}, the JUnit extension's {@code withDnsRecord} and {@code withDkimKey}),
     * so that their real SPF, DKIM and DMARC records can be checked against what their
     * application sends.
     *
     * @param records records as given, in order
     * @param dkimKeys private keys whose public halves are published as DKIM key records
     */
    public record Zone(List<ZoneRecord> records, List<ZoneKey> dkimKeys) {
      public static final Zone EMPTY = new Zone(List.of(), List.of());

      public Zone {
        records = List.copyOf(records);
        dkimKeys = List.copyOf(dkimKeys);
      }

      /** This zone with one more record. */
      public Zone with(ZoneRecord record) {
        List<ZoneRecord> more = new java.util.ArrayList<>(records);
        more.add(record);
        return new Zone(more, dkimKeys);
      }

      /** This zone with one more published key. */
      public Zone with(ZoneKey key) {
        List<ZoneKey> more = new java.util.ArrayList<>(dkimKeys);
        more.add(key);
        return new Zone(records, more);
      }
    }

    /** The record types the test zone holds: what sender checks ask (RFC 7208 §5, RFC 6376 §3.6.2, RFC 7489 §6.1). */
    public enum RecordType {
      TXT,
      A,
      AAAA,
      MX,
      /** {@code name} is the address (127.0.0.1, ::1), {@code value} the host name. */
      PTR
    }

    /**
     * One record: {@code example.com TXT "v=spf1 ip4:127.0.0.1 -all"}.
     *
     * @param name lower-case domain name without the trailing dot (underscores allowed, as in
     *     {@code _dmarc.example.com}); for PTR, the address
     * @param value TXT: the text, its strings joined; A and AAAA: the address; MX: the exchange
     *     host; PTR: the host name
     * @param origin where it was given ({@code file:line}, or the test's call), for messages
     */
    public record ZoneRecord(String name, RecordType type, String value, String origin) {
      /**
       * A record from its parts as a zone file writes them ({@code "example.com", "TXT", "v=spf1
       * -all"}), checked as {@code [capture.dns]} checks its records.
       *
       * @throws IllegalArgumentException saying what is wrong with it
       */
      public static ZoneRecord of(String name, String type, String value, String origin) {
        return CaptureSection.zoneRecord(name, type, value, origin);
      }
    }

    /**
     * A DKIM key to publish: {@code <selector>._domainkey.<domain>} gets the key record of the
     * private key in {@code file} (PEM, as {@code posta dkim keygen} and {@code openssl genpkey}
     * write them), read when the server starts.
     */
    public record ZoneKey(String domain, String selector, Path file, String origin) {}
  }

  /** A configuration without [dkim] settings: keys in {@code <data>/dkim} sign as they are found ({@link Dkim#NONE}). */
  public PostaConfig(String hostname, Path dataDir, List<Listener> listeners, Limits limits, List<LocalDomain> domains, String postmaster,
      Optional<Path> source, Tls tls, Submission submission, Delivery delivery) {
    this(hostname, dataDir, listeners, limits, domains, postmaster, source, tls, submission, delivery, Dkim.NONE, SenderChecks.DEFAULTS);
  }

  /** A configuration with private mailboxes and the default {@code [log]} settings ({@link Log#DEFAULTS}). */
  public PostaConfig(String hostname, Path dataDir, List<Listener> listeners, Limits limits, List<LocalDomain> domains, String postmaster,
      Optional<Path> source, Tls tls, Submission submission, Delivery delivery, Dkim dkim, SenderChecks senderChecks) {
    this(hostname, dataDir, listeners, limits, domains, postmaster, source, tls, submission, delivery, dkim, senderChecks, FileModes.PRIVATE,
        Log.DEFAULTS);
  }

  /**
   * The {@code [log]} section: how each log line is written on standard error.
   *
   * @param format {@code text}, one line per event for people and grep, or {@code json}, one
   *     object per line for log shippers
   * @param timestamps whether a text line starts with its time; empty: yes, unless standard error
   *     goes to journald (JOURNAL_STREAM set), which adds its own. A line without one starts
   *     with its syslog priority instead ({@code <6>}, sd-daemon(3)), so the collector records
   *     the level.
   */
  public record Log(Format format, Optional<Boolean> timestamps) {
    public static final Log DEFAULTS = new Log(Format.TEXT, Optional.empty());

    public enum Format {
      TEXT,
      JSON
    }
  }

  /**
   * DKIM signing (RFC 6376): per domain, the selectors whose keys sign its submitted mail, the
   * keys being {@code <data>/dkim/<domain>/<selector>.pem}. A domain not named here signs with
   * every key its folder holds; a domain named with no selectors is not signed.
   *
   * @param selectors domain (lower case, A-labels) to its selectors, in the file's order
   */
  /**
   * The checks on mail from other servers (RFC 7208, RFC 6376, RFC 7489, RFC 8601).
   *
   * @param rules what mail to a local domain without rules of its own gets
   * @param domainRules the local domains (lower case, A-labels) whose rules differ from {@code rules}
   * @param skipNetworks clients whose mail is not checked: by default the loopback addresses, the
   *     machine's own programs (as OpenDMARC's IgnoreHosts and OpenDKIM's InternalHosts)
   */
  public record SenderChecks(Rules rules, Map<String, Rules> domainRules, List<Network> skipNetworks) {
    public static final SenderChecks DEFAULTS =
        new SenderChecks(Rules.ENFORCE, Map.of(), List.of(Network.parse("127.0.0.0/8"), Network.parse("::1/128")));

    public SenderChecks {
      domainRules = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(domainRules));
      skipNetworks = List.copyOf(skipNetworks);
    }

    /**
     * What the checks do for mail to one domain.
     *
     * @param enabled check SPF, DKIM and DMARC and record them in Authentication-Results
     * @param rejectOnDmarcReject a DMARC policy of reject refuses the message (550 5.7.1); false:
     *     it goes to the Junk folder. Always false when nothing is checked, so that rules which
     *     check nothing are equal.
     */
    public record Rules(boolean enabled, boolean rejectOnDmarcReject) {
      /** The default: check everything, enforce a DMARC policy of reject. */
      public static final Rules ENFORCE = new Rules(true, true);
      public static final Rules OFF = new Rules(false, false);

      public Rules {
        rejectOnDmarcReject &= enabled;
      }

      /** For the banner and the log: "not checked", "DMARC reject: refused (550)" or "DMARC reject: to Junk". */
      @Override
      public String toString() {
        return !enabled ? "not checked" : "DMARC reject: " + (rejectOnDmarcReject ? "refused (550)" : "to Junk");
      }
    }

    /** The rules for mail to {@code domain}, a local domain as a lower-case A-label. */
    public Rules rules(String domain) {
      return domainRules.getOrDefault(domain, rules);
    }

    /** Whether mail from {@code client} goes unchecked, whatever its recipients. */
    public boolean skips(java.net.InetAddress client) {
      return skipNetworks.stream().anyMatch(n -> n.contains(client));
    }

    /** Whether mail to any domain is checked. */
    public boolean anyEnabled() {
      return rules.enabled() || domainRules.values().stream().anyMatch(Rules::enabled);
    }
  }

  public record Dkim(Map<String, List<Selector>> selectors) {
    public static final Dkim NONE = new Dkim(Map.of());

    public Dkim {
      selectors = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(selectors));
    }

    /**
     * A selector as configured.
     *
     * @param origin where it was set, {@code file:line}, for the start-up error when its key file is missing
     */
    public record Selector(String name, String origin) {}
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
   * @param minPasswordLength the fewest characters {@code posta user add} and {@code passwd}
   *     take for a password (NIST SP 800-63B asks at least 8; 12 keeps a guessed one out of
   *     reach of the lockout's pace)
   */
  public record Submission(
      List<Network> trustedNetworks,
      boolean plaintextAuthOnLoopback,
      boolean senderMustBeOwned,
      int authFailuresBeforeLockout,
      Duration authLockout,
      int minPasswordLength) {
    public static final int DEFAULT_MIN_PASSWORD_LENGTH = 12;

    /** With the default minimum password length. */
    public Submission(List<Network> trustedNetworks, boolean plaintextAuthOnLoopback, boolean senderMustBeOwned,
        int authFailuresBeforeLockout, Duration authLockout) {
      this(trustedNetworks, plaintextAuthOnLoopback, senderMustBeOwned, authFailuresBeforeLockout, authLockout, DEFAULT_MIN_PASSWORD_LENGTH);
    }

    public static Submission defaults() {
      return new Submission(List.of(), false, true, 10, Duration.ofMinutes(15));
    }
  }

  /**
   * How far Posta goes to protect a connection to another mail server (the names are Postfix's
   * {@code smtp_tls_security_level}s, which administrators know).
   */
  public enum TlsPolicy {
    /** Never STARTTLS. */
    NONE,
    /** STARTTLS when offered, any certificate; plain text when not offered (RFC 7435). */
    MAY,
    /** TLS required, any certificate: a server without STARTTLS gets no mail (deferred). */
    ENCRYPT,
    /** TLS required and the certificate must be valid for the server's name. */
    VERIFY
  }

  /**
   * A smart host: another server that takes the mail on (a provider's submission service, an
   * internal hub), instead of the recipients' MX.
   *
   * @param host its name or address, also the name its certificate must carry under VERIFY
   * @param implicitTls TLS from the first byte (port 465, RFC 8314) instead of STARTTLS
   * @param username for AUTH; only ever sent over TLS
   */
  public record Relay(String host, int port, boolean implicitTls, TlsPolicy tls, Optional<String> username, Optional<String> password) {}

  /**
   * Outbound delivery and the queue.
   *
   * @param firstRetry wait before the second attempt; each further wait doubles
   * @param maxRetry the longest wait between two attempts
   * @param lifetime how long a message may wait in total before it is returned to its sender
   * @param delayWarning after this long in the queue the sender is told once that the message
   *     is delayed; zero for never
   * @param concurrency connections to other servers at once
   * @param perDestination connections to one destination (domain or smart host) at once
   * @param tls the TLS policy towards MX hosts
   * @param tlsPolicies per recipient domain, overriding {@code tls}
   * @param trustedCertificates PEM CA certificates that VERIFY trusts, else the JDK's
   * @param dnsServers "host" or "host:port"; empty for the system's (/etc/resolv.conf)
   * @param mxPort the port of MX hosts: 25 (RFC 5321 §4.5.4.2 has no other); the test harness
   *     sets another in code, to reach peers on loopback. Not a configuration key
   * @param relay the smart host for all remote mail, if any
   * @param routes per recipient domain, a smart host that overrides {@code relay} and MX
   */
  public record Delivery(
      Duration firstRetry,
      Duration maxRetry,
      Duration lifetime,
      Duration delayWarning,
      int concurrency,
      int perDestination,
      TlsPolicy tls,
      Map<String, TlsPolicy> tlsPolicies,
      Optional<Path> trustedCertificates,
      List<String> dnsServers,
      int mxPort,
      Optional<Relay> relay,
      Map<String, Relay> routes) {

    public static Delivery defaults() {
      return new Delivery(Duration.ofMinutes(5), Duration.ofHours(1), Duration.ofDays(5), Duration.ZERO, 100, 20,
          TlsPolicy.MAY, Map.of(), Optional.empty(), List.of(), 25, Optional.empty(), Map.of());
    }

    /** A builder that starts from these settings, for code that builds a configuration (see {@link PostaConfig.Builder}). */
    public Builder toBuilder() {
      return new Builder(this);
    }

    public TlsPolicy tlsFor(String domain) {
      return tlsPolicies.getOrDefault(domain, tls);
    }

    /** The smart host for a recipient domain, if mail for it goes through one. */
    public Optional<Relay> relayFor(String domain) {
      Relay route = routes.get(domain);
      return route != null ? Optional.of(route) : relay;
    }

    /** Changes some settings of a {@link Delivery}; like {@link PostaConfig.Builder}, it checks nothing. */
    public static final class Builder {
      private Duration firstRetry;
      private Duration maxRetry;
      private Duration lifetime;
      private Duration delayWarning;
      private int concurrency;
      private int perDestination;
      private TlsPolicy tls;
      private Map<String, TlsPolicy> tlsPolicies;
      private Optional<Path> trustedCertificates;
      private List<String> dnsServers;
      private int mxPort;
      private Optional<Relay> relay;
      private Map<String, Relay> routes;

      private Builder(Delivery d) {
        firstRetry = d.firstRetry;
        maxRetry = d.maxRetry;
        lifetime = d.lifetime;
        delayWarning = d.delayWarning;
        concurrency = d.concurrency;
        perDestination = d.perDestination;
        tls = d.tls;
        tlsPolicies = d.tlsPolicies;
        trustedCertificates = d.trustedCertificates;
        dnsServers = d.dnsServers;
        mxPort = d.mxPort;
        relay = d.relay;
        routes = d.routes;
      }

      public Builder delayWarning(Duration after) {
        delayWarning = after;
        return this;
      }

      public Builder concurrency(int total, int toOneDestination) {
        concurrency = total;
        perDestination = toOneDestination;
        return this;
      }

      public Builder tlsPolicies(Map<String, TlsPolicy> perDomain) {
        tlsPolicies = Map.copyOf(perDomain);
        return this;
      }

      /** CA certificates that VERIFY trusts (a test's own CA). */
      public Builder trustedCertificates(Path pem) {
        trustedCertificates = Optional.of(pem);
        return this;
      }

      /** MX hosts found through these DNS servers, listening on {@code port} (not 25 only in tests). */
      public Builder dns(List<String> servers, int port) {
        dnsServers = List.copyOf(servers);
        mxPort = port;
        return this;
      }

      public Builder relay(Relay smartHost) {
        relay = Optional.of(smartHost);
        return this;
      }

      public Delivery build() {
        return new Delivery(firstRetry, maxRetry, lifetime, delayWarning, concurrency, perDestination, tls, tlsPolicies,
            trustedCertificates, dnsServers, mxPort, relay, routes);
      }
    }
  }

  /** What a listener speaks. */
  public enum Protocol {
    /** MTA-to-MTA SMTP, port 25 (RFC 5321). */
    SMTP(25),
    /** Message submission with STARTTLS, port 587 (RFC 6409). */
    SUBMISSION(587),
    /** Message submission over implicit TLS, port 465 (RFC 8314). */
    SMTPS(465),
    /** IMAP with STARTTLS, port 143 (RFC 9051). */
    IMAP(143),
    /** IMAP over implicit TLS, port 993 (RFC 8314). */
    IMAPS(993),
    /** POP3 with STLS, port 110 (RFC 1939, RFC 2595). */
    POP3(110),
    /** POP3 over implicit TLS, port 995 (RFC 8314). */
    POP3S(995),
    /** The HTTP API and health checks, HTTP/1.1 without TLS (RFC 9112); on by default only on 127.0.0.1:8025. */
    HTTP(80),
    /** The same over TLS with the mail listeners' certificate (RFC 9110 §4.2.2, RFC 8446). */
    HTTPS(443);

    /**
     * The protocol as {@code [listeners]} names it ({@code smtp}, {@code pop3s}), in any case.
     *
     * @throws IllegalArgumentException when it names none
     */
    public static Protocol named(String name) {
      for (Protocol p : values()) {
        if (p.name().equalsIgnoreCase(name)) return p;
      }
      throw new IllegalArgumentException("'" + name + "' is not smtp, submission, smtps, imap, imaps, pop3, pop3s, http or https");
    }

    /** The port it listens on unless configured otherwise. */
    public final int standardPort;

    Protocol(int standardPort) {
      this.standardPort = standardPort;
    }

    /** Whether a connection starts with a TLS handshake rather than a greeting (RFC 8314 §3.3). */
    public boolean implicitTls() {
      return this == SMTPS || this == IMAPS || this == POP3S || this == HTTPS;
    }

    /** Whether it is one of the web's listeners, which only an address given for it turns on. */
    public boolean web() {
      return this == HTTP || this == HTTPS;
    }
  }

  public record Listener(Protocol protocol, InetSocketAddress address) {
    /**
     * A listener as {@code posta serve --listen} names it, {@code smtp=127.0.0.1:2525}: a
     * protocol as {@code [listeners]} names it, and an address as its lists write them.
     *
     * @throws IllegalArgumentException saying what is wrong with it
     */
    public static Listener parse(String spec) {
      int eq = spec.indexOf('=');
      if (eq < 0) throw new IllegalArgumentException("'" + spec + "': expected PROTOCOL=HOST:PORT, like smtp=127.0.0.1:2525");
      Protocol protocol = Protocol.named(spec.substring(0, eq));
      try {
        return new Listener(protocol, ConfigValues.socketAddress(spec.substring(eq + 1)));
      } catch (ConfigValues.Invalid e) {
        throw new IllegalArgumentException(e.getMessage()); // it names the address
      }
    }
  }

  /**
   * Protocol limits.
   *
   * @param maxMessageSize octets; advertised with SIZE (RFC 1870), 552 5.3.4 when crossed
   * @param maxRecipients per message; the next RCPT gets 452 4.5.3 (RFC 5321 §4.5.3.1.8)
   * @param maxLineLength octets of one message text line including CRLF, DATA or BDAT: beyond RFC 5322's 1000 (§2.1.1), which
   *     real mail exceeds, up to this bound against abuse; 550 5.6.0 when crossed
   * @param maxConnections at once on each kind of listener; more get 421 4.7.0
   * @param maxConnectionsPerIp at once from one client address; more get 421 4.7.0
   * @param maxErrors refusals (5xx) in one session before 421 4.7.0 and close
   * @param commandTimeout how long to wait for the next command (RFC 5321 §4.5.3.2.7)
   * @param dataTimeout how long to wait for the next block of message data (§4.5.3.2.5)
   * @param maxHops {@code Received:} fields a message may carry, ours included, before it is
   *     taken for a loop: 554 5.4.6 at the end of DATA, a 5.4.6 bounce when found in the queue
   *     (RFC 5321 §6.3)
   * @param handshakeTimeout how long a TLS handshake may take
   * @param minDataRate octets a second message data must average, or the data timeout ends it
   *     early; 0 for no minimum
   * @param maxSessionTime how long one connection may stay open in all
   */
  public record Limits(
      long maxMessageSize,
      int maxRecipients,
      int maxLineLength,
      int maxConnections,
      int maxConnectionsPerIp,
      int maxErrors,
      Duration commandTimeout,
      Duration dataTimeout,
      int maxHops,
      Duration handshakeTimeout,
      int minDataRate,
      Duration maxSessionTime) {

    /** RFC 5321 §6.3: a loop-detecting server "SHOULD use a large rejection threshold, normally at least 100". */
    public static final int DEFAULT_MAX_HOPS = 100;
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(30);
    /** Postfix's smtpd_min_data_rate. */
    public static final int DEFAULT_MIN_DATA_RATE = 500;
    public static final Duration DEFAULT_MAX_SESSION_TIME = Duration.ofHours(1);

    /** The limits without the slow-client ones, which take their defaults. */
    public Limits(long maxMessageSize, int maxRecipients, int maxLineLength, int maxConnections, int maxConnectionsPerIp,
        int maxErrors, Duration commandTimeout, Duration dataTimeout, int maxHops) {
      this(maxMessageSize, maxRecipients, maxLineLength, maxConnections, maxConnectionsPerIp, maxErrors, commandTimeout,
          dataTimeout, maxHops, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MIN_DATA_RATE, DEFAULT_MAX_SESSION_TIME);
    }

    /**
     * These limits with another command timeout and session length: the reading protocols keep a
     * client connected far longer than SMTP does, and wait longer for its next command.
     */
    public Limits withSessionTimes(Duration commandTimeout, Duration maxSessionTime) {
      return new Limits(maxMessageSize, maxRecipients, maxLineLength, maxConnections, maxConnectionsPerIp, maxErrors, commandTimeout,
          dataTimeout, maxHops, handshakeTimeout, minDataRate, maxSessionTime);
    }

    public static Limits defaults() {
      return new Limits(
          35L * 1024 * 1024, 100, 64 * 1024, 1000, 50, 10, Duration.ofMinutes(5), Duration.ofMinutes(3), DEFAULT_MAX_HOPS);
    }

    /**
     * The per-address limit when only {@code max-connections} is set: a tenth of it, so that a
     * few addresses meet their own limit long before they fill a listener; but at least 5 (a
     * small server's own applications often share one address) and at most 50.
     */
    public static int defaultPerIp(int maxConnections) {
      return Math.min(maxConnections, Math.clamp(maxConnections / 10, 5, 50));
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
   * @param spamFolder the folder its mailboxes get mail a milter marked as spam in ({@code
   *     spam-folder}, default {@value #JUNK}), null for the inbox
   */
  public record LocalDomain(
      String name,
      Set<String> mailboxes,
      boolean anyLocalPart,
      Optional<String> catchAll,
      Map<String, List<String>> aliases,
      String spamFolder) {
    /** Where mail marked as spam goes unless {@code spam-folder} says otherwise. */
    public static final String JUNK = "Junk";

    /** A domain filing mail marked as spam into {@value #JUNK}. */
    public LocalDomain(String name, Set<String> mailboxes, boolean anyLocalPart, Optional<String> catchAll, Map<String, List<String>> aliases) {
      this(name, mailboxes, anyLocalPart, catchAll, aliases, JUNK);
    }
  }

  /**
   * The configuration a newcomer gets with no file: loopback only, unprivileged ports, the HTTP
   * API on 127.0.0.1:8025, and the domain {@code localhost} where every local part has a mailbox.
   */
  public static PostaConfig embeddedDefaults(Path dataDir) {
    return new PostaConfig(
        "localhost",
        dataDir,
        List.of(
            new Listener(Protocol.SMTP, new InetSocketAddress("127.0.0.1", 2525)),
            new Listener(Protocol.SUBMISSION, new InetSocketAddress("127.0.0.1", 2587)),
            new Listener(Protocol.SMTPS, new InetSocketAddress("127.0.0.1", 2465)),
            new Listener(Protocol.IMAP, new InetSocketAddress("127.0.0.1", 2143)),
            new Listener(Protocol.IMAPS, new InetSocketAddress("127.0.0.1", 2993)),
            new Listener(Protocol.POP3, new InetSocketAddress("127.0.0.1", 2110)),
            new Listener(Protocol.POP3S, new InetSocketAddress("127.0.0.1", 2995)),
            new Listener(Protocol.HTTP, new InetSocketAddress("127.0.0.1", 8025))),
        Limits.defaults(),
        List.of(new LocalDomain("localhost", Set.of(), true, Optional.empty(), Map.of())),
        "postmaster@localhost",
        Optional.empty(),
        Tls.SELF_SIGNED,
        Submission.defaults(),
        Delivery.defaults());
  }

  /** A builder starting from these settings, to change some of them in code. */
  public Builder toBuilder() {
    return new Builder(this);
  }

  /**
   * A configuration made in code rather than read from a file: for tests and for embedding Posta
   * (the JUnit extension). It starts from a configuration (often {@link #embeddedDefaults}) and
   * replaces what is set. Unlike {@link ConfigLoader} it checks nothing: what it builds must
   * already be valid.
   */
  public static final class Builder {
    private String hostname;
    private Path dataDir;
    private List<Listener> listeners;
    private Limits limits;
    private List<LocalDomain> domains;
    private String postmaster;
    private Optional<Path> source;
    private Tls tls;
    private Submission submission;
    private Delivery delivery;
    private Dkim dkim;
    private SenderChecks senderChecks;
    private FileModes mailboxModes;
    private Log log;
    private Capture capture;
    private Http http;
    private Greylisting greylisting;
    private Screen screen;
    private List<Milter> milters;
    private Cluster cluster;

    private Builder(PostaConfig c) {
      hostname = c.hostname;
      dataDir = c.dataDir;
      listeners = c.listeners;
      limits = c.limits;
      domains = c.domains;
      postmaster = c.postmaster;
      source = c.source;
      tls = c.tls;
      submission = c.submission;
      delivery = c.delivery;
      dkim = c.dkim;
      senderChecks = c.senderChecks;
      mailboxModes = c.mailboxModes;
      log = c.log;
      capture = c.capture;
      http = c.http;
      greylisting = c.greylisting;
      screen = c.screen;
      milters = c.milters;
      cluster = c.cluster;
    }

    public Builder hostname(String name) {
      hostname = name;
      return this;
    }

    public Builder dataDir(Path dir) {
      dataDir = dir;
      return this;
    }

    public Builder listeners(List<Listener> replaced) {
      listeners = List.copyOf(replaced);
      return this;
    }

    public Builder limits(Limits replaced) {
      limits = replaced;
      return this;
    }

    public Builder domains(List<LocalDomain> replaced) {
      domains = List.copyOf(replaced);
      return this;
    }

    public Builder postmaster(String address) {
      postmaster = address;
      return this;
    }

    public Builder tls(Tls replaced) {
      tls = replaced;
      return this;
    }

    public Builder submission(Submission replaced) {
      submission = replaced;
      return this;
    }

    public Builder delivery(Delivery replaced) {
      delivery = replaced;
      return this;
    }

    public Builder dkim(Dkim replaced) {
      dkim = replaced;
      return this;
    }

    public Builder senderChecks(SenderChecks replaced) {
      senderChecks = replaced;
      return this;
    }

    public Builder mailboxModes(FileModes replaced) {
      mailboxModes = replaced;
      return this;
    }

    public Builder log(Log replaced) {
      log = replaced;
      return this;
    }

    public Builder capture(Capture replaced) {
      capture = replaced;
      return this;
    }

    public Builder http(Http replaced) {
      http = replaced;
      return this;
    }

    public Builder greylisting(Greylisting replaced) {
      greylisting = replaced;
      return this;
    }

    public Builder screen(Screen replaced) {
      screen = replaced;
      return this;
    }

    public Builder cluster(Cluster replaced) {
      cluster = replaced;
      return this;
    }

    public Builder milters(List<Milter> replaced) {
      milters = replaced;
      return this;
    }

    public PostaConfig build() {
      return new PostaConfig(hostname, dataDir, listeners, limits, domains, postmaster, source, tls, submission, delivery, dkim, senderChecks,
          mailboxModes, log, capture, http, greylisting, screen, milters, cluster);
    }
  }
}
