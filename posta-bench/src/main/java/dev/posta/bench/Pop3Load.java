package dev.posta.bench;

import java.io.BufferedOutputStream;
import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * POP3 downloads: C clients (plain sockets, one command at a time, as fetchmail and getmail
 * talk), each with a mailbox of its own, which it empties as a mail program that does not keep
 * mail on the server does:
 *
 * <pre>
 * connect, USER, PASS, STAT, UIDL
 * RETR n, DELE n       for every message (--keep: RETR only)
 * QUIT                 (the server removes the messages now)
 * </pre>
 *
 * <p>Each client has a platform thread of its own: a read that waits blocks in the kernel, the
 * cheapest way for a few clients, so that the load generator takes as little as it can of the
 * CPUs it shares with the server it measures.
 *
 * <p>Prints the messages downloaded per second over the whole run (from the first connect to the
 * last QUIT's answer), the octets, and each command's latency p50/p99. Every RETR is read to its
 * closing "." and its octets counted; an answer other than +OK is an error that ends that client.
 *
 * <p>{@code --rounds} runs several such downloads one after the other in this one process, so
 * that the load generator's own JIT has compiled before the rounds that count (a fresh JVM per
 * run compiles while it measures, on the CPUs it shares with the server): {@code keep} or {@code
 * delete}, with {@code =USERS} for other accounts, and a {@code warm-} before one that is a warm-up,
 * not printed. With {@code --step}, before each printed round it prints {@code ready ROUND} and
 * waits for a line on its input, so that a caller can take the server's CPU time just then.
 */
@Command(name = "pop3-load", mixinStandardHelpOptions = true, description = "POP3 clients each downloading (and deleting) a mailbox; messages per second.")
final class Pop3Load implements Callable<Integer> {
  @Option(names = "--server", required = true, paramLabel = "HOST:PORT")
  String server;

  @Option(names = "--users", defaultValue = "bench%d@localhost",
      description = "The clients' user names, %%d their number from 1 (default ${DEFAULT-VALUE}).")
  String users;

  @Option(names = "--password", required = true)
  String password;

  @Option(names = "--clients", defaultValue = "20", description = "Concurrent clients, one mailbox each (default ${DEFAULT-VALUE}).")
  int clients;

  @Option(names = "--keep", description = "RETR only, no DELE: the mailboxes stay as they are.")
  boolean keep;

