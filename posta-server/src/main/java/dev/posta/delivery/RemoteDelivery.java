package dev.posta.delivery;

import dev.posta.client.Extensions;
import dev.posta.client.MessageWriter;
import dev.posta.client.OpportunisticTls;
import dev.posta.client.SmtpClient;
import dev.posta.client.SmtpException;
import dev.posta.client.SmtpReply;
import dev.posta.client.Timeouts;
import dev.posta.client.Transaction;
import dev.posta.client.TransactionResult;
import dev.posta.config.PostaConfig;
import dev.posta.config.PostaConfig.Relay;
import dev.posta.config.PostaConfig.TlsPolicy;
import dev.posta.dns.MxResolver;
import dev.posta.delivery.Delivery.Recipient;
import dev.posta.mail.Envelope;
import dev.posta.mail.LongLines;
import dev.posta.mail.MailParameters;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivery to other mail servers over SMTP: to the recipient domain's MX hosts (RFC 5321 §5.1)
 * or through a configured smart host ({@code [relay]}, {@code [routes."domain"]}).
 *
 * <p><b>Which server.</b> MX hosts in preference order, each of their addresses in turn; the
 * next is tried when one cannot be reached, greets with 4xx/5xx, or fails the TLS policy. A
 * null MX (RFC 7505) and a domain that does not exist fail at once; a DNS failure defers.
 *
 * <p><b>TLS</b> follows the policy for the domain (or smart host): {@code may} uses STARTTLS
 * when offered, with any certificate, and goes on in plain text if the handshake fails
 * (RFC 7435); {@code encrypt} and {@code verify} defer rather than send in clear, {@code verify}
 * also checks the certificate against the server's name. Credentials are only sent over TLS.
 *
 * <p><b>What is never sent wrong.</b> A message larger than the server's SIZE fails (5.3.4)
 * rather than being cut; one that needs SMTPUTF8 (non-ASCII addresses or headers) fails
 * (5.6.7) when the server lacks it, rather than being mangled. DSN parameters go on when the
 * server supports DSN, and then success notices are its business.
 *
 * <p>Connections are kept open for {@value #IDLE_SECONDS} seconds after a transaction and
 * reused for the next message to the same destination.
 */
public final class RemoteDelivery implements Outbound {
  private static final Logger log = LoggerFactory.getLogger(RemoteDelivery.class);
  static final int IDLE_SECONDS = 5;
  /** Transactions on one connection before it is closed, so one session cannot live forever. */
  private static final int MAX_REUSE = 100;

  private final PostaConfig.Delivery settings;
  private final String hostname;
  private final MxResolver resolver;
  private final Timeouts timeouts;
  /** Opportunistic TLS (may, encrypt): any certificate, since an unverified channel beats plain text. */
  private final SSLContext anyCertificate;
  private final SSLContext verifying;
  private final ConnectionCache cache = new ConnectionCache(IDLE_SECONDS);

  public RemoteDelivery(PostaConfig config, MxResolver resolver, Timeouts timeouts) throws IOException {
    this.settings = config.delivery();
    this.hostname = config.hostname();
    this.resolver = resolver;
    this.timeouts = timeouts;
    this.anyCertificate = anyCertificate();
    this.verifying = verifying(settings.trustedCertificates());
  }

  /**
   * The domain for MX delivery; for a smart host {@code [host]:port}, followed by what else
   * sets its connections apart (TLS, user), so routes to one host with different settings never
   * share a connection or a job.
   */
  @Override
  public String destinationOf(String domain) {
    return settings.relayFor(domain)
        .map(r -> "[" + r.host() + "]:" + r.port() + (r.implicitTls() ? "/implicit-tls" : "/" + r.tls().name().toLowerCase())
            + r.username().map(u -> "/" + u).orElse(""))
        .orElse(domain);
  }

  /** One server to try: the name it is known by (MX host or smart host) and one of its addresses. */
  private record Server(String name, InetSocketAddress address) {
    String describe() {
      return name + "[" + address.getAddress().getHostAddress() + "]:" + address.getPort();
    }
  }

  /** A server that could not take the mail at the connection level; the next one is tried. */
  private static final class Unavailable extends Exception {
    final String status;
    final String remoteMta;
    final String diagnostic;

    Unavailable(String status, String remoteMta, SmtpReply reply, String reason) {
      super(reason, null, false, false);
      this.status = status;
      this.remoteMta = remoteMta;
      this.diagnostic = diagnostic(reply);
    }
  }

  @Override
  public List<DeliveryResult> deliver(Delivery delivery) {
    List<Recipient> recipients = delivery.recipients();
    List<DeliveryResult> results = deliver(delivery.envelope(), delivery.size(), delivery.content(), delivery.destination(), recipients);
    for (int k = 0; k < recipients.size(); k++) {
      DeliveryResult r = results.get(k);
      String status = switch (r.kind()) {
        case DELIVERED, RELAYED -> "sent";
        case DEFERRED -> "deferred";
        case FAILED -> "bounced";
      };
      log.info("{}: to=<{}>, relay={}, dsn={}, status={} ({})", delivery.envelope().id(), recipients.get(k).address(),
          delivery.destination(), r.status(), status, r.describe());
    }
    return results;
  }

  private List<DeliveryResult> deliver(Envelope envelope, long size, MessageWriter content, String destination, List<Recipient> recipients) {
    // What cannot be written in an SMTP command fails alone, before any connection is made.
    if (envelope.sender() != null && !sendable(envelope.sender().toString())) {
      return all(recipients, DeliveryResult.failed("5.1.7", null, null, "the sender address cannot be written in an SMTP command"));
    }
    List<Recipient> sendable = recipients.stream().filter(r -> sendable(r.address())).toList();
    if (sendable.size() < recipients.size()) {
      List<DeliveryResult> some = sendable.isEmpty() ? List.of() : deliver(envelope, size, content, destination, sendable);
      List<DeliveryResult> out = new ArrayList<>();
      int k = 0;
      for (Recipient r : recipients) {
        out.add(sendable(r.address()) ? some.get(k++)
            : DeliveryResult.failed("5.1.3", null, null, "the address cannot be written in an SMTP command"));
      }
      return out;
    }
    // A connection still open to this destination needs no lookup at all.
    Connection reused = cache.take(destination);
    if (reused != null) return transact(reused, envelope, size, content, destination, recipients);

    String domain = Router.domainOf(recipients.getFirst().address());
    Optional<Relay> relay = settings.relayFor(domain);
    TlsPolicy policy = relay.map(Relay::tls).orElse(settings.tlsFor(domain));
    List<Server> servers = new ArrayList<>();
    DeliveryResult unreachable = servers(domain, relay, servers);
    if (unreachable != null) return all(recipients, unreachable);
    Unavailable last = null;
    for (Server server : servers) {
      try {
        return transact(open(server, relay, policy), envelope, size, content, destination, recipients);
      } catch (Unavailable u) {
        log.info("{}: to {}: {}", envelope.id(), destination, u.getMessage()); // the queue ID: a message's every attempt greps
        last = u;
      }
    }
    if (last == null) return all(recipients, DeliveryResult.deferred("4.4.1", null, null, "no server to try for " + destination));
    return all(recipients, DeliveryResult.deferred(last.status, last.remoteMta, last.diagnostic, last.getMessage()));
  }

  /**
   * Fills {@code servers} with where mail for {@code domain} can go, in the order to try: the
   * smart host, an address literal, or the MX hosts. Returns the result for every recipient when
   * there is nowhere to go (null MX, no such domain, a DNS failure, a loop), else null.
   */
  private DeliveryResult servers(String domain, Optional<Relay> relay, List<Server> servers) {
    if (relay.isPresent()) {
      try {
        for (InetAddress a : InetAddress.getAllByName(relay.get().host())) {
          servers.add(new Server(relay.get().host(), new InetSocketAddress(a, relay.get().port())));
        }
        return null;
      } catch (UnknownHostException e) {
        return DeliveryResult.deferred("4.4.3", null, null, "cannot resolve the smart host " + relay.get().host());
      }
    }
    if (domain.startsWith("[")) {
      // An address literal (RFC 5321 §4.1.3): that host, no DNS.
      String literal = domain.substring(1, domain.length() - 1);
      if (literal.regionMatches(true, 0, "IPv6:", 0, 5)) literal = literal.substring(5);
      try {
        servers.add(new Server(domain, new InetSocketAddress(InetAddress.ofLiteral(literal), settings.mxPort())));
        return null;
      } catch (IllegalArgumentException e) {
        return DeliveryResult.failed("5.1.2", null, null, "the address literal " + domain + " is not an IP address");
      }
    }
    return switch (resolver.resolve(domain)) {
      case MxResolver.NullMx n -> DeliveryResult.failed("5.1.10", null, null, "the domain " + domain + " accepts no mail (null MX, RFC 7505)");
      case MxResolver.NoSuchDomain n -> DeliveryResult.failed("5.1.2", null, null, "the domain " + domain + " cannot receive mail: " + n.reason());
      case MxResolver.TemporaryFailure t -> DeliveryResult.deferred("4.4.3", null, null, t.reason());
      case MxResolver.Hosts h -> {
        // RFC 5321 §5.1: when this host is itself an MX of the domain, only the more preferred
        // ones are candidates; when it is the most preferred, the mail would loop.
        int own = h.hosts().stream().filter(x -> x.name().equalsIgnoreCase(hostname))
            .mapToInt(MxResolver.MxHost::preference).min().orElse(Integer.MAX_VALUE);
        for (MxResolver.MxHost host : h.hosts()) {
          if (host.preference() >= own) continue;
          for (InetAddress a : host.addresses()) servers.add(new Server(host.name(), new InetSocketAddress(a, settings.mxPort())));
        }
        yield servers.isEmpty() && own != Integer.MAX_VALUE
            ? DeliveryResult.failed("5.4.6", null, null, "mail for " + domain + " loops back to myself (" + hostname + " is its best MX)")
            : null;
      }
    };
  }

  /** RFC 5321 paths are written inside angle brackets on one line: these characters cannot be. */
  private static boolean sendable(String address) {
    return address.chars().noneMatch(c -> c == '<' || c == '>' || c < 0x20 || c == 0x7f);
  }

  /** A reply as kept in notices and the queue ({@link DeliveryResult#shortened}). */
  static String diagnostic(SmtpReply reply) {
    return reply == null ? null : DeliveryResult.shortened(reply.oneLine());
  }

  private static List<DeliveryResult> all(List<Recipient> recipients, DeliveryResult result) {
    return recipients.stream().map(r -> result).toList();
  }

  /** A connection ready for MAIL FROM: greeted, TLS as the policy wants, authenticated if configured. */
  private Connection open(Server server, Optional<Relay> relay, TlsPolicy policy) throws Unavailable {
    boolean implicitTls = relay.map(Relay::implicitTls).orElse(false);
    SmtpClient client = connect(server, implicitTls, policy);
    try {
      return ready(client, server, relay, policy);
    } catch (Unavailable | RuntimeException e) {
      client.close(); // closing twice is harmless; a connection is never left behind
      throw e;
    }
  }

  private Connection ready(SmtpClient client, Server server, Optional<Relay> relay, TlsPolicy policy) throws Unavailable {
    try {
      client.hello(hostname);
      if (!client.isTls() && policy != TlsPolicy.NONE) {
        if (client.extensions().startTls()) {
          try {
            client.startTls(policy == TlsPolicy.VERIFY ? verifying : anyCertificate, server.name(), policy == TlsPolicy.VERIFY);
          } catch (IOException e) {
            client.close();
            if (policy != TlsPolicy.MAY) {
              throw new Unavailable("4.7.5", server.name(), null, "TLS with " + server.describe() + " failed: " + e.getMessage());
            }
            // RFC 7435: a failed opportunistic handshake must not stop the mail; go on in clear.
            log.info("TLS with {} failed ({}); sending in plain text, as TLS policy 'may' allows", server.describe(), e.getMessage());
            client = connect(server, false, TlsPolicy.NONE);
            client.hello(hostname);
          }
        } else if (policy != TlsPolicy.MAY) {
          client.quit();
          throw new Unavailable("4.7.4", server.name(), null,
              "TLS is required (policy " + policy.name().toLowerCase() + ") but " + server.describe() + " does not offer STARTTLS");
        }
      }
      if (relay.isPresent() && relay.get().username().isPresent()) {
        try {
          client.authenticate(relay.get().username().get(), relay.get().password().orElse(""));
        } catch (SmtpException e) {
          client.quit();
          throw new Unavailable("4.7.8", server.name(), e.reply(), e.reply() != null
              ? "authentication to " + server.describe() + " as " + relay.get().username().get() + " failed"
              : "authentication to " + server.describe() + " failed: " + e.getMessage());
        }
      }
      return new Connection(client, server.name(), server.describe());
    } catch (SmtpException e) {
      client.close();
      throw new Unavailable(e.reply() != null && e.reply().enhancedStatus() != null ? "4" + e.reply().enhancedStatus().substring(1) : "4.4.2",
          server.name(), e.reply(), "talking to " + server.describe() + ": " + e.getMessage());
    } catch (IOException e) {
      client.close();
      throw new Unavailable("4.4.2", server.name(), null, "talking to " + server.describe() + ": " + e.getMessage());
    }
  }

  private SmtpClient connect(Server server, boolean implicitTls, TlsPolicy policy) throws Unavailable {
    try {
      return implicitTls
          ? SmtpClient.connectImplicitTls(server.address(), policy == TlsPolicy.VERIFY ? verifying : anyCertificate, server.name(),
              policy == TlsPolicy.VERIFY, timeouts)
          : SmtpClient.connect(server.address(), timeouts);
    } catch (SmtpException e) {
      if (e.reply() != null) {
        throw new Unavailable("4.4.2", server.name(), e.reply(), server.describe() + " refused the connection: " + e.reply().oneLine());
      }
      // The client's message names the address again; at the TCP connect only its cause is news.
      boolean tcp = e.stage() == SmtpException.Stage.CONNECT && e.getCause() != null;
      String why = !tcp ? e.getMessage()
          : e.getCause() instanceof java.net.SocketTimeoutException ? "timed out" : e.getCause().getMessage();
      throw new Unavailable("4.4.1", server.name(), null, "cannot connect to " + server.describe() + ": " + why);
    } catch (IOException e) {
      throw new Unavailable("4.4.1", server.name(), null, "cannot connect to " + server.describe() + ": " + e.getMessage());
    }
  }

  /** One transaction on a ready connection; per-recipient results from the server's replies. */
  private List<DeliveryResult> transact(Connection c, Envelope env, long size, MessageWriter content, String destination,
      List<Recipient> recipients) {
    Extensions ext = c.client().extensions();
    if (ext.sizeLimit() > 0 && size > ext.sizeLimit()) {
      cache.put(destination, c);
      return all(recipients, DeliveryResult.failed("5.3.4", c.host(), null,
          "the message (" + size + " octets) is larger than " + c.host() + " accepts (" + ext.sizeLimit() + " octets)"));
    }
    if (env.parameters().body() == MailParameters.BodyType.EIGHT_BIT_MIME && !ext.eightBitMime() && hasEightBit(content)) {
      // RFC 6152 §3: 8-bit data must not go to a server that did not offer 8BITMIME.
      cache.put(destination, c);
      return all(recipients, DeliveryResult.failed("5.6.3", c.host(), null,
          "the message has 8-bit content but " + c.host() + " does not support 8BITMIME"));
    }
    boolean utf8 = needsSmtpUtf8(env, recipients, content);
    if (utf8 && !ext.smtpUtf8()) {
      cache.put(destination, c);
      return all(recipients, DeliveryResult.failed("5.6.7", c.host(), null,
          "the message needs SMTPUTF8 (non-ASCII addresses or headers) but " + c.host() + " does not support it"));
    }
    List<String> params = new ArrayList<>();
    if (env.parameters().body() == MailParameters.BodyType.EIGHT_BIT_MIME && ext.eightBitMime()) params.add("BODY=8BITMIME");
    if (utf8) params.add("SMTPUTF8");
    if (ext.dsn() && env.parameters().ret() != null) params.add("RET=" + env.parameters().ret());
    if (ext.dsn() && env.parameters().envelopeId() != null) params.add("ENVID=" + env.parameters().envelopeId());
    List<Transaction.Recipient> rcpts = new ArrayList<>();
    for (Recipient r : recipients) {
      List<String> p = new ArrayList<>();
      if (ext.dsn() && r.parameters().notifyOn() != null) p.add("NOTIFY=" + r.parameters().notifyOn());
      if (ext.dsn() && r.parameters().originalRecipient() != null) p.add("ORCPT=" + r.parameters().originalRecipient());
      rcpts.add(new Transaction.Recipient(r.address(), p));
    }
    String sender = env.sender() == null ? "" : env.sender().toString();
    TransactionResult result;
    try {
      result = c.client().send(new Transaction(sender, params, rcpts, size, content::writeTo));
    } catch (IOException | RuntimeException e) {
      c.client().close();
      SmtpReply reply = e instanceof SmtpException se ? se.reply() : null;
      return all(recipients, DeliveryResult.deferred("4.4.2", c.host(), diagnostic(reply),
          "lost the connection with " + c.describe() + ": " + e.getMessage()));
    }
    c.used();
    if (c.uses() < MAX_REUSE) cache.put(destination, c);
    else c.client().quit();
    String via = c.describe() + (c.client().isTls() ? " with " + c.client().tlsDescription() : "");
    List<DeliveryResult> out = new ArrayList<>();
    for (int i = 0; i < recipients.size(); i++) {
      SmtpReply reply = result.outcome(i);
      String status = reply.enhancedStatus();
      if (reply.isPositive()) {
        out.add(new DeliveryResult(DeliveryResult.Kind.RELAYED, status == null ? "2.0.0" : status, c.host(), diagnostic(reply),
            "delivered to " + via, ext.dsn(), false));
      } else if (reply.isTransient()) {
        out.add(DeliveryResult.deferred(status == null ? "4.0.0" : status, c.host(), diagnostic(reply), "deferred by " + c.describe()));
      } else {
        String why = "refused by " + c.describe();
        // Refused for the content (after the data, not at RCPT): a line over 998 octets is a likely
        // cause the sender can act on; the server's own words stay as they were, in the diagnostic.
        if (reply == result.data() && hasLongLines(content)) why += LONG_LINES_HINT;
        out.add(DeliveryResult.failed(status == null ? "5.0.0" : status, c.host(), diagnostic(reply), why));
      }
    }
    return sendTheRestAgain(env, size, content, destination, recipients, result, out);
  }

  /** What a bounce adds when a refused message has long lines: Posta's words, never presented as the server's. */
  static final String LONG_LINES_HINT = "; the message has a line longer than 998 octets (RFC 5322 §2.1.1), which some servers "
      + "refuse: it came from another server so and was passed on unchanged";

  /**
   * Whether the message has a line over 998 octets: read once more, only after a refusal. Mail
   * submitted here never has one (its long-line parts were re-encoded); mail relayed from elsewhere
   * keeps its octets, and may.
   */
  private static boolean hasLongLines(MessageWriter content) {
    var lines = new LongLines.Watch();
    try {
      content.writeTo(new WritableByteChannel() {
        @Override
        public int write(ByteBuffer src) {
          int n = src.remaining();
          byte[] b = new byte[n];
          src.get(b);
          lines.update(b, 0, n);
          return n;
        }

        @Override
        public boolean isOpen() {
          return true;
        }

        @Override
        public void close() {}
      });
    } catch (IOException | RuntimeException e) {
      return false; // the refusal is reported as it is, without the hint
    }
    return lines.longest() > LongLines.MAX_LINE;
  }

  /**
   * RFC 5321 §4.5.3.1.10: a server that takes only so many recipients per message answers the
   * others {@code 452} (with {@code 4.5.3}, or no enhanced code); they go at once in another
   * transaction rather than waiting for a retry, as long as each transaction delivers to someone
   * (so a server that refuses every recipient so is not asked again and again).
   */
  private List<DeliveryResult> sendTheRestAgain(Envelope env, long size, MessageWriter content, String destination,
      List<Recipient> recipients, TransactionResult result, List<DeliveryResult> out) {
    List<Integer> rest = new ArrayList<>();
    boolean someoneTook = false;
    for (int i = 0; i < recipients.size(); i++) {
      SmtpReply reply = result.outcome(i);
      someoneTook |= reply.isPositive();
      if (reply.code() == 452 && (reply.enhancedStatus() == null || reply.enhancedStatus().equals("4.5.3"))) rest.add(i);
    }
    if (rest.isEmpty() || !someoneTook) return out;
    List<DeliveryResult> again = deliver(env, size, content, destination, rest.stream().map(recipients::get).toList());
    for (int k = 0; k < rest.size(); k++) out.set(rest.get(k), again.get(k));
    return out;
  }

  /**
   * Whether the message really needs SMTPUTF8 downstream: it was submitted with it and has a
   * non-ASCII address or header. A client that asks for SMTPUTF8 out of habit for plain ASCII
   * mail should not have it bounced by an older server.
   */
  private static boolean needsSmtpUtf8(Envelope env, List<Recipient> recipients, MessageWriter content) {
    if (!env.parameters().smtpUtf8()) return false;
    if (env.sender() != null && env.sender().isUtf8()) return true;
    for (Recipient r : recipients) {
      if (!r.address().chars().allMatch(ch -> ch < 0x80)) return true;
    }
    var scanner = new HeaderScanner(true);
    try {
      content.writeTo(scanner);
    } catch (HeaderScanner.Done done) {
      // the header section ended
    } catch (IOException e) {
      return true; // cannot tell: be safe, never send 8-bit headers to a server that did not ask
    }
    return scanner.nonAscii;
  }

  /** Whether any octet of the content is above 127 (stops at the first). */
  private static boolean hasEightBit(MessageWriter content) {
    var scanner = new HeaderScanner(false);
    try {
      content.writeTo(scanner);
    } catch (HeaderScanner.Done done) {
      // found one
    } catch (IOException e) {
      return true; // cannot tell: be safe
    }
    return scanner.nonAscii;
  }

  /** Looks for octets above 127, in the header section only (stopping at the blank line) or in all. */
  private static final class HeaderScanner implements WritableByteChannel {
    static final class Done extends IOException {
      Done() {
        super(null, null);
      }
    }

    boolean nonAscii;
    private final boolean headersOnly;
    private int state; // how much of CR LF CR LF has been seen

    HeaderScanner(boolean headersOnly) {
      this.headersOnly = headersOnly;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      int n = src.remaining();
      while (src.hasRemaining()) {
        byte b = src.get();
        if (b < 0) nonAscii = true;
        state = switch (state) {
          case 0, 2 -> b == '\r' ? state + 1 : 0;
          case 1 -> b == '\n' ? 2 : b == '\r' ? 1 : 0;
          default -> b == '\n' ? 4 : b == '\r' ? 1 : 0;
        };
        if ((headersOnly && state == 4) || nonAscii) throw new Done();
      }
      return n;
    }

    @Override
    public boolean isOpen() {
      return true;
    }

    @Override
    public void close() {}
  }

  private static SSLContext anyCertificate() throws IOException {
    try {
      return OpportunisticTls.context();
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot set up TLS: " + e.getMessage(), e);
    }
  }

  /** Trusts the configured PEM certificates, or the JDK's CAs when none are configured. */
  private static SSLContext verifying(Optional<Path> trusted) throws IOException {
    try {
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      if (trusted.isPresent()) {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        try (InputStream in = Files.newInputStream(trusted.get())) {
          int n = 0;
          for (var cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) store.setCertificateEntry("ca" + n++, cert);
          if (n == 0) throw new IOException("no certificate in " + trusted.get());
        }
        tmf.init(store);
      } else {
        tmf.init((KeyStore) null);
      }
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      return ctx;
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot load trusted certificates: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    cache.close();
  }
}
