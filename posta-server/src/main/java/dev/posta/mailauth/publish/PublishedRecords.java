package dev.posta.mailauth.publish;

import dev.posta.dns.DnsRecords;
import dev.posta.dns.DnsRecords.Answer;
import dev.posta.dns.DnsRecords.Failure;
import dev.posta.dns.DnsRecords.NoRecords;
import dev.posta.dns.DnsRecords.Records;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import dev.posta.mailauth.dkim.KeyRecord;
import dev.posta.mailauth.dmarc.DmarcRecord;
import dev.posta.mailauth.dmarc.OrganizationalDomain;
import dev.posta.mailauth.spf.SpfCheck;
import dev.posta.mailauth.spf.SpfResult;
import dev.posta.mailauth.spf.SpfVerdict;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Asks DNS for the records {@link RequiredRecords} says a domain needs, and says record by record
 * whether each is there and right: {@link Status#OK}, {@link Status#MISSING}, {@link Status#WRONG},
 * {@link Status#CONFLICT} (two records where one is allowed), or {@link Status#UNKNOWN} (the
 * lookup failed, or there was nothing to compare with), each not-OK one with its fix.
 *
 * <p>What is checked: the domain's MX names the host (others may be there too); the host has
 * the given addresses (or, without them, any A/AAAA, which are then the addresses checked); the
 * domain has one SPF record (RFC 7208 §4.5: two are a permerror) and {@link SpfCheck} passes
 * every address of the host for postmaster@domain with the host as HELO; the key record of each
 * selector that signs holds the public key of the file on disk (RFC 6376 §3.6.1); a valid DMARC
 * record is found as a receiver finds it (RFC 7489 §6.6.3: the domain's, else its organizational
 * domain's); the PTR of each address names the host, and the host resolves back to the address
 * (forward-confirmed reverse DNS, as receivers check it).
 *
 * <p>Nothing throws for DNS trouble; a failed lookup is {@code UNKNOWN}, never OK. Thread-safe
 * when its {@link DnsRecords} is. Limits: it checks what one resolver answers now; another
 * resolver may still cache an older answer until its TTL runs out.
 */
public final class PublishedRecords {
  /** How one record stands. */
  public enum Status { OK, MISSING, WRONG, CONFLICT, UNKNOWN }

  /**
   * One line of the report: the status, what kind of record ({@code MX}, {@code A}, {@code SPF},
   * {@code DKIM}, {@code DMARC}, {@code PTR}), the name or address it is about, what was found,
   * and the fix (null when OK).
   */
  public record Finding(Status status, String kind, String name, String found, String fix) {
    /** {@code OK       MX     example.org: ...}, then the fix on a line of its own. */
    public String render() {
      String line = "%-8s %-6s %s: %s".formatted(status, kind, name, found);
      return fix == null ? line : line + "\n" + " ".repeat(16) + "fix: " + fix;
    }
  }

  /** How long one question may wait for its answer, {@code posta dns check}'s and the domains page's: a failed one is UNKNOWN. */
  public static final Duration LOOKUP_TIMEOUT = Duration.ofSeconds(5);

  /** RFC 7208 §4.5: a record is SPF when it starts with "v=spf1" followed by a space or nothing, in any letter case. */
  private static final Pattern SPF_RECORD = Pattern.compile("(?i)v=spf1(?: .*)?", Pattern.DOTALL);

  private final DnsRecords dns;
  private final Clock clock;

  public PublishedRecords(DnsRecords dns, Clock clock) {
    this.dns = dns;
    this.clock = clock;
  }

  /** Every finding about the records {@code required} lists, in the order {@link RequiredRecords#zoneFile} prints them. */
  public List<Finding> check(RequiredRecords required) {
    List<Finding> findings = new ArrayList<>();
    findings.add(mx(required));
    List<InetAddress> addresses = addresses(required, findings);
    findings.add(spf(required, addresses));
    dkim(required, findings);
    findings.add(dmarc(required));
    ptr(required, addresses, findings);
    return findings;
  }

  /** Whether every finding is OK: {@code posta dns check} exits 0 then, else 1. */
  public static boolean allOk(List<Finding> findings) {
    return findings.stream().allMatch(f -> f.status() == Status.OK);
  }

  private Finding mx(RequiredRecords r) {
    String d = r.domain();
    String publish = "publish " + r.mxLine();
    return switch (dns.mx(d)) {
      case Records<String> found -> {
        List<String> hosts = found.records().stream().map(h -> h.toLowerCase(Locale.ROOT)).toList();
        if (hosts.contains(r.host())) {
          List<String> others = hosts.stream().filter(h -> !h.equals(r.host())).toList();
          yield ok("MX", d, "mail goes to " + r.host() + (others.isEmpty() ? "" : " (and to " + String.join(", ", others) + ")"));
        }
        if (hosts.equals(List.of(""))) {
          yield new Finding(Status.WRONG, "MX", d, "a null MX (RFC 7505: the domain takes no mail)", "replace it: " + publish);
        }
        yield new Finding(Status.WRONG, "MX", d, "mail goes to " + String.join(", ", hosts) + ", not to " + r.host(),
            publish + " (and remove the others unless they relay to " + r.host() + ")");
      }
      case NoRecords<String> _ -> new Finding(Status.MISSING, "MX", d, "no MX record", publish);
      case Failure<String> f -> unknown("MX", d, f);
    };
  }

  /**
   * The host's addresses as DNS has them, checked against the given ones when there are; adds
   * the findings, and returns the addresses the SPF and PTR checks are for.
   */
  private List<InetAddress> addresses(RequiredRecords r, List<Finding> findings) {
    String h = r.host();
    Answer<InetAddress> a = dns.a(h);
    Answer<InetAddress> aaaa = dns.aaaa(h);
    if (!r.addresses().isEmpty()) {
      for (InetAddress address : r.addresses()) {
        boolean v4 = address instanceof Inet4Address;
        String kind = v4 ? "A" : "AAAA";
        Answer<InetAddress> answer = v4 ? a : aaaa;
        String publish = "publish " + r.addressLine(address);
        findings.add(switch (answer) {
          case Records<InetAddress> found when found.records().contains(address) -> ok(kind, h, RequiredRecords.text(address));
          case Records<InetAddress> found -> new Finding(Status.WRONG, kind, h, listed(found.records()) + ", not " + RequiredRecords.text(address),
              publish + " in place of the others");
          case NoRecords<InetAddress> _ -> new Finding(Status.MISSING, kind, h, "no " + kind + " record", publish);
          case Failure<InetAddress> f -> unknown(kind, h, f);
        });
      }
      return r.addresses();
    }
    List<InetAddress> found = new ArrayList<>();
    if (a instanceof Records<InetAddress> four) found.addAll(four.records());
    if (aaaa instanceof Records<InetAddress> six) found.addAll(six.records());
    if (!found.isEmpty()) {
      findings.add(ok("A", h, listed(found)));
    } else if (a instanceof Failure<InetAddress> f) {
      findings.add(unknown("A", h, f));
    } else if (aaaa instanceof Failure<InetAddress> f) {
      findings.add(unknown("AAAA", h, f));
    } else {
      findings.add(new Finding(Status.MISSING, "A", h, "no A or AAAA record",
          "publish the public address of " + h + " (" + h + ". " + RequiredRecords.TTL + " IN A <address>), or give it with --address"));
    }
    return found;
  }

  private Finding spf(RequiredRecords r, List<InetAddress> addresses) {
    String d = r.domain();
    String publish = "publish " + r.spfLine();
    List<String> spf;
    switch (dns.txt(d)) {
      case Records<String> found -> spf = found.records().stream().filter(t -> SPF_RECORD.matcher(t).matches()).toList();
      case NoRecords<String> _ -> spf = List.of();
      case Failure<String> f -> {
        return unknown("SPF", d, f);
      }
    }
    if (spf.isEmpty()) return new Finding(Status.MISSING, "SPF", d, "no SPF record", publish);
    if (spf.size() > 1) {
      return new Finding(Status.CONFLICT, "SPF", d, spf.size() + " SPF records (receivers take two as a permerror, RFC 7208 section 4.5)",
          "merge them into one, e.g. \"" + r.spf() + "\"");
    }
    String record = spf.getFirst();
    if (addresses.isEmpty()) return new Finding(Status.UNKNOWN, "SPF", d, "\"" + record + "\", but no address of " + r.host() + " to check it with", "see the A line above");
    SpfCheck check = new SpfCheck(dns, clock, r.host());
    List<String> passed = new ArrayList<>();
    for (InetAddress address : addresses) {
      SpfVerdict v = check.checkMailFrom(address, "postmaster@" + d, r.host());
      if (v.result() == SpfResult.TEMPERROR) return new Finding(Status.UNKNOWN, "SPF", d, "\"" + record + "\": temperror for " + RequiredRecords.text(address) + " (" + v.reason() + ")", "check again later");
      if (v.result() != SpfResult.PASS) {
        String mechanism = (address instanceof Inet4Address ? "ip4:" : "ip6:") + RequiredRecords.text(address);
        return new Finding(Status.WRONG, "SPF", d, "\"" + record + "\" gives " + v.result().keyword() + " for " + RequiredRecords.text(address) + " (" + v.reason() + ")",
            "add " + mechanism + " to it before the all, or " + publish + " in its place");
      }
      passed.add(RequiredRecords.text(address));
    }
    return ok("SPF", d, "\"" + record + "\" passes " + String.join(", ", passed));
  }

  private void dkim(RequiredRecords r, List<Finding> findings) {
    String d = r.domain();
    if (r.dkimKeys().isEmpty()) {
      findings.add(new Finding(Status.MISSING, "DKIM", d, "no signing key on disk, so Posta does not sign its mail",
          "posta dkim keygen " + d + ", reload Posta, and publish the record it prints"));
      return;
    }
    for (RequiredRecords.DkimKey key : r.dkimKeys()) {
      String name = key.name();
      String publish = "publish the record posta dns " + d + " prints for selector " + key.selector();
      byte[] expected = DkimKeyFiles.publishedKey(key.publicKey());
      findings.add(switch (dns.txt(name)) {
        case Records<String> found when found.records().size() > 1 -> new Finding(Status.CONFLICT, "DKIM", name,
            found.records().size() + " TXT records (RFC 6376 section 3.6.2.2: verifiers may take any one)", publish + ", and remove the others");
        case Records<String> found -> switch (KeyRecord.parse(found.records().getFirst())) {
          case KeyRecord k when k.revoked() -> new Finding(Status.WRONG, "DKIM", name, "the key is revoked (empty p=), but " + key.file() + " signs", publish);
          case KeyRecord k when Arrays.equals(k.publicKey(), expected) -> ok("DKIM", name, "the public key of " + key.file());
          case KeyRecord _ -> new Finding(Status.WRONG, "DKIM", name, "a key other than the one of " + key.file() + " (signatures will not verify)", publish + " in its place");
          case KeyRecord.Malformed m -> new Finding(Status.WRONG, "DKIM", name, m.reason(), publish + " in its place");
        };
        case NoRecords<String> _ -> new Finding(Status.MISSING, "DKIM", name, "no key record for " + key.file(), publish);
        case Failure<String> f -> unknown("DKIM", name, f);
      });
    }
  }

  private Finding dmarc(RequiredRecords r) {
    String name = r.dmarcName();
    String publish = "publish " + r.dmarcLine();
    Finding own = dmarcAt(name, publish);
    if (own.status() != Status.MISSING) return own;
    // A receiver falls back to the organizational domain's record (RFC 7489 §6.6.3): it covers this domain too.
    String org = OrganizationalDomain.of(r.domain());
    if (org.equals(r.domain())) return own;
    Finding inherited = dmarcAt("_dmarc." + org, publish);
    return inherited.status() == Status.OK
        ? ok("DMARC", name, "none here; " + inherited.name() + " applies: " + inherited.found())
        : own;
  }

  private Finding dmarcAt(String name, String publish) {
    List<String> texts;
    switch (dns.txt(name)) {
      case Records<String> found -> texts = found.records();
      case NoRecords<String> _ -> texts = List.of();
      case Failure<String> f -> {
        return unknown("DMARC", name, f);
      }
    }
    List<DmarcRecord.Parsed> dmarc = texts.stream().map(DmarcRecord::parse).filter(p -> !(p instanceof DmarcRecord.NotDmarc)).toList();
    if (dmarc.isEmpty()) return new Finding(Status.MISSING, "DMARC", name, "no DMARC record", publish);
    if (dmarc.size() > 1) {
      return new Finding(Status.CONFLICT, "DMARC", name, dmarc.size() + " DMARC records (receivers then apply none, RFC 7489 section 6.6.3)", "keep one: " + publish);
    }
    return switch (dmarc.getFirst()) {
      case DmarcRecord.Valid v -> ok("DMARC", name, "p=" + v.record().policy()
          + (v.record().policy() == DmarcRecord.Policy.NONE ? " (monitoring: move to p=quarantine once the reports show only your mail)" : ""));
      case DmarcRecord.Invalid i -> new Finding(Status.WRONG, "DMARC", name, "invalid: " + i.reason(), publish + " in its place");
      case DmarcRecord.NotDmarc _ -> throw new AssertionError("filtered out");
    };
  }

  private void ptr(RequiredRecords r, List<InetAddress> addresses, List<Finding> findings) {
    String h = r.host();
    if (addresses.isEmpty()) {
      findings.add(new Finding(Status.UNKNOWN, "PTR", h, "no address of " + h + " to look up", "see the A line above"));
      return;
    }
    for (InetAddress address : addresses) {
      String ip = RequiredRecords.text(address);
      String ask = "ask the provider of " + ip + " to set its PTR to " + h;
      findings.add(switch (dns.ptr(address)) {
        case Records<String> found -> {
          Set<String> names = new LinkedHashSet<>(found.records().stream().map(n -> n.toLowerCase(Locale.ROOT)).toList());
          if (!names.contains(h)) yield new Finding(Status.WRONG, "PTR", ip, "names " + String.join(", ", names) + ", not " + h, ask);
          Answer<InetAddress> forward = address instanceof Inet4Address ? dns.a(h) : dns.aaaa(h);
          yield switch (forward) {
            case Records<InetAddress> back when back.records().contains(address) -> ok("PTR", ip, h + ", which resolves back to " + ip);
            case Failure<InetAddress> f -> unknown("PTR", ip, f);
            default -> new Finding(Status.WRONG, "PTR", ip, h + ", but " + h + " does not resolve to " + ip, "publish " + r.addressLine(address));
          };
        }
        case NoRecords<String> _ -> new Finding(Status.MISSING, "PTR", ip, "no PTR record", ask);
        case Failure<String> f -> unknown("PTR", ip, f);
      });
    }
  }

  private static Finding ok(String kind, String name, String found) {
    return new Finding(Status.OK, kind, name, found, null);
  }

  private static Finding unknown(String kind, String name, Failure<?> failure) {
    return new Finding(Status.UNKNOWN, kind, name, failure.reason(), "check again; if it persists, ask the DNS provider");
  }

  private static String listed(List<InetAddress> addresses) {
    return String.join(", ", addresses.stream().map(RequiredRecords::text).toList());
  }
}
