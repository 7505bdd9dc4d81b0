package dev.posta.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The time a large mailbox takes to open and to list, as a client sees it: the first SELECT
 * (whatever the server has to build then), later SELECTs (each on a new connection, after
 * LOGIN, as a client that comes back), and {@code FETCH 1:* (FLAGS ENVELOPE)} (what a client
 * without a cache asks for to show the list), twice in one session. Each time is from sending
 * the command to its tagged OK, every response read. Prints one line (or JSON).
 */
@Command(name = "imap-select", mixinStandardHelpOptions = true, description = "Time SELECT and FETCH 1:* (FLAGS ENVELOPE) on a big mailbox.")
final class ImapSelect implements Callable<Integer> {
  @Option(names = "--server", required = true, paramLabel = "HOST:PORT")
  String server;

  @Option(names = "--user", required = true)
  String user;

  @Option(names = "--password", required = true)
  String password;

  @Option(names = "--mailbox", defaultValue = "INBOX")
  String mailbox;

  @Option(names = "--selects", defaultValue = "5", description = "SELECTs after the first, each on a new connection (default ${DEFAULT-VALUE}).")
  int selects;

  @Option(names = "--fetches", defaultValue = "2", description = "FETCH 1:* (FLAGS ENVELOPE) in one session (default ${DEFAULT-VALUE}).")
  int fetches;

  @Option(names = "--save", description = "Write the first FETCH's responses to this file (to compare servers).")
  Path save;

  @Option(names = "--timeout", defaultValue = "300", description = "Seconds to wait for any one response (default ${DEFAULT-VALUE}).")
  int timeoutSeconds;

  @Option(names = "--json", description = "Print the result as one JSON object.")
  boolean json;

  private static final Pattern EXISTS = Pattern.compile("^\\* (\\d+) EXISTS");

  @Override
  public Integer call() throws Exception {
    InetSocketAddress address = Load.address(server);
    Duration timeout = Duration.ofSeconds(timeoutSeconds);
    int[] exists = {-1};
    double first = select(address, timeout, exists);
    List<Double> later = new ArrayList<>();
    for (int i = 0; i < selects; i++) later.add(select(address, timeout, null));
    List<Double> fetch = new ArrayList<>();
    long fetched = -1, octets = 0;
    if (fetches > 0) {
      try (ImapClient c = ImapClient.connect(address, timeout)) {
        ok(c.login(user, password), "LOGIN");
        ok(c.command("SELECT " + ImapClient.quoted(mailbox)), "SELECT");
        for (int i = 0; i < fetches; i++) {
          PrintStream out = i == 0 && save != null ? new PrintStream(Files.newOutputStream(save), false, "UTF-8") : null;
          long t0 = System.nanoTime();
          var r = c.command("FETCH 1:* (FLAGS ENVELOPE)", false, out == null ? null : out::println);
          fetch.add((System.nanoTime() - t0) / 1e6);
          if (out != null) out.close();
          ok(r, "FETCH");
          fetched = r.untaggedCount();
          octets = r.octets();
        }
        c.logout();
      }
    }
    later.sort(null);
    double median = later.isEmpty() ? Double.NaN : later.get(later.size() / 2);
    String fetchList = fetch.stream().map(d -> String.format(Locale.ROOT, "%.1f", d)).reduce((a, b) -> a + "," + b).orElse("");
    if (json) {
      System.out.printf(Locale.ROOT, "{\"exists\":%d,\"select_first_ms\":%.1f,\"select_later_ms\":%.1f,\"select_later_all_ms\":%s,"
              + "\"fetch_ms\":[%s],\"fetched\":%d,\"fetch_octets\":%d}%n",
          exists[0], first, median, later.toString(), fetchList, fetched, octets);
    } else {
      System.out.printf(Locale.ROOT, "exists=%d select_first_ms=%.1f select_later_ms=%.1f (median of %d) fetch_ms=[%s] fetched=%d fetch_octets=%d%n",
          exists[0], first, median, later.size(), fetchList, fetched, octets);
    }
    return fetched < 0 || fetched >= exists[0] ? 0 : 1;
  }

  /** Connects, logs in, and times one SELECT; returns milliseconds. */
  private double select(InetSocketAddress address, Duration timeout, int[] exists) throws IOException {
    try (ImapClient c = ImapClient.connect(address, timeout)) {
      ok(c.login(user, password), "LOGIN");
      long t0 = System.nanoTime();
      var r = c.command("SELECT " + ImapClient.quoted(mailbox), exists != null, null);
      double ms = (System.nanoTime() - t0) / 1e6;
      ok(r, "SELECT");
      if (exists != null) {
        for (String line : r.untagged()) {
          Matcher m = EXISTS.matcher(line);
          if (m.find()) exists[0] = Integer.parseInt(m.group(1));
        }
      }
      c.logout();
      return ms;
    }
  }

  private static void ok(ImapClient.Response r, String what) throws IOException {
    r.orFail(what);
  }
}
