package dev.posta.mailauth.dmarc;

import dev.posta.dns.DnsRecords;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** TXT records held in memory for DMARC's unit tests; a name marked failing answers as a timed-out server would. The real resolver is tested against dnsmasq. */
final class ZoneRecords implements DnsRecords {
  private final Map<String, List<String>> txt = new HashMap<>();
  private final Map<String, String> failing = new HashMap<>();

  ZoneRecords txt(String name, String... records) {
    txt.put(name, List.of(records));
    return this;
  }

  ZoneRecords failing(String name) {
    failing.put(name, "timed out");
    return this;
  }

  @Override
  public Answer<String> txt(String name) {
    if (failing.containsKey(name)) return new Failure<>(failing.get(name));
    List<String> records = txt.get(name);
    return records == null ? new NoRecords<>(true) : new Records<>(records);
  }

  @Override
  public Answer<InetAddress> a(String name) {
    throw new UnsupportedOperationException("DMARC asks TXT only");
  }

  @Override
  public Answer<InetAddress> aaaa(String name) {
    throw new UnsupportedOperationException("DMARC asks TXT only");
  }

  @Override
  public Answer<String> mx(String name) {
    throw new UnsupportedOperationException("DMARC asks TXT only");
  }

  @Override
  public Answer<String> ptr(InetAddress address) {
    throw new UnsupportedOperationException("DMARC asks TXT only");
  }
}
