package dev.posta.dns;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.Cache;
import org.xbill.DNS.DClass;
import org.xbill.DNS.ExtendedResolver;
import org.xbill.DNS.Lookup;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.ResolverConfig;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * One configured DNS resolver (dnsjava): the servers to ask, how long a question may take, how
 * often each server is asked, and the TTL cache of the answers. {@link MxResolver} (mail
 * routing) and {@link ResolverRecords} (sender authentication) both ask through one, so a
 * server assembled once shares its cache between delivery and the checks.
 *
 * <p>Guarantees: names are absolute (no search list) and {@code /etc/hosts} is never consulted;
 * every question ends within the configured timeout, all servers and tries included; answers
 * are cached by their TTL, capped at a day, and negative answers (NXDOMAIN, NODATA) too, for
 * their SOA's negative TTL capped at three hours (RFC 2308 §5); failures (SERVFAIL, REFUSED,
 * timeouts) are never cached. A question never throws: DNS trouble is an {@link Answer.Failed}.
 *
 * <p>Thread-safe: questions share only the cache and the dnsjava resolver, both safe for
 * concurrent use. Known limit: no DNSSEC validation; answers are believed as the configured
 * recursive servers give them.
 */
public final class DnsResolver {
  private static final Logger log = LoggerFactory.getLogger(DnsResolver.class);

  /** Each configured server is asked this many times before a query counts as failed: one lost UDP datagram must not defer mail. */
  private static final int TRIES_PER_SERVER = 2;
  /** RFC 2308 §5: negative answers are cached no longer than a few hours, whatever the SOA says. */
  private static final int MAX_NEGATIVE_TTL_SECONDS = 3 * 60 * 60;
  /** A record set is looked up again after a day at most, so a moved mail host is noticed (unbound's cache-max-ttl). */
  private static final int MAX_TTL_SECONDS = 24 * 60 * 60;

  private final Resolver resolver;
  /** Shared by all questions through this resolver: busy domains' records are asked once per TTL, not once per message. */
  private final Cache cache = new Cache(DClass.IN);

  /**
   * A resolver asking {@code servers}: each "host", "host:port" or "[IPv6]:port" (a bare IPv6
   * address means port 53); an empty list means the system's resolvers ({@code /etc/resolv.conf}).
   * {@code timeout} bounds one question, all servers and retries included.
   *
   * @throws IllegalArgumentException a server is not an address or resolvable name, or the timeout is not positive
   */
  public DnsResolver(List<String> servers, Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("DNS timeout must be positive: " + timeout);
    List<InetSocketAddress> addresses = servers.isEmpty()
        ? ResolverConfig.getCurrentConfig().servers()
        : servers.stream().map(DnsResolver::parseServer).toList();
    // One question's time is split across its tries, so a silent first server leaves time to ask
    // the next. dnsjava notices a try's timeout up to a second late; the overall timeout on the
    // ExtendedResolver is exact, and it is what bounds the question.
    Duration perTry = timeout.dividedBy((long) TRIES_PER_SERVER * Math.max(1, addresses.size()));
    List<Resolver> simple = new ArrayList<>();
    for (InetSocketAddress address : addresses) {
      SimpleResolver r = new SimpleResolver(address);
      r.setTimeout(perTry);
      simple.add(r);
    }
    ExtendedResolver extended = new BoundedResolver(simple);
    extended.setRetries(TRIES_PER_SERVER);
    extended.setTimeout(timeout);
    this.resolver = extended;
    cache.setMaxNCache(MAX_NEGATIVE_TTL_SECONDS);
    cache.setMaxCache(MAX_TTL_SECONDS);
  }

  /**
   * dnsjava's ExtendedResolver, its overall timeout reported as a timeout. It throws a plain
   * IOException then (from one of two places, with or without a cause), which Lookup calls
   * "network error"; "timed out" is what an operator reading a deferral reason needs to see.
   */
  private static final class BoundedResolver extends ExtendedResolver {
    BoundedResolver(List<Resolver> resolvers) {
      super(resolvers);
    }

    @Override
    public Message send(Message query) throws IOException {
      long start = System.nanoTime();
      try {
        return super.send(query);
      } catch (IOException e) {
        if (!(e instanceof InterruptedIOException) && System.nanoTime() - start >= getTimeout().toNanos()) {
          SocketTimeoutException timeout = new SocketTimeoutException(e.getMessage());
          timeout.initCause(e);
          throw timeout;
        }
        throw e;
      }
    }
  }

  /** "host", "host:port", "[v6]:port", "[v6]" or a bare IPv6 address, as a socket address (port 53 by default). */
  static InetSocketAddress parseServer(String server) {
    String host = server.strip();
    int port = SimpleResolver.DEFAULT_PORT;
    if (host.startsWith("[")) {
      int close = host.indexOf(']');
      if (close < 0) throw new IllegalArgumentException("DNS server " + server + ": missing ']'");
      String rest = host.substring(close + 1);
      host = host.substring(1, close);
      if (!rest.isEmpty()) {
        if (!rest.startsWith(":")) throw new IllegalArgumentException("DNS server " + server + ": expected ':port' after ']'");
        port = parsePort(server, rest.substring(1));
      }
    } else if (host.indexOf(':') >= 0 && host.indexOf(':') == host.lastIndexOf(':')) {
      port = parsePort(server, host.substring(host.indexOf(':') + 1));
      host = host.substring(0, host.indexOf(':'));
    } // else: a name, an IPv4 address or a bare IPv6 address, port 53
    if (host.isEmpty()) throw new IllegalArgumentException("DNS server " + server + ": no host");
    try {
      return new InetSocketAddress(InetAddress.getByName(host), port);
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("DNS server " + server + ": unknown host", e);
    }
  }

