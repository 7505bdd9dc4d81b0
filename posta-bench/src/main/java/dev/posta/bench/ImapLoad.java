package dev.posta.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Client-like IMAP load: C clients (one virtual thread each, plain sockets, one command at a
 * time), each looping for S seconds over what a mail program does in a short visit:
 *
 * <pre>
 * connect, LOGIN, SELECT INBOX
 * FETCH a window of 50: (FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])
 * FETCH n BODY[]            three times, one message each (as a reader opens them; sets \Seen)
 * STORE n +FLAGS/-FLAGS (\Flagged)
 * APPEND INBOX (\Seen) {~2 KiB+}   (LITERAL+)
 * UID SEARCH UNSEEN SINCE 1-Jan-2024   (--search)
 * UID STORE uid +FLAGS.SILENT (\Deleted), UID EXPUNGE uid   (what it appended: RFC 4315)
 * IDLE, a few ms (--idle-ms), DONE
 * LOGOUT
 * </pre>
 *
 * <p>Prints commands per second (every tagged response counts one command; IDLE counts one),
 * visits per second, and each command's latency p50/p99, so a slow one shows. A command that
 * does not end in OK is an error (the visit is abandoned and the client starts a new one).
 */
@Command(name = "imap-load", mixinStandardHelpOptions = true, description = "Client-like IMAP load; commands per second.")
final class ImapLoad implements Callable<Integer> {
  @Option(names = "--server", required = true, paramLabel = "HOST:PORT")
  String server;

  @Option(names = "--user", required = true)
  String user;

  @Option(names = "--password", required = true)
  String password;

  @Option(names = "--clients", defaultValue = "10", description = "Concurrent clients (default ${DEFAULT-VALUE}).")
  int clients;

  @Option(names = "--seconds", defaultValue = "20", description = "Seconds of load (default ${DEFAULT-VALUE}); visits under way finish.")
  double seconds;

  @Option(names = "--window", defaultValue = "50", description = "Messages per header FETCH (default ${DEFAULT-VALUE}).")
  int window;

  @Option(names = "--bodies", defaultValue = "3", description = "BODY[] FETCHes per visit (default ${DEFAULT-VALUE}).")
  int bodies;

  @Option(names = "--search", defaultValue = "UNSEEN SINCE 1-Jan-2024", description = "UID SEARCH criteria (default ${DEFAULT-VALUE}).")
  String search;

  @Option(names = "--idle-ms", defaultValue = "5", description = "Milliseconds in IDLE per visit (default ${DEFAULT-VALUE}).")
  int idleMillis;

  @Option(names = "--timeout", defaultValue = "60", description = "Seconds to wait for any one response (default ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  @Option(names = "--json", description = "Print the result as one JSON object.")
  boolean json;

  private static final Pattern EXISTS = Pattern.compile("^\\* (\\d+) EXISTS");
  private static final Pattern APPENDUID = Pattern.compile("\\[APPENDUID \\d+ (\\d+)]");

  /** Latencies in nanoseconds per command name, appended by every client. */
  private final Map<String, ConcurrentLinkedQueue<long[]>> latencies = new ConcurrentHashMap<>();
  private final AtomicLong commands = new AtomicLong(), visits = new AtomicLong(), errors = new AtomicLong();
  private final ConcurrentLinkedQueue<String> errorTexts = new ConcurrentLinkedQueue<>();

  /** One client's latencies per command, merged at its end (no contention while measuring). */
  private static final class Recorder {
    final Map<String, long[]> values = new TreeMap<>();
    final Map<String, Integer> counts = new TreeMap<>();

    void add(String name, long nanos) {
      long[] a = values.computeIfAbsent(name, k -> new long[1024]);
      int n = counts.getOrDefault(name, 0);
      if (n == a.length) values.put(name, a = Arrays.copyOf(a, n * 2));
      a[n] = nanos;
      counts.put(name, n + 1);
    }
  }

  @Override
  public Integer call() throws Exception {
    InetSocketAddress address = Load.address(server);
    Duration timeout = Duration.ofSeconds(timeoutSeconds);
    long start = System.nanoTime();
    long deadline = start + (long) (seconds * 1e9);
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      int client = c;
      threads.add(Thread.ofVirtual().name("imap-client-" + c).start(() -> {
        Recorder rec = new Recorder();
        while (System.nanoTime() < deadline) {
          try {
            visit(address, timeout, rec, client);
            visits.incrementAndGet();
          } catch (IOException | RuntimeException e) {
            errors.incrementAndGet();
            if (errorTexts.size() < 5) errorTexts.add(e.getClass().getSimpleName() + ": " + e.getMessage());
          }
        }
        rec.values.forEach((k, v) -> latencies.computeIfAbsent(k, x -> new ConcurrentLinkedQueue<>())
            .add(Arrays.copyOf(v, rec.counts.get(k))));
      }));
    }
    for (Thread t : threads) t.join();
    double elapsed = (System.nanoTime() - start) / 1e9;
    print(elapsed);
    return errors.get() == 0 ? 0 : 1;
  }

