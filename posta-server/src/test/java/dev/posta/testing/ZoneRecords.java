package dev.posta.testing;

import dev.posta.dns.DnsRecords;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.xbill.DNS.ReverseMap;

/**
 * An in-memory {@link DnsRecords} for tests that need DNS answers no real server gives on
 * demand: timeouts of one record type but not another, malformed records, answers in a fixed
 * order. For tests of the real path, see {@link Dnsmasq}.
 *
 * <p>Each name has an ordered list of entries: records, CNAMEs, and TIMEOUT markers. A question
 * collects the records of its type in order; a CNAME sends it to the target (a loop is a
 * failure, as a resolver reports it); a TIMEOUT reached before any record of the type is a
 * failure, one reached after is the end of the answer (the test-suite semantics of pyspf's
 * driver, which the RFC 7208 suite's zone data is written for). A name without entries is
 * NXDOMAIN; a name with entries but none of the type asked is NODATA. Names are compared without
 * letter case and trailing dot. Every question is logged in {@link #questions()}.
 */
public final class ZoneRecords implements DnsRecords {
  private enum Kind { TXT, A, AAAA, MX, PTR, CNAME, TIMEOUT }

  private record Entry(Kind kind, Object value) {}

  private static final int MAX_CNAME_CHAIN = 8;

  private final Map<String, List<Entry>> zone = new HashMap<>();
  private final List<String> questions = Collections.synchronizedList(new ArrayList<>());

  /** A TXT record of one or more character-strings, joined without spaces as a resolver gives them. */
  public ZoneRecords txt(String name, String... strings) {
    return add(name, Kind.TXT, String.join("", strings));
  }

  public ZoneRecords a(String name, String ipv4) {
    return add(name, Kind.A, InetAddress.ofLiteral(ipv4));
  }

  public ZoneRecords aaaa(String name, String ipv6) {
    return add(name, Kind.AAAA, InetAddress.ofLiteral(ipv6));
  }

  /** An MX record's exchange ("" for the root, a null MX). */
  public ZoneRecords mx(String name, String exchange) {
    return add(name, Kind.MX, stripDot(exchange));
  }

  /** A PTR record of {@code address}'s reverse name. */
  public ZoneRecords ptr(String address, String host) {
    return ptrAt(reverseName(InetAddress.ofLiteral(address)), host);
  }

  /** A PTR record at a reverse name given as such (x.x.in-addr.arpa). */
  public ZoneRecords ptrAt(String reverseName, String host) {
    return add(reverseName, Kind.PTR, stripDot(host));
  }

  public ZoneRecords cname(String alias, String target) {
    return add(alias, Kind.CNAME, stripDot(target));
  }

  /** A TIMEOUT marker: questions of a type with no record before it fail. */
  public ZoneRecords timeout(String name) {
    return add(name, Kind.TIMEOUT, null);
  }

  /** Makes {@code name} exist (NODATA for every type) without records. */
  public ZoneRecords exists(String name) {
    zone.computeIfAbsent(key(name), k -> new ArrayList<>());
    return this;
  }

  /** Every question asked so far, as "TYPE name" (PTR questions by the address). */
  public List<String> questions() {
    synchronized (questions) {
      return List.copyOf(questions);
    }
  }

  private ZoneRecords add(String name, Kind kind, Object value) {
    zone.computeIfAbsent(key(name), k -> new ArrayList<>()).add(new Entry(kind, value));
    return this;
  }

  @Override
  public Answer<String> txt(String name) {
    questions.add("TXT " + name);
    return answer(key(name), Kind.TXT, 0);
  }

  @Override
  public Answer<InetAddress> a(String name) {
    questions.add("A " + name);
    return answer(key(name), Kind.A, 0);
  }

  @Override
  public Answer<InetAddress> aaaa(String name) {
    questions.add("AAAA " + name);
    return answer(key(name), Kind.AAAA, 0);
  }

  @Override
  public Answer<String> mx(String name) {
    questions.add("MX " + name);
    return answer(key(name), Kind.MX, 0);
  }

  @Override
  public Answer<String> ptr(InetAddress address) {
    questions.add("PTR " + address.getHostAddress());
    return answer(reverseName(address), Kind.PTR, 0);
  }

  @SuppressWarnings("unchecked")
  private <T> Answer<T> answer(String name, Kind kind, int chain) {
    if (chain > MAX_CNAME_CHAIN) return new Failure<>("CNAME loop at " + name);
    List<Entry> entries = zone.get(name);
    if (entries == null) return new NoRecords<>(true);
    List<T> values = new ArrayList<>();
    for (Entry e : entries) {
      if (e.kind() == Kind.TIMEOUT) {
        if (values.isEmpty()) return new Failure<>("DNS lookup of " + kind + " for " + name + " failed: timed out");
        break;
      }
      if (e.kind() == Kind.CNAME) return answer(key((String) e.value()), kind, chain + 1);
      if (e.kind() == kind) values.add((T) e.value());
    }
    return values.isEmpty() ? new NoRecords<>(false) : new Records<>(values);
  }

  private static String reverseName(InetAddress address) {
    return key(ReverseMap.fromAddress(address).toString(true));
  }

  private static String key(String name) {
    return stripDot(name).toLowerCase(Locale.ROOT);
  }

  private static String stripDot(String name) {
    return name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
  }
}
