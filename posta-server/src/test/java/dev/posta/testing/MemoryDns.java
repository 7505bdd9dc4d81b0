package dev.posta.testing;

import dev.posta.dns.DnsRecords;
import java.net.InetAddress;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * DNS answers a unit test sets up, in memory: TXT records per name, or a failure. Every other
 * question is answered NXDOMAIN. Counts the TXT questions, so a test can see how many lookups a
 * check made. For tests that need a real DNS server, see {@link Dnsmasq}.
 */
public final class MemoryDns implements DnsRecords {
  private final Map<String, Answer<String>> txt = new HashMap<>();
  private final AtomicInteger txtQuestions = new AtomicInteger();

  /** TXT records at {@code name}, each one record's strings joined. */
  public MemoryDns txt(String name, String... records) {
    txt.put(name, new Records<>(List.of(records)));
    return this;
  }

  /** A name that exists without TXT records. */
  public MemoryDns noTxt(String name) {
    txt.put(name, new NoRecords<>(false));
    return this;
  }

  /** Questions for {@code name} fail (a timeout, SERVFAIL). */
  public MemoryDns failure(String name, String reason) {
    txt.put(name, new Failure<>(reason));
    return this;
  }

  public int txtQuestions() {
    return txtQuestions.get();
  }

  @Override
  public Answer<String> txt(String name) {
    txtQuestions.incrementAndGet();
    return txt.getOrDefault(name, new NoRecords<>(true));
  }

  @Override
  public Answer<InetAddress> a(String name) {
    return new NoRecords<>(true);
  }

  @Override
  public Answer<InetAddress> aaaa(String name) {
    return new NoRecords<>(true);
  }

  @Override
  public Answer<String> mx(String name) {
    return new NoRecords<>(true);
  }

  @Override
  public Answer<String> ptr(InetAddress address) {
    return new NoRecords<>(true);
  }
}