  private static int parsePort(String server, String port) {
    try {
      int p = Integer.parseInt(port);
      if (p < 1 || p > 65535) throw new NumberFormatException();
      return p;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("DNS server " + server + ": bad port '" + port + "'");
    }
  }

  /** What one DNS question got, in the four cases mail routing and sender authentication tell apart. */
  sealed interface Answer {
    /** The records of the type asked, CNAMEs followed; never empty. */
    record Records(List<Record> records) implements Answer {}

    /** NXDOMAIN: the name does not exist. */
    record NoDomain() implements Answer {}

    /** NOERROR without records of the type asked (NODATA). */
    record NoRecords() implements Answer {}

    /** SERVFAIL, REFUSED, timeout, network error, or an answer that makes no sense: ask again later. */
    record Failed(String error) implements Answer {
      String describe(String type, String name) {
        return "DNS lookup of " + type + " for " + name + " failed: " + error;
      }
    }
  }

  /** Asks for the records of {@code type} at {@code name}, from the cache if it has them. Never throws. */
  Answer lookup(Name name, int type) {
    return lookup(name, type, resolver);
  }

  /**
   * The answer {@link #lookup} would give from the cache alone (CNAMEs followed through it), or
   * null when the cache cannot give it: no server is asked. Failures are never cached, so every
   * {@link Answer.Failed} here is "not cached" and gives null. Never throws.
   */
  Answer cached(Name name, int type) {
    Answer a = lookup(name, type, CacheOnly.INSTANCE);
    return a instanceof Answer.Failed ? null : a;
  }

  /** The resolver of {@link #cached}: every query it would send fails at once, so only the cache answers. */
  private static final class CacheOnly implements Resolver {
    static final CacheOnly INSTANCE = new CacheOnly();

    @Override
    public Message send(Message query) throws IOException {
      throw new NotAsked();
    }

    @Override
    public java.util.concurrent.CompletionStage<Message> sendAsync(Message query) {
      return java.util.concurrent.CompletableFuture.failedFuture(new NotAsked());
    }

    @Override
    public void setPort(int port) {}

    @Override
    public void setTCP(boolean flag) {}

    @Override
    public void setIgnoreTruncation(boolean flag) {}

    @Override
    public void setEDNS(int version, int payloadSize, int flags, List<org.xbill.DNS.EDNSOption> options) {}

    @Override
    public void setTSIGKey(org.xbill.DNS.TSIG key) {}

    @Override
    public void setTimeout(Duration timeout) {}
  }

  /** What {@link CacheOnly} fails with: no stack trace, a miss is no error. */
  private static final class NotAsked extends IOException {
    NotAsked() {
      super("not cached; not asked");
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  }

  private Answer lookup(Name name, int type, Resolver resolver) {
    Lookup lookup = new Lookup(name, type, DClass.IN);
    lookup.setResolver(resolver);
    lookup.setCache(cache);
    // Never the system's search list. An absolute name (every name Posta asks) is looked up as it
    // is and the list is not read; setting it anyway cost a stream per question, a third of the time
    // of an answer from the cache in a profile of the sender checks.
    if (!name.isAbsolute()) lookup.setSearchPath(List.of());
    lookup.setHostsFileParser(null); // mail follows DNS, not /etc/hosts
    lookup.setCycleResults(false); // keep the server's order; MX preferences are shuffled by MxResolver
    try {
      Record[] records = lookup.run();
      return switch (lookup.getResult()) {
        case Lookup.SUCCESSFUL -> new Answer.Records(List.of(records));
        case Lookup.HOST_NOT_FOUND -> new Answer.NoDomain();
        case Lookup.TYPE_NOT_FOUND -> new Answer.NoRecords();
        // TRY_AGAIN: SERVFAIL, REFUSED, timeout, network error. UNRECOVERABLE: a referral from a
        // non-recursive server, a CNAME loop: a problem of the DNS too, not proof the name has nothing.
        default -> new Answer.Failed(lookup.getErrorString());
      };
    } catch (RuntimeException e) {
      // dnsjava reports DNS trouble through the result code; anything thrown is a bug or a
      // malformed answer, and a temporary failure is the answer that loses nothing.
      log.debug("Lookup of {}/{} threw", name, Type.string(type), e);
      return new Answer.Failed(Objects.toString(e.getMessage(), e.getClass().getSimpleName()));
    }
  }

  /** A name as Posta shows and compares it: without the trailing dot. */
  static String withoutDot(Name name) {
    return name.toString(true);
  }
}
