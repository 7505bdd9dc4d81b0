package dev.posta.mailauth.spf;

import dev.posta.dns.DnsRecords;
import dev.posta.dns.DnsRecords.Answer;
import dev.posta.dns.DnsRecords.Failure;
import dev.posta.dns.DnsRecords.NoRecords;
import dev.posta.dns.DnsRecords.Records;
import dev.posta.mailauth.spf.MacroString.Use;
import dev.posta.mailauth.spf.SpfRecord.Directive;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The SPF check (RFC 7208): whether a client address may send mail for the MAIL FROM or the
 * HELO identity, by the domain's published SPF record, through {@link DnsRecords}.
 *
 * <p>Implements check_host() (§4) in full: identity domains (§2.3, §2.4: the null reverse-path
 * is postmaster@HELO, a missing local-part is "postmaster"; §4.3: a domain that is no valid
 * multi-label name gives "none"), record selection (§4.5), every mechanism (§5: all, include, a,
 * mx, ptr, ip4, ip6, exists, with IPv4 and IPv6 prefix lengths), the redirect and exp modifiers
 * (§6), macros (§7) and the limits of §4.6.4: at most 10 terms that query DNS (include, a, mx,
 * ptr, exists, redirect, and a %{p} in a target), at most 2 of them with a void answer
 * (NXDOMAIN or no records), at most 10 MX names for an mx (more is a permerror), at most 10 PTR
 * names for ptr and %{p} (the rest ignored), and a time limit (20 s by default: a check that
 * takes longer is a temperror). The explanation of a fail is looked up once, after the result is
 * known, and counts towards no limit (§6.2). Every result is one of §2.6, with a reason.
 *
 * <p>Choices where the RFC leaves room: a target name that macro expansion makes unaskable
 * (empty or over-long label, after the §7.3 cut to 253 characters) does not exist, so a, mx and
 * exists do not match it and include and redirect give a permerror (§4.8 leaves it open); an mx
 * whose host addresses partly failed to resolve matches if another host matches, and is a
 * temperror only without a match; a PTR lookup that fails makes ptr not match and %{p}
 * "unknown" (§5.5, §7.3).
 *
 * <p>Thread-safe: a check keeps its state in an object of its own; the DNS answers' cache is
 * the {@link DnsRecords}'. Nothing throws for bad records, addresses or identities.
 *
 * <p>Known limits: records are read from TXT only (the SPF RR type is obsolete, §3.1); a check's
 * lookups run one after another, so a slow DNS server costs their sum, bounded by the time limit;
 * parsed records are not kept between checks (parsing one costs about a microsecond, less than
 * the cache's answer).
 */
public final class SpfCheck {
  /** §4.6.4: "SHOULD allow at least 20 seconds". */
  public static final Duration DEFAULT_TIME_LIMIT = Duration.ofSeconds(20);

  static final int MAX_DNS_TERMS = 10;
  static final int MAX_VOID_LOOKUPS = 2;
  static final int MAX_MX_NAMES = 10;
  static final int MAX_PTR_NAMES = 10;
  /** An explanation goes into one SMTP reply line (RFC 5321 §4.5.3.1.5: 512 octets with the code). */
  static final int MAX_EXPLANATION = 400;

  /** The explanation of a fail whose domain gives none (§6.2 asks for a default). */
  static final MacroString DEFAULT_EXPLANATION =
      ((Parsed.Valid<MacroString>) MacroString.parse("%{o} does not designate %{c} as a permitted sender", Use.EXPLANATION)).value();

  private final DnsRecords dns;
  /** The same check on the DNS cache alone ({@link DnsRecords#cachedOnly}), or null when there is none. */
  private final SpfCheck fromCache;
  private final Clock clock;
  private final String receivingHost;
  private final long timeLimitMillis;

  /**
   * A check asking {@code dns}, with {@code clock} for %{t} and the time limit, and
   * {@code receivingHost} (this server's name) for %{r}.
   */
  public SpfCheck(DnsRecords dns, Clock clock, String receivingHost) {
    this(dns, clock, receivingHost, DEFAULT_TIME_LIMIT);
  }

  public SpfCheck(DnsRecords dns, Clock clock, String receivingHost, Duration timeLimit) {
    this.dns = Objects.requireNonNull(dns);
    this.clock = Objects.requireNonNull(clock);
    this.receivingHost = receivingHost == null || receivingHost.isEmpty() ? "unknown" : receivingHost;
    if (timeLimit.isNegative() || timeLimit.isZero()) throw new IllegalArgumentException("SPF time limit must be positive: " + timeLimit);
    this.timeLimitMillis = timeLimit.toMillis();
    DnsRecords cached = dns.cachedOnly();
    this.fromCache = cached == null || cached == dns ? null : new SpfCheck(cached, clock, receivingHost, timeLimit);
  }

  /**
   * Checks the MAIL FROM identity (§2.4): {@code reversePath} as the client gave it, without the
   * angle brackets, empty (or null) for the null reverse-path, which is checked as
   * postmaster@{@code helo}.
   */
  public SpfVerdict checkMailFrom(InetAddress client, String reversePath, String helo) {
    String heloName = helo == null ? "" : helo;
    String local;
    String domain;
    if (reversePath == null || reversePath.isEmpty()) {
      local = "postmaster";
      domain = heloName;
    } else {
      int at = reversePath.lastIndexOf('@');
      local = at <= 0 ? "postmaster" : reversePath.substring(0, at); // §4.3: no local-part is "postmaster"
      domain = at < 0 ? reversePath : reversePath.substring(at + 1);
    }
    return check(SpfIdentity.MAILFROM, client, local, domain, heloName);
  }

  /**
   * {@link #checkMailFrom}'s verdict when DNS's cache holds every answer it needs, found without
   * waiting on the network (no thread to start, no server asked); null when an answer is not
   * cached, or there is no cache: then ask {@link #checkMailFrom}. The verdict is the one
   * checkMailFrom would give now: the same answers, from the same cache.
   */
  public SpfVerdict checkMailFromCached(InetAddress client, String reversePath, String helo) {
    if (fromCache == null) return null;
    try {
      return fromCache.checkMailFrom(client, reversePath, helo);
    } catch (DnsRecords.NotCached e) {
      return null;
    }
  }

  /** Checks the HELO identity (§2.3): {@code helo} as the client gave it, as postmaster@helo. */
  public SpfVerdict checkHelo(InetAddress client, String helo) {
    String heloName = helo == null ? "" : helo;
    return check(SpfIdentity.HELO, client, "postmaster", heloName, heloName);
  }

  private SpfVerdict check(SpfIdentity identity, InetAddress client, String local, String domain, String helo) {
    String checked = DomainNames.checkable(domain);
    if (checked == null) {
      return new SpfVerdict(SpfResult.NONE, identity, local + "@" + domain, domain,
          "'" + printable(domain) + "' is not a domain name SPF can check (RFC 7208 section 4.3)", null);
    }
    Evaluation e = new Evaluation(ClientIp.of(client), local, checked, helo);
    Outcome o = e.checkHost(checked);
    String explanation = o.result() == SpfResult.FAIL ? e.explanation(o) : null;
    return new SpfVerdict(o.result(), identity, e.sender, checked, o.reason(), explanation);
  }

  /**
   * What check_host() or a term gave. For a fail, {@code exp} and {@code expDomain} are the exp=
   * of the record whose directive failed, and that record's domain (the %{d} of the explanation).
   */
  private record Outcome(SpfResult result, String reason, MacroString exp, String expDomain) {}

  /** A term matched / did not match: compared by identity, never shown. */
  private static final Outcome MATCH = new Outcome(null, "match", null, null);
  private static final Outcome NO_MATCH = new Outcome(null, "no match", null, null);

  private static Outcome outcome(SpfResult result, String reason) {
    return new Outcome(result, reason, null, null);
  }

  /** One check's state: the macro values, the limits' counters, the client's reverse names. */
  private final class Evaluation implements MacroString.Values {
    final ClientIp ip;
    final String local;
    final String senderDomain;
    final String sender;
    final String helo;
    final long deadline;
    int dnsTerms;
    int voidLookups;
    /** The client's PTR answer, asked at most once per check. */
    Answer<String> ptrAnswer;
    /** The first 10 of its names whose addresses include the client (§5.5), found at most once per check. */
    List<String> validatedNames;

    Evaluation(ClientIp ip, String local, String senderDomain, String helo) {
      this.ip = ip;
      this.local = local;
      this.senderDomain = senderDomain;
      this.sender = local + "@" + senderDomain;
      this.helo = helo;
      this.deadline = clock.millis() + timeLimitMillis;
    }

    /** check_host() at {@code domain}, a name that can be asked (§4). */
    Outcome checkHost(String domain) {
      return switch (txt(domain)) {
        case Failure<String> f -> outcome(SpfResult.TEMPERROR, f.reason());
        case NoRecords<String> n -> outcome(SpfResult.NONE, n.nxdomain() ? domain + " does not exist" : domain + " has no SPF record");
        case Records<String> r -> {
          String found = null;
          int count = 0;
          for (String txt : r.records()) {
            if (SpfRecordParser.isSpfRecord(txt)) {
              found = txt;
              count++;
            }
          }
          if (count == 0) yield outcome(SpfResult.NONE, domain + " has no SPF record");
          if (count > 1) yield outcome(SpfResult.PERMERROR, domain + " has " + count + " SPF records (RFC 7208 section 4.5: one at most)");
          yield switch (SpfRecordParser.parse(found)) {
            case Parsed.Invalid<SpfRecord> bad -> outcome(SpfResult.PERMERROR, "SPF record of " + domain + ": " + bad.reason());
            case Parsed.Valid<SpfRecord> record -> evaluate(record.value(), domain);
          };
        }
      };
    }

    /** §4.6.2, §4.7, §6.1: the first matching directive decides; else the redirect; else neutral. */
    private Outcome evaluate(SpfRecord record, String domain) {
      for (Directive directive : record.directives()) {
        Outcome m = matches(directive, domain);
        if (m == NO_MATCH) continue;
        if (m != MATCH) return m;
        SpfResult result = directive.qualifier().result;
        String reason = domain + ": " + directive.term() + " matched " + ip.readable();
        return result == SpfResult.FAIL ? new Outcome(result, reason, record.explanation(), domain) : outcome(result, reason);
      }
      if (record.redirect() != null) {
        Outcome limit = countDnsTerm("redirect=" + record.redirect());
        if (limit != null) return limit;
        String target = targetName(record.redirect(), domain);
        if (target == null) return noTarget(outcome(SpfResult.PERMERROR, domain + ": redirect=" + record.redirect() + " names no valid domain"));
        Outcome o = checkHost(target);
        // §6.1: a redirect to a domain without an SPF record is an error of the record redirecting.
        if (o.result() == SpfResult.NONE) return outcome(SpfResult.PERMERROR, domain + ": redirect=" + target + ": " + o.reason());
        return o;
      }
      return outcome(SpfResult.NEUTRAL, domain + ": no mechanism matched " + ip.readable() + " (default neutral)");
    }

    private Outcome matches(Directive directive, String domain) {
      String term = directive.term();
      return switch (directive.mechanism()) {
        case SpfRecord.All _ -> MATCH;
        case SpfRecord.Ip4 ip4 -> ip.isV4() && ip.in(ip4.network().getAddress(), ip4.prefix()) ? MATCH : NO_MATCH;
        case SpfRecord.Ip6 ip6 -> !ip.isV4() && ip.in(ip6.network(), ip6.prefix()) ? MATCH : NO_MATCH;
        case SpfRecord.Include include -> include(include, domain, term);
        case SpfRecord.A a -> a(a, domain, term);
        case SpfRecord.Mx mx -> mx(mx, domain, term);
        case SpfRecord.Ptr ptr -> ptr(ptr, domain, term);
        case SpfRecord.Exists exists -> exists(exists, domain, term);
      };
    }

    /** §5.2: pass matches; fail, softfail and neutral do not; errors pass through; none is a permerror. */
    private Outcome include(SpfRecord.Include include, String domain, String term) {
      Outcome limit = countDnsTerm(term);
      if (limit != null) return limit;
      String target = targetName(include.domain(), domain);
      if (target == null) return noTarget(outcome(SpfResult.PERMERROR, domain + ": " + term + " names no valid domain"));
      Outcome o = checkHost(target);
      return switch (o.result()) {
        case PASS -> MATCH;
        case FAIL, SOFTFAIL, NEUTRAL -> NO_MATCH;
        case TEMPERROR, PERMERROR -> o;
        case NONE -> outcome(SpfResult.PERMERROR, domain + ": " + term + ": " + o.reason());
      };
    }

    /** §5.3. */
    private Outcome a(SpfRecord.A a, String domain, String term) {
      Outcome limit = countDnsTerm(term);
      if (limit != null) return limit;
      String target = a.domain() == null ? domain : targetName(a.domain(), domain);
      if (target == null) return noTarget(NO_MATCH);
      int prefix = ip.isV4() ? a.ip4Prefix() : a.ip6Prefix();
      return switch (addresses(target)) {
        case Failure<InetAddress> f -> outcome(SpfResult.TEMPERROR, f.reason());
        case NoRecords<InetAddress> _ -> voidLookup(target);
        case Records<InetAddress> r -> anyIn(r.records(), prefix) ? MATCH : NO_MATCH;
      };
    }

    /** §5.4: the MX names' addresses; more than 10 MX names is a permerror (§4.6.4). */
    private Outcome mx(SpfRecord.Mx mx, String domain, String term) {
      Outcome limit = countDnsTerm(term);
      if (limit != null) return limit;
      String target = mx.domain() == null ? domain : targetName(mx.domain(), domain);
      if (target == null) return noTarget(NO_MATCH);
      int prefix = ip.isV4() ? mx.ip4Prefix() : mx.ip6Prefix();
      return switch (mx(target)) {
        case Failure<String> f -> outcome(SpfResult.TEMPERROR, f.reason());
        case NoRecords<String> _ -> voidLookup(target);
        case Records<String> r -> r.records().size() > MAX_MX_NAMES
            ? outcome(SpfResult.PERMERROR, domain + ": " + term + ": " + target + " has " + r.records().size() + " MX records (RFC 7208 section 4.6.4: 10 at most)")
            : anyHostIn(r.records(), prefix);
      };
    }

    /** Whether the client is in the network around an address of one of {@code hosts}; a temperror if not and a lookup failed. */
    private Outcome anyHostIn(List<String> hosts, int prefix) {
      String failure = null;
      for (String host : hosts) {
        String name = DomainNames.queryName(host);
        if (name == null) continue; // a null MX ("."), or a name DNS cannot carry
        switch (addresses(name)) {
          case Records<InetAddress> addresses -> {
            if (anyIn(addresses.records(), prefix)) return MATCH;
          }
          case Failure<InetAddress> f -> {
            if (failure == null) failure = f.reason();
          }
          case NoRecords<InetAddress> _ -> {}
        }
      }
      return failure == null ? NO_MATCH : outcome(SpfResult.TEMPERROR, failure);
    }

    /** §5.5: a validated reverse name of the client within the target matches. */
    private Outcome ptr(SpfRecord.Ptr ptr, String domain, String term) {
      Outcome limit = countDnsTerm(term);
      if (limit != null) return limit;
      String target = ptr.domain() == null ? domain : targetName(ptr.domain(), domain);
      if (target == null) return noTarget(NO_MATCH);
      if (ptrAnswer() instanceof NoRecords<String>) return voidLookup(ip.readable() + " (PTR)");
      for (String name : validatedNames()) {
        if (DomainNames.isWithin(name, target)) return MATCH;
      }
      return NO_MATCH;
    }

    /** §5.7: any A record matches, whatever the client's address family. */
    private Outcome exists(SpfRecord.Exists exists, String domain, String term) {
      Outcome limit = countDnsTerm(term);
      if (limit != null) return limit;
      String target = targetName(exists.domain(), domain);
      if (target == null) return noTarget(NO_MATCH);
      return switch (a(target)) {
        case Failure<InetAddress> f -> outcome(SpfResult.TEMPERROR, f.reason());
        case NoRecords<InetAddress> _ -> voidLookup(target);
        case Records<InetAddress> _ -> MATCH;
      };
    }

    private boolean anyIn(List<InetAddress> addresses, int prefix) {
      for (InetAddress address : addresses) {
        byte[] octets = ClientIp.octetsOf(address);
        if (ip.in(octets, prefix)) return true;
      }
      return false;
    }

    /** §4.6.4: one more term that queries DNS; a permerror past the tenth. */
    private Outcome countDnsTerm(String term) {
      if (++dnsTerms > MAX_DNS_TERMS) {
        return outcome(SpfResult.PERMERROR, "more than " + MAX_DNS_TERMS + " DNS-querying terms (RFC 7208 section 4.6.4), at " + term);
      }
      return null;
    }

    /** §4.6.4: a term's lookup found nothing; a permerror past the second such. */
    private Outcome voidLookup(String name) {
      if (++voidLookups > MAX_VOID_LOOKUPS) {
        return outcome(SpfResult.PERMERROR, "more than " + MAX_VOID_LOOKUPS + " void DNS lookups (RFC 7208 section 4.6.4), the last for " + name);
      }
      return NO_MATCH;
    }

    /**
     * A target domain-spec expanded at {@code domain} into a name DNS can be asked, or null. A
     * %{p} in it asks for the client's PTR names, which counts as a DNS-querying term (§4.6.4);
     * past the limit the name is null, and {@link #noTarget} tells why.
     */
    private String targetName(MacroString spec, String domain) {
      if (spec.uses('p') && ++dnsTerms > MAX_DNS_TERMS) return null;
      return DomainNames.queryName(spec.expand(this, domain));
    }

    /** What a term whose target name came out null gives: the limit's permerror if %{p} passed it, else {@code otherwise}. */
    private Outcome noTarget(Outcome otherwise) {
      if (dnsTerms > MAX_DNS_TERMS) {
        return outcome(SpfResult.PERMERROR, "more than " + MAX_DNS_TERMS + " DNS-querying terms (RFC 7208 section 4.6.4), with %{p}");
      }
      return otherwise;
    }

    @Override
    public String value(char letter, String domain) {
      return switch (letter) {
        case 's' -> sender;
        case 'l' -> local;
        case 'o' -> senderDomain;
        case 'd' -> domain;
        case 'i' -> ip.dotted();
        case 'p' -> validatedName(domain);
        case 'h' -> helo;
        case 'v' -> ip.version();
        case 'c' -> ip.readable();
        case 'r' -> receivingHost;
        case 't' -> Long.toString(Math.floorDiv(clock.millis(), 1000L));
        default -> throw new AssertionError("the parser admits no macro letter " + letter);
      };
    }

    /** §7.3 %{p}: the validated name that is the domain, else one under it, else any; "unknown" if none. */
    private String validatedName(String domain) {
      List<String> names = validatedNames();
      if (names.isEmpty()) return "unknown";
      for (String name : names) if (name.equalsIgnoreCase(domain)) return name;
      for (String name : names) if (DomainNames.isWithin(name, domain)) return name;
      return names.getFirst();
    }

    /** §5.5: of the client's first 10 PTR names, those whose addresses include the client; a name whose lookup fails is skipped. */
    private List<String> validatedNames() {
      if (validatedNames != null) return validatedNames;
      List<String> validated = new ArrayList<>();
      if (ptrAnswer() instanceof Records<String> r) {
        List<String> names = r.records();
        for (int i = 0; i < Math.min(MAX_PTR_NAMES, names.size()); i++) {
          String name = DomainNames.queryName(names.get(i));
          if (name == null) continue;
          if (addresses(name) instanceof Records<InetAddress> addresses) {
            for (InetAddress address : addresses.records()) {
              if (ip.is(address)) {
                validated.add(name);
                break;
              }
            }
          }
        }
      }
      return validatedNames = validated;
    }

    private Answer<String> ptrAnswer() {
      if (ptrAnswer == null) {
        ptrAnswer = late() ? timedOut() : dns.ptr(ip.address());
      }
      return ptrAnswer;
    }

    /** §6.2: the exp= text of the record that failed, expanded, or the default if there is none or it cannot be had. */
    String explanation(Outcome failed) {
      String text = null;
      if (failed.exp() != null) {
        String target = DomainNames.queryName(failed.exp().expand(this, failed.expDomain()));
        if (target != null && txt(target) instanceof Records<String> r && r.records().size() == 1
            && MacroString.parse(r.records().getFirst(), Use.EXPLANATION) instanceof Parsed.Valid<MacroString> exp) {
          text = exp.value().expand(this, failed.expDomain());
        }
      }
      if (text == null) text = DEFAULT_EXPLANATION.expand(this, senderDomain);
      return oneLine(text);
    }

    // DNS, within the time limit (§4.6.4: past it, every lookup is a temperror).

    private Answer<String> txt(String name) {
      return late() ? timedOut() : dns.txt(name);
    }

    private Answer<InetAddress> a(String name) {
      return late() ? timedOut() : dns.a(name);
    }

    /** §5.3, §5.4: the A or the AAAA records, as the client's address family asks. */
    private Answer<InetAddress> addresses(String name) {
      if (late()) return timedOut();
      return ip.isV4() ? dns.a(name) : dns.aaaa(name);
    }

    private Answer<String> mx(String name) {
      return late() ? timedOut() : dns.mx(name);
    }

    private boolean late() {
      return clock.millis() > deadline;
    }

    private <T> Answer<T> timedOut() {
      return new Failure<>("SPF check took longer than " + timeLimitMillis / 1000.0 + " s (RFC 7208 section 4.6.4)");
    }
  }

  /** US-ASCII without control characters, at most {@link #MAX_EXPLANATION} characters: what an SMTP reply can carry. */
  private static String oneLine(String text) {
    String cut = text.length() > MAX_EXPLANATION ? text.substring(0, MAX_EXPLANATION) : text;
    return printable(cut);
  }

  private static String printable(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c > 0x7e) {
        StringBuilder out = new StringBuilder(s.length());
        for (int j = 0; j < s.length(); j++) {
          char d = s.charAt(j);
          out.append(d < 0x20 || d > 0x7e ? '?' : d);
        }
        return out.toString();
      }
    }
    return s;
  }
}