  private void visit(InetSocketAddress address, Duration timeout, Recorder rec, int client) throws IOException {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long t = System.nanoTime();
    try (ImapClient c = ImapClient.connect(address, timeout)) {
      rec.add("connect", System.nanoTime() - t);
      timed(rec, "LOGIN", () -> orFail("LOGIN", c.login(user, password)));
      int[] exists = {0};
      timed(rec, "SELECT", () -> {
        var resp = c.command("SELECT INBOX", true, null);
        orFail("SELECT", resp);
        for (String line : resp.untagged()) {
          Matcher m = EXISTS.matcher(line);
          if (m.find()) exists[0] = Integer.parseInt(m.group(1));
        }
      });
      int n = exists[0];
      if (n == 0) throw new ImapClient.Failure("SELECT INBOX: no messages (the bench mailbox must be filled first)");
      int from = 1 + r.nextInt(Math.max(1, n - window + 1));
      int to = Math.min(n, from + window - 1);
      timed(rec, "FETCH headers", () -> orFail("FETCH", c.command("FETCH " + from + ":" + to
          + " (FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])")));
      for (int i = 0; i < bodies; i++) {
        int m = 1 + r.nextInt(n);
        timed(rec, "FETCH BODY[]", () -> orFail("FETCH", c.command("FETCH " + m + " BODY[]")));
      }
      int s = 1 + r.nextInt(n);
      boolean add = r.nextBoolean();
      timed(rec, "STORE", () -> orFail("STORE", c.command("STORE " + s + (add ? " +" : " -") + "FLAGS (\\Flagged)")));
      byte[] message = message(client, r);
      long[] uid = {0};
      timed(rec, "APPEND", () -> {
        var resp = c.append("INBOX", "\\Seen", message);
        orFail("APPEND", resp);
        Matcher m = APPENDUID.matcher(resp.text());
        if (!m.find()) throw new ImapClient.Failure("APPEND: no APPENDUID in " + resp.line());
        uid[0] = Long.parseLong(m.group(1));
      });
      timed(rec, "UID SEARCH", () -> orFail("SEARCH", c.command("UID SEARCH " + search)));
      timed(rec, "UID STORE", () -> orFail("UID STORE", c.command("UID STORE " + uid[0] + " +FLAGS.SILENT (\\Deleted)")));
      timed(rec, "UID EXPUNGE", () -> orFail("UID EXPUNGE", c.command("UID EXPUNGE " + uid[0])));
      long i0 = System.nanoTime();
      String tag = c.idle();
      if (idleMillis > 0) sleep(idleMillis);
      orFail("IDLE", c.done(tag));
      rec.add("IDLE (incl. " + idleMillis + " ms)", System.nanoTime() - i0);
      commands.incrementAndGet();
      timed(rec, "LOGOUT", () -> orFail("LOGOUT", c.command("LOGOUT")));
    }
  }

  private interface Step {
    void run() throws IOException;
  }

  private void timed(Recorder rec, String name, Step step) throws IOException {
    long t0 = System.nanoTime();
    step.run();
    rec.add(name, System.nanoTime() - t0);
    commands.incrementAndGet();
  }

  private static void orFail(String what, ImapClient.Response r) throws ImapClient.Failure {
    r.orFail(what);
  }

  private static void sleep(int millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A message as a mail program saves a sent one: about 2 KiB, CRLF line ends. */
  private static byte[] message(int client, ThreadLocalRandom r) {
    var s = new StringBuilder(2300);
    s.append("From: Bench User <bench@localhost>\r\nTo: Someone <someone@example.org>\r\nSubject: posta-bench append ")
        .append(client).append('.').append(r.nextInt(1_000_000)).append("\r\nDate: Mon, 2 Jun 2025 10:00:00 +0000\r\nMessage-ID: <")
        .append(Long.toHexString(r.nextLong())).append("@posta-bench.localhost>\r\nMIME-Version: 1.0\r\n")
        .append("Content-Type: text/plain; charset=utf-8\r\n\r\n");
    while (s.length() < 2048) s.append("The quick brown fox jumps over the lazy dog; posta-bench fills lines to 76.\r\n");
    return s.toString().getBytes(StandardCharsets.UTF_8);
  }

  private void print(double elapsed) {
    Map<String, long[]> merged = new TreeMap<>();
    latencies.forEach((k, parts) -> merged.put(k, parts.stream().flatMapToLong(Arrays::stream).sorted().toArray()));
    double rate = commands.get() / elapsed;
    if (json) {
      var s = new StringBuilder();
      s.append(String.format(Locale.ROOT, "{\"clients\":%d,\"commands\":%d,\"visits\":%d,\"errors\":%d,\"seconds\":%.3f,\"rate\":%.1f,"
          + "\"visits_per_s\":%.1f,\"latency_ms\":{", clients, commands.get(), visits.get(), errors.get(), elapsed, rate, visits.get() / elapsed));
      boolean first = true;
      for (var e : merged.entrySet()) {
        s.append(first ? "" : ",").append('"').append(e.getKey()).append("\":[")
            .append(String.format(Locale.ROOT, "%.3f,%.3f", pct(e.getValue(), 50), pct(e.getValue(), 99))).append(']');
        first = false;
      }
      s.append("}");
      if (!errorTexts.isEmpty()) s.append(",\"first_error\":\"").append(errorTexts.peek().replace("\\", "\\\\").replace("\"", "'")).append('"');
      System.out.println(s.append('}'));
    } else {
      System.out.printf(Locale.ROOT, "clients=%d commands=%d visits=%d errors=%d seconds=%.3f rate=%.1f visits_per_s=%.1f%s%n", clients,
          commands.get(), visits.get(), errors.get(), elapsed, rate, visits.get() / elapsed,
          errorTexts.isEmpty() ? "" : " first_error=\"" + errorTexts.peek() + "\"");
      merged.forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-22s n=%-7d p50_ms=%8.2f p99_ms=%8.2f%n", k, v.length, pct(v, 50), pct(v, 99)));
    }
  }

  private static double pct(long[] sorted, double p) {
    return Load.percentileMillis(sorted, p);
  }
}
