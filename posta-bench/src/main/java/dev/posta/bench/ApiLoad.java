package dev.posta.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Sends N messages through Posta's HTTP API ({@code POST /api/v1/messages}) from C concurrent
 * clients (one virtual thread each, connections kept alive) and reports what a client saw:
 * messages accepted per second (202s, each meaning the message is durably in the queue), the
 * latency of each request as p50/p90/p99/max, and errors by status. The first {@code --warmup}
 * messages are sent and not counted (the JIT compiler's share).
 */
@Command(name = "api-load", mixinStandardHelpOptions = true, description = "Send messages through the HTTP API and measure rate and latency.")
final class ApiLoad implements Callable<Integer> {
  @Option(names = "--url", required = true, paramLabel = "URL", description = "The API's base, e.g. http://127.0.0.1:8025.")
  String url;

  @Option(names = "--token", required = true, description = "An API token (posta token create).")
  String token;

  @Option(names = "--clients", defaultValue = "20", description = "Concurrent clients (default ${DEFAULT-VALUE}).")
  int clients;

  @Option(names = "--messages", defaultValue = "10000", description = "Messages counted (default ${DEFAULT-VALUE}).")
  int messages;

  @Option(names = "--warmup", defaultValue = "2000", description = "Messages sent first and not counted (default ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--size", defaultValue = "512", description = "Characters of text per message (default ${DEFAULT-VALUE}).")
  int size;

  @Option(names = "--from", defaultValue = "me@localhost", description = "Sender: an address of the token's account (default ${DEFAULT-VALUE}).")
  String from;

  @Option(names = "--to", defaultValue = "load@localhost", description = "Recipient (default ${DEFAULT-VALUE}).")
  String to;

  @Override
  public Integer call() throws Exception {
    String text = "x".repeat(Math.max(0, size - 1)).replaceAll("(.{72})", "$1\\\\n");
    String body = "{\"from\": \"" + from + "\", \"to\": \"" + to + "\", \"subject\": \"api-load\", \"text\": \"" + text + "\"}";
    URI send = URI.create(url.replaceAll("/$", "") + "/api/v1/messages");
    try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build()) {
      run(http, send, body, warmup, new long[warmup], new ConcurrentHashMap<>());
      long[] latencies = new long[messages];
      var errors = new ConcurrentHashMap<String, AtomicInteger>();
      long started = System.nanoTime();
      int ok = run(http, send, body, messages, latencies, errors);
      double seconds = (System.nanoTime() - started) / 1e9;
      long[] sorted = Arrays.stream(latencies).filter(l -> l > 0).sorted().toArray();
      System.out.printf("api-load: %d messages of %d characters from %d clients to %s: %d accepted (202) in %.2f s = %.0f messages/s%n",
          messages, size, clients, send, ok, seconds, ok / seconds);
      if (sorted.length > 0) {
        System.out.printf("latency ms: p50 %.1f, p90 %.1f, p99 %.1f, max %.1f%n", pct(sorted, 50), pct(sorted, 90), pct(sorted, 99),
            sorted[sorted.length - 1] / 1e6);
      }
      errors.forEach((status, n) -> System.out.println("errors: " + status + " x" + n.get()));
      return ok == messages ? 0 : 1;
    }
  }

  private static double pct(long[] sorted, int p) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(sorted.length * p / 100.0) - 1)] / 1e6;
  }

  /** Sends {@code count} messages from the clients; returns how many were accepted. */
  private int run(HttpClient http, URI send, String body, int count, long[] latencies, ConcurrentHashMap<String, AtomicInteger> errors)
      throws InterruptedException {
    AtomicInteger next = new AtomicInteger();
    AtomicLong accepted = new AtomicLong();
    HttpRequest request = HttpRequest.newBuilder(send).header("Authorization", "Bearer " + token)
        .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
    try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      for (int c = 0; c < clients; c++) {
        pool.execute(() -> {
          for (int i; (i = next.getAndIncrement()) < count; ) {
            long t0 = System.nanoTime();
            try {
              HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
              if (r.statusCode() == 202) {
                latencies[i] = System.nanoTime() - t0;
                accepted.incrementAndGet();
              } else {
                errors.computeIfAbsent(r.statusCode() + " " + r.body(), k -> new AtomicInteger()).incrementAndGet();
              }
            } catch (Exception e) {
              errors.computeIfAbsent(e.toString(), k -> new AtomicInteger()).incrementAndGet();
            }
          }
        });
      }
    }
    return (int) accepted.get();
  }
}
