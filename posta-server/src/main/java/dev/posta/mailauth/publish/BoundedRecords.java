package dev.posta.mailauth.publish;

import dev.posta.dns.DnsRecords;
import java.net.InetAddress;
import java.time.Duration;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * DNS records asked within one time budget for a whole check: each question is bounded by its
 * resolver's timeout, and once {@code budget} has passed since this was made the questions left
 * are not asked at all but answered as a {@link DnsRecords.Failure} ("not asked: ..."), which
 * {@link PublishedRecords} reports as UNKNOWN. So a page that checks a domain's records answers
 * in about the budget even when every DNS server is silent, instead of a dozen timeouts in a row.
 * Thread-safe when the records it wraps are.
 */
public final class BoundedRecords implements DnsRecords {
  private final DnsRecords dns;
  private final Duration budget;
  private final LongSupplier nanoClock;
  private final long deadline;

  public BoundedRecords(DnsRecords dns, Duration budget) {
    this(dns, budget, System::nanoTime);
  }

  /** With a clock, for tests. */
  BoundedRecords(DnsRecords dns, Duration budget, LongSupplier nanoClock) {
    this.dns = dns;
    this.budget = budget;
    this.nanoClock = nanoClock;
    this.deadline = nanoClock.getAsLong() + budget.toNanos();
  }

  @Override
  public Answer<String> txt(String name) {
    return ask(() -> dns.txt(name));
  }

  @Override
  public Answer<InetAddress> a(String name) {
    return ask(() -> dns.a(name));
  }

  @Override
  public Answer<InetAddress> aaaa(String name) {
    return ask(() -> dns.aaaa(name));
  }

  @Override
  public Answer<String> mx(String name) {
    return ask(() -> dns.mx(name));
  }

  @Override
  public Answer<String> ptr(InetAddress address) {
    return ask(() -> dns.ptr(address));
  }

  private <T> Answer<T> ask(Supplier<Answer<T>> question) {
    if (nanoClock.getAsLong() - deadline >= 0) {
      return new Failure<>("not asked: the check's " + budget.toSeconds() + " s for DNS had run out");
    }
    return question.get();
  }
}
