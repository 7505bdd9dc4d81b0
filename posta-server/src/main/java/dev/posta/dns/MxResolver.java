package dev.posta.dns;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.Cache;
import org.xbill.DNS.DClass;
import org.xbill.DNS.ExtendedResolver;
import org.xbill.DNS.Lookup;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Resolver;
import org.xbill.DNS.ResolverConfig;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * Finds where mail for a domain goes: its MX hosts in the order to try them, with their
 * addresses (RFC 5321 §5.1), or why there are none.
 *
 * <p>The MX set is sorted by preference, hosts of equal preference shuffled so load spreads as
 * the domain intends; each host's AAAA addresses come before its A addresses. A domain without
 * MX records is its own mail host ("implicit MX", from its A and AAAA records); a lone
 * {@code MX 0 .} is a null MX (RFC 7505): the domain takes no mail. Names are absolute, so no
 * search list ever turns {@code example.com} into {@code example.com.corp.lan}, and
 * {@code /etc/hosts} is not consulted: mail routing follows DNS only, as Postfix's
 * {@code smtp_host_lookup = dns} does.
 *
 * <p>Answers are cached by their TTL in one dnsjava {@link Cache} per resolver, negative answers
 * (NXDOMAIN, no such record) too, for their SOA's negative TTL (RFC 2308 §5). Failures
 * (SERVFAIL, REFUSED, timeouts) are never cached: the queue's retry schedule already spaces the
 * next attempt. DNS problems never throw; they are a {@link TemporaryFailure}, so mail is
 * deferred, not bounced, while a resolver is down.
 *
 * <p>Thread-safe: lookups share only the cache and resolver, both safe for concurrent use.
 * The A and AAAA lookups of the MX hosts run one after another; a domain has few MX hosts and
 * the cache answers most of them.
 */
public final class MxResolver {
  private static final Logger log = LoggerFactory.getLogger(MxResolver.class);

  /** Each configured server is asked this many times before a query counts as failed: one lost UDP datagram must not defer mail. */
  private static final int TRIES_PER_SERVER = 2;
  /** RFC 2308 §5: negative answers are cached no longer than a few hours, whatever the SOA says. */
  private static final int MAX_NEGATIVE_TTL_SECONDS = 3 * 60 * 60;
  /** A record set is looked up again after a day at most, so a moved mail host is noticed (unbound's cache-max-ttl). */
  private static final int MAX_TTL_SECONDS = 24 * 60 * 60;

  private final Resolver resolver;
  /** Shared by all lookups of this resolver: the MX set and host addresses of busy domains are asked once per TTL, not once per message. */
  private final Cache cache = new Cache(DClass.IN);

  /** Where mail for a domain goes. */
  public sealed interface Destination {}

  /**
   * Hosts in the order to try: MX preference ascending, shuffled among equal preferences
   * (RFC 5321 §5.1); each host's addresses IPv6 first then IPv4. {@code implicitMx} is true when
   * there was no MX and the domain's own A/AAAA are used.
   */
  public record Hosts(List<MxHost> hosts, boolean implicitMx) implements Destination {
    public Hosts {
      hosts = List.copyOf(hosts);
    }
  }

  /** One mail host: its name without the trailing dot, its MX preference, its addresses. */
  public record MxHost(String name, int preference, List<InetAddress> addresses) {
    public MxHost {
      addresses = List.copyOf(addresses);
    }
  }

  /** RFC 7505 null MX ("MX 0 ."): the domain accepts no mail. */
  public record NullMx() implements Destination {}

  /** NXDOMAIN, or the domain exists but has no MX and no A/AAAA: mail cannot be delivered. */
  public record NoSuchDomain(String reason) implements Destination {}

  /**
   * SERVFAIL, timeout, refused, or every MX host's addresses failed temporarily: try later.
   * {@code reason} is human-readable, e.g. "DNS lookup of MX for example.com failed: SERVFAIL".
   */
  public record TemporaryFailure(String reason) implements Destination {}

