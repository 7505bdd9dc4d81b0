package dev.posta.web.page;

import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.queue.QueueControl;
import dev.posta.testing.Dnsmasq;
import dev.posta.testing.MutableClock;
import dev.posta.testing.SmtpPeer;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The queue's pages against a real server whose remote mail goes to a real SMTP peer (python's
 * aiosmtpd, through a dnsmasq MX on loopback) that answers slow@example.test with a 451, so
 * messages stay deferred with a known reply, and gone@example.test with a 550. The queue's clock
 * is held still, so every time shown is known. Pages are compared with their whitespace between
 * tags taken out, as exact fragments.
 */
class QueuePagesTest {
  private static final String SLOW = "451 4.3.0 greylisted, try again later";
  private static final String GONE = "550 5.1.1 <gone@example.test>: no such user";
  private static final DateTimeFormatter SHOWN = DateTimeFormatter.ofPattern("d MMM yyyy, HH:mm:ss", Locale.ENGLISH)
      .withZone(ZoneId.systemDefault());
  @TempDir static Path shared;
  @TempDir Path dir;
  static Dnsmasq dns;
  final MutableClock clock = MutableClock.startingNow();
  int mxPort;
  SmtpPeer mx;
  TestServer server;
  PageClient admin;
  final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  final Logger logger = (Logger) LoggerFactory.getLogger(QueuePages.class);

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
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.2"))) {
      mxPort = s.getLocalPort();
    }
    mx = SmtpPeer.start(dir.resolve("peer"), o -> o.host("127.0.0.2").port(mxPort).rcptReply("slow@example.test", SLOW, 100_000)
        .rcptReply("slow1@example.test", SLOW, 100_000).rcptReply("slow2@example.test", SLOW, 100_000).rcptReply("slow3@example.test", SLOW, 100_000)
        .rcptReply("gone@example.test", GONE));
    server = TestServer.start(dir.resolve("posta"), c -> {
      var s = c.submission();
      return TestServer.withHttp(c.toBuilder()
          .submission(new PostaConfig.Submission(List.of(Network.parse("127.0.0.0/8")), true, true, 10, s.authLockout()))
          .delivery(PostaConfig.Delivery.defaults().toBuilder().dns(List.of(dns.address()), mxPort).build()).build());
    }, clock);
    server.server().users().add("admin@localhost", "the admin's password".toCharArray(), true);
    server.server().users().add("alice@localhost", "alice's password".toCharArray(), false);
    admin = PageClient.signedIn(server.httpPort(), "admin@localhost", "the admin's password");
    logs.start();
    logger.addAppender(logs);
  }

  @AfterEach
  void stop() {
    logger.detachAppender(logs);
    admin.close();
    server.close();
    mx.close();
  }

  /** Submits {@code count} messages as alice in one session, each to {@code to}; returns their queue IDs in order. */
  private List<String> submit(int count, String... to) throws IOException {
    List<String> ids = new ArrayList<>();
    try (SmtpWire wire = new SmtpWire(server.submissionPort())) {
      wire.ehlo();
      assertThat(wire.authPlain("alice@localhost", "alice's password")).startsWith("235 ");
      for (int i = 0; i < count; i++) {
        assertThat(wire.command("MAIL FROM:<alice@localhost>")).isEqualTo("250 2.1.0 Sender OK");
        for (String rcpt : to) assertThat(wire.command("RCPT TO:<" + rcpt + ">")).isEqualTo("250 2.1.5 Recipient OK");
        String reply = wire.data("Subject: for the operators " + i + "\r\n\r\nx");
        assertThat(reply).matches("250 2\\.0\\.0 Ok: queued as [0-9A-F]{16}");
        ids.add(reply.substring(reply.length() - 16)); // queue IDs grow: listed in this order, arrival times equal or not
      }
    }
    return ids;
  }

  private String submit(String... to) throws IOException {
    return submit(1, to).getFirst();
  }

  private QueueControl.Listing listed(String id) {
    return server.server().queueControl().list().stream().filter(l -> l.id().value().equals(id)).findFirst().orElseThrow();
  }

  /** Waits until every message has been tried {@code attempts} times and no attempt runs. */
  private void awaitAttempts(List<String> ids, int attempts) throws InterruptedException {
    await(ids.size() + " message(s) tried " + attempts + " time(s)", () -> ids.stream().allMatch(id -> server.server().queueControl().list()
        .stream().anyMatch(l -> l.id().value().equals(id) && l.state() != QueueControl.State.ACTIVE && l.attempts() == attempts)));
  }

  /** The page's body with the whitespace between tags taken out. */
  private static String tight(HttpResponse<String> r) {
    return r.body().replaceAll(">\\s+<", "><");
  }

  private static String shown(Instant at) {
    return SHOWN.format(at);
  }

  private List<String> logged() {
    return logs.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  private static Map<String, String> form(String... pairs) {
    Map<String, String> m = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) m.put(pairs[i], pairs[i + 1]);
    return m;
  }

  @Test
  void theListShowsEachWaitingMessageWithItsLastErrorWordForWordAndTheCountsByState() throws Exception {
    assertThat(tight(admin.get("/admin/queue"))).contains("<h1>Queue <small>0 messages waiting</small></h1>",
        "<span class=\"where\">The queue is empty.</span>").doesNotContain("<form class=\"bulk\"");
    String first = submit("slow@example.test", "slow1@example.test", "slow2@example.test", "slow3@example.test");
    String second = submit("slow@example.test");
    awaitAttempts(List.of(first, second), 1);
    String a = admin.get("/admin/queue?state=held").body(); // the CSRF token for the form below
    assertThat(a).contains("No message matches.");
    assertThat(admin.post("/admin/queue", form("action", "hold", "id", second)).statusCode()).isEqualTo(303);

    HttpResponse<String> page = admin.get("/admin/queue");
    assertThat(page.statusCode()).isEqualTo(200);
    String html = tight(page);
    Instant attempted = clock.instant();
    QueueControl.Listing one = listed(first);
    String lastError = "deferred by mx1.example.test[127.0.0.2]:" + mxPort + ": " + SLOW;
    assertThat(one.recipients()).extracting(QueueControl.PendingRecipient::address)
        .containsExactly("slow@example.test", "slow1@example.test", "slow2@example.test", "slow3@example.test");
    assertThat(html).contains("<h1>Queue <small>2 messages waiting</small></h1>",
        "<p class=\"states\"><a href=\"/admin/queue?state=incoming\"><span class=\"count\">0</span> incoming</a>"
            + "<a href=\"/admin/queue?state=deferred\"><span class=\"count\">1</span> deferred</a>"
            + "<a href=\"/admin/queue?state=active\"><span class=\"count\">0</span> active</a>"
            + "<a href=\"/admin/queue?state=held\"><span class=\"count\">1</span> held</a></p>",
        "<tr class=\"deferred\"><td><input type=\"checkbox\" name=\"id\" value=\"" + first + "\" aria-label=\"Check " + first + "\"></td>"
            + "<td class=\"id\"><a href=\"/admin/queue/" + first + "\">" + first + "</a></td><td>deferred</td>"
            + "<td class=\"date\">" + shown(one.arrival()) + "</td><td>alice@localhost</td>"
            + "<td>slow@example.test, slow1@example.test, slow2@example.test and 1 more</td>"
            + "<td class=\"size\">" + Figures.bytes(one.size()) + "</td><td class=\"attempts\">1</td>"
            + "<td class=\"reply\">" + lastError + "</td>"
            + "<td class=\"date\">" + shown(attempted.plus(Duration.ofMinutes(5))) + "</td></tr>",
        "<tr class=\"held\"><td><input type=\"checkbox\" name=\"id\" value=\"" + second + "\"",
        "<td class=\"attempts\">1</td><td class=\"reply\">" + lastError + "</td><td class=\"date\">when released</td></tr>",
        "<span class=\"where\">Messages 1–2 of 2</span>",
        "<label><input type=\"radio\" name=\"scope\" value=\"matching\"> all 2 in the queue</label>");
    assertThat(html.indexOf(first)).as("oldest first").isLessThan(html.indexOf(second));
    assertThat(page.headers().firstValue("Content-Security-Policy")).hasValue(Pages.contentSecurityPolicy(null));
  }

  @Test
  void filtersNarrowTheListAsTheApisDoAndAWrongOneIsSaidWhy() throws Exception {
    List<String> ids = submit(3, "slow@example.test");
    String local = submit("bob@localhost", "slow@example.test");
    List<String> all = new ArrayList<>(ids);
    all.add(local);
    awaitAttempts(all, 1);
    admin.get("/admin/queue");
    assertThat(admin.post("/admin/queue", form("action", "hold", "id", ids.get(1))).statusCode()).isEqualTo(303);

    String held = tight(admin.get("/admin/queue?state=held"));
    assertThat(held).contains(ids.get(1), "<a href=\"/admin/queue?state=held\" aria-current=\"page\">",
        "<option value=\"held\" selected>held</option>", "<span class=\"where\">Messages 1–1 of 1 matching</span>",
        "all 1 matching the filter</label>", "<a class=\"clear\" href=\"/admin/queue\">Clear</a>")
        .doesNotContain(ids.get(0), ids.get(2), local);
    assertThat(tight(admin.get("/admin/queue?state=deferred&toDomain=EXAMPLE.test&from=%3Calice@localhost%3E")))
        .contains(ids.get(0), ids.get(2), local).doesNotContain(ids.get(1));
    assertThat(admin.get("/admin/queue?toDomain=elsewhere.test").body()).contains("No message matches.");
    assertThat(admin.get("/admin/queue?from=%3C%3E").body()).as("the null sender's: none").contains("No message matches.");
    assertThat(admin.get("/admin/queue?from=").body()).as("an empty field is any sender").contains("Messages 1–4 of 4");
    assertThat(admin.get("/admin/queue?olderThan=1h").body()).contains("No message matches.");
    clock.advance(Duration.ofHours(2));
    assertThat(admin.get("/admin/queue?olderThan=1h").body()).contains("Messages 1–4 of 4 matching");

    HttpResponse<String> wrong = admin.get("/admin/queue?olderThan=2%20hours");
    assertThat(wrong.statusCode()).isEqualTo(400);
    assertThat(wrong.body()).contains("<p class=\"error\" role=\"alert\">older than: not an age: 2 hours (a number and s, m, h, d or w: 30m, 2h, 7d)</p>",
        "<input name=\"olderThan\" value=\"2 hours\" placeholder=\"2h\">");
    assertThat(admin.get("/admin/queue?state=lost").body())
        .contains("state: expected incoming, deferred, active or held (several with commas), got 'lost'");
    assertThat(admin.get("/admin/queue?from=spam").body()).contains("from: not an address: spam (missing @domain; \"&lt;&gt;\" for the null sender)");
    assertThat(admin.get("/admin/queue?cursor=5").body()).contains("cursor: not one this page gave (its next page's link): '5'");
  }

  @Test
  void moreThanFiftyMessagesArePagedByCursorOldestFirstFiltersKept() throws Exception {
    List<String> ids = submit(53, "slow@example.test");
    // Deferred, not active: a message being delivered right then would decline the delete below.
    awaitAttempts(ids, 1);
    String html = tight(admin.get("/admin/queue?toDomain=example.test"));
    assertThat(html).contains("<span class=\"where\">Messages 1–50 of 53 matching</span>", "all 53 matching the filter");
    assertThat(html).contains(ids.get(0), ids.get(49)).doesNotContain(ids.get(50), ids.get(52));
    QueueControl.Listing last = listed(ids.get(49));
    String next = "/admin/queue?toDomain=example.test&amp;cursor=" + last.arrival().toString().replace(":", "%3A") + "_" + ids.get(49);
    assertThat(html).contains("<a rel=\"next\" href=\"" + next + "\">Newer &rsaquo;</a>").doesNotContain("&laquo; Oldest");

    String second = tight(admin.get(next.replace("&amp;", "&")));
    assertThat(second).contains("<span class=\"where\">Messages 51–53 of 53 matching</span>", ids.get(50), ids.get(52),
        "<a href=\"/admin/queue?toDomain=example.test\">&laquo; Oldest</a>").doesNotContain("value=\"" + ids.get(49) + "\" aria-label", "rel=\"next\"");


    // The last page's messages deleted: back on that page, which now has none after the first 50.
    String cursor = "cursor=" + java.net.URLEncoder.encode(last.arrival() + "_" + ids.get(49), java.nio.charset.StandardCharsets.UTF_8);
    HttpResponse<String> deleted = admin.postRaw("/admin/queue", "toDomain=example.test&" + cursor + "&scope=checked&action=delete&id="
        + ids.get(50) + "&id=" + ids.get(51) + "&id=" + ids.get(52));
    assertThat(deleted.statusCode()).isEqualTo(303);
    String after = tight(admin.get(deleted.headers().firstValue("Location").orElseThrow()));
    assertThat(after).contains("<span class=\"where\">No messages after these: 50 matching in all.</span>",
        "<a href=\"/admin/queue?toDomain=example.test\">&laquo; Oldest</a>");
  }

  @Test
  void aNoticeNamesTheFirstTenDeclinedAndCountsTheRest() throws Exception {
    admin.get("/admin/queue");
    StringBuilder form = new StringBuilder("scope=checked&action=hold");
    for (int i = 1; i <= 12; i++) form.append("&id=").append(String.format("%016X", i));
    HttpResponse<String> r = admin.postRaw("/admin/queue", form.toString());
    assertThat(r.statusCode()).isEqualTo(303);
    String location = r.headers().firstValue("Location").orElseThrow();
    assertThat(location).startsWith("/admin/queue?done=hold&n=0&declined=0000000000000001.no-such-message%2C")
        .contains("000000000000000A.no-such-message&more=2").doesNotContain("000000000000000B");
    String after = tight(admin.get(location));
    assertThat(after).contains("<p>Placed on hold: 0 messages; 12 declined:</p>", "<li>no message 000000000000000A in the queue</li>",
        "<li>and 2 more</li></ul>").doesNotContain("000000000000000B");
  }

  @Test
  void bulkHoldReleaseAndDeleteThroughTheFormComeBackToTheSameListWithPostaQueuesWords() throws Exception {
    List<String> ids = submit(3, "slow@example.test");
    awaitAttempts(ids, 1);
    admin.get("/admin/queue?toDomain=example.test");

    // Two checked and one not in the queue: held, the third declined, back to the same filter.
    HttpResponse<String> two = admin.postRaw("/admin/queue", "toDomain=example.test&scope=checked&action=hold&id=" + ids.get(0)
        + "&id=" + ids.get(2).toLowerCase() + "&id=0000000000000000");
    assertThat(two.statusCode()).isEqualTo(303);
    String location = two.headers().firstValue("Location").orElseThrow();
    assertThat(location).isEqualTo("/admin/queue?toDomain=example.test&done=hold&n=2&declined=0000000000000000.no-such-message");
    String after = tight(admin.get(location));
    assertThat(after).contains("<div class=\"notice\" role=\"status\"><p>Placed on hold: 2 messages; 1 declined:</p>"
        + "<ul class=\"declined\"><li>no message 0000000000000000 in the queue</li></ul></div>",
        "<input name=\"toDomain\" value=\"example.test\" placeholder=\"example.org\">");
    assertThat(listed(ids.get(0)).state()).isEqualTo(QueueControl.State.HELD);
    assertThat(listed(ids.get(1)).state()).isEqualTo(QueueControl.State.DEFERRED);
    assertThat(listed(ids.get(2)).state()).isEqualTo(QueueControl.State.HELD);

    // Everything the filter matches, a state in it: only the held ones are released.
    HttpResponse<String> released = admin.post("/admin/queue", form("state", "held", "scope", "matching", "action", "release"));
    assertThat(released.headers().firstValue("Location")).hasValue("/admin/queue?state=held&done=release&n=2");
    assertThat(tight(admin.get("/admin/queue?state=held&done=release&n=2")))
        .contains("<div class=\"notice\" role=\"status\"><p>Released from hold: 2 messages</p></div>", "No message matches.");
    awaitAttempts(List.of(ids.get(0), ids.get(2)), 2);

    HttpResponse<String> flushed = admin.post("/admin/queue", form("action", "flush"));
    assertThat(flushed.headers().firstValue("Location")).hasValue("/admin/queue?done=flush&n=3");
    assertThat(admin.get("/admin/queue?done=flush&n=3").body()).contains("<p>3 message(s) due now</p>");
    awaitAttempts(List.of(ids.get(0), ids.get(2)), 3);
    awaitAttempts(List.of(ids.get(1)), 2);

    // Everything matching selectors alone: posta queue delete ALL --to-domain example.test.
    HttpResponse<String> deleted = admin.post("/admin/queue", form("toDomain", "example.test", "scope", "matching", "action", "delete"));
    assertThat(deleted.headers().firstValue("Location")).hasValue("/admin/queue?toDomain=example.test&done=delete&n=3");
    assertThat(server.queued()).isZero();
    assertThat(admin.get("/admin/queue?toDomain=example.test&done=delete&n=3").body()).contains("<p>Deleted: 3 messages</p>");

    HttpResponse<String> none = admin.post("/admin/queue", form("action", "hold"));
    assertThat(none.statusCode()).isEqualTo(400);
    assertThat(none.body()).contains("No message was checked: check the messages to act on, or choose all matching the filter.");
    assertThat(admin.post("/admin/queue", form("action", "shred", "id", ids.get(0))).body())
        .contains("action: expected retry, hold, release, delete, bounce or flush, got 'shred'");

    assertThat(logged()).containsSubsequence(
        "http[127.0.0.1]: admin@localhost: hold 3 message(s) by ID: 2 acted on, 1 declined",
        "http[127.0.0.1]: admin@localhost: release 2 message(s) by ID: 2 acted on, 0 declined",
        "http[127.0.0.1]: admin@localhost: flush: 3 message(s) due now",
        "http[127.0.0.1]: admin@localhost: delete --to-domain example.test: 3 acted on, 0 declined");
  }

  @Test
  void oneMessageShowsItsEnvelopeRecipientsAndTimelineWithTheRemoteRepliesAndItsActions() throws Exception {
    String id = submit("slow@example.test", "gone@example.test", "bob@localhost");
    awaitAttempts(List.of(id), 1);
    Instant t0 = clock.instant();
    QueueControl.Listing l = listed(id);
    HttpResponse<String> page = admin.get("/admin/queue/" + id.toLowerCase());
    assertThat(page.statusCode()).isEqualTo(200);
    String html = tight(page);
    String via = "mx1.example.test[127.0.0.2]:" + mxPort;
    String noticeId = html.replaceFirst("(?s).*its queue ID: ([0-9A-F]{16}).*", "$1");
    assertThat(noticeId).matches("[0-9A-F]{16}").isNotEqualTo(id);
    String client = "client.example [127.0.0.1] as alice@localhost on submission 127.0.0.1:" + server.submissionPort();
    assertThat(html).contains("<title>Queue: " + id + " · Posta</title>", "<h1>" + id + "</h1>",
        "<form class=\"actions\" method=\"post\" action=\"/admin/queue/" + id + "\"><input type=\"hidden\" name=\"csrf\"",
        "<button name=\"action\" value=\"retry\">Retry now</button><button name=\"action\" value=\"hold\">Hold</button>"
            + "<button name=\"action\" value=\"delete\" class=\"danger\">Delete</button>"
            + "<button name=\"action\" value=\"bounce\" class=\"danger\">Return to sender</button>"
            + "<a href=\"/admin/queue/" + id + "/raw\">Stored message</a></form>",
        "<dl class=\"summary\"><dt>Sender</dt><dd>alice@localhost</dd><dt>Arrival</dt><dd>" + shown(l.arrival()) + "</dd>"
            + "<dt>Size</dt><dd>" + Figures.bytes(l.size()) + " (" + l.size() + " octets)</dd>"
            + "<dt>Client</dt><dd>" + client + "</dd><dt>Held</dt><dd>no</dd></dl>",
        "<tr><td>slow@example.test</td><td>deferred</td><td>1</td><td class=\"date\">" + shown(t0.plus(Duration.ofMinutes(5))) + "</td>"
            + "<td class=\"reply\">deferred by " + via + ": " + SLOW + "</td></tr>"
            + "<tr><td>gone@example.test</td><td>done</td><td>0</td><td class=\"date\"></td><td class=\"reply\"></td></tr>"
            + "<tr><td>bob@localhost</td><td>done</td><td>0</td><td class=\"date\"></td><td class=\"reply\"></td></tr>",
        "<ol class=\"timeline\">"
            + "<li class=\"received\"><time datetime=\"" + l.arrival() + "\">" + shown(l.arrival()) + "</time><strong>Received</strong> from "
            + client + "</li>"
            + "<li class=\"deferred\"><time datetime=\"" + t0 + "\">" + shown(t0) + "</time><strong>Deferred</strong> slow@example.test [4.3.0]"
            + " <span class=\"host\">mx1.example.test</span><br><span class=\"detail\">deferred by " + via + "</span>"
            + "<br><code class=\"reply\">" + SLOW + "</code></li>"
            + "<li class=\"failed\"><time datetime=\"" + t0 + "\">" + shown(t0) + "</time><strong>Failed</strong> gone@example.test [5.1.1]"
            + " <span class=\"host\">mx1.example.test</span><br><span class=\"detail\">refused by " + via + "</span>"
            + "<br><code class=\"reply\">550 5.1.1 &lt;gone@example.test&gt;: no such user</code></li>"
            + "<li class=\"delivered\"><time datetime=\"" + t0 + "\">" + shown(t0) + "</time><strong>Delivered</strong> bob@localhost [2.0.0]"
            + "<br><span class=\"detail\">delivered to mailbox bob@localhost</span></li>"
            + "<li class=\"notice\"><time datetime=\"" + t0 + "\">" + shown(t0) + "</time><strong>Notice (failed) to the sender</strong>"
            + " for gone@example.test<br><span class=\"detail\">its queue ID: " + noticeId + "</span></li></ol>");

    // Held: the page offers release, and a retry is refused with posta queue's words.
    HttpResponse<String> hold = admin.post("/admin/queue/" + id, form("action", "hold"));
    assertThat(hold.statusCode()).isEqualTo(303);
    assertThat(hold.headers().firstValue("Location")).hasValue("/admin/queue/" + id + "?done=hold");
    String heldPage = tight(admin.get("/admin/queue/" + id + "?done=hold"));
    assertThat(heldPage).contains("<div class=\"notice\" role=\"status\"><p>" + id + ": held</p></div>",
        "<dt>Held</dt><dd>yes: not delivered until released</dd>", "<td class=\"date\">when released</td>",
        "<button name=\"action\" value=\"release\">Release</button><button name=\"action\" value=\"delete\" class=\"danger\">Delete</button>",
        "<li class=\"held\"><time datetime=\"" + t0 + "\">" + shown(t0) + "</time><strong>Held</strong> by the administrator</li></ol>")
        .doesNotContain("value=\"retry\"");
    HttpResponse<String> retry = admin.post("/admin/queue/" + id, form("action", "retry"));
    assertThat(retry.statusCode()).isEqualTo(409);
    assertThat(retry.body()).contains("<p class=\"error\" role=\"alert\">" + id + " is held; release it first</p>");
    assertThat(listed(id).state()).isEqualTo(QueueControl.State.HELD);

    HttpResponse<String> raw = admin.get("/admin/queue/" + id + "/raw");
    assertThat(raw.statusCode()).isEqualTo(200);
    assertThat(raw.headers().firstValue("Content-Type")).hasValue("text/plain; charset=utf-8");
    assertThat(raw.headers().firstValue("Content-Disposition")).hasValue("inline");
    assertThat(raw.headers().firstValue("Content-Security-Policy")).hasValue(MessagePages.DOWNLOAD_POLICY);
    assertThat(raw.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    assertThat(raw.body()).startsWith("Received: from client.example ([127.0.0.1])\r\n").contains("\r\nSubject: for the operators 0\r\n")
        .endsWith("\r\n\r\nx\r\n");

    // Returned to the sender: it leaves the queue, and its page says it is gone.
    HttpResponse<String> bounce = admin.post("/admin/queue/" + id, form("action", "bounce"));
    assertThat(bounce.headers().firstValue("Location")).hasValue("/admin/queue?done=bounce&id=" + id);
    assertThat(admin.get("/admin/queue?done=bounce&id=" + id).body()).contains("<p>" + id + ": returned to the sender</p>");
    assertThat(server.awaitMail("alice", 2)).anySatisfy(m -> assertThat(m).contains("returned to the sender by the mail administrator"));
    assertThat(logged()).containsSubsequence("http[127.0.0.1]: admin@localhost: hold " + id + ": done",
        "http[127.0.0.1]: admin@localhost: retry " + id + ": refused: " + id + " is held; release it first",
        "http[127.0.0.1]: admin@localhost: bounce " + id + ": done");
  }

  @Test
  void aMessageNoLongerQueuedIsA404PageSayingItIsGone() throws Exception {
    for (String path : new String[] {"/admin/queue/0000000000000000", "/admin/queue/0000000000000000/raw"}) {
      HttpResponse<String> gone = admin.get(path);
      assertThat(gone.statusCode()).as(path).isEqualTo(404);
      assertThat(tight(gone)).as(path).contains("<h1>Not in the queue</h1><p>0000000000000000 is no longer in the queue: it was delivered, "
          + "returned to its sender or deleted.</p><p><a href=\"/admin/queue\">Back to the queue</a></p>");
    }
    admin.get("/admin/queue");
    HttpResponse<String> act = admin.post("/admin/queue/0000000000000000", form("action", "delete"));
    assertThat(act.statusCode()).isEqualTo(404);
    assertThat(act.body()).contains("0000000000000000 is no longer in the queue");
    assertThat(admin.get("/admin/queue/nonsense").statusCode()).isEqualTo(404);
    assertThat(admin.get("/admin/queue/0000000000000000/source").statusCode()).isEqualTo(404);
  }

  @Test
  void anActionWithoutTheSessionsTokenOrFromAnotherOriginIsRefusedAndChangesNothing() throws Exception {
    String id = submit("slow@example.test");
    awaitAttempts(List.of(id), 1);
    admin.get("/admin/queue");
    HttpResponse<String> noToken = admin.post("/admin/queue", form("csrf", "", "action", "hold", "id", id));
    assertThat(noToken.statusCode()).isEqualTo(403);
    assertThat(noToken.body()).contains("<h1>Form expired</h1>");
    HttpResponse<String> elsewhere = admin.postFrom("http://evil.example", "/admin/queue/" + id, form("action", "delete"));
    assertThat(elsewhere.statusCode()).isEqualTo(403);
    assertThat(elsewhere.body()).contains("This form was sent from another site.");
    assertThat(listed(id).state()).isEqualTo(QueueControl.State.DEFERRED);
    assertThat(logged()).isEmpty();
  }

  @Test
  void aUserWhoIsNoAdministratorGets403AndChangesNothing() throws Exception {
    String id = submit("slow@example.test");
    awaitAttempts(List.of(id), 1);
    try (PageClient alice = PageClient.signedIn(server.httpPort(), "alice@localhost", "alice's password")) {
      alice.get("/mail/INBOX");
      for (String path : new String[] {"/admin/queue", "/admin/queue/" + id, "/admin/queue/" + id + "/raw"}) {
        assertThat(alice.get(path).statusCode()).as(path).isEqualTo(403);
      }
      assertThat(alice.post("/admin/queue", form("action", "delete", "id", id)).statusCode()).isEqualTo(403);
      assertThat(alice.post("/admin/queue/" + id, form("action", "delete")).statusCode()).isEqualTo(403);
    }
    assertThat(listed(id).state()).isEqualTo(QueueControl.State.DEFERRED);
  }
}
