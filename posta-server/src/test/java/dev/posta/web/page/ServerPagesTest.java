package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.metrics.MinuteHistory;
import dev.posta.testing.Await;
import dev.posta.testing.Dnsmasq;
import dev.posta.testing.MutableClock;
import dev.posta.testing.SmtpPeer;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * The server's page and its charts against a real server whose clock is held still, so each
 * message's minute is known: three messages delivered locally in the first minute; in the next,
 * one the remote server defers (451) and one it refuses (550, bounced: its DSN is delivered to
 * the sender's local mailbox). The page's figures, its tables and the SVG (parsed as XML) must
 * say exactly that.
 */
class ServerPagesTest {
  private static final String SLOW = "451 4.3.0 greylisted, try again later";
  private static final String GONE = "550 5.1.1 <gone@example.test>: no such user";
  /** 10 s into a minute: the minutes are 09:00, 09:01, 09:02 (UTC). */
  private static final Instant START = Instant.parse("2026-12-07T09:00:10Z");
  private static final ZoneId ZONE = ZoneId.systemDefault();
  private static final DateTimeFormatter HH_MM = DateTimeFormatter.ofPattern("HH:mm", Locale.ENGLISH);
  @TempDir static Path shared;
  @TempDir Path dir;
  static Dnsmasq dns;
  final MutableClock clock = new MutableClock(START);
  SmtpPeer mx;
  TestServer server;

  @BeforeAll
  static void startDns() {
    dns = Dnsmasq.start(shared, r -> r.mx("example.test", "mx1.example.test", 10).a("mx1.example.test", "127.0.0.2"));
  }

  @AfterAll
  static void stopDns() {
    dns.close();
  }

  @BeforeEach
  void start() throws Exception {
    int mxPort;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.2"))) {
      mxPort = s.getLocalPort();
    }
    mx = SmtpPeer.start(dir.resolve("peer"), o -> o.host("127.0.0.2").port(mxPort).rcptReply("slow@example.test", SLOW, 1000)
        .rcptReply("gone@example.test", GONE));
    server = TestServer.start(dir.resolve("posta"), c -> {
      var s = c.submission();
      return TestServer.withHttp(c.toBuilder()
          .submission(new PostaConfig.Submission(List.of(Network.parse("127.0.0.0/8")), true, true, 10, s.authLockout()))
          .delivery(PostaConfig.Delivery.defaults().toBuilder().dns(List.of(dns.address()), mxPort).build()).build());
    }, clock);
    server.server().users().add("admin@localhost", "the admin's password".toCharArray(), true);
    server.server().users().add("alice@localhost", "alice's password".toCharArray(), false);
  }

  @AfterEach
  void stop() {
    server.close();
    mx.close();
  }

  /** Submits one message as alice to {@code to}. */
  private void submit(String to) throws IOException {
    try (SmtpWire wire = new SmtpWire(server.submissionPort())) {
      wire.ehlo();
      assertThat(wire.authPlain("alice@localhost", "alice's password")).startsWith("235 ");
      assertThat(wire.command("MAIL FROM:<alice@localhost>")).isEqualTo("250 2.1.0 Sender OK");
      assertThat(wire.command("RCPT TO:<" + to + ">")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      assertThat(wire.command("Subject: for the charts\r\n\r\nx\r\n.")).startsWith("250 2.0.0 Ok: queued as ");
    }
  }

  /** Moves the clock on a minute, and has the meters close the minute before anything more is counted. */
  private void nextMinute() {
    clock.advance(Duration.ofMinutes(1));
    server.server().metrics().lastHour();
  }

  private String at(Instant minute) {
    return HH_MM.format(minute.atZone(ZONE));
  }

  /** 09:00: three delivered locally; 09:01: one deferred, one bounced (its DSN delivered to alice); now 09:02. */
  private void sendTheHoursMail() throws Exception {
    for (int i = 0; i < 3; i++) submit("bob@localhost");
    server.awaitMail("bob", 3);
    Await.await("three delivered", () -> server.server().metrics().lastHour().getLast().delivered() == 3);
    nextMinute();
    // One after the other, so that the queue never holds two (its chart's peak is exact).
    submit("gone@example.test");
    Await.await("one bounced, its DSN delivered", () -> {
      MinuteHistory.Minute m = server.server().metrics().lastHour().getLast();
      return m.bounced() == 1 && m.delivered() == 1;
    });
    submit("slow@example.test");
    Await.await("one deferred", () -> server.server().metrics().lastHour().getLast().deferred() == 1);
    server.awaitMail("alice", 1); // the DSN
    nextMinute();
  }

  @Test
  void thePageShowsTheHoursFiguresTheQueueAndTheListeners() throws Exception {
    sendTheHoursMail();
    try (PageClient admin = PageClient.signedIn(server.httpPort(), "admin@localhost", "the admin's password")) {
      HttpResponse<String> r = admin.get("/admin");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
      assertThat(r.headers().firstValue("Content-Security-Policy")).hasValue(Pages.contentSecurityPolicy(null));
      String page = r.body();
      String host = server.server().config().hostname();
      String started = DateTimeFormatter.ofPattern("d MMM yyyy, HH:mm", Locale.ENGLISH).format(START.atZone(ZONE));
      assertThat(page).contains("<title>Server · Posta</title>", "<a href=\"/admin\" aria-current=\"page\">Server</a>",
          "<main class=\"operators server\" data-refresh=\"15\">", "<h1>Server <small>" + host + "</small></h1>",
          "<div><dt>Version</dt><dd>Posta 0.1.0</dd></div>", "<div><dt>Hostname</dt><dd>" + host + "</dd></div>",
          "<div><dt>Started</dt><dd>" + started + "</dd></div>", "<div><dt>Uptime</dt><dd>2 min</dd></div>",
          "<div><dt>Readiness</dt><dd>Ready</dd></div>", "<div><dt>Queue</dt><dd>1 message</dd></div>",
          "<div><dt>Accepted, last hour</dt><dd>5</dd></div>",
          "<div><dt>Delivered, last hour</dt><dd>4</dd></div>", "<div><dt>Deferred, last hour</dt><dd>1</dd></div>",
          "<div><dt>Bounced, last hour</dt><dd>1</dd></div>", "<div><dt>Free space, data folder</dt><dd>", "<div><dt>JVM heap</dt><dd>",
          "<p class=\"ready\">Ready: every listener is bound, the spool takes files, and the data folder has the free space it needs.</p>");
      // The age is read on the server's clock (as /metrics' gauge is), the arrival stamped on the machine's: not exact in this test.
      assertThat(page).containsPattern("<div><dt>Oldest in the queue</dt><dd>[0-9]+ (s|min)</dd></div>");
      assertThat(page).containsPattern("<div><dt>JVM heap</dt><dd>[0-9.]+ [KMG]B used of [0-9.]+ [KMG]B</dd></div>");
      // The listeners as bound, with how each does TLS.
      assertThat(page).contains("<tr><td>smtp</td><td>127.0.0.1:" + server.smtpPort() + "</td><td>STARTTLS</td></tr>",
          "<tr><td>smtps</td><td>127.0.0.1:" + server.smtpsPort() + "</td><td>implicit TLS</td></tr>",
          "<tr><td>pop3</td><td>127.0.0.1:" + server.pop3Port() + "</td><td>STLS</td></tr>",
          "<tr><td>http</td><td>127.0.0.1:" + server.httpPort() + "</td><td>none</td></tr>",
          "<tr><td>https</td><td>127.0.0.1:" + server.httpsPort() + "</td><td>implicit TLS</td></tr>");
      // Each chart: an image with its text alternative, and its figures a minute at a time, newest first.
      Instant m0 = Instant.parse("2026-12-07T09:00:00Z");
      Instant m1 = m0.plusSeconds(60);
      Instant m2 = m1.plusSeconds(60);
      assertThat(page).contains("<figure class=\"chart\" data-chart=\"messages\">", "<figcaption>Messages per minute, the last hour</figcaption>",
          "alt=\"Per minute from " + at(m2.minusSeconds(59 * 60)) + " to " + at(m2) + ": accepted 5 in all, at most 3 in a minute; "
              + "delivered 4 in all, at most 3 in a minute; deferred 1 in all, at most 1 in a minute; bounced 1 in all, at most 1 in a minute.\">",
          "<thead><tr><th scope=\"col\">Minute</th><th scope=\"col\">Accepted</th><th scope=\"col\">Delivered</th>"
              + "<th scope=\"col\">Deferred</th><th scope=\"col\">Bounced</th></tr></thead>",
          "<figure class=\"chart\" data-chart=\"queue\">",
          "alt=\"Per minute from " + at(m2.minusSeconds(59 * 60)) + " to " + at(m2) + ": queued 1 now, at most 1.\">");
      // Newest first; then the queue's.
      assertThat(page).containsSubsequence("<tr><th scope=\"row\">" + at(m2) + "</th><td>0</td><td>0</td><td>0</td><td>0</td></tr>",
          "<tr><th scope=\"row\">" + at(m1) + "</th><td>2</td><td>1</td><td>1</td><td>1</td></tr>",
          "<tr><th scope=\"row\">" + at(m0) + "</th><td>3</td><td>3</td><td>0</td><td>0</td></tr>",
          "<figure class=\"chart\" data-chart=\"queue\">", "<tr><th scope=\"row\">" + at(m2) + "</th><td>1</td></tr>",
          "<tr><th scope=\"row\">" + at(m1) + "</th><td>1</td></tr>", "<tr><th scope=\"row\">" + at(m0) + "</th><td>0</td></tr>", "</main>");
      assertThat(page).containsPattern("<img src=\"/admin/charts/messages.svg\\?v=[0-9a-f]+\" width=\"720\" height=\"240\" alt=\"");
    }
  }

  /** The image URLs: unchanged while the figures are, new when one changes (and the browser then fetches the chart again). */
  @Test
  void aChartsUrlChangesExactlyWhenItsFiguresDo() throws Exception {
    try (PageClient admin = PageClient.signedIn(server.httpPort(), "admin@localhost", "the admin's password")) {
      String empty = admin.get("/admin").body();
      assertThat(empty).contains("<div><dt>Queue</dt><dd>0 messages</dd></div>", "<div><dt>Oldest in the queue</dt><dd>none</dd></div>");
      String messages = src(empty, "messages");
      String queue = src(admin.get("/admin").body(), "queue");
      assertThat(src(admin.get("/admin").body(), "messages")).isEqualTo(messages);
      submit("bob@localhost");
      server.awaitMail("bob", 1);
      Await.await("delivered", () -> server.server().metrics().lastHour().getLast().delivered() == 1);
      String page = admin.get("/admin").body();
      assertThat(src(page, "messages")).isNotEqualTo(messages);
      assertThat(src(page, "queue")).isEqualTo(queue); // the queue was empty before and after
    }
  }

  private static String src(String page, String chart) {
    Matcher m = Pattern.compile("<img src=\"(/admin/charts/" + chart + "\\.svg\\?v=[0-9a-f]+)\"").matcher(page);
    assertThat(m.find()).as(chart).isTrue();
    return m.group(1);
  }

  /** Not ready: the page says so, and why, in /readyz's words (the page itself still answers 200). */
  @Test
  void aServerThatIsNotReadySaysWhy() throws Exception {
    server.close();
    Path data = dir.resolve("short-of-space");
    server = TestServer.start(data, c -> TestServer.withHttp(c).toBuilder().http(new PostaConfig.Http(false, Long.MAX_VALUE)).build());
    server.server().users().add("admin@localhost", "the admin's password".toCharArray(), true);
    try (PageClient admin = PageClient.signedIn(server.httpPort(), "admin@localhost", "the admin's password")) {
      HttpResponse<String> r = admin.get("/admin");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).contains("<div><dt>Readiness</dt><dd>Not ready</dd></div>",
          "<div class=\"not-ready\" role=\"alert\">\n      <p>Not ready (<code>/readyz</code> answers 503):</p>")
          .containsPattern("<li>free space in " + Pattern.quote(data.toString()) + " is \\d+ octets, below \\[http\\] ready-min-free-space \\("
              + Long.MAX_VALUE + "\\)</li>")
          .doesNotContain("<p class=\"ready\">");
    }
  }

  @Test
  void theChartsAreSvgWithAPointPerMinuteAndANiceTop() throws Exception {
    sendTheHoursMail();
    try (PageClient admin = PageClient.signedIn(server.httpPort(), "admin@localhost", "the admin's password")) {
      HttpResponse<String> r = admin.get("/admin/charts/messages.svg?v=1");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.headers().firstValue("Content-Type")).hasValue("image/svg+xml; charset=utf-8");
      assertThat(r.headers().firstValue("Content-Security-Policy"))
          .hasValue("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox");
      assertThat(r.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
      assertThat(r.headers().firstValue("Cache-Control")).hasValue("no-store");
      Document svg = xml(r.body());
      Element root = svg.getDocumentElement();
      assertThat(root.getNamespaceURI()).isEqualTo("http://www.w3.org/2000/svg");
      assertThat(root.getAttribute("viewBox")).isEqualTo("0 0 720 240");
      String host = server.server().config().hostname();
      assertThat(text(svg, "title")).containsExactly("Messages per minute on " + host + ", the last hour");
      Instant m2 = Instant.parse("2026-12-07T09:02:00Z");
      assertThat(text(svg, "desc")).containsExactly("Per minute from " + at(m2.minusSeconds(59 * 60)) + " to " + at(m2)
          + ": accepted 5 in all, at most 3 in a minute; delivered 4 in all, at most 3 in a minute; deferred 1 in all, at most 1 in a minute;"
          + " bounced 1 in all, at most 1 in a minute.");
      // Three minutes, one after the other: a line of three points in each series.
      for (String series : List.of("accepted", "delivered", "deferred", "bounced")) {
        assertThat(points(svg, series)).as(series).hasSize(3);
      }
      // The highest minute is 3: the axis ends at 5, a line a message; 09:02's points, the last, are at 0 (y 214) on the right edge (x 706).
      assertThat(yLabels(svg)).containsExactly("0", "1", "2", "3", "4", "5");
      assertThat(points(svg, "accepted")).containsExactly("683.7,106", "694.8,142", "706,214");
      assertThat(ticks(svg)).hasSize(60);
      assertThat(text(svg, "text")).contains("accepted 5", "delivered 4", "deferred 1", "bounced 1"); // the legend

      Document queue = xml(admin.get("/admin/charts/queue.svg").body());
      assertThat(text(queue, "title")).containsExactly("Messages in the queue on " + host + ", the last hour");
      assertThat(points(queue, "queued")).containsExactly("683.7,214", "694.8,34", "706,34");
      assertThat(yLabels(queue)).containsExactly("0", "1");
      assertThat(text(queue, "text")).contains("queued 1 now");
    }
  }

  @Test
  void anAllZeroHourIsFlatLinesAtZeroAndAMissingMinuteIsAGap() throws Exception {
    Instant now = Instant.parse("2026-12-07T09:59:30Z");
    List<MinuteHistory.Minute> minutes = new ArrayList<>();
    for (int i = 0; i < 60; i++) {
      if (i == 30) continue; // a suspended machine: no minute rolled there
      minutes.add(new MinuteHistory.Minute(Instant.parse("2026-12-07T09:00:00Z").plusSeconds(60L * i), 0, 0, 0, 0, 0));
    }
    minutes.add(0, new MinuteHistory.Minute(Instant.parse("2026-12-07T08:59:00Z"), 7, 0, 0, 0, 0)); // before the hour: not drawn
    String svg = MinuteChart.render("Zero", List.of(new MinuteChart.Series("accepted", "#2456c7", MinuteHistory.Minute::accepted, false)),
        minutes, now, ZoneOffset.UTC);
    assertThat(svg).doesNotContain("NaN", "Infinity");
    Document doc = xml(svg);
    assertThat(yLabels(doc)).containsExactly("0", "1");
    NodeList lines = ((Element) series(doc, "accepted")).getElementsByTagName("polyline");
    assertThat(lines.getLength()).isEqualTo(2); // 09:00 to 09:29, and 09:31 to 09:59
    List<String> all = points(doc, "accepted");
    assertThat(all).hasSize(59);
    assertThat(all).allSatisfy(p -> assertThat(p).endsWith(",214"));
    assertThat(text(doc, "desc")).containsExactly("Per minute from 09:00 to 09:59: accepted 0 in all, at most 0 in a minute.");
    // The times every ten minutes, in the zone given.
    assertThat(text(doc, "text")).containsSubsequence("09:00", "09:10", "09:20", "09:30", "09:40", "09:50");

    // One minute alone (the server just started) is a dot, not an invisible line of one point.
    Document one = xml(MinuteChart.render("One", List.of(new MinuteChart.Series("queued", "#6941c6", m -> m.queued(), true)),
        List.of(new MinuteHistory.Minute(Instant.parse("2026-12-07T09:59:00Z"), 0, 0, 0, 0, 12)), now, ZoneOffset.UTC));
    assertThat(((Element) series(one, "queued")).getElementsByTagName("circle").getLength()).isEqualTo(1);
    assertThat(points(one, "queued")).containsExactly("706,106");
    assertThat(yLabels(one)).containsExactly("0", "5", "10", "15", "20");
  }

  @Test
  void theChartsTextIsEscapedForXml() throws Exception {
    String title = "<script>alert('x')</script> & \"quoted\"\u0001";
    String svg = MinuteChart.render(title, List.of(new MinuteChart.Series("a<b>&\"'", "#000\"/><script", MinuteHistory.Minute::accepted, false)),
        List.of(), Instant.parse("2026-12-07T09:59:30Z"), ZoneOffset.UTC);
    assertThat(svg).doesNotContain("<script", "\u0001").contains("<title id=\"title\">&lt;script&gt;alert(&apos;x&apos;)&lt;/script&gt; &amp; "
        + "&quot;quoted&quot;</title>");
    Document doc = xml(svg);
    assertThat(text(doc, "title")).containsExactly("<script>alert('x')</script> & \"quoted\"");
    assertThat(doc.getElementsByTagName("script").getLength()).isZero();
    assertThat(series(doc, "a<b>&\"'")).isNotNull();
  }

  @Test
  void niceTops() {
    long[][] table = {{0, 1, 1}, {1, 1, 1}, {2, 2, 2}, {3, 5, 5}, {5, 5, 5}, {6, 10, 5}, {11, 20, 4}, {21, 50, 5}, {51, 100, 5},
        {101, 200, 4}, {999, 1000, 5}, {1001, 2000, 4}};
    for (long[] row : table) {
      assertThat(MinuteChart.top(row[0])).as("top(%d)", row[0]).isEqualTo(row[1]);
      assertThat(MinuteChart.intervals(row[1])).as("intervals(%d)", row[1]).isEqualTo(row[2]);
      assertThat(row[1] % row[2]).as("whole steps up to %d", row[1]).isZero();
    }
  }

  @Test
  void figuresAsAPersonReadsThem() {
    assertThat(ServerPages.duration(Duration.ofSeconds(45))).isEqualTo("45 s");
    assertThat(ServerPages.duration(Duration.ofSeconds(12 * 60 + 59))).isEqualTo("12 min");
    assertThat(ServerPages.duration(Duration.ofMinutes(185))).isEqualTo("3 h 5 min");
    assertThat(ServerPages.duration(Duration.ofHours(52))).isEqualTo("2 d 4 h");
    assertThat(ServerPages.duration(Duration.ofSeconds(-3))).isEqualTo("0 s");
    assertThat(Figures.bytes(950)).isEqualTo("950 B");
    assertThat(Figures.bytes(12_345)).isEqualTo("12 KB");
    assertThat(Figures.bytes(999_700)).isEqualTo("1.0 MB");
    assertThat(Figures.bytes(3_400_000_000L)).isEqualTo("3.4 GB");
    assertThat(Figures.bytes(512_000_000_000L)).isEqualTo("512 GB");
  }

  @Test
  void onlyAnAdministratorSeesThemAndBadRequestsAreRefused() throws Exception {
    try (PageClient alice = PageClient.signedIn(server.httpPort(), "alice@localhost", "alice's password")) {
      for (String path : List.of("/admin", "/admin/charts/messages.svg", "/admin/charts/queue.svg")) {
        HttpResponse<String> r = alice.get(path);
        assertThat(r.statusCode()).as(path).isEqualTo(403);
        assertThat(r.body()).as(path).contains("These pages are for the server's administrators; alice@localhost is not one.")
            .doesNotContain("<svg");
      }
    }
    try (PageClient nobody = new PageClient(server.httpPort())) {
      HttpResponse<String> r = nobody.get("/admin/charts/messages.svg");
      assertThat(r.statusCode()).isEqualTo(303);
      assertThat(r.headers().firstValue("Location")).hasValue("/signin");
    }
    try (PageClient admin = PageClient.signedIn(server.httpPort(), "admin@localhost", "the admin's password")) {
      assertThat(admin.get("/admin?refresh=2").body()).contains("<main class=\"operators server\" data-refresh=\"2\">");
      for (String bad : List.of("0", "3601", "soon", "")) {
        HttpResponse<String> r = admin.get("/admin?refresh=" + bad);
        assertThat(r.statusCode()).as(bad).isEqualTo(400);
        assertThat(r.body()).as(bad).contains("<p>refresh: expected whole seconds from 1 to 3600, got '" + bad + "'</p>");
      }
      assertThat(admin.get("/admin/charts/other.svg").statusCode()).isEqualTo(404);
      assertThat(admin.get("/admin/charts").statusCode()).isEqualTo(404);
      assertThat(admin.post("/admin/charts/nothing.svg", java.util.Map.of()).statusCode()).isEqualTo(404);
      assertThat(admin.post("/admin/charts/queue.svg", java.util.Map.of()).statusCode()).isEqualTo(405);
      HttpResponse<String> post = admin.post("/admin", java.util.Map.of());
      assertThat(post.statusCode()).isEqualTo(405);
      assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
    }
  }

  // ---- reading the SVG

  static Document xml(String svg) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setNamespaceAware(true);
    f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    return f.newDocumentBuilder().parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
  }

  private static List<String> text(Document doc, String tag) {
    NodeList nodes = doc.getElementsByTagName(tag);
    List<String> texts = new ArrayList<>();
    for (int i = 0; i < nodes.getLength(); i++) texts.add(nodes.item(i).getTextContent());
    return texts;
  }

  private static Element group(Document doc, String className) {
    NodeList groups = doc.getElementsByTagName("g");
    for (int i = 0; i < groups.getLength(); i++) {
      Element g = (Element) groups.item(i);
      if (g.getAttribute("class").equals(className)) return g;
    }
    throw new AssertionError("no <g class=\"" + className + "\">");
  }

  private static Element series(Document doc, String name) {
    NodeList groups = doc.getElementsByTagName("g");
    for (int i = 0; i < groups.getLength(); i++) {
      Element g = (Element) groups.item(i);
      if (g.getAttribute("class").equals("series") && g.getAttribute("data-series").equals(name)) return g;
    }
    throw new AssertionError("no series " + name);
  }

  /** Every point of a series, in order: its polylines' points and its dots' centres. */
  private static List<String> points(Document doc, String name) {
    List<String> points = new ArrayList<>();
    NodeList children = series(doc, name).getChildNodes();
    for (int i = 0; i < children.getLength(); i++) {
      if (!(children.item(i) instanceof Element e)) continue;
      if (e.getTagName().equals("polyline")) points.addAll(List.of(e.getAttribute("points").split(" ")));
      if (e.getTagName().equals("circle")) points.add(e.getAttribute("cx") + "," + e.getAttribute("cy"));
    }
    return points;
  }

  private static List<String> yLabels(Document doc) {
    NodeList texts = group(doc, "y-axis").getElementsByTagName("text");
    List<String> labels = new ArrayList<>();
    for (int i = 0; i < texts.getLength(); i++) labels.add(texts.item(i).getTextContent());
    return labels;
  }

  private static List<Element> ticks(Document doc) {
    NodeList lines = group(doc, "x-axis").getElementsByTagName("line");
    List<Element> ticks = new ArrayList<>();
    for (int i = 0; i < lines.getLength(); i++) {
      if (((Element) lines.item(i)).getAttribute("class").equals("tick")) ticks.add((Element) lines.item(i));
    }
    return ticks;
  }
}
