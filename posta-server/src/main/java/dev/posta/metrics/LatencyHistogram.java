package dev.posta.metrics;

import io.prometheus.metrics.model.registry.Collector;
import io.prometheus.metrics.model.snapshots.ClassicHistogramBuckets;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.util.concurrent.atomic.DoubleAdder;
import java.util.concurrent.atomic.LongAdder;

/**
 * {@code posta_delivery_latency_seconds{target}}: from a message's arrival to its delivery to one
 * recipient, in fixed buckets from a local delivery within a tenth of a second, through the first
 * retries (5 min, 10, 20...), to the queue's default lifetime of 5 days. Kept in adders (a
 * delivery adds to one bucket and the sum, no lock), shown through the Prometheus client's
 * collector in the registry Micrometer writes, at a scrape.
 */
final class LatencyHistogram implements Collector {
  /** Upper bounds in seconds, inclusive ({@code le}); the last is +Inf. */
  static final double[] BOUNDS = {0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400, 86400, 432000, Double.POSITIVE_INFINITY};

  private final Series local = new Series();
  private final Series remote = new Series();

  /** One target's counts per bucket (not cumulative) and sum. */
  private static final class Series {
    final LongAdder[] buckets = new LongAdder[BOUNDS.length];
    final DoubleAdder sum = new DoubleAdder();

    Series() {
      for (int i = 0; i < buckets.length; i++) buckets[i] = new LongAdder();
    }

    void record(double seconds) {
      int i = 0;
      while (seconds > BOUNDS[i]) i++; // the last bound is +Inf
      buckets[i].increment();
      sum.add(seconds);
    }

    HistogramSnapshot.HistogramDataPointSnapshot snapshot(String target) {
      long[] counts = new long[BOUNDS.length];
      for (int i = 0; i < counts.length; i++) counts[i] = buckets[i].sum();
      return HistogramSnapshot.HistogramDataPointSnapshot.builder().classicHistogramBuckets(ClassicHistogramBuckets.of(BOUNDS, counts))
          .sum(sum.sum()).labels(Labels.of("target", target)).build();
    }
  }

  void record(boolean remote, double seconds) {
    (remote ? this.remote : local).record(seconds);
  }

  @Override
  public MetricSnapshot collect() {
    return HistogramSnapshot.builder().name("posta_delivery_latency_seconds")
        .help("From a message's arrival to its delivery to one recipient")
        .dataPoint(local.snapshot("local")).dataPoint(remote.snapshot("remote")).build();
  }

  @Override
  public String getPrometheusName() {
    return "posta_delivery_latency_seconds";
  }
}
