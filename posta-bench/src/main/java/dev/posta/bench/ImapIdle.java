package dev.posta.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Holds C logged-in clients in IDLE on INBOX (each: connect, LOGIN, SELECT INBOX, IDLE), prints
 * {@code holding ...} once all are in (so a script can measure the server's memory then), waits
 * for a line on stdin (or --hold seconds), and then checks that the server still serves: a new
 * client logs in and APPENDs a message to INBOX, and every client in IDLE should hear of it
 * ({@code * n EXISTS}, RFC 2177); prints how many did within --notify-wait seconds. Then every
 * client ends its IDLE and logs out.
 */
@Command(name = "imap-idle", mixinStandardHelpOptions = true, description = "Hold many IMAP clients in IDLE; check the server still serves.")
final class ImapIdle implements Callable<Integer> {
  @Option(names = "--server", required = true, paramLabel = "HOST:PORT")
  String server;

  @Option(names = "--user", required = true)
  String user;

  @Option(names = "--password", required = true)
  String password;

  @Option(names = "--connections", defaultValue = "10000", description = "Clients in IDLE (default ${DEFAULT-VALUE}).")
  int connections;

  @Option(names = "--opening", defaultValue = "100", description = "Clients logging in at once (default ${DEFAULT-VALUE}).")
  int opening;

  @Option(names = "--hold", defaultValue = "-1", description = "Seconds to hold once all are in; -1 (default): until a line on stdin.")
  int holdSeconds;

  @Option(names = "--notify-wait", defaultValue = "10", description = "Seconds to wait for every client to hear of the new message (default ${DEFAULT-VALUE}).")
  int notifyWait;

  @Override
  public Integer call() throws Exception {
    InetSocketAddress address = Load.address(server);
    Duration timeout = Duration.ofSeconds(120);
    ConcurrentLinkedQueue<ImapClient> open = new ConcurrentLinkedQueue<>();
    AtomicInteger failed = new AtomicInteger();
    ConcurrentLinkedQueue<String> errors = new ConcurrentLinkedQueue<>();
    Semaphore gate = new Semaphore(opening);
    CountDownLatch in = new CountDownLatch(connections);
    CountDownLatch appended = new CountDownLatch(1);
    CountDownLatch leave = new CountDownLatch(1);
    AtomicInteger notified = new AtomicInteger();
    long[] appendedAt = {0};
    java.util.concurrent.atomic.AtomicLong lastNotice = new java.util.concurrent.atomic.AtomicLong();
    long start = System.nanoTime();
    Thread[] threads = new Thread[connections];
    for (int i = 0; i < connections; i++) {
      gate.acquire();
      threads[i] = Thread.ofVirtual().start(() -> {
        ImapClient c = null;
        String tag;
        try {
          c = ImapClient.connect(address, timeout);
          var r = c.login(user, password);
          if (!r.ok()) throw new ImapClient.Failure("LOGIN: " + r.line());
          r = c.command("SELECT INBOX");
          if (!r.ok()) throw new ImapClient.Failure("SELECT: " + r.line());
          tag = c.idle();
          open.add(c);
        } catch (IOException | RuntimeException e) {
          failed.incrementAndGet();
          if (errors.size() < 3) errors.add(e.getMessage());
          if (c != null) c.close();
          return;
        } finally {
          gate.release();
          in.countDown();
        }
        // In IDLE: wait for the news of the check message, then for the end.
        try {
          appended.await();
          while (true) {
            String line = c.readUntagged();
            if (line.contains(" EXISTS")) {
              notified.incrementAndGet();
              lastNotice.accumulateAndGet(System.nanoTime(), Math::max);
              break;
            }
          }
        } catch (IOException | InterruptedException e) {
          // not told (a timeout): counted by its absence
        }
        try {
          leave.await();
          c.done(tag);
          c.logout();
        } catch (IOException | InterruptedException e) {
          c.close();
        }
      });
    }
    in.await();
    double openSeconds = (System.nanoTime() - start) / 1e9;
    System.out.printf(Locale.ROOT, "holding idle=%d failed=%d opened_in_s=%.2f%s%n", open.size(), failed.get(), openSeconds,
        errors.isEmpty() ? "" : " first_error=\"" + errors.peek() + "\"");
    System.out.flush();
    if (holdSeconds >= 0) Thread.sleep(holdSeconds * 1000L);
    else new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();

    // Does a new client still get in, and do the idle ones hear of its message?
    long t0 = System.nanoTime();
    String check;
    try (ImapClient c = ImapClient.connect(address, timeout)) {
      var r = c.login(user, password);
      if (!r.ok()) throw new ImapClient.Failure("LOGIN: " + r.line());
      byte[] m = "From: <check@localhost>\r\nSubject: while idle\r\n\r\nstill serving?\r\n".getBytes(StandardCharsets.US_ASCII);
      appendedAt[0] = System.nanoTime();
      appended.countDown();
      r = c.append("INBOX", null, m);
      check = r.line();
      c.logout();
    } catch (IOException e) {
      appended.countDown();
      check = "failed: " + e.getMessage();
    }
    double checkMs = (System.nanoTime() - t0) / 1e6;
    long waitUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(notifyWait);
    while (notified.get() < open.size() && System.nanoTime() < waitUntil) Thread.sleep(20);
    double allToldMs = lastNotice.get() == 0 ? -1 : (lastNotice.get() - appendedAt[0]) / 1e6;
    System.out.printf(Locale.ROOT, "check append=\"%s\" ms=%.1f notified=%d of %d last_notified_after_ms=%.1f%n", check.replace("\"", "'"),
        checkMs, notified.get(), open.size(), allToldMs);
    System.out.flush();
    leave.countDown();
    // The told ones end their IDLE and log out; whoever is still waiting after that is cut off.
    long joinUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    for (Thread t : threads) {
      long left = joinUntil - System.nanoTime();
      if (t != null && left > 0) t.join(Duration.ofNanos(left));
    }
    open.forEach(ImapClient::close);
    return failed.get() == 0 && check.startsWith("OK") ? 0 : 1;
  }
}
