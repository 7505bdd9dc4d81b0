package dev.posta.dns;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Name;
import org.xbill.DNS.PTRRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.ReverseMap;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * {@link DnsRecords} on dnsjava, through a {@link DnsResolver}: the TXT, A, AAAA, MX and PTR
 * questions SPF, DKIM and DMARC ask, answered from the resolver's TTL cache when it can.
 *
 * <p>Guarantees: positive and negative answers (NXDOMAIN, NODATA) are cached by their TTL,
 * failures never (see {@link DnsResolver}); CNAMEs are followed; nothing throws. A TXT record's
 * character-strings are joined without spaces (RFC 7208 §3.3, RFC 6376 §3.6.2.2), each octet one
 * char (ISO-8859-1): nothing is lost, and a check that wants US-ASCII sees the other octets as
 * they are. A name DNS cannot carry (an empty or over-long label, over 255 octets) has nothing
 * and never will: it is answered as NXDOMAIN without a question. An IPv4-mapped IPv6 address's
 * PTR is asked under in-addr.arpa, as the IPv4 address it is (RFC 7208 §5).
 *
 * <p>Known limits: no DNSSEC validation; host names in MX and PTR answers are given as DNS has
 * them (letter case included), without the trailing dot, the root as the empty string.
 */
public final class ResolverRecords implements DnsRecords {
  private final DnsResolver dns;
  /** Answers from the cache alone, or null for the records that are that view ({@link #cachedOnly}). */
  private final ResolverRecords cachedOnly;
  /** For {@link #cachedOnly}'s view: a question the cache cannot answer throws {@link NotCached} instead of asking. */
  private final boolean cacheOnly;

  /** Records asked of {@code servers} within {@code timeout}, as {@link DnsResolver#DnsResolver} takes them. */
  public ResolverRecords(List<String> servers, Duration timeout) {
    this(new DnsResolver(servers, timeout));
  }

  /** Records asked through {@code dns}, sharing its servers and cache (with an {@link MxResolver}, say). */
  public ResolverRecords(DnsResolver dns) {
    this.dns = Objects.requireNonNull(dns);
    this.cacheOnly = false;
    this.cachedOnly = new ResolverRecords(dns, true);
  }

  private ResolverRecords(DnsResolver dns, boolean cacheOnly) {
    this.dns = dns;
    this.cacheOnly = cacheOnly;
    this.cachedOnly = null;
  }

  /** The same records from the resolver's cache alone: a question it cannot answer from there throws {@link NotCached}. */
  @Override
  public DnsRecords cachedOnly() {
    return cacheOnly ? this : cachedOnly;
  }

  @Override
  public Answer<String> txt(String name) {
    return ask(name, Type.TXT, record -> record instanceof TXTRecord txt ? joined(txt) : null);
  }

  @Override
  public Answer<InetAddress> a(String name) {
    return ask(name, Type.A, record -> record instanceof ARecord a ? bare(a.getAddress()) : null);
  }

  @Override
  public Answer<InetAddress> aaaa(String name) {
    return ask(name, Type.AAAA, record -> record instanceof AAAARecord aaaa ? bare(aaaa.getAddress()) : null);
  }

  @Override
  public Answer<String> mx(String name) {
    return ask(name, Type.MX, record -> record instanceof MXRecord mx ? hostName(mx.getTarget()) : null);
  }

  @Override
  public Answer<String> ptr(InetAddress address) {
    Name reverse = ReverseMap.fromAddress(dev.posta.mail.IpAddresses.unmapped(address));
    return ask(reverse, DnsResolver.withoutDot(reverse), Type.PTR, record -> record instanceof PTRRecord ptr ? hostName(ptr.getTarget()) : null);
  }

  /** Takes what a check needs from one record of the answer; null for a record of another type. */
  private interface Extract<T> {
    T from(Record record);
  }

  private <T> Answer<T> ask(String name, int type, Extract<T> extract) {
    Name absolute = absolute(name);
    if (absolute == null) return new NoRecords<>(true);
    return ask(absolute, name, type, extract);
  }

  private <T> Answer<T> ask(Name name, String display, int type, Extract<T> extract) {
    DnsResolver.Answer answer = cacheOnly ? dns.cached(name, type) : dns.lookup(name, type);
    if (answer == null) throw new NotCached();
    return switch (answer) {
      case DnsResolver.Answer.Records r -> {
        List<T> values = new ArrayList<>(r.records().size());
        for (Record record : r.records()) {
          T value = extract.from(record);
          if (value != null) values.add(value);
        }
        // Records of other types only (never seen from dnsjava's Lookup): as good as none.
        yield values.isEmpty() ? new NoRecords<>(false) : new Records<>(values);
      }
      case DnsResolver.Answer.NoDomain _ -> new NoRecords<>(true);
      case DnsResolver.Answer.NoRecords _ -> new NoRecords<>(false);
      case DnsResolver.Answer.Failed f -> new Failure<>(f.describe(Type.string(type), display));
    };
  }

  /**
   * The name as dnsjava's absolute Name, or null if DNS cannot carry it. A backslash is escaped:
   * it is a character of the name here, not the start of a master-file escape.
   */
  private static Name absolute(String name) {
    String text = name.indexOf('\\') >= 0 ? name.replace("\\", "\\\\") : name;
    if (text.isEmpty() || text.equals(".") || text.startsWith(".") || text.equals("@")) return null;
    if (!text.endsWith(".")) text = text + ".";
    try {
      return Name.fromString(text);
    } catch (TextParseException e) {
      return null;
    }
  }

  private static String joined(TXTRecord txt) {
    List<byte[]> strings = txt.getStringsAsByteArrays();
    if (strings.size() == 1) return new String(strings.getFirst(), StandardCharsets.ISO_8859_1);
    StringBuilder joined = new StringBuilder();
    for (byte[] s : strings) joined.append(new String(s, StandardCharsets.ISO_8859_1));
    return joined.toString();
  }

  /** The address alone: dnsjava names it after the record's owner, which equals() ignores but toString() and logs would show as if it were a reverse lookup. */
  private static InetAddress bare(InetAddress address) {
    try {
      return InetAddress.getByAddress(address.getAddress());
    } catch (UnknownHostException e) {
      throw new AssertionError("four or sixteen octets are an address", e);
    }
  }

  private static String hostName(Name name) {
    return name.equals(Name.root) ? "" : DnsResolver.withoutDot(name);
  }
}