  /**
   * A resolver asking {@code servers}: each "host", "host:port" or "[IPv6]:port" (a bare IPv6
   * address means port 53); an empty list means the system's resolvers ({@code /etc/resolv.conf}).
   * {@code timeout} bounds one query, all servers and retries included.
   *
   * @throws IllegalArgumentException a server is not an address or resolvable name
   */
  public MxResolver(List<String> servers, Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("DNS timeout must be positive: " + timeout);
    List<InetSocketAddress> addresses = servers.isEmpty()
        ? ResolverConfig.getCurrentConfig().servers()
        : servers.stream().map(MxResolver::parseServer).toList();
    // One query's time is split across its tries, so a silent first server leaves time to ask
    // the next. dnsjava notices a try's timeout up to a second late; the overall timeout on the
    // ExtendedResolver is exact, and it is what bounds the query.
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

  /** Where mail for this domain (lower-case ASCII / A-label) goes. Never throws for DNS problems: they are a TemporaryFailure. */
  public Destination resolve(String domain) {
    Name name;
    try {
      name = Name.fromString(domain.endsWith(".") ? domain : domain + ".");
    } catch (TextParseException e) {
      // Not something DNS could ever answer for, so no later attempt will do better.
      return new NoSuchDomain("not a valid domain name: " + domain);
    }
    if (name.equals(Name.root)) return new NoSuchDomain("not a valid domain name: empty");
    String display = withoutDot(name);

    Answer mx = lookup(name, Type.MX);
    return switch (mx) {
      case Answer.Failed f -> new TemporaryFailure(f.describe("MX", display));
      case Answer.NoDomain _ -> new NoSuchDomain("no such domain (NXDOMAIN)");
      case Answer.NoRecords _ -> implicitMx(name, display);
      case Answer.Records r -> explicitMx(display, r.records());
    };
  }

  /** RFC 5321 §5.1: without MX records the domain itself is the mail host, preference 0. */
  private Destination implicitMx(Name name, String display) {
    HostAddresses host = addressesOf(name);
    if (!host.addresses().isEmpty()) {
      return new Hosts(List.of(new MxHost(display, 0, host.addresses())), true);
    }
    if (host.failure() != null) return new TemporaryFailure(host.failure());
    return new NoSuchDomain("no MX, A or AAAA records");
  }

  private Destination explicitMx(String display, List<Record> records) {
    List<MXRecord> mxs = records.stream().filter(MXRecord.class::isInstance).map(MXRecord.class::cast).toList();
    // RFC 7505 §3: a null MX is the only MX record of its domain.
    if (mxs.size() == 1 && mxs.getFirst().getTarget().equals(Name.root)) return new NullMx();

    // One entry per host, at its best preference: listing a host twice only delays the next one.
    Map<Name, Integer> preferenceOf = new LinkedHashMap<>();
    for (MXRecord mx : mxs) {
      if (mx.getTarget().equals(Name.root)) {
        // RFC 7505 §3 forbids a null MX beside other MX records. A domain that has both anyway is
        // misconfigured, not closed: its real hosts are tried rather than its mail bounced.
        log.debug("{}: ignoring null MX listed with other MX records", display);
        continue;
      }
      preferenceOf.merge(mx.getTarget(), mx.getPriority(), Math::min);
    }
    List<Map.Entry<Name, Integer>> ordered = new ArrayList<>(preferenceOf.entrySet());
    // Shuffle first, then a stable sort: hosts of equal preference stay in random order (RFC 5321 §5.1).
    Collections.shuffle(ordered, ThreadLocalRandom.current());
    ordered.sort(Map.Entry.comparingByValue());

    List<MxHost> hosts = new ArrayList<>();
    String failure = null;
    for (Map.Entry<Name, Integer> entry : ordered) {
      String hostName = withoutDot(entry.getKey());
      HostAddresses host = addressesOf(entry.getKey());
      if (!host.addresses().isEmpty()) {
        hosts.add(new MxHost(hostName, entry.getValue(), host.addresses()));
      } else if (host.failure() != null) {
        log.debug("{}: skipping MX host {} for now: {}", display, hostName, host.failure());
        if (failure == null) failure = host.failure();
      } else {
        log.debug("{}: skipping MX host {}: no A or AAAA records", display, hostName);
      }
    }
    if (!hosts.isEmpty()) return new Hosts(hosts, false);
    if (failure != null) return new TemporaryFailure("no MX host of " + display + " has addresses; " + failure);
    return new NoSuchDomain("MX hosts have no addresses");
  }

  /** A host's addresses (AAAA first, then A) and, if none were found, the temporary failure that may explain it. */
  private record HostAddresses(List<InetAddress> addresses, String failure) {}

  private HostAddresses addressesOf(Name host) {
    List<InetAddress> addresses = new ArrayList<>();
    String failure = null;
    String display = withoutDot(host);
    // IPv6 first: where both work, the newer protocol is preferred, as in RFC 6724's default policy.
    for (int type : new int[] {Type.AAAA, Type.A}) {
      switch (lookup(host, type)) {
        case Answer.Records r -> {
          for (Record record : r.records()) {
            if (record instanceof AAAARecord aaaa) addresses.add(aaaa.getAddress());
            else if (record instanceof ARecord a) addresses.add(a.getAddress());
          }
        }
        case Answer.Failed f -> {
          if (failure == null) failure = f.describe(Type.string(type), display);
        }
        case Answer.NoDomain _, Answer.NoRecords _ -> {}
      }
    }
    return new HostAddresses(addresses, addresses.isEmpty() ? failure : null);
  }

  /** What one DNS question got, in the four cases mail routing tells apart. */
  private sealed interface Answer {
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

  private Answer lookup(Name name, int type) {
    Lookup lookup = new Lookup(name, type, DClass.IN);
    lookup.setResolver(resolver);
    lookup.setCache(cache);
    lookup.setSearchPath(List.of()); // names are absolute; never the system's search list
    lookup.setHostsFileParser(null); // mail routing follows DNS, not /etc/hosts
    lookup.setCycleResults(false); // keep the server's order; equal MX preferences are shuffled here
    try {
      Record[] records = lookup.run();
      return switch (lookup.getResult()) {
        case Lookup.SUCCESSFUL -> new Answer.Records(List.of(records));
        case Lookup.HOST_NOT_FOUND -> new Answer.NoDomain();
        case Lookup.TYPE_NOT_FOUND -> new Answer.NoRecords();
        // TRY_AGAIN: SERVFAIL, REFUSED, timeout, network error. UNRECOVERABLE: a referral from a
        // non-recursive server, a CNAME loop: a problem of the DNS too, not proof the domain has no mail.
        default -> new Answer.Failed(lookup.getErrorString());
      };
    } catch (RuntimeException e) {
      // dnsjava reports DNS trouble through the result code; anything thrown is a bug or a
      // malformed answer, and a deferred message is better than a lost one.
      log.debug("Lookup of {}/{} threw", name, Type.string(type), e);
      return new Answer.Failed(Objects.toString(e.getMessage(), e.getClass().getSimpleName()));
    }
  }

  private static String withoutDot(Name name) {
    return name.toString(true);
  }
}
