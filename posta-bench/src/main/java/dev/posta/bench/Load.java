package dev.posta.bench;

import dev.posta.client.OpportunisticTls;
import dev.posta.client.SmtpClient;
import dev.posta.client.SmtpReply;
import dev.posta.client.Timeouts;
import dev.posta.client.Transaction;
import dev.posta.client.TransactionResult;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Sends N messages of a given size over S concurrent sessions (one virtual thread each) and
 * reports what a client saw: messages per second, the latency of each message (from its MAIL
 * FROM, or from the connect when every message gets its own connection, to the final 250)
 * as p50/p90/p99/max, and errors.
 *
 * <p>A message counts as sent only when the server answered 250 to its data; any other reply
 * or a broken connection is an error, and the session goes on with a new connection.
 *
 * <p>{@code --message FILE} sends the file's octets as they are, every time, instead of a
 * message made here: a message signed once (DKIM), whose signature a changed Subject or
 * Message-ID would break. Its lines must end in CRLF (checked before anything is sent).
 */
@Command(name = "load", mixinStandardHelpOptions = true, description = "Send messages and measure rate and latency.")
final class Load implements Callable<Integer> {
  @Option(names = "--server", required = true, paramLabel = "HOST:PORT", description = "The SMTP server.")
  String server;

  @Option(names = "--sessions", defaultValue = "20", description = "Concurrent sessions (default ${DEFAULT-VALUE}).")
  int sessions;

  @Option(names = "--messages", defaultValue = "5000", description = "Messages in all (default ${DEFAULT-VALUE}).")
  int messages;

  @Option(names = "--size", defaultValue = "1024", description = "Octets per message, headers included (default ${DEFAULT-VALUE}).")
  int size;

  @Option(names = "--message", paramLabel = "FILE",
      description = "Send this file's octets as they are (CRLF lines, headers and body) as every message, instead of a generated one; --size is then ignored.")
  java.nio.file.Path messageFile;

  @Option(names = "--from", defaultValue = "bench@example.com", description = "Sender (default ${DEFAULT-VALUE}).")
  String from;

  @Option(names = "--to", defaultValue = "load@localhost", description = "Recipient (default ${DEFAULT-VALUE}); with --recipients R > 1, "
      + "R recipients load1@ .. loadR@ its domain.")
  String to;

  @Option(names = "--recipients", defaultValue = "1", description = "Recipients per message (default ${DEFAULT-VALUE}).")
  int recipients;

  @Option(names = "--spread", defaultValue = "1", paramLabel = "M", description = "Each message to one of M mailboxes in turn, "
      + "--to's local part numbered 1 .. M (load1@ .. loadM@), as a server's users get mail (default ${DEFAULT-VALUE}: all to --to).")
  int spread;

  @Option(names = "--per-connection", defaultValue = "0", paramLabel = "K",
      description = "Messages per connection: 1 = a new connection for every message, 0 = one connection per session (default).")
  int perConnection;

  @Option(names = "--starttls", description = "STARTTLS after EHLO (any certificate is accepted).")
  boolean startTls;

  @Option(names = "--implicit-tls", description = "TLS from the first byte (port 465).")
  boolean implicitTls;

  @Option(names = "--user", description = "AUTH as this user (needs TLS).")
  String user;

  @Option(names = "--password", description = "The password for --user.")
  String password;

  @Option(names = "--helo", defaultValue = "posta-bench.localhost", description = "EHLO name (default ${DEFAULT-VALUE}).")
  String helo;