  @Option(names = "--timeout", defaultValue = "60", description = "Seconds to wait for any one answer (default ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  @Option(names = "--json", description = "Print each result as one JSON object.")
  boolean json;

  @Option(names = "--rounds", split = ",", paramLabel = "ROUND",
      description = "Downloads one after the other: keep or delete, =USERS for other accounts, warm- before one not to print "
          + "(default: one, as --keep says).")
  List<String> rounds;

  @Option(names = "--step", description = "Before each printed round: print 'ready ROUND', wait for a line on the input.")
  boolean step;

  private final AtomicLong messages = new AtomicLong(), octets = new AtomicLong(), errors = new AtomicLong();
  private final ConcurrentLinkedQueue<String> errorTexts = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<Map<String, long[]>> latencies = new ConcurrentLinkedQueue<>();

  /** One download of every client's mailbox: kept or deleted, by these accounts, printed or not. */
  private record Round(String name, boolean keep, String users, boolean printed) {
    static Round parse(String spec, String defaultUsers) {
      boolean warm = spec.startsWith("warm-");
      String rest = warm ? spec.substring(5) : spec;
      int eq = rest.indexOf('=');
      String mode = eq < 0 ? rest : rest.substring(0, eq);
      if (!mode.equals("keep") && !mode.equals("delete")) throw new IllegalArgumentException("a round is keep or delete: " + spec);
      return new Round(spec, mode.equals("keep"), eq < 0 ? defaultUsers : rest.substring(eq + 1), !warm);
    }
  }

  @Override
  public Integer call() throws Exception {
    List<Round> plan = new ArrayList<>();
    for (String spec : rounds == null ? List.of(keep ? "keep" : "delete") : rounds) plan.add(Round.parse(spec, users));
    var input = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    boolean failed = false;
    for (Round round : plan) {
      if (step && round.printed()) {
        System.out.println("ready " + round.name());
        System.out.flush();
        if (input.readLine() == null) return 1;
      }
      double elapsed = run(round);
      if (round.printed()) print(round.keep(), elapsed);
      else if (errors.get() > 0) System.err.println("pop3-load: warm-up round " + round.name() + ": " + errors.get() + " errors: " + errorTexts.peek());
      failed |= errors.get() > 0;
    }
    return failed ? 1 : 0;
  }

  /** Every client downloads its mailbox once; returns the seconds from the first connect to the last QUIT's answer. */
  private double run(Round round) throws InterruptedException {
    messages.set(0);
    octets.set(0);
    errors.set(0);
    errorTexts.clear();
    latencies.clear();
    InetSocketAddress address = Load.address(server);
    Duration timeout = Duration.ofSeconds(timeoutSeconds);
    long start = System.nanoTime();
    List<Thread> threads = new ArrayList<>();
    for (int c = 1; c <= clients; c++) {
      String user = round.users().formatted(c);
      threads.add(Thread.ofPlatform().name("pop3-client-" + c).start(() -> {
        var timings = new Timings();
        try {
          download(address, timeout, user, round.keep(), timings);
        } catch (IOException | RuntimeException e) {
          errors.incrementAndGet();
          if (errorTexts.size() < 5) errorTexts.add(user + ": " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        latencies.add(timings.sorted());
      }));
    }
    for (Thread t : threads) t.join();
    return (System.nanoTime() - start) / 1e9;
  }

  /** One client's latencies per command. */
  private static final class Timings {
    private final Map<String, long[]> values = new TreeMap<>();
    private final Map<String, Integer> counts = new TreeMap<>();

    void add(String command, long nanos) {
      long[] a = values.computeIfAbsent(command, k -> new long[512]);
      int n = counts.getOrDefault(command, 0);
      if (n == a.length) values.put(command, a = Arrays.copyOf(a, n * 2));
      a[n] = nanos;
      counts.put(command, n + 1);
    }

    Map<String, long[]> sorted() {
      Map<String, long[]> out = new TreeMap<>();
      values.forEach((k, v) -> out.put(k, Arrays.copyOf(v, counts.get(k))));
      return out;
    }
  }

  private void download(InetSocketAddress address, Duration timeout, String user, boolean keep, Timings timings) throws IOException {
    long t = System.nanoTime();
    try (var pop = Pop3Connection.open(address, timeout)) {
      timings.add("connect", System.nanoTime() - t);
      t = System.nanoTime();
      pop.ok("USER " + user);
      pop.ok("PASS " + password);
      timings.add("login", System.nanoTime() - t);
      String stat = pop.ok("STAT");
      int count = Integer.parseInt(stat.split(" ")[1]);
      t = System.nanoTime();
      pop.multiLine("UIDL");
      timings.add("UIDL", System.nanoTime() - t);
      for (int n = 1; n <= count; n++) {
        t = System.nanoTime();
        octets.addAndGet(pop.multiLine("RETR " + n));
        timings.add("RETR", System.nanoTime() - t);
        messages.incrementAndGet();
        if (keep) continue;
        t = System.nanoTime();
        pop.ok("DELE " + n);
        timings.add("DELE", System.nanoTime() - t);
      }
      t = System.nanoTime();
      pop.ok("QUIT");
      timings.add("QUIT", System.nanoTime() - t);
    }
  }

  private void print(boolean keep, double elapsed) {
    Map<String, long[]> merged = new TreeMap<>();
    for (Map<String, long[]> one : latencies) {
      one.forEach((k, v) -> merged.merge(k, v, (a, b) -> {
        long[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
      }));
    }
    merged.values().forEach(Arrays::sort);
    double rate = messages.get() / elapsed;
    if (json) {
      var s = new StringBuilder(String.format(Locale.ROOT,
          "{\"clients\":%d,\"keep\":%b,\"messages\":%d,\"octets\":%d,\"errors\":%d,\"seconds\":%.3f,\"rate\":%.1f,\"latency_ms\":{",
          clients, keep, messages.get(), octets.get(), errors.get(), elapsed, rate));
      String sep = "";
      for (var e : merged.entrySet()) {
        s.append(sep).append('"').append(e.getKey()).append("\":[")
            .append(String.format(Locale.ROOT, "%.3f,%.3f", Load.percentileMillis(e.getValue(), 50), Load.percentileMillis(e.getValue(), 99)))
            .append(']');
        sep = ",";
      }
      s.append('}');
      if (!errorTexts.isEmpty()) s.append(",\"first_error\":\"").append(errorTexts.peek().replace("\\", "\\\\").replace("\"", "'")).append('"');
      System.out.println(s.append('}'));
    } else {
      System.out.printf(Locale.ROOT, "clients=%d keep=%b messages=%d octets=%d errors=%d seconds=%.3f rate=%.1f%s%n", clients, keep,
          messages.get(), octets.get(), errors.get(), elapsed, rate, errorTexts.isEmpty() ? "" : " first_error=\"" + errorTexts.peek() + "\"");
      merged.forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-8s n=%-7d p50_ms=%8.2f p99_ms=%8.2f%n", k, v.length,
          Load.percentileMillis(v, 50), Load.percentileMillis(v, 99)));
    }
  }

  /**
   * A minimal blocking POP3 client: one command at a time, answers read from a buffer of its own
   * (a byte at a time through a stream would cost the client more than the server).
   */
  static final class Pop3Connection implements AutoCloseable {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final byte[] buf = new byte[64 * 1024];
    private int pos;
    private int limit;
    private byte[] line = new byte[1024];

    private Pop3Connection(Socket socket) throws IOException {
      this.socket = socket;
      this.in = socket.getInputStream();
      this.out = new BufferedOutputStream(socket.getOutputStream(), 1024);
      String greeting = readLine();
      if (!greeting.startsWith("+OK")) throw new IOException("greeting: " + greeting);
    }

    static Pop3Connection open(InetSocketAddress address, Duration timeout) throws IOException {
      Socket s = new Socket();
      try {
        s.setTcpNoDelay(true);
        s.connect(address, (int) timeout.toMillis());
        s.setSoTimeout((int) timeout.toMillis());
        return new Pop3Connection(s);
      } catch (IOException | RuntimeException e) {
        s.close();
        throw e;
      }
    }

    /** Sends a command and returns its one-line answer, which must be +OK. */
    String ok(String command) throws IOException {
      send(command);
      String answer = readLine();
      if (!answer.startsWith("+OK")) throw new IOException(command.split(" ")[0] + ": " + answer);
      return answer;
    }

    /** Sends a command whose +OK answer is multi-line, reads it to the closing "."; returns its octets after the first line. */
    long multiLine(String command) throws IOException {
      ok(command);
      long octets = 0;
      while (true) {
        int n = readLineInto();
        if (n == 1 && line[0] == '.') return octets;
        octets += n + 2;
      }
    }

    private void send(String command) throws IOException {
      out.write((command + "\r\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
    }

    private String readLine() throws IOException {
      int n = readLineInto();
      return new String(line, 0, n, StandardCharsets.UTF_8);
    }

    /** Reads one line into {@link #line} without its CRLF; returns its length. */
    private int readLineInto() throws IOException {
      int len = 0;
      while (true) {
        if (pos == limit) {
          limit = in.read(buf);
          pos = 0;
          if (limit <= 0) {
            limit = 0;
            throw new EOFException("connection closed by the server");
          }
        }
        int i = pos;
        while (i < limit && buf[i] != '\n') i++;
        int n = i - pos;
        if (len + n > line.length) line = Arrays.copyOf(line, Math.max(line.length * 2, len + n));
        System.arraycopy(buf, pos, line, len, n);
        len += n;
        if (i < limit) {
          pos = i + 1;
          return len > 0 && line[len - 1] == '\r' ? len - 1 : len;
        }
        pos = limit;
      }
    }

    @Override
    public void close() {
      try {
        socket.close();
      } catch (IOException ignored) {
        // nothing to do
      }
    }
  }
}
