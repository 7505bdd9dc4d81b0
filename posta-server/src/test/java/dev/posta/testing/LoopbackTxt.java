package dev.posta.testing;

import dev.posta.dns.DnsRecords;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.xbill.DNS.Cache;
import org.xbill.DNS.Lookup;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * TXT answers from a real DNS server on loopback (a {@link Dnsmasq}), through dnsjava, for the
 * DKIM tests: a small stand-in for the server's own {@link DnsRecords}, asking TXT only (the
 * other questions answer a failure, which no DKIM check asks). Each record's strings are joined
 * as RFC 6376 §3.6.2.2 says; nothing is cached.
 */
public final class LoopbackTxt implements DnsRecords {
  private final SimpleResolver resolver;

  public LoopbackTxt(int port) {
    resolver = new SimpleResolver(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    resolver.setTimeout(Duration.ofSeconds(2));
  }

  @Override
  public Answer<String> txt(String name) {
    Lookup lookup;
    try {
      lookup = new Lookup(Name.fromString(name, Name.root), Type.TXT);
    } catch (TextParseException e) {
      return new Failure<>("not a name: " + name);
    }
    lookup.setResolver(resolver);
    lookup.setCache(new Cache());
    Record[] records = lookup.run();
    return switch (lookup.getResult()) {
      case Lookup.SUCCESSFUL -> {
        List<String> texts = new ArrayList<>();
        for (Record r : records) {
          var joined = new StringBuilder();
          for (byte[] s : ((TXTRecord) r).getStringsAsByteArrays()) joined.append(new String(s, StandardCharsets.UTF_8));
          texts.add(joined.toString());
        }
        yield new Records<>(texts);
      }
      case Lookup.HOST_NOT_FOUND -> new NoRecords<>(true);
      case Lookup.TYPE_NOT_FOUND -> new NoRecords<>(false);
      default -> new Failure<>(lookup.getErrorString());
    };
  }

  @Override
  public Answer<InetAddress> a(String name) {
    return new Failure<>("not asked in the DKIM tests");
  }

  @Override
  public Answer<InetAddress> aaaa(String name) {
    return new Failure<>("not asked in the DKIM tests");
  }

  @Override
  public Answer<String> mx(String name) {
    return new Failure<>("not asked in the DKIM tests");
  }

  @Override
  public Answer<String> ptr(InetAddress address) {
    return new Failure<>("not asked in the DKIM tests");
  }
}
