package dev.posta.bench;

import dev.posta.client.SmtpClient;
import dev.posta.client.Timeouts;
import dev.posta.client.Transaction;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Opens C sessions (greeting and EHLO, then nothing), holds them, and meanwhile checks that a
 * new session still gets a message through: what a server costs while thousands of clients
 * sit idle, and whether it still serves. Prints {@code holding ...} once all are open, so a
 * script can measure the server's memory then.
 */
@Command(name = "idle", mixinStandardHelpOptions = true, description = "Hold many idle sessions open; check the server still serves.")
final class Idle implements Callable<Integer> {
  @Option(names = "--server", required = true, paramLabel = "HOST:PORT")
  String server;

  @Option(names = "--connections", defaultValue = "10000", description = "Idle sessions to hold (default ${DEFAULT-VALUE}).")
  int connections;

  @Option(names = "--hold", defaultValue = "10", description = "Seconds to hold them once all are open (default ${DEFAULT-VALUE}).")
  int holdSeconds;

  @Option(names = "--to", defaultValue = "load@localhost", description = "Recipient of the check message (default ${DEFAULT-VALUE}).")
  String to;

  @Option(names = "--opening", defaultValue = "200", description = "Sessions being opened at once (default ${DEFAULT-VALUE}).")
  int opening;

  @Override
  public Integer call() throws Exception {
    InetSocketAddress address = Load.address(server);
    Timeouts timeouts = Timeouts.all(Duration.ofSeconds(60));
    ConcurrentLinkedQueue<SmtpClient> open = new ConcurrentLinkedQueue<>();
    AtomicInteger failed = new AtomicInteger();
    ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
    Semaphore gate = new Semaphore(opening);
    long start = System.nanoTime();
    Thread[] threads = new Thread[connections];
    for (int i = 0; i < connections; i++) {
      gate.acquire();
      threads[i] = Thread.ofVirtual().start(() -> {
        try {
          SmtpClient c = SmtpClient.connect(address, timeouts);
          c.hello("idle.posta-bench.localhost");
          open.add(c);
        } catch (IOException | RuntimeException e) {
          failed.incrementAndGet();
          if (errors.size() < 3) errors.add(e.getMessage());
        } finally {
          gate.release();
        }
      });
    }
    for (Thread t : threads) t.join();
    double openSeconds = (System.nanoTime() - start) / 1e9;
    System.out.printf(Locale.ROOT, "holding open=%d failed=%d opened_in_s=%.2f%s%n", open.size(), failed.get(), openSeconds,
        errors.isEmpty() ? "" : " first_error=\"" + errors.peek() + "\"");
    System.out.flush();

    // While they sit there: does a new client still get through, and how fast?
    long t0 = System.nanoTime();
    String check;
    try (SmtpClient c = SmtpClient.connect(address, timeouts)) {
      c.hello("check.posta-bench.localhost");
      byte[] content = "Subject: while idle\r\n\r\nstill serving?\r\n".getBytes(StandardCharsets.US_ASCII);
      var r = c.send(new Transaction("bench@example.com", List.of(), List.of(new Transaction.Recipient(to)), content.length,
          out -> out.write(ByteBuffer.wrap(content))));
      check = r.data() == null ? String.valueOf(r.mail()) : r.data().oneLine();
      c.quit();
    } catch (IOException e) {
      check = "failed: " + e.getMessage();
    }
    System.out.printf(Locale.ROOT, "check reply=\"%s\" ms=%.1f%n", check, (System.nanoTime() - t0) / 1e6);
    System.out.flush();

    Thread.sleep(holdSeconds * 1000L);
    // Everyone leaves at once (close, no QUIT): also a test of the server.
    open.forEach(SmtpClient::close);
    return failed.get() == 0 && check.startsWith("250") ? 0 : 1;
  }
}
