package dev.posta.greylist;

import dev.posta.config.PostaConfig;
import dev.posta.mail.MailAddress;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Greylisting at RCPT (RFC 6647; Harris's triplets, as postgrey and Stalwart do it): the first
 * attempt of a {@link Triplet} is refused with a temporary error, a retry after {@code delay} and
 * within {@code retry-window} passes, and the triplet is then remembered as passed for {@code
 * expire} after its last mail. A client network with {@code auto-allowlist-after} passed
 * triplets is no longer greylisted at all (postgrey's auto-whitelist), nor is one in {@code
 * exempt-networks}, nor a sender whose domain is in {@code exempt-spf-domains} when SPF passes
 * for it (SPF is run only for those domains). The session exempts authenticated users, trusted
 * networks and DNSWL-listed clients before asking.
 *
 * <p>Guarantees: a check costs no fsync. Records are appended to {@link TripletFile} by a
 * background writer once a second, one fsync for all of them, so a crash forgets at most the
 * last second's first attempts and passes (those clients are greylisted once more, never
 * refused). A passed triplet's or allowlisted client's last-seen time is written at most once a
 * day. At most {@code max-entries} triplets (and as many allowlisted networks) are held: past
 * it the least recently used are forgotten, logged on the first and every 10,000th. Expired
 * entries are dropped when looked at and when the file is compacted, which happens when it holds
 * twice the live records (plus 10,000), so the file stays bounded too; the compaction copies the
 * entries under the greylist's lock and formats and writes them outside it. When the file cannot
 * be written (disk full), greylisting goes on from memory, nothing piles up for the writer, and
 * the file is rewritten from memory once it can be (logged when it fails and when it recovers).
 * The writer is woken by {@link java.util.concurrent.locks.LockSupport#unpark}, never
 * interrupted: an interrupt would close the file's channel in the middle of a write. Every time
 * comes from the clock given, so tests move time without sleeping.
 */
public final class Greylist implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Greylist.class);
  /** How often the background writer appends what was recorded (real time, not the clock given). */
  static final Duration WRITE_EVERY = Duration.ofSeconds(1);
  /** A passed triplet's or allowlisted network's new last-seen time is written only when the one on file is older than this. */
  static final long REFRESH_WRITE_MILLIS = Duration.ofDays(1).toMillis();
  private static final int COMPACT_ALLOWANCE = 10_000;
  private static final int DROPS_LOGGED_EVERY = 10_000;

  /** Whether SPF passes for a MAIL FROM (RFC 7208 §2.4): the exemption of {@code exempt-spf-domains}. */
  @FunctionalInterface
  public interface SpfPass {
    boolean passes(InetAddress client, String reversePath, String helo);
  }

  /** What the check said of one RCPT. */
  public sealed interface Verdict {}

  /**
   * Taken.
   *
   * @param why what let it through, for the log ("exempt network", "retried after 312 s"...)
   * @param logged whether the session logs it: the passes that change something (a retry that
   *     passed, an exemption by SPF); not a known triplet's every mail
   */
  public record Pass(String why, boolean logged) implements Verdict {}

  /**
   * Refused for now (RFC 6647 §2: a temporary failure).
   *
   * @param left how long until a retry passes
   * @param firstAttempt the triplet was new (else a retry came too early)
   */
  public record Greylisted(Triplet triplet, Duration left, boolean firstAttempt) implements Verdict {}

  /** One triplet: when first tried, and when it last passed (-1: not yet). */
  private static final class Entry {
    final long firstSeen;
    long passed = -1;
    /** The last-seen time on file, for the once-a-day refresh. */
    long written;

    Entry(long firstSeen) {
      this.firstSeen = firstSeen;
      this.written = firstSeen;
    }
  }

  /** An auto-allowlisted network: last seen, and the last-seen time on file. */
  private static final class Allowed {
    long lastSeen;
    long written;

    Allowed(long lastSeen) {
      this.lastSeen = lastSeen;
      this.written = lastSeen;
    }
  }

  /** Replaced by a reload ({@link #reconfigure}); the entries stay. */
  private volatile PostaConfig.Greylisting settings;
  private final Clock clock;
  private final SpfPass spf;
  private final TripletFile file;
  /** Least recently used first: a pass moves its triplet to the end. Guarded by {@code this}. */
  private final LinkedHashMap<Triplet, Entry> triplets = new LinkedHashMap<>(16, 0.75f, true);
  private final LinkedHashMap<String, Allowed> allowlisted = new LinkedHashMap<>(16, 0.75f, true);
  /** Passed triplets per network, for auto-allowlisting. */
  private final Map<String, Integer> passedPerNetwork = new java.util.HashMap<>();
  /** Held while the file is written or rewritten; taken before {@code this}, never after, so a check never waits for an fsync. */
  private final Object io = new Object();
  /** Records waiting for the writer. Guarded by {@code this}. */
  private List<String> pending = new ArrayList<>();
  /** The last write failed: the pending records were dropped and the next flush rewrites the file from memory. Guarded by {@code io}. */
  private boolean behind;
  private long dropped;
  private final AtomicLong greylistedCount = new AtomicLong();
  private final AtomicLong passedCount = new AtomicLong();
  private final Thread writer;
  private volatile boolean closed;

  /**
   * Opens the greylist kept in {@code dir} ({@code <data>/greylist}), recovering its file.
   *
   * @param spf asked for the senders of {@code exempt-spf-domains}; null: no SPF exemption
   */
  public static Greylist open(Path dir, PostaConfig.Greylisting settings, Clock clock, SpfPass spf) throws IOException {
    return new Greylist(dir, settings, clock, spf);
  }

  private Greylist(Path dir, PostaConfig.Greylisting settings, Clock clock, SpfPass spf) throws IOException {
    this.settings = settings;
    this.clock = clock;
    this.spf = spf;
    this.file = TripletFile.open(dir, this::replay);
    long now = clock.millis();
    boolean mostlyHistory;
    synchronized (this) {
      dropExpired(now);
      log.info("greylist: {} triplets ({} passed) and {} allowlisted networks from {}", triplets.size(),
          triplets.values().stream().filter(e -> e.passed >= 0).count(), allowlisted.size(), file.path());
      mostlyHistory = file.records() > 2L * entries() + COMPACT_ALLOWANCE;
    }
    if (mostlyHistory) {
      try {
        compact();
      } catch (IOException | RuntimeException e) {
        file.close();
        throw e;
      }
    }
    writer = Thread.ofVirtual().name("greylist-writer").start(this::writeLoop);
  }

  private void replay(TripletFile.Record r) {
    String[] f = r.fields();
    switch (r.kind()) {
      case 's' -> {
        Triplet t = new Triplet(f[0], f[1], f[2]);
        Entry old = triplets.remove(t);
        if (old != null && old.passed >= 0) passedPerNetwork.merge(t.network(), -1, Integer::sum);
        triplets.put(t, new Entry(Long.parseLong(f[3])));
      }
      case 'p' -> {
        Triplet t = new Triplet(f[0], f[1], f[2]);
        Entry e = triplets.computeIfAbsent(t, k -> new Entry(Long.parseLong(f[3])));
        if (e.passed < 0) passedPerNetwork.merge(t.network(), 1, Integer::sum);
        e.passed = Long.parseLong(f[3]);
        e.written = e.passed;
      }
      case 'a' -> allowlisted.put(f[0], new Allowed(Long.parseLong(f[1])));
      default -> throw new AssertionError(r.kind());
    }
    bound();
  }

  /**
   * Decides RCPT TO {@code recipient} of MAIL FROM {@code sender} (null for {@code <>}) from
   * {@code client}, which said HELO {@code helo}; records a first attempt or a pass. {@code
   * dnswlListed}: the connect-time screen found the client on a DNS allowlist, which exempts it.
   */
  public Verdict check(InetAddress client, String helo, MailAddress sender, MailAddress recipient, boolean dnswlListed) {
    if (dnswlListed) return new Pass("DNSWL-listed client", false);
    if (settings.exempts(client)) return new Pass("exempt network", false);
    Triplet triplet = Triplet.of(client, sender, recipient);
    long now = clock.millis();
    synchronized (this) {
      Verdict known = known(triplet, now);
      if (known != null) return count(known);
    }
    String senderDomain = sender == null ? null : sender.domain().toLowerCase(Locale.ROOT);
    if (spf != null && senderDomain != null && settings.exemptSpfDomains().contains(senderDomain) && spf.passes(client, sender.toString(), helo)) {
      return count(new Pass("SPF pass for " + senderDomain, true));
    }
    synchronized (this) {
      Verdict known = known(triplet, now); // another session may have recorded it while SPF ran
      if (known != null) return count(known);
      triplets.put(triplet, new Entry(now));
      pending.add(TripletFile.line('s', triplet.network(), triplet.sender(), triplet.recipient(), Long.toString(now)));
      bound();
      return count(new Greylisted(triplet, settings.delay(), true));
    }
  }

  /** The verdict for a triplet seen before or a network allowlisted, or null when it is new (or forgotten). */
  private Verdict known(Triplet triplet, long now) {
    long expire = settings.expire().toMillis();
    Allowed allowed = allowlisted.get(triplet.network());
    if (allowed != null) {
      if (now - allowed.lastSeen <= expire) {
        allowed.lastSeen = Math.max(allowed.lastSeen, now);
        if (now - allowed.written >= REFRESH_WRITE_MILLIS) {
          allowed.written = now;
          pending.add(TripletFile.line('a', triplet.network(), Long.toString(now)));
        }
        return new Pass("auto-allowlisted network " + triplet.network(), false);
      }
      allowlisted.remove(triplet.network());
    }
    Entry e = triplets.get(triplet);
    if (e == null) return null;
    if (e.passed >= 0) {
      if (now - e.passed > expire) {
        forget(triplet, e);
        return null;
      }
      e.passed = Math.max(e.passed, now);
      if (now - e.written >= REFRESH_WRITE_MILLIS) write(triplet, e, now);
      return new Pass("known triplet", false);
    }
    long waited = now - e.firstSeen;
    if (waited > settings.retryWindow().toMillis()) {
      forget(triplet, e); // too late: this attempt counts as a first one
      return null;
    }
    long delay = settings.delay().toMillis();
    if (waited < delay) return new Greylisted(triplet, Duration.ofMillis(delay - waited), false);
    e.passed = now;
    write(triplet, e, now);
    int passed = passedPerNetwork.merge(triplet.network(), 1, Integer::sum);
    String why = "retried after " + Duration.ofMillis(waited).toSeconds() + " s";
    if (settings.autoAllowlistAfter() > 0 && passed >= settings.autoAllowlistAfter() && !allowlisted.containsKey(triplet.network())) {
      allowlisted.put(triplet.network(), new Allowed(now));
      pending.add(TripletFile.line('a', triplet.network(), Long.toString(now)));
      why += "; network " + triplet.network() + " auto-allowlisted after " + passed + " passed triplets";
      bound();
    }
    return new Pass(why, true);
  }

  private void write(Triplet t, Entry e, long now) {
    e.written = now;
    pending.add(TripletFile.line('p', t.network(), t.sender(), t.recipient(), Long.toString(e.passed)));
  }

  private void forget(Triplet t, Entry e) {
    triplets.remove(t);
    if (e.passed >= 0) unpass(t.network());
  }

  private Verdict count(Verdict v) {
    (v instanceof Greylisted ? greylistedCount : passedCount).incrementAndGet();
    return v;
  }

  /** Forgets the least recently used entries past {@code max-entries}. */
  private void bound() {
    int max = settings.maxEntries();
    for (Iterator<Map.Entry<Triplet, Entry>> it = triplets.entrySet().iterator(); triplets.size() > max; ) {
      Map.Entry<Triplet, Entry> oldest = it.next();
      it.remove();
      if (oldest.getValue().passed >= 0) unpass(oldest.getKey().network());
      if (dropped++ % DROPS_LOGGED_EVERY == 0) {
        log.warn("greylist: more than {} triplets (max-entries): the least recently used forgotten ({} so far)", max, dropped);
      }
    }
    for (Iterator<String> it = allowlisted.keySet().iterator(); allowlisted.size() > max; ) {
      it.next();
      it.remove();
    }
  }

  private void dropExpired(long now) {
    long expire = settings.expire().toMillis();
    long window = settings.retryWindow().toMillis();
    triplets.entrySet().removeIf(en -> {
      Entry e = en.getValue();
      boolean gone = e.passed >= 0 ? now - e.passed > expire : now - e.firstSeen > window;
      if (gone && e.passed >= 0) unpass(en.getKey().network());
      return gone;
    });
    allowlisted.values().removeIf(a -> now - a.lastSeen > expire);
  }

  /** One passed triplet of this network fewer (expired or dropped); none left: no entry. */
  private void unpass(String network) {
    passedPerNetwork.merge(network, -1, (a, b) -> a + b == 0 ? null : a + b);
  }

  // --- Writing -------------------------------------------------------------------------------

  private void writeLoop() {
    while (!closed) {
      // close() wakes it with unpark, never an interrupt: an interrupt in FileChannel.write or force
      // closes the channel (ClosedByInterruptException), and the last flush would find it closed.
      LockSupport.parkNanos(this, WRITE_EVERY.toNanos());
      if (closed) break;
      try {
        flush();
      } catch (IOException e) {
        // flush() logged it, and keeps what it could not write in memory for a rewrite.
      }
    }
  }

  /**
   * Appends what was recorded since the last call, with one fsync, and compacts the file when it
   * is mostly history. Called by the writer once a second, and at close. The checks go on
   * meanwhile: the file is written under its own lock, never the greylist's.
   *
   * <p>When the file cannot be written (disk full, read-only), what was pending is dropped, not
   * kept for a retry: memory holds every entry, so the pending lines cannot grow without bound
   * while the disk is full, and the next flush rewrites the file from memory instead ({@link
   * #compact}) until that works again. Logged once when it starts failing and once when it works.
   */
  void flush() throws IOException {
    synchronized (io) {
      if (behind) {
        compact();
        return;
      }
      List<String> lines;
      synchronized (this) {
        lines = pending;
        pending = new ArrayList<>();
      }
      try {
        file.append(lines);
      } catch (IOException e) {
        fellBehind(e);
        throw e;
      }
      boolean mostlyHistory;
      synchronized (this) {
        mostlyHistory = file.records() > 2L * entries() + COMPACT_ALLOWANCE;
        if (mostlyHistory) dropExpired(clock.millis());
      }
      if (mostlyHistory) compact();
    }
  }

  /** The file could not be written: from now on it is rewritten from memory until that works. Called holding {@code io}. */
  private void fellBehind(IOException e) {
    if (!behind) {
      log.error("greylist: cannot write {}: {}; greylisting goes on from memory, and the file is rewritten from it once it can be written",
          file.path(), e.toString());
    }
    behind = true;
  }

  /**
   * Rewrites the file with the live entries only; what is recorded meanwhile is appended to the
   * new file by the next flush. The entries are copied under the greylist's lock, and formatted
   * and written outside it, so the checks wait for a copy, not for the formatting or the disk.
   */
  void compact() throws IOException {
    synchronized (io) {
      long before = file.records();
      List<Triplet> keys;
      long[] times;
      boolean[] passed;
      List<String> networks;
      long[] seen;
      synchronized (this) {
        keys = new ArrayList<>(triplets.keySet());
        times = new long[keys.size()];
        passed = new boolean[keys.size()];
        int i = 0;
        for (Entry e : triplets.values()) {
          passed[i] = e.passed >= 0;
          times[i++] = e.passed >= 0 ? e.passed : e.firstSeen;
        }
        networks = new ArrayList<>(allowlisted.keySet());
        seen = new long[networks.size()];
        i = 0;
        for (Allowed a : allowlisted.values()) seen[i++] = a.lastSeen;
        pending.clear(); // the rewrite holds them
      }
      List<String> lines = new ArrayList<>(keys.size() + networks.size());
      for (int i = 0; i < keys.size(); i++) {
        Triplet t = keys.get(i);
        lines.add(TripletFile.line(passed[i] ? 'p' : 's', t.network(), t.sender(), t.recipient(), Long.toString(times[i])));
      }
      for (int i = 0; i < networks.size(); i++) lines.add(TripletFile.line('a', networks.get(i), Long.toString(seen[i])));
      try {
        file.rewrite(lines);
      } catch (IOException e) {
        fellBehind(e); // the pending records were dropped: only a rewrite catches up
        throw e;
      }
      if (behind) {
        behind = false;
        log.info("greylist: {} can be written again: rewritten from memory, {} records", file.path(), lines.size());
      } else {
        log.info("greylist: compacted {}: {} records kept of {}", file.path(), lines.size(), before);
      }
    }
  }

  /** A reload's new settings: the triplets and allowlisted networks held stay, judged by them from now on. */
  public synchronized void reconfigure(PostaConfig.Greylisting next) {
    settings = next;
    bound();
  }

  /** The file, for tests: its write seam and counts. */
  TripletFile file() {
    return file;
  }

  /** Entries held now: triplets and auto-allowlisted networks (the entries gauge). */
  public synchronized int entries() {
    return triplets.size() + allowlisted.size();
  }

  /** Records waiting for the writer (a test's view of the bound on them). */
  synchronized int pendingRecords() {
    return pending.size();
  }

  /** Triplets held now (a test's view of the bound). */
  public synchronized int size() {
    return triplets.size();
  }

  /** First attempts and early retries refused since the start. */
  public long greylisted() {
    return greylistedCount.get();
  }

  /** RCPTs passed since the start (retries, known triplets, allowlisted networks, SPF). */
  public long passed() {
    return passedCount.get();
  }

  /** Writes what is pending and closes the file. */
  @Override
  public void close() throws IOException {
    closed = true;
    LockSupport.unpark(writer); // not interrupt(): see writeLoop
    boolean interrupted = false;
    while (true) {
      try {
        writer.join();
        break;
      } catch (InterruptedException e) {
        interrupted = true; // the writer must be done before the last flush; the caller's interrupt is kept
      }
    }
    synchronized (io) {
      try {
        flush();
      } finally {
        file.close();
        if (interrupted) Thread.currentThread().interrupt();
      }
    }
  }
}
