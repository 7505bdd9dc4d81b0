package dev.posta.dns;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * DNS answered from records held in memory, never from the network: capture mode's test zone
 * ({@code posta dev}, the JUnit extension), against which the sender checks of captured mail run.
 *
 * <p>Guarantees: a name with records of the type asked gets them, in the order they were added;
 * any other name gets "no records" (NXDOMAIN when the name has no record of any type, NODATA
 * otherwise), as SPF's void lookups and DMARC's "no policy" expect; a {@link DnsRecords.Failure}
 * only for a name marked with {@link Builder#failing}, to see how a check reports a temporary
 * error. No question ever leaves the process, so it is also its own {@link #cachedOnly()} view:
 * every check finishes without waiting. Names are compared without letter case and trailing dot
 * (RFC 4343). Immutable, therefore thread-safe.
 */
public final class MemoryZone implements DnsRecords {
  private final Map<String, List<String>> txt;
  private final Map<String, List<InetAddress>> a;
  private final Map<String, List<InetAddress>> aaaa;
  private final Map<String, List<String>> mx;
  /** PTR records by the address they name. */
  private final Map<InetAddress, List<String>> ptr;
  /** Every name with a record of some type: the others are NXDOMAIN. */
  private final Set<String> names;
  private final Set<String> failing;

  private MemoryZone(Builder b) {
    txt = copy(b.txt);
    a = copy(b.a);
    aaaa = copy(b.aaaa);
    mx = copy(b.mx);
    ptr = copy(b.ptr);
    names = Set.copyOf(b.names);
    failing = Set.copyOf(b.failing);
  }

  public static Builder builder() {
    return new Builder();
  }

  @Override
  public Answer<String> txt(String name) {
    return answer(txt, name);
  }

  @Override
  public Answer<InetAddress> a(String name) {
    return answer(a, name);
  }

  @Override
  public Answer<InetAddress> aaaa(String name) {
    return answer(aaaa, name);
  }

  @Override
  public Answer<String> mx(String name) {
    return answer(mx, name);
  }

  @Override
  public Answer<String> ptr(InetAddress address) {
    List<String> hosts = ptr.get(address);
    return hosts != null ? new Records<>(hosts) : new NoRecords<>(true);
  }

  /** Everything is known here: the view that answers without asking a server is the zone itself. */
  @Override
  public DnsRecords cachedOnly() {
    return this;
  }

  private <T> Answer<T> answer(Map<String, List<T>> byName, String name) {
    String key = key(name);
    if (failing.contains(key)) return new Failure<>("the test zone is set to fail for " + key);
    List<T> records = byName.get(key);
    if (records != null) return new Records<>(records);
    return new NoRecords<>(!names.contains(key));
  }

  private static <K, T> Map<K, List<T>> copy(Map<K, List<T>> m) {
    Map<K, List<T>> copy = new HashMap<>();
    m.forEach((k, v) -> copy.put(k, List.copyOf(v)));
    return Map.copyOf(copy);
  }

  static String key(String name) {
    String n = name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
    return n.toLowerCase(Locale.ROOT);
  }

  /** Collects the records of a zone. Not thread-safe; {@link #build} copies. */
  public static final class Builder {
    private final Map<String, List<String>> txt = new HashMap<>();
    private final Map<String, List<InetAddress>> a = new HashMap<>();
    private final Map<String, List<InetAddress>> aaaa = new HashMap<>();
    private final Map<String, List<String>> mx = new HashMap<>();
    private final Map<InetAddress, List<String>> ptr = new HashMap<>();
    private final Set<String> names = new HashSet<>();
    private final Set<String> failing = new HashSet<>();

    private Builder() {}

    /** A TXT record: its text with its character-strings already joined (RFC 7208 §3.3). */
    public Builder txt(String name, String text) {
      return add(txt, name, text);
    }

    /**
     * An address record: A for IPv4, AAAA for IPv6.
     */
    public Builder address(String name, InetAddress address) {
      return add(address.getAddress().length == 4 ? a : aaaa, name, address);
    }

    /** An MX record's exchange host. */
    public Builder mx(String name, String exchange) {
      return add(mx, name, key(exchange));
    }

    /** A PTR record of {@code address}'s reverse name. */
    public Builder ptr(InetAddress address, String host) {
      ptr.computeIfAbsent(address, k -> new ArrayList<>()).add(key(host));
      return this;
    }

    /** Every question about {@code name} fails (as a timeout would): for testing temperror results. */
    public Builder failing(String name) {
      failing.add(key(name));
      return this;
    }

    private <T> Builder add(Map<String, List<T>> byName, String name, T value) {
      String k = key(name);
      names.add(k);
      byName.computeIfAbsent(k, x -> new ArrayList<>()).add(value);
      return this;
    }

    public MemoryZone build() {
      return new MemoryZone(this);
    }
  }
}
