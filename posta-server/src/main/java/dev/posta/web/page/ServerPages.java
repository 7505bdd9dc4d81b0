package dev.posta.web.page;

import dev.posta.PostaServer;
import dev.posta.config.PostaConfig;
import dev.posta.metrics.MinuteHistory;
import dev.posta.web.Exchange;
import dev.posta.web.Readiness;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The server's page, {@code GET /admin}: its health at a glance (version, hostname, start and
 * uptime, readiness as {@code /readyz} checks it ({@link Readiness}), the queue's size and its
 * oldest message's age, the last hour's messages accepted, delivered, deferred and bounced, free
 * space in the data folder, the JVM's heap), its listeners as bound, and two charts of the last
 * hour a minute at a time, the same figures as {@code /api/v1/stats} ({@link
 * dev.posta.metrics.MailMetrics#lastHour}): messages (accepted, and recipients delivered,
 * deferred, bounced) and the queue's size.
 *
 * <p>The charts are SVG drawn here ({@link MinuteChart}), {@code GET /admin/charts/messages.svg}
 * and {@code /admin/charts/queue.svg}, shown with {@code <img>}, so the page works without script;
 * each has a text alternative and its figures as a table under it. Their URLs carry a version of
 * their figures ({@code ?v=}), so a URL changes exactly when its chart would. "Live": the pages'
 * script ({@code posta.js}) fetches this page again every {@code data-refresh} seconds while it
 * is visible (15, or {@code ?refresh=N}, from 1 to 3600) and takes its figures, tables and image
 * URLs: one renderer, and nothing but the session needed (no API token).
 *
 * <p>The server's times (start, queue age, minutes) are read on the server's own clock
 * ({@link PostaServer#clock}), the one its queue and meters stamp with. Times are shown in the
 * server's zone, as the mail pages do.
 *
 * <p>An SVG answer carries the pages' headers with its own Content-Security-Policy: nothing may
 * load or run from it, even opened on its own ({@link #SVG_POLICY}).
 */
final class ServerPages implements OperatorPages.Section {
  /** How often the page's script refreshes the figures and charts, unless {@code ?refresh=} says otherwise. */
  static final int REFRESH_SECONDS = 15;
  static final int MAX_REFRESH_SECONDS = 3600;
  /** For an SVG opened by itself as well as in an {@code <img>}: no script, style sheet, font or image of any origin, and no framing. */
  static final String SVG_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox";
  private static final DateTimeFormatter SHOWN = DateTimeFormatter.ofPattern("d MMM yyyy, HH:mm", Locale.ENGLISH);
  private static final DateTimeFormatter MINUTE = DateTimeFormatter.ofPattern("HH:mm", Locale.ENGLISH);
  private static final List<MinuteChart.Series> MESSAGES = List.of(
      new MinuteChart.Series("accepted", "#2456c7", MinuteHistory.Minute::accepted, false),
      new MinuteChart.Series("delivered", "#12805c", MinuteHistory.Minute::delivered, false),
      new MinuteChart.Series("deferred", "#c27c0e", MinuteHistory.Minute::deferred, false),
      new MinuteChart.Series("bounced", "#b42318", MinuteHistory.Minute::bounced, false));
  private static final List<MinuteChart.Series> QUEUE = List.of(new MinuteChart.Series("queued", "#6941c6", m -> m.queued(), true));

  private final PostaServer server;
  private final Pages pages;
  private final ZoneId zone = ZoneId.systemDefault();

  ServerPages(PostaServer server, Pages pages) {
    this.server = server;
    this.pages = pages;
  }

  @Override
  public void handle(Exchange x, Sessions.Session s, Views.Layout layout, List<String> path) throws PageError {
    String chart = path.size() == 2 && path.get(0).equals("charts") ? path.get(1) : null;
    if (!path.isEmpty() && !"messages.svg".equals(chart) && !"queue.svg".equals(chart)) throw PageError.notFound();
    Pages.allow(x, "GET, HEAD"); // the page changes nothing: nothing to post
    if (chart == null) {
      pages.html(x, 200, "server.jte", page(layout.withTitle("Server"), refresh(x)), null);
    } else if (chart.equals("messages.svg")) {
      svg(x, "Messages per minute on " + server.config().hostname() + ", the last hour", MESSAGES);
    } else {
      svg(x, "Messages in the queue on " + server.config().hostname() + ", the last hour", QUEUE);
    }
  }

  /** {@code ?refresh=N}: whole seconds from 1 to {@value #MAX_REFRESH_SECONDS}; 400 otherwise. */
  private static int refresh(Exchange x) throws PageError {
    String given = x.query().getValue("refresh");
    if (given == null) return REFRESH_SECONDS;
    try {
      int seconds = Integer.parseInt(given);
      if (seconds >= 1 && seconds <= MAX_REFRESH_SECONDS) return seconds;
    } catch (NumberFormatException e) {
      // below
    }
    throw PageError.badRequest("refresh: expected whole seconds from 1 to " + MAX_REFRESH_SECONDS + ", got '" + given + "'");
  }

  private void svg(Exchange x, String title, List<MinuteChart.Series> series) {
    List<MinuteHistory.Minute> minutes = server.metrics().lastHour();
    String svg = MinuteChart.render(title, series, minutes, now(minutes), zone);
    Map<String, String> headers = new HashMap<>(Pages.securityHeaders(null));
    headers.put("Content-Security-Policy", SVG_POLICY);
    x.send(200, "image/svg+xml; charset=utf-8", svg.getBytes(StandardCharsets.UTF_8), headers);
  }

  /** The minute in progress, as the meters' history has it (its last entry), so the chart's hour is the history's. */
  private Instant now(List<MinuteHistory.Minute> minutes) {
    return minutes.isEmpty() ? server.clock().instant() : minutes.getLast().start();
  }

  ServerViews.Page page(Views.Layout layout, int refreshSeconds) {
    Instant now = server.clock().instant();
    List<MinuteHistory.Minute> minutes = server.metrics().lastHour();
    List<String> problems = Readiness.problems(server);
    PostaConfig config = server.config();
    List<Views.Line> health = new ArrayList<>();
    health.add(new Views.Line("Version", "Posta " + PostaServer.VERSION));
    health.add(new Views.Line("Hostname", config.hostname()));
    Instant started = server.started();
    if (started != null) {
      health.add(new Views.Line("Started", SHOWN.format(started.atZone(zone))));
      health.add(new Views.Line("Uptime", duration(Duration.between(started, now))));
    }
    health.add(new Views.Line("Readiness", problems.isEmpty() ? "Ready" : "Not ready"));
    int queued = server.mailQueue().size();
    Instant oldest = server.mailQueue().oldestArrival();
    health.add(new Views.Line("Queue", Figures.count(queued, "message")));
    health.add(new Views.Line("Oldest in the queue", oldest == null ? "none" : duration(Duration.between(oldest, now))));
    for (MinuteChart.Series s : MESSAGES) {
      long total = minutes.stream().mapToLong(s.value()).sum();
      health.add(new Views.Line(Figures.capitalized(s.name()) + ", last hour", Figures.number(total)));
    }
    health.add(new Views.Line("Free space, data folder", freeSpace(config)));
    MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    String most = heap.getMax() < 0 ? "no set maximum" : Figures.bytes(heap.getMax());
    health.add(new Views.Line("JVM heap", Figures.bytes(heap.getUsed()) + " used of " + most));
    Instant current = now(minutes);
    List<ServerViews.Chart> charts = List.of(
        chart("messages", "Messages per minute", MESSAGES, minutes, current),
        chart("queue", "Messages in the queue", QUEUE, minutes, current));
    return new ServerViews.Page(layout, config.hostname(), health, problems, listeners(), charts, refreshSeconds);
  }

  private ServerViews.Chart chart(String name, String heading, List<MinuteChart.Series> series, List<MinuteHistory.Minute> minutes,
      Instant now) {
    String src = "/admin/charts/" + name + ".svg?v=" + MinuteChart.version(series, minutes, now);
    List<String> columns = new ArrayList<>();
    columns.add("Minute");
    series.forEach(s -> columns.add(Figures.capitalized(s.name())));
    List<List<String>> rows = new ArrayList<>();
    for (MinuteHistory.Minute m : minutes.reversed()) {
      List<String> row = new ArrayList<>();
      row.add(MINUTE.format(m.start().atZone(zone)));
      series.forEach(s -> row.add(Long.toString(s.value().applyAsLong(m))));
      rows.add(row);
    }
    return new ServerViews.Chart(name, heading, src, MinuteChart.description(series, minutes, now, zone), columns, rows);
  }

  /** The listeners as bound, in the configuration's order, with how each does TLS. */
  private List<ServerViews.Listener> listeners() {
    boolean tls = server.tls() != null;
    List<ServerViews.Listener> rows = new ArrayList<>();
    for (PostaServer.Bound b : server.listeners()) {
      PostaConfig.Protocol p = b.listener().protocol();
      String how;
      if (p.implicitTls()) how = "implicit TLS";
      else if (p.web() || !tls) how = "none";
      else how = p == PostaConfig.Protocol.POP3 ? "STLS" : "STARTTLS";
      rows.add(new ServerViews.Listener(p.name().toLowerCase(Locale.ROOT), address(b), how));
    }
    return rows;
  }

  private static String address(PostaServer.Bound b) {
    String host = b.address().getAddress().getHostAddress();
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + b.address().getPort();
  }

  private static String freeSpace(PostaConfig config) {
    try {
      FileStore store = Files.getFileStore(config.dataDir());
      return Figures.bytes(store.getUsableSpace()) + " of " + Figures.bytes(store.getTotalSpace());
    } catch (IOException e) {
      return "unknown (" + e.getMessage() + ")";
    }
  }

  /** A duration as a person reads it, to its two largest units: 45 s, 12 min, 3 h 5 min, 2 d 4 h. */
  static String duration(Duration d) {
    long s = Math.max(0, d.toSeconds());
    if (s < 60) return s + " s";
    long min = s / 60;
    if (min < 60) return min + " min";
    long h = min / 60;
    if (h < 24) return h + " h " + min % 60 + " min";
    return h / 24 + " d " + h % 24 + " h";
  }
}
