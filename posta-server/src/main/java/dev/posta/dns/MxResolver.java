package dev.posta.dns;

import dev.posta.dns.DnsResolver.Answer;
import java.net.InetAddress;
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
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
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
 * <p>Answers come through a {@link DnsResolver}: cached by their TTL, negative answers
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

  /** The servers, timeout and TTL cache; possibly shared with the sender-authentication lookups. */
  private final DnsResolver dns;

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
    this(new DnsResolver(servers, timeout));
  }

  /** MX resolution through {@code dns}, sharing its servers and cache. */
  public MxResolver(DnsResolver dns) {
    this.dns = Objects.requireNonNull(dns);
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

  private Answer lookup(Name name, int type) {
    return dns.lookup(name, type);
  }

  private static String withoutDot(Name name) {
    return DnsResolver.withoutDot(name);
  }
}
