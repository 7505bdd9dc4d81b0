package dev.posta.screen;

import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.config.PostaConfig.Screen.DnsList;
import dev.posta.dns.DnsRecords;
import dev.posta.mail.IpAddresses;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code [screen]} tests of a client before its greeting, as Postfix's postscreen makes them:
 * which clients are screened, the DNS lists asked at connect (RFC 5782), and the clients that
 * passed the early-talker test lately. The SMTP session does the waiting and the refusing; this
 * class decides.
 *
 * <p>DNS lists: every zone is asked at once, each on its own virtual thread, through the server's
 * resolver and its TTL cache (so a busy client's listings are asked once per TTL; the cache is
 * dnsjava's, bounded). A client's score is the sum of the weights of the lists that list it
 * with an answer that counts ({@link DnsList#counts}); at {@code dnsbl-threshold} or above it is
 * refused, naming the first such blocklist in the configuration's order and its TXT text
 * ({@link ListText}); at {@code dnswl-threshold} or below it is allowlisted. A list that does not
 * answer (timeout, SERVFAIL, no server) counts as not listing: the test fails open, with one log
 * line per failed question. Lookups take at most {@link #DNS_WAIT} (postscreen_dnsbl_timeout).
 *
 * <p>Early talkers: a client that stayed silent through {@code greet-wait} is remembered for
 * {@link #PASS_TTL} (postscreen_greet_ttl), up to {@link #MAX_REMEMBERED} addresses, and is not
 * made to wait again in that time.
 *
 * <p>Commands pipelined before the EHLO reply: tested when {@code pipelining} is on, and not for a
 * client a DNS allowlist vouches for (postscreen's allowlisted clients skip its tests).
 *
 * <p>Thread-safe: the sessions of every listener share one, and a reload ({@link #reconfigure})
 * gives it new settings without forgetting the clients that passed the early-talker test.
 */
public final class Screening {
  private static final Logger log = LoggerFactory.getLogger(Screening.class);

  /** How long a client that passed the early-talker test is spared it (postscreen_greet_ttl is 1d). */
  public static final Duration PASS_TTL = Duration.ofDays(1);
  /** Bound on the remembered clients: a botnet of new addresses must not grow the heap. */
  static final int MAX_REMEMBERED = 100_000;
  /** The longest the lists' answers are waited for from connect (postscreen_dnsbl_timeout, 10s). */
  public static final Duration DNS_WAIT = Duration.ofSeconds(10);

  private static final Executor VIRTUAL = task -> Thread.ofVirtual().name("screen-dns").start(task);

  /** Replaced by a reload ({@link #reconfigure}); the early talkers' memory stays. */
  private volatile PostaConfig.Screen config;
  /** The DNS lists' records; null when the server has no resolver (capture mode): no list is asked. Replaced by a reload. */
  private volatile DnsRecords records;
  private final Clock clock;
  /** Clients that passed the early-talker test, to when they are spared it. */
  private final Map<InetAddress, Instant> passed = new ConcurrentHashMap<>();

  public Screening(PostaConfig.Screen config, DnsRecords records, Clock clock) {
    this.config = config;
    this.records = records;
    this.clock = clock;
  }

  /** A reload's settings and resolver: asked from the next client on; the clients that passed the greet wait stay spared it. */
  public void reconfigure(PostaConfig.Screen next, DnsRecords nextRecords) {
    config = next;
    records = nextRecords;
  }

  /**
   * Whether a screened client that sends a command before the EHLO or HELO reply is refused: when
   * {@code pipelining} is on and no DNS allowlist vouches for it ({@code verdict}).
   */
  public boolean testsPipelining(Verdict verdict) {
    return config.pipelining() && !verdict.allowlisted();
  }

  /** Whether a client of this listener kind at {@code client} is screened: the kind is named in {@code listeners}, the client not in {@code skip-networks}. */
  public boolean screens(PostaConfig.Protocol listener, InetAddress client) {
    PostaConfig.Screen config = this.config;
    if (!config.listeners().contains(listener)) return false;
    InetAddress address = IpAddresses.unmapped(client);
    for (Network n : config.skipNetworks()) {
      if (n.contains(address)) return false;
    }
    return true;
  }

  /** What the DNS lists say of a client. */
  public record Verdict(int score, List<String> listedBy, String blockedBy, String text, boolean allowlisted) {
    /** No list asked, or none listing. */
    public static final Verdict NONE = new Verdict(0, List.of(), null, "", false);

    public Verdict {
      listedBy = List.copyOf(listedBy);
    }

    /** Refused: the score reached {@code dnsbl-threshold}; {@link #blockedBy} names the list, {@link #text} its TXT (may be empty). */
    public boolean blocked() {
      return blockedBy != null;
    }
  }

  /**
   * Starts asking every DNS list about {@code client}; the verdict comes within {@link #DNS_WAIT}
   * whatever the DNS does. {@code logPrefix} starts the failure lines.
   */
  public CompletableFuture<Verdict> lookUp(InetAddress client, String logPrefix) {
    PostaConfig.Screen config = this.config;
    DnsRecords records = this.records;
    if (records == null || (config.dnsbl().isEmpty() && config.dnswl().isEmpty())) return CompletableFuture.completedFuture(Verdict.NONE);
    InetAddress address = IpAddresses.unmapped(client);
    List<DnsList> lists = new ArrayList<>(config.dnsbl());
    lists.addAll(config.dnswl());
    List<CompletableFuture<Boolean>> answers = new ArrayList<>();
    for (DnsList list : lists) {
      answers.add(CompletableFuture.supplyAsync(() -> listed(records, list, address, logPrefix), VIRTUAL)
          .exceptionally(e -> { // a resolver that throws (a bug, a runtime fault) must not block nor stop the others
            log.warn("{}: screen: DNS lookup at {} failed: {}; not counted (fail open)", logPrefix, list.zone(), cause(e));
            return false;
          }));
    }
    return CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new))
        .thenApplyAsync(ignored -> verdict(config, records, lists, answers.stream().map(CompletableFuture::join).toList(), address), VIRTUAL)
        .completeOnTimeout(null, DNS_WAIT.toMillis(), TimeUnit.MILLISECONDS)
        .exceptionally(e -> { // the TXT lookup of the refusal's text threw
          log.warn("{}: screen: DNS lists' verdict failed: {}; not counted (fail open)", logPrefix, cause(e));
          return Verdict.NONE;
        })
        .thenApply(v -> {
          if (v != null) return v;
          log.warn("{}: screen: DNS lists did not answer within {}s; not counted (fail open)", logPrefix, DNS_WAIT.toSeconds());
          return Verdict.NONE;
        });
  }

  /** What went wrong, without the future's wrapper. */
  private static String cause(Throwable e) {
    return String.valueOf(e instanceof java.util.concurrent.CompletionException && e.getCause() != null ? e.getCause() : e);
  }

  private static Verdict verdict(PostaConfig.Screen config, DnsRecords records, List<DnsList> lists, List<Boolean> listed, InetAddress address) {
    int score = 0;
    List<String> listedBy = new ArrayList<>();
    DnsList first = null;
    for (int i = 0; i < lists.size(); i++) {
      if (!listed.get(i)) continue;
      DnsList list = lists.get(i);
      score += list.weight();
      listedBy.add(list.zone() + "(" + list.weight() + ")");
      if (first == null && list.weight() > 0) first = list;
    }
    if (score >= config.dnsblThreshold() && first != null) {
      return new Verdict(score, listedBy, first.zone(), text(records, first, address), false);
    }
    return new Verdict(score, listedBy, null, "", score <= config.dnswlThreshold());
  }

  /** Whether {@code list} lists the client with an answer that counts; false, logged, when it does not answer. */
  private static boolean listed(DnsRecords records, DnsList list, InetAddress address, String logPrefix) {
    String name = DnsListName.of(address, list.zone());
    return switch (records.a(name)) {
      case DnsRecords.Records<InetAddress> r -> r.records().stream().anyMatch(list::counts);
      case DnsRecords.NoRecords<InetAddress> n -> false;
      case DnsRecords.Failure<InetAddress> f -> {
        log.warn("{}: screen: {}; not counted (fail open)", logPrefix, f.reason()); // the reason names the question: "DNS lookup of A for NAME failed: ..."
        yield false;
      }
    };
  }

  /** The list's TXT text for the client, made printable; empty when it has none or does not answer. */
  private static String text(DnsRecords records, DnsList list, InetAddress address) {
    String name = DnsListName.of(address, list.zone());
    if (records.txt(name) instanceof DnsRecords.Records<String> r) return ListText.sanitize(String.join(" ", r.records()));
    return "";
  }

  /** How long {@code client} must stay silent before its greeting: {@code greet-wait}, or zero when it passed lately. */
  public Duration greetWait(InetAddress client) {
    PostaConfig.Screen config = this.config;
    if (config.greetWait().isZero()) return Duration.ZERO;
    Instant until = passed.get(IpAddresses.unmapped(client));
    return until != null && clock.instant().isBefore(until) ? Duration.ZERO : config.greetWait();
  }

  /** {@code client} stayed silent through the greet wait: spared it for {@link #PASS_TTL}. */
  public void passedGreeting(InetAddress client) {
    Instant now = clock.instant();
    if (passed.size() >= MAX_REMEMBERED) {
      passed.values().removeIf(until -> !now.isBefore(until));
      if (passed.size() >= MAX_REMEMBERED) passed.clear(); // all fresh: forgetting costs them one wait each
    }
    passed.put(IpAddresses.unmapped(client), now.plus(PASS_TTL));
  }
}
