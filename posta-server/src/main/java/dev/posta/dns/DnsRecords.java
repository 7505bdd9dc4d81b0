package dev.posta.dns;

import java.net.InetAddress;
import java.util.List;

/**
 * The DNS questions that sender authentication asks: the TXT, A, AAAA, MX and PTR records of a
 * name, for SPF (RFC 7208 §4.6.4, §5), DKIM keys (RFC 6376 §3.6.2) and DMARC policies (RFC 7489
 * §6.6.3).
 *
 * <p>Every answer is one of three kinds, because the checks treat them differently: records;
 * no records (NXDOMAIN or an empty answer, SPF's "void lookup"); or a failure (timeout, SERVFAIL,
 * REFUSED), which a check reports as a temporary error and never as a pass or a fail. A method
 * never throws for DNS problems.
 *
 * <p>Names are domain names without the trailing dot, taken as absolute (no search list).
 * Implementations are thread-safe.
 */
public interface DnsRecords {
  /** TXT records, each record's character-strings joined without spaces (RFC 7208 §3.3, RFC 6376 §3.6.2.2). */
  Answer<String> txt(String name);

  /** A records. */
  Answer<InetAddress> a(String name);

  /** AAAA records. */
  Answer<InetAddress> aaaa(String name);

  /** MX records' exchange host names, without the trailing dot, in no particular order. */
  Answer<String> mx(String name);

  /** PTR records of the address's reverse name (in-addr.arpa or ip6.arpa): host names without the trailing dot. */
  Answer<String> ptr(InetAddress address);

  /**
   * These records as far as they are known without asking a server: each question gets the answer
   * it would get here, taken from the cache, or, when that has none, throws {@link NotCached} at
   * once instead of asking. Null (the default) when there is no cache to read. A check that runs
   * through it to its end has its verdict without waiting on the network; one that meets a
   * {@link NotCached} starts again through these records.
   */
  default DnsRecords cachedOnly() {
    return null;
  }

  /** Thrown by a {@link #cachedOnly} view for a question its cache cannot answer; carries no stack trace (it is control flow). */
  final class NotCached extends RuntimeException {
    public NotCached() {
      super("not in the DNS cache", null, false, false);
    }
  }

  /** What a DNS question got. */
  sealed interface Answer<T> {}

  /** The name has records of the type asked; never empty. */
  record Records<T>(List<T> records) implements Answer<T> {
    public Records {
      records = List.copyOf(records);
      if (records.isEmpty()) throw new IllegalArgumentException("Records needs at least one record; use NoRecords");
    }
  }

  /** NXDOMAIN ({@code nxdomain} true) or a name without records of the type asked. */
  record NoRecords<T>(boolean nxdomain) implements Answer<T> {}

  /** The question got no answer: timeout, SERVFAIL, REFUSED, a malformed reply. {@code reason} is for the log and the Authentication-Results comment. */
  record Failure<T>(String reason) implements Answer<T> {}
}