  @Option(names = "--timeout", defaultValue = "60", description = "Seconds to wait for any one reply (default ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  @Option(names = "--json", description = "Print the result as one JSON object instead of text.")
  boolean json;

  /**
   * What one run measured. Latencies in nanoseconds, sorted; {@code startedMillis}: wall-clock
   * time the first session began, so that a caller can time end-to-end delivery from there
   * rather than from the start of this JVM.
   */
  record Result(int sent, int errors, double seconds, long[] latencies, String firstError, long startedMillis) {
    double rate() {
      return seconds > 0 ? sent / seconds : 0;
    }

    double percentileMillis(double p) {
      return Load.percentileMillis(latencies, p);
    }

    String text() {
      return String.format(Locale.ROOT, "sent=%d errors=%d seconds=%.3f rate=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f%s",
          sent, errors, seconds, rate(), percentileMillis(50), percentileMillis(90), percentileMillis(99), percentileMillis(100),
          firstError == null ? "" : " first_error=\"" + firstError.replace("\"", "'") + "\"");
    }

    String json() {
      return String.format(Locale.ROOT, "{\"sent\":%d,\"errors\":%d,\"seconds\":%.3f,\"rate\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
              + "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"started_ms\":%d}",
          sent, errors, seconds, rate(), percentileMillis(50), percentileMillis(90), percentileMillis(99), percentileMillis(100),
          startedMillis);
    }
  }

  @Override
  public Integer call() throws Exception {
    if (user != null && !startTls && !implicitTls) {
      System.err.println("posta-bench: --user needs --starttls or --implicit-tls (credentials never go in clear)");
      return 2;
    }
    if (messageFile != null) {
      try {
        fixed = readMessage(messageFile);
      } catch (IOException | IllegalArgumentException e) {
        System.err.println("posta-bench: --message " + messageFile + ": " + e.getMessage());
        return 2;
      }
    }
    Result r = run();
    System.out.println(json ? r.json() : r.text());
    return r.errors == 0 ? 0 : 1;
  }

  /** The mailbox of the {@code i}th message under {@code --spread}. */
  private Transaction.Recipient spreadRecipient(int i) {
    int at = to.lastIndexOf('@');
    return new Transaction.Recipient(to.substring(0, at) + (i % spread + 1) + to.substring(at));
  }

  Result run() throws InterruptedException {
    InetSocketAddress address = address(server);
    Timeouts timeouts = Timeouts.all(Duration.ofSeconds(timeoutSeconds));
    byte[] body = body(size);
    List<Transaction.Recipient> rcpts = new ArrayList<>();
    if (spread > 1 && recipients > 1) throw new IllegalArgumentException("--spread and --recipients exclude each other");
    if (recipients <= 1) {
      rcpts.add(new Transaction.Recipient(to));
    } else {
      String domain = to.substring(to.lastIndexOf('@') + 1);
      for (int i = 1; i <= recipients; i++) rcpts.add(new Transaction.Recipient("load" + i + "@" + domain));
    }
    AtomicInteger next = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    AtomicLong sent = new AtomicLong();
    ConcurrentLinkedQueue<String> errorTexts = new ConcurrentLinkedQueue<>();
    long[][] perSession = new long[sessions][];
    Thread[] threads = new Thread[sessions];
    long startedMillis = System.currentTimeMillis();
    long start = System.nanoTime();
    for (int s = 0; s < sessions; s++) {
      int session = s;
      threads[s] = Thread.ofVirtual().name("session-" + s).start(() -> {
        long[] lat = new long[messages / sessions + 16];
        int n = 0;
        SmtpClient client = null;
        int onThisConnection = 0;
        for (int i = next.getAndIncrement(); i < messages; i = next.getAndIncrement()) {
          long t0 = System.nanoTime();
          try {
            if (client == null || !client.isOpen() || (perConnection > 0 && onThisConnection >= perConnection)) {
              if (client != null) client.quit();
              client = open(address, timeouts);
              onThisConnection = 0;
              if (perConnection != 1) t0 = System.nanoTime(); // a reused connection's set-up is not the message's
            }
            byte[] content = fixed != null ? fixed : message(i, body);
            List<Transaction.Recipient> envelope = spread > 1 ? List.of(spreadRecipient(i)) : rcpts;
            TransactionResult result = client.send(new Transaction(from, List.of(), envelope, content.length, out -> {
              ByteBuffer buf = ByteBuffer.wrap(content);
              while (buf.hasRemaining()) out.write(buf);
            }));
            onThisConnection++;
            SmtpReply data = result.data();
            if (data == null || data.code() != 250) {
              errors.incrementAndGet();
              if (errorTexts.size() < 5) errorTexts.add("message " + i + ": " + result.outcome(0));
              continue;
            }
            if (n == lat.length) lat = Arrays.copyOf(lat, n * 2);
            lat[n++] = System.nanoTime() - t0;
            sent.incrementAndGet();
          } catch (IOException | RuntimeException e) {
            errors.incrementAndGet();
            if (errorTexts.size() < 5) errorTexts.add("message " + i + ": " + e.getMessage());
            if (client != null) client.close();
            client = null;
          }
        }
        if (client != null) client.quit();
        perSession[session] = Arrays.copyOf(lat, n);
      });
    }
    for (Thread t : threads) t.join();
    double seconds = (System.nanoTime() - start) / 1e9;
    long[] all = Arrays.stream(perSession).flatMapToLong(Arrays::stream).sorted().toArray();
    return new Result((int) sent.get(), errors.get(), seconds, all, errorTexts.peek(), startedMillis);
  }

  /** One context for all sessions, so TLS sessions can be resumed as a real client would. */
  private SSLContext tls;

  private SmtpClient open(InetSocketAddress address, Timeouts timeouts) throws IOException {
    synchronized (this) {
      if (tls == null && (startTls || implicitTls)) tls = anyCertificate();
    }
    SmtpClient c = implicitTls
        ? SmtpClient.connectImplicitTls(address, tls, address.getHostString(), false, timeouts)
        : SmtpClient.connect(address, timeouts);
    try {
      c.hello(helo);
      if (startTls) c.startTls(tls, address.getHostString(), false);
      if (user != null) c.authenticate(user, password == null ? "" : password);
      return c;
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
  }

  /** The --message file's octets, sent as they are; null: each message is made by {@link #message}. */
  byte[] fixed;

  /** A message file's octets: CRLF lines only (SMTP refuses bare CR or LF), ending in CRLF. */
  static byte[] readMessage(java.nio.file.Path file) throws IOException {
    byte[] m = java.nio.file.Files.readAllBytes(file);
    if (m.length < 2 || m[m.length - 2] != '\r' || m[m.length - 1] != '\n') throw new IllegalArgumentException("does not end in CRLF");
    for (int i = 0; i < m.length; i++) {
      boolean crlf = m[i] == '\r' ? i + 1 < m.length && m[i + 1] == '\n' : m[i] != '\n' || (i > 0 && m[i - 1] == '\r');
      if (!crlf) throw new IllegalArgumentException("a bare CR or LF at octet " + i + ": lines must end in CRLF");
    }
    return m;
  }

  /** Headers that make each message unique, then the shared body; CRLF lines of 76 characters. */
  private byte[] message(int i, byte[] body) {
    String headers = "From: <" + from + ">\r\nTo: <" + to + ">\r\nSubject: posta-bench message " + i
        + "\r\nMessage-ID: <" + i + "." + System.nanoTime() + "@posta-bench.localhost>\r\n\r\n";
    byte[] h = headers.getBytes(StandardCharsets.US_ASCII);
    int bodyLength = Math.max(2, size - h.length);
    byte[] out = new byte[h.length + Math.min(bodyLength, body.length)];
    System.arraycopy(h, 0, out, 0, h.length);
    System.arraycopy(body, 0, out, h.length, out.length - h.length);
    return out;
  }

  /** Enough text lines for the largest message; each message takes what it needs. */
  private static byte[] body(int size) {
    var s = new StringBuilder(size + 80);
    String line = "The quick brown fox jumps over the lazy dog; posta-bench fills lines to 76.\r\n";
    while (s.length() < size) s.append(line);
    return s.toString().getBytes(StandardCharsets.US_ASCII);
  }

  static InetSocketAddress address(String hostPort) {
    int colon = hostPort.lastIndexOf(':');
    if (colon < 0) throw new IllegalArgumentException("--server wants HOST:PORT, got " + hostPort);
    String host = hostPort.substring(0, colon).replace("[", "").replace("]", "");
    return new InetSocketAddress(host, Integer.parseInt(hostPort.substring(colon + 1)));
  }

  /** A benchmark measures speed, not trust: any certificate is accepted. */
  static SSLContext anyCertificate() throws IOException {
    try {
      return OpportunisticTls.context();
    } catch (java.security.GeneralSecurityException e) {
      throw new IOException(e);
    }
  }

  /** The p-th percentile of sorted latencies in nanoseconds, in milliseconds; 0 for none. */
  static double percentileMillis(long[] sorted, double p) {
    if (sorted.length == 0) return 0;
    int i = (int) Math.ceil(p / 100 * sorted.length) - 1;
    return sorted[Math.clamp(i, 0, sorted.length - 1)] / 1e6;
  }
}
