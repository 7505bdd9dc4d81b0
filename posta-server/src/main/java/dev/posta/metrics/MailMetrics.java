package dev.posta.metrics;

import dev.posta.config.PostaConfig;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
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
import java.util.function.IntSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a mail administrator watches, counted as the mail flows (DESIGN.md, principle 9): one
 * Micrometer registry per server, written on demand in the Prometheus text format (exposition
 * format 0.0.4) for {@code GET /metrics}, and a per-minute history of the last hour for the
 * operators' charts ({@link #lastHour}).
 *
 * <p>The protocol code names mail events here ({@link ListenerMeters#messageAccepted}, {@link
 * #delivered}, {@link #bounced}) and never Micrometer; only this package knows it. Names follow
 * Prometheus' conventions: {@code posta_} first, base units in the name (seconds, bytes),
 * counters ending in {@code _total}; labels are of few values only (listener kind, command, reply
 * code, TLS version, SASL mechanism, result), never an address, a host or a user.
 *
 * <p>Cheap on the mail path: every counter a session or the queue uses is made once (with the
 * server, or at its listener's first use) and kept, so an event is an increment of a striped
 * adder, no registry lookup and no lock. Gauges (queue size and age, open sessions) are read
 * only when scraped. The JVM's meters (memory, GC, threads, virtual threads where the JDK tells,
 * classes, CPU, uptime, open files) are Micrometer's binders, bound by {@link #bindJvm}.
 *
 * <p>A leaf: it knows the configuration's listener kinds and nothing above them, so every layer
 * may be handed one (PostaServer makes it and hands it down).
 */
public final class MailMetrics implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MailMetrics.class);
  /** The content type of {@link #scrape}: Prometheus' text format 0.0.4. */
  public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
  /**
   * The delivery latency histogram's buckets: from a local delivery within a second, through
   * the first retries (5 min, 10, 20...), to the queue's default lifetime of 5 days.
   */
  static final Duration[] LATENCY_BUCKETS = {Duration.ofMillis(100), Duration.ofMillis(500), Duration.ofSeconds(1),
      Duration.ofSeconds(5), Duration.ofSeconds(15), Duration.ofMinutes(1), Duration.ofMinutes(5), Duration.ofMinutes(15),
      Duration.ofHours(1), Duration.ofHours(4), Duration.ofDays(1), Duration.ofDays(5)};

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final Clock clock;
  private final ConcurrentHashMap<String, ListenerMeters> listeners = new ConcurrentHashMap<>();
  /** {@link #listeners} by protocol, for the sessions' one lookup without a name built. */
  private final ListenerMeters[] byProtocol = new ListenerMeters[PostaConfig.Protocol.values().length];
  private final Counter deliveredLocal;
  private final Counter deliveredRemote;
  private final Timer latencyLocal;
  private final Timer latencyRemote;
  private final Counter deferred;
  private final Counter bounced;
  private volatile IntSupplier queueSize = () -> 0;
  private volatile Supplier<Instant> queueOldest = () -> null;
  private final MinuteHistory history = new MinuteHistory();
  private final List<AutoCloseable> binders = new ArrayList<>();
  private Thread sampler;

  public MailMetrics() {
    this(Clock.systemUTC());
  }

  /** With the caller's clock: the per-minute history's minutes and the queue's age are read on it. */
  public MailMetrics(Clock clock) {
    this.clock = clock;
    deliveredLocal = delivered("local");
    deliveredRemote = delivered("remote");
    latencyLocal = latency("local");
    latencyRemote = latency("remote");
    deferred = Counter.builder("posta.deferred").description("Recipients whose delivery attempt was deferred to a later one")
        .register(registry);
    bounced = Counter.builder("posta.bounced")
        .description("Recipients that failed for good (refused, looping, expired, bounced by the administrator)").register(registry);
    Gauge.builder("posta.queue.messages", this, m -> m.queueSize.getAsInt()).description("Messages in the queue: waiting, being delivered or held")
        .register(registry);
    Gauge.builder("posta.queue.oldest.age", this, MailMetrics::oldestAgeSeconds).baseUnit("seconds")
        .description("How long the oldest message in the queue has been there; 0 when the queue is empty").register(registry);
  }

  private Counter delivered(String target) {
    return Counter.builder("posta.delivered")
        .description("Recipients delivered: into a local mailbox, or accepted by the remote server").tag("target", target).register(registry);
  }

  private Timer latency(String target) {
    return Timer.builder("posta.delivery.latency").description("From a message's arrival to its delivery to one recipient")
        .tag("target", target).serviceLevelObjectives(LATENCY_BUCKETS).register(registry);
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
      m = listeners.computeIfAbsent(protocol.name().toLowerCase(Locale.ROOT),
          n -> new ListenerMeters(registry, n, kind, protocol.implicitTls()));
      byProtocol[protocol.ordinal()] = m; // a race stores the same object twice: harmless
    }
    return m;
  }

  /**
   * The meters of a way in that is no listener, by name ({@code local} for {@code posta
   * sendmail}'s socket, {@code maildrop}, {@code api}): messages accepted.
   */
  public ListenerMeters submitter(String name) {
    return listeners.computeIfAbsent(name, n -> new ListenerMeters(registry, n, ListenerMeters.Kind.SUBMISSION, false));
  }

  /**
   * One recipient delivered: {@code remote} when another server took it, else into a local
   * mailbox; {@code sinceArrival} from the message's arrival in the queue.
   */
  public void delivered(boolean remote, Duration sinceArrival) {
    (remote ? deliveredRemote : deliveredLocal).increment();
    (remote ? latencyRemote : latencyLocal).record(sinceArrival.isNegative() ? Duration.ZERO : sinceArrival);
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

  private double oldestAgeSeconds() {
    Instant oldest = queueOldest.get();
    if (oldest == null) return 0;
    return Math.max(0, Duration.between(oldest, clock.instant()).toMillis() / 1000.0);
  }

  /**
   * Binds the JVM's meters (the binders of Micrometer): memory pools and buffers, garbage
   * collection, threads (and virtual threads, where the JDK's scheduler tells: JDK 24+), classes
   * loaded, CPU, uptime, open file descriptors. A server does this once; tests that make many
   * need not.
   */
  public synchronized MailMetrics bindJvm() {
    List<MeterBinder> simple = List.of(new ClassLoaderMetrics(), new JvmMemoryMetrics(), new JvmThreadMetrics(), new ProcessorMetrics(),
        new UptimeMetrics(), new FileDescriptorMetrics(), new JvmInfoMetrics());
    simple.forEach(b -> b.bindTo(registry));
    JvmGcMetrics gc = new JvmGcMetrics(); // listens to GC notifications until closed
    gc.bindTo(registry);
    binders.add(gc);
    bindVirtualThreads();
    return this;
  }

  /**
   * The virtual-thread scheduler's gauges, read from {@code jdk.management.VirtualThreadSchedulerMXBean}
   * (JDK 24+), through reflection so that nothing fails on a JDK without it. Not Micrometer's
   * {@code VirtualThreadMetrics}: that one also keeps a JFR recording running for pinning
   * events, a cost on every server for a problem JDK 24 mostly removed.
   */
  private void bindVirtualThreads() {
    try {
      Class<? extends PlatformManagedObject> type =
          Class.forName("jdk.management.VirtualThreadSchedulerMXBean").asSubclass(PlatformManagedObject.class);
      PlatformManagedObject bean = ManagementFactory.getPlatformMXBean(type);
      virtualThreadGauge(bean, type.getMethod("getMountedVirtualThreadCount"), "jvm.threads.virtual.mounted",
          "Virtual threads mounted on a carrier thread now");
      virtualThreadGauge(bean, type.getMethod("getQueuedVirtualThreadCount"), "jvm.threads.virtual.queued",
          "Virtual threads waiting for a carrier thread");
      virtualThreadGauge(bean, type.getMethod("getPoolSize"), "jvm.threads.virtual.carriers", "Carrier threads in the scheduler's pool");
    } catch (ReflectiveOperationException | RuntimeException e) {
      log.debug("no virtual-thread scheduler meters on this JDK: {}", e.toString());
    }
  }

  private void virtualThreadGauge(PlatformManagedObject bean, Method method, String name, String description) {
    Gauge.builder(name, bean, b -> {
      try {
        return ((Number) method.invoke(b)).doubleValue();
      } catch (ReflectiveOperationException e) {
        return Double.NaN;
      }
    }).description(description).register(registry);
  }

  /** Every meter, in Prometheus' text format ({@link #CONTENT_TYPE}). */
  public String scrape() {
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
    double accepted = 0;
    for (ListenerMeters m : listeners.values()) accepted += m.acceptedCount();
    return new MinuteHistory.Totals((long) accepted, (long) (deliveredLocal.count() + deliveredRemote.count()), (long) deferred.count(),
        (long) bounced.count(), queueSize.getAsInt());
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
