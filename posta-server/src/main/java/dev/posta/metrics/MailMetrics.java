package dev.posta.metrics;

import dev.posta.config.PostaConfig;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.MeterBinder;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmInfoMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.lang.management.ManagementFactory;
import java.lang.management.PlatformManagedObject;
import java.lang.reflect.Method;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a mail administrator watches, counted as the mail flows (DESIGN.md, principle 9), written
 * on demand in the Prometheus text format (exposition format 0.0.4) through Micrometer for {@code
 * GET /metrics}, and a per-minute history of the last hour for the operators' charts ({@link
 * #lastHour}).
 *
 * <p>The protocol code names mail events here ({@link ListenerMeters#messageAccepted}, {@link
 * #delivered}, {@link #bounced}) and never Micrometer; only this package knows it. Names follow
 * Prometheus' conventions: {@code posta_} first, base units in the name (seconds, bytes),
 * counters ending in {@code _total}; labels are of few values only (listener kind, command, reply
 * code, TLS version, SASL mechanism, result), never an address, a host or a user.
 *
 * <p>Cheap on the mail path, and to make: an event is an increment of a {@link LongAdder} the
 * caller already holds (no registry lookup, no tags built, no lock). Micrometer's registry is made
 * at the first scrape, not with the server: loading it costs a few hundred milliseconds of class
 * loading that an embedded server (the JUnit extension, which starts one per test run) should
 * not pay unless someone reads the meters. Each scrape shows the adders as Micrometer function
 * counters and gauges, and the delivery latency histogram (fixed buckets kept here) through the
 * Prometheus client's own collector in the same registry. Gauges (queue size and age, open
 * sessions) are read only when scraped. The JVM's meters are Micrometer's binders ({@link
 * #bindJvm}), bound with the registry: the GC's pauses are counted from the first scrape.
 *
 * <p>A leaf: it knows the configuration's listener kinds and nothing above them, so every layer
 * may be handed one (PostaServer makes it and hands it down).
 */
public final class MailMetrics implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MailMetrics.class);
  /** The content type of {@link #scrape}: Prometheus' text format 0.0.4. */
  public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final Clock clock;
  private final ConcurrentHashMap<String, ListenerMeters> listeners = new ConcurrentHashMap<>();
  /** {@link #listeners} by protocol, for the sessions' lookup without a name built. */
  private final ListenerMeters[] byProtocol = new ListenerMeters[PostaConfig.Protocol.values().length];
  private final LongAdder deliveredLocal = new LongAdder();
  private final LongAdder deliveredRemote = new LongAdder();
  private final LatencyHistogram latency = new LatencyHistogram();
  private final LongAdder deferred = new LongAdder();
  private final LongAdder bounced = new LongAdder();
  private volatile IntSupplier queueSize = () -> 0;
  private volatile Supplier<Instant> queueOldest = () -> null;
  /** Greylisting's counts ({@link #watchGreylist}); null until a greylist is open. */
  private volatile GreylistCounts greylist;
  private boolean greylistRegistered;
  private final MinuteHistory history = new MinuteHistory();
  /** Made at the first scrape; guarded by this. */
  private PrometheusMeterRegistry registry;
  private boolean jvm;
  private final List<AutoCloseable> binders = new ArrayList<>();
  private Thread sampler;

  public MailMetrics() {
    this(Clock.systemUTC());
  }

  /** With the caller's clock: the per-minute history's minutes and the queue's age are read on it. */
  public MailMetrics(Clock clock) {
    this.clock = clock;
  }

  /** The meters of a listener kind (its {@code [listeners]} name). */
  public ListenerMeters listener(PostaConfig.Protocol protocol) {
    ListenerMeters m = byProtocol[protocol.ordinal()];
    if (m == null) {
      ListenerMeters.Kind kind = switch (protocol) {
        case SMTP, SUBMISSION, SMTPS -> ListenerMeters.Kind.SMTP;
        case IMAP, IMAPS, POP3, POP3S -> ListenerMeters.Kind.READER;
        case HTTP, HTTPS -> ListenerMeters.Kind.WEB;
      };
      m = listeners.computeIfAbsent(protocol.name().toLowerCase(Locale.ROOT), n -> new ListenerMeters(n, kind, protocol.implicitTls()));
      byProtocol[protocol.ordinal()] = m; // a race stores the same object twice: harmless
    }
    return m;
  }

  /**
   * The meters of a way in that is no listener, by name ({@code local} for {@code posta
   * sendmail}'s socket, {@code maildrop}, {@code api}): messages accepted.
   */
  public ListenerMeters submitter(String name) {
    return listeners.computeIfAbsent(name, n -> new ListenerMeters(n, ListenerMeters.Kind.SUBMISSION, false));
  }

  /**
   * One recipient delivered: {@code remote} when another server took it, else into a local
   * mailbox; {@code sinceArrival} from the message's arrival in the queue.
   */
  public void delivered(boolean remote, Duration sinceArrival) {
    (remote ? deliveredRemote : deliveredLocal).increment();
    latency.record(remote, sinceArrival.isNegative() ? 0 : sinceArrival.toNanos() / 1e9);
  }

  /** One recipient's attempt deferred to a later one. */
  public void deferred() {
    deferred.increment();
  }

  /** One recipient failed for good. */
  public void bounced() {
    bounced.increment();
  }

  /**
   * Where the queue gauges read: its size, and the arrival of its oldest message (null when it
   * is empty). Both are read on each scrape and each minute, so they must be cheap.
   */
  public void watchQueue(IntSupplier size, Supplier<Instant> oldestArrival) {
    this.queueSize = size;
    this.queueOldest = oldestArrival;
  }

  /**
   * Where the greylisting meters read: RCPTs greylisted and passed since the start, and the
   * entries held (triplets and auto-allowlisted networks). Read on each scrape: must be cheap.
   */
  public record GreylistCounts(java.util.function.LongSupplier greylisted, java.util.function.LongSupplier passed, IntSupplier entries) {}

  /** Shows the greylist's meters from the next scrape on (a greylist opens at start or at the reload that enables it). */
  public void watchGreylist(GreylistCounts counts) {
    this.greylist = counts;
  }

  private double oldestAgeSeconds() {
    Instant oldest = queueOldest.get();
    if (oldest == null) return 0;
    return Math.max(0, Duration.between(oldest, clock.instant()).toMillis() / 1000.0);
  }

  /**
   * Shows the JVM's meters too (Micrometer's binders): memory pools and buffers, garbage
   * collection, threads (and virtual threads, where the JDK's scheduler tells: JDK 24+), classes
   * loaded, CPU, uptime, open file descriptors. Bound with the registry, at the first scrape.
   */
  public synchronized MailMetrics bindJvm() {
    jvm = true;
    if (registry != null) bindJvmTo(registry);
    return this;
  }

  private void bindJvmTo(PrometheusMeterRegistry registry) {
    List<MeterBinder> simple = List.of(new ClassLoaderMetrics(), new JvmMemoryMetrics(), new JvmThreadMetrics(), new ProcessorMetrics(),
        new UptimeMetrics(), new FileDescriptorMetrics(), new JvmInfoMetrics());
    simple.forEach(b -> b.bindTo(registry));
    JvmGcMetrics gc = new JvmGcMetrics(); // listens to GC notifications until closed
    gc.bindTo(registry);
    binders.add(gc);
    bindVirtualThreads(registry);
  }

  /**
   * The virtual-thread scheduler's gauges, read from {@code jdk.management.VirtualThreadSchedulerMXBean}
   * (JDK 24+), through reflection so that nothing fails on a JDK without it. Not Micrometer's
   * {@code VirtualThreadMetrics}: that one also keeps a JFR recording running for pinning
   * events, a cost on every server for a problem JDK 24 mostly removed.
   */
  private static void bindVirtualThreads(PrometheusMeterRegistry registry) {
    try {
      Class<? extends PlatformManagedObject> type =
          Class.forName("jdk.management.VirtualThreadSchedulerMXBean").asSubclass(PlatformManagedObject.class);
      PlatformManagedObject bean = ManagementFactory.getPlatformMXBean(type);
      virtualThreadGauge(registry, bean, type.getMethod("getMountedVirtualThreadCount"), "jvm.threads.virtual.mounted",
          "Virtual threads mounted on a carrier thread now");
      virtualThreadGauge(registry, bean, type.getMethod("getQueuedVirtualThreadCount"), "jvm.threads.virtual.queued",
          "Virtual threads waiting for a carrier thread");
      virtualThreadGauge(registry, bean, type.getMethod("getPoolSize"), "jvm.threads.virtual.carriers",
          "Carrier threads in the virtual-thread scheduler's pool");
    } catch (ReflectiveOperationException | RuntimeException e) {
      log.debug("no virtual-thread scheduler meters on this JDK: {}", e.toString());
    }
  }

  private static void virtualThreadGauge(PrometheusMeterRegistry registry, PlatformManagedObject bean, Method method, String name,
      String description) {
    Gauge.builder(name, bean, b -> {
      try {
        return ((Number) method.invoke(b)).doubleValue();
      } catch (ReflectiveOperationException e) {
        return Double.NaN;
      }
    }).description(description).register(registry);
  }

  /** Every meter, in Prometheus' text format ({@link #CONTENT_TYPE}). */
  public synchronized String scrape() {
    if (registry == null) {
      registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      registry.getPrometheusRegistry().register(latency);
      FunctionCounter.builder("posta.deferred", deferred, LongAdder::doubleValue)
          .description("Recipients whose delivery attempt was deferred to a later one").register(registry);
      FunctionCounter.builder("posta.bounced", bounced, LongAdder::doubleValue)
          .description("Recipients that failed for good (refused, looping, expired, bounced by the administrator)").register(registry);
      for (String target : List.of("local", "remote")) {
        FunctionCounter.builder("posta.delivered", target.equals("local") ? deliveredLocal : deliveredRemote, LongAdder::doubleValue)
            .description("Recipients delivered: into a local mailbox, or accepted by the remote server").tag("target", target)
            .register(registry);
      }
      Gauge.builder("posta.queue.messages", this, m -> m.queueSize.getAsInt())
          .description("Messages in the queue: waiting, being delivered or held").register(registry);
      Gauge.builder("posta.queue.oldest.age", this, MailMetrics::oldestAgeSeconds).baseUnit("seconds")
          .description("How long the oldest message in the queue has been there; 0 when the queue is empty").register(registry);
      if (jvm) bindJvmTo(registry);
    }
    GreylistCounts g = greylist;
    if (g != null && !greylistRegistered) {
      greylistRegistered = true;
      FunctionCounter.builder("posta.greylist.greylisted", g, c -> c.greylisted().getAsLong())
          .description("RCPTs refused for now by greylisting (451 4.7.1): first attempts and early retries").register(registry);
      FunctionCounter.builder("posta.greylist.passed", g, c -> c.passed().getAsLong())
          .description("RCPTs greylisting let through: retries after the delay, known triplets, allowlisted networks, SPF").register(registry);
      Gauge.builder("posta.greylist.entries", g, c -> c.entries().getAsInt())
          .description("Greylisting's entries held: triplets and auto-allowlisted networks").register(registry);
    }
    for (ListenerMeters m : listeners.values()) m.register(registry); // listeners and labels new since the last scrape
    return registry.scrape();
  }

  /**
   * Starts keeping the per-minute history: a virtual thread wakes at each minute's end and
   * notes the counts. Until then {@link #lastHour} has only the minute in progress.
   */
  public synchronized MailMetrics startHistory() {
    if (sampler != null) return this;
    history.start(clock.instant(), totals());
    sampler = Thread.ofVirtual().name("metrics-history").start(() -> {
      try {
        while (!Thread.currentThread().isInterrupted()) {
          Instant now = clock.instant();
          Instant next = MinuteHistory.minuteOf(now).plus(Duration.ofMinutes(1));
          Thread.sleep(Math.max(1, Duration.between(now, next).toMillis() + 5));
          history.roll(clock.instant(), totals());
        }
      } catch (InterruptedException e) {
        // stopping
      } catch (RuntimeException e) {
        log.error("metrics: the per-minute history stopped", e);
      }
    });
    return this;
  }

  /**
   * The last hour, a minute at a time, oldest first: messages accepted, recipients delivered,
   * deferred and bounced in each minute, and the queue's size at its end. The last entry is the
   * minute in progress (counts so far, the queue's size now).
   */
  public List<MinuteHistory.Minute> lastHour() {
    return history.lastHour(clock.instant(), totals());
  }

  /** The counters the history takes differences of, now. */
  MinuteHistory.Totals totals() {
    long accepted = 0;
    for (ListenerMeters m : listeners.values()) accepted += m.acceptedCount();
    return new MinuteHistory.Totals(accepted, deliveredLocal.sum() + deliveredRemote.sum(), deferred.sum(), bounced.sum(),
        queueSize.getAsInt());
  }

  /** Stops the history and the GC listener. */
  @Override
  public synchronized void close() {
    if (sampler != null) sampler.interrupt();
    for (AutoCloseable b : binders) {
      try {
        b.close();
      } catch (Exception e) {
        log.debug("metrics: closing {}: {}", b, e.toString());
      }
    }
    binders.clear();
  }
}
