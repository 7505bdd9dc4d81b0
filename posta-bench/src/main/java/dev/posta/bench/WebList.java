package dev.posta.bench;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Times Posta's web view on a big folder: signs in as a browser does (the form, its CSRF token,
 * the session cookie), then requests page 1 of the folder's message list and its middle page
 * (from "Page 1 of N") {@code --rounds} times each, one at a time, after {@code --warmup}
 * requests of each not counted, and prints for each page the server's own time (the page's
 * {@code Server-Timing}) and the time the client saw until the whole page had arrived, as
 * p50/p90/max, against the web view's target of 200 ms.
 */
@Command(name = "web-list", mixinStandardHelpOptions = true, description = "Time the web view's message list: page 1 and the middle page.")
final class WebList implements Callable<Integer> {
  @Option(names = "--url", required = true, paramLabel = "URL", description = "The web view's base, e.g. http://127.0.0.1:8025.")
  String url;

  @Option(names = "--address", required = true, description = "The account to sign in as.")
  String address;

  @Option(names = "--password", required = true, description = "Its password.")
  String password;

  @Option(names = "--folder", defaultValue = "INBOX", description = "The folder (default ${DEFAULT-VALUE}).")
  String folder;

  @Option(names = "--rounds", defaultValue = "50", description = "Timed requests of each page (default ${DEFAULT-VALUE}).")
  int rounds;

  @Option(names = "--warmup", defaultValue = "20", description = "Requests of each page first, not counted (default ${DEFAULT-VALUE}).")
  int warmup;

  private static final Pattern CSRF = Pattern.compile("name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");
  private static final Pattern PAGES = Pattern.compile("Page 1 of ([0-9,]+)");
  private static final Pattern ROWS = Pattern.compile("<td class=\"subject\">");
  private static final Pattern SERVER_TIMING = Pattern.compile("page;dur=([0-9.]+)");

  @Override
  public Integer call() throws Exception {
    String base = url.replaceAll("/$", "");
    try (HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build()) {
      HttpResponse<String> form = http.send(HttpRequest.newBuilder(URI.create(base + "/signin")).build(), HttpResponse.BodyHandlers.ofString());
      Matcher token = CSRF.matcher(form.body());
      String signInCookie = form.headers().firstValue("Set-Cookie").orElse("").split(";", 2)[0];
      if (!token.find()) throw new IllegalStateException("no sign-in form at " + base + "/signin (status " + form.statusCode() + ")");
      String body = "csrf=" + token.group(1) + "&address=" + URLEncoder.encode(address, StandardCharsets.UTF_8) + "&password="
          + URLEncoder.encode(password, StandardCharsets.UTF_8);
      HttpResponse<String> in = http.send(HttpRequest.newBuilder(URI.create(base + "/signin")).header("Cookie", signInCookie)
          .header("Content-Type", "application/x-www-form-urlencoded").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
          HttpResponse.BodyHandlers.ofString());
      String session = in.headers().allValues("Set-Cookie").stream().filter(c -> c.startsWith("posta_session=")).findFirst()
          .orElseThrow(() -> new IllegalStateException("sign-in refused: " + in.statusCode())).split(";", 2)[0];
      String list = base + "/mail/" + URLEncoder.encode(folder, StandardCharsets.UTF_8).replace("+", "%20");
      HttpResponse<String> first = get(http, list, session);
      Matcher pages = PAGES.matcher(first.body());
      int count = pages.find() ? Integer.parseInt(pages.group(1).replace(",", "")) : 1;
      int middle = Math.max(1, (count + 1) / 2);
      System.out.printf("web-list: %s, %,d pages of 50; timing page 1 and page %,d, %d rounds each after %d not counted%n", list, count,
          middle, rounds, warmup);
      time(http, list, session, "page 1");
      time(http, list + "?page=" + middle, session, "page " + middle);
      return 0;
    }
  }

  private void time(HttpClient http, String uri, String session, String name) throws Exception {
    for (int i = 0; i < warmup; i++) get(http, uri, session);
    double[] server = new double[rounds], client = new double[rounds];
    int rows = 0;
    for (int i = 0; i < rounds; i++) {
      long started = System.nanoTime();
      HttpResponse<String> r = get(http, uri, session);
      client[i] = (System.nanoTime() - started) / 1e6;
      Matcher t = SERVER_TIMING.matcher(r.headers().firstValue("Server-Timing").orElse(""));
      server[i] = t.find() ? Double.parseDouble(t.group(1)) : Double.NaN;
      rows = (int) ROWS.matcher(r.body()).results().count();
    }
    Arrays.sort(server);
    Arrays.sort(client);
    System.out.printf("%-12s %d rows  server ms: p50 %.1f, p90 %.1f, max %.1f   client ms: p50 %.1f, p90 %.1f, max %.1f   (target: under 200)%n",
        name, rows, pct(server, 50), pct(server, 90), server[rounds - 1], pct(client, 50), pct(client, 90), client[rounds - 1]);
  }

  private static HttpResponse<String> get(HttpClient http, String uri, String session) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(uri)).header("Cookie", session).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) throw new IllegalStateException(uri + ": " + r.statusCode());
    return r;
  }

  private static double pct(double[] sorted, int p) {
    return sorted[Math.min(sorted.length - 1, (int) Math.ceil(sorted.length * p / 100.0) - 1)];
  }
}
