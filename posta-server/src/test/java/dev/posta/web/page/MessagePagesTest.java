package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.store.Flags;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.store.MessageInfo;
import dev.posta.testing.TestServer;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The message view through a real HTTP client against a real server: the page and its marks, the
 * sandboxed frame's HTML and its policy, remote images asked for, the raw source, downloads and
 * inline images by ticket, the actions and their forgery checks, and another user's message out
 * of reach by every one of those paths.
 */
class MessagePagesTest {
  private static final Pattern CSRF_FIELD = Pattern.compile("name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");
  static final String HOSTILE = """
      From: Mallory <mallory@example.com>
      To: alice@localhost
      Subject: Your invoice
      Date: Mon, 7 Dec 2026 09:00:00 +0000
      Message-ID: <invoice-1@example.com>
      MIME-Version: 1.0
      Content-Type: multipart/mixed; boundary="outer"

      --outer
      Content-Type: multipart/related; boundary="rel"

      --rel
      Content-Type: multipart/alternative; boundary="alt"

      --alt
      Content-Type: text/plain; charset=utf-8

      Your invoice is attached.
      --alt
      Content-Type: text/html; charset=utf-8

      <html><head><meta http-equiv="refresh" content="0;url=https://evil.example/"><script>document.title='pwned'</script></head>
      <body onload="document.title='pwned'"><p id="hello">Hello <b>Alice</b></p>
      <img src="cid:logo@example.com" alt="logo"><img src="https://tracker.example/open.gif" alt="tracker">
      <a href="javascript:alert(1)">click</a><form action="https://evil.example/"><input name="password"></form></body></html>
      --alt--
      --rel
      Content-Type: image/png
      Content-ID: <logo@example.com>
      Content-Transfer-Encoding: base64

      iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==
      --rel--
      --outer
      Content-Type: text/html; name="invoice.html"
      Content-Disposition: attachment; filename*=utf-8''facture%20%C3%A9t%C3%A9.html

      <script>alert('attachment')</script>
      --outer--
      """;

  @TempDir Path dir;
  TestServer server;
  HttpClient http;

  @BeforeEach
  void start() {
    server = TestServer.start(dir, TestServer::withHttp);
    server.addUser("alice@localhost", "alice's password").addUser("bob@localhost", "bob's long password");
    http = HttpClient.newHttpClient();
  }

  @AfterEach
  void stop() {
    http.close();
    server.close();
  }

  /** Cookies by name, as a browser keeps them. */
  static final class Browser {
    final Map<String, String> cookies = new LinkedHashMap<>();

    void take(HttpResponse<?> r) {
      for (String set : r.headers().allValues("Set-Cookie")) {
        String pair = set.split(";", 2)[0];
        String name = pair.substring(0, pair.indexOf('=')), value = pair.substring(pair.indexOf('=') + 1);
        if (set.contains("Max-Age=0")) cookies.remove(name);
        else cookies.put(name, value);
      }
    }
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + server.httpPort() + path);
  }

  private HttpResponse<byte[]> get(Browser b, String path) throws Exception {
    var req = HttpRequest.newBuilder(uri(path)).GET();
    if (b != null && !b.cookies.isEmpty()) {
      req.header("Cookie", b.cookies.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining("; ")));
    }
    HttpResponse<byte[]> r = http.send(req.build(), HttpResponse.BodyHandlers.ofByteArray());
    if (b != null) b.take(r);
    return r;
  }

  private String page(Browser b, String path) throws Exception {
    HttpResponse<byte[]> r = get(b, path);
    assertThat(r.statusCode()).as(path).isEqualTo(200);
    return new String(r.body(), StandardCharsets.UTF_8);
  }

  private HttpResponse<byte[]> post(Browser b, String path, Map<String, String> form, String origin) throws Exception {
    String body = form.entrySet().stream().map(e -> e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
        .collect(Collectors.joining("&"));
    var req = HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofString(body)).header("Content-Type", "application/x-www-form-urlencoded");
    if (origin != null) req.header("Origin", origin);
    if (!b.cookies.isEmpty()) {
      req.header("Cookie", b.cookies.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining("; ")));
    }
    HttpResponse<byte[]> r = http.send(req.build(), HttpResponse.BodyHandlers.ofByteArray());
    b.take(r);
    return r;
  }

  private HttpResponse<byte[]> act(Browser b, String path, String csrf, String action, String folder) throws Exception {
    Map<String, String> form = new LinkedHashMap<>();
    form.put("csrf", csrf);
    form.put("action", action);
    if (folder != null) form.put("folder", folder);
    return post(b, path, form, "http://127.0.0.1:" + server.httpPort());
  }

  private static String csrf(String page) {
    Matcher m = CSRF_FIELD.matcher(page);
    assertThat(m.find()).as("a CSRF field in %s", page).isTrue();
    return m.group(1);
  }

  private Browser signedIn(String address, String password) throws Exception {
    Browser b = new Browser();
    String token = csrf(page(b, "/signin"));
    HttpResponse<byte[]> r = post(b, "/signin", Map.of("csrf", token, "address", address, "password", password), "http://127.0.0.1:" + server.httpPort());
    assertThat(r.statusCode()).isEqualTo(303);
    return b;
  }

  private long deliver(String account, String folder, String message) throws Exception {
    MailboxStore store = server.server().mailboxes();
    MailboxId mailbox = MailboxId.ofAccount(account);
    store.createInbox(mailbox);
    store.makeSpecialFolders(mailbox);
    byte[] octets = message.getBytes(StandardCharsets.UTF_8);
    try (MailboxStore.Lease lease = store.open(mailbox, folder)) {
      return lease.folder().append(out -> out.write(ByteBuffer.wrap(octets)), 0, Instant.parse("2026-12-07T09:00:00Z")).uid();
    }
  }

  private MessageInfo info(String account, String folder, long uid) throws Exception {
    try (MailboxStore.Lease lease = server.server().mailboxes().open(MailboxId.ofAccount(account), folder)) {
      lease.folder().sync();
      return lease.folder().get(uid);
    }
  }

  private List<Long> uids(String account, String folder) throws Exception {
    try (MailboxStore.Lease lease = server.server().mailboxes().open(MailboxId.ofAccount(account), folder)) {
      lease.folder().sync();
      return java.util.Arrays.stream(lease.folder().uids()).boxed().toList();
    }
  }

  @Test
  void theMessagePageShowsTheSummaryAFrameForTheHtmlAndMarksItSeen() throws Exception {
    long uid = deliver("alice@localhost", "INBOX", HOSTILE);
    assertThat(info("alice@localhost", "INBOX", uid).flags() & Flags.SEEN).isZero();
    Browser alice = signedIn("alice@localhost", "alice's password");
    HttpResponse<byte[]> r = get(alice, "/mail/INBOX/" + uid);
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Security-Policy")).hasValue(WebPagesTest.CSP + "; frame-src 'self'");
    Document page = Jsoup.parse(new String(r.body(), StandardCharsets.UTF_8));
    assertThat(page.select("main h1").text()).isEqualTo("Your invoice");
    assertThat(page.select("dl.summary dt").eachText()).containsExactly("From", "To", "Date", "Message-ID");
    assertThat(page.select("dl.summary dd").eachText()).containsExactly("Mallory <mallory@example.com>", "alice@localhost",
        "Mon 7 Dec 2026, " + java.time.format.DateTimeFormatter.ofPattern("HH:mm").format(Instant.parse("2026-12-07T09:00:00Z")
            .atZone(java.time.ZoneId.systemDefault())), "<invoice-1@example.com>");
    assertThat(page.select("iframe.body").attr("src")).isEqualTo("/mail/INBOX/" + uid + "/html");
    assertThat(page.select("iframe.body").attr("sandbox")).isEqualTo("allow-popups allow-popups-to-escape-sandbox");
    assertThat(page.select("p.blocked").text()).isEqualTo("1 remote image was blocked. Show remote images");
    assertThat(page.select("p.blocked a").attr("href")).isEqualTo("/mail/INBOX/" + uid + "?images=1");
    assertThat(page.select("details.text pre").text()).isEqualTo("Your invoice is attached.");
    assertThat(page.select("ul.attachments li").eachText()).containsExactly("part-3.png image/png · 70 B",
        "facture été.html text/html · 36 B");
    assertThat(page.select("ul.attachments a").eachAttr("href")).containsExactly("/mail/INBOX/" + uid + "/part/3", "/mail/INBOX/" + uid + "/part/4");
    assertThat(page.select("details.headers th").eachText()).containsExactly("From", "To", "Subject", "Date", "Message-ID", "MIME-Version",
        "Content-Type");
    assertThat(page.select("button[name=action]").eachAttr("value")).containsExactly("unread", "flag", "delete", "move");
    assertThat(info("alice@localhost", "INBOX", uid).flags() & Flags.SEEN).isEqualTo(Flags.SEEN);
  }

  @Test
  void theFramesHtmlIsSanitizedUnderItsOwnPolicyAndRemoteImagesOnlyWhenAsked() throws Exception {
    long uid = deliver("alice@localhost", "INBOX", HOSTILE);
    Browser alice = signedIn("alice@localhost", "alice's password");
    HttpResponse<byte[]> r = get(alice, "/mail/INBOX/" + uid + "/html");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Security-Policy")).hasValue("default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
        + "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox");
    assertThat(r.headers().firstValue("X-Frame-Options")).hasValue("SAMEORIGIN");
    Document frame = Jsoup.parse(new String(r.body(), StandardCharsets.UTF_8));
    assertThat(frame.select("script, meta[http-equiv], form, input, [onload]")).isEmpty();
    assertThat(frame.select("p").outerHtml()).isEqualTo("<p>Hello <b>Alice</b></p>");
    assertThat(frame.select("a").outerHtml()).isEqualTo("<a>click</a>");
    assertThat(frame.select("img[alt=tracker]").hasAttr("src")).isFalse();
    String logo = frame.select("img[alt=logo]").attr("src");
    assertThat(logo).matches("/mail/INBOX/" + uid + "/part/3\\?for=alice%40localhost&until=[0-9]+&ticket=[A-Za-z0-9_-]{43}");

    // The inline image opens by its ticket alone, as the sandboxed frame asks for it: no cookie.
    HttpResponse<byte[]> image = get(null, logo);
    assertThat(image.statusCode()).isEqualTo(200);
    assertThat(image.headers().firstValue("Content-Type")).hasValue("image/png");
    assertThat(image.body()).hasSize(70);
    assertThat(get(null, logo.replace("/part/3", "/part/4")).statusCode()).isEqualTo(404); // another part
    assertThat(get(null, logo.replace("for=alice", "for=bob")).statusCode()).isEqualTo(404); // another user
    assertThat(get(null, logo.substring(0, logo.length() - 2) + "AA").statusCode()).isEqualTo(404); // forged
    assertThat(get(null, "/mail/INBOX/" + uid + "/part/3").statusCode()).isEqualTo(404); // no ticket, no session

    HttpResponse<byte[]> shown = get(alice, "/mail/INBOX/" + uid + "/html?images=1");
    assertThat(shown.headers().firstValue("Content-Security-Policy").orElseThrow()).startsWith("default-src 'none'; img-src 'self' data: https: http:; ");
    assertThat(Jsoup.parse(new String(shown.body(), StandardCharsets.UTF_8)).select("img[alt=tracker]").attr("src"))
        .isEqualTo("https://tracker.example/open.gif");
    Document page = Jsoup.parse(page(alice, "/mail/INBOX/" + uid + "?images=1"));
    assertThat(page.select("iframe.body").attr("src")).isEqualTo("/mail/INBOX/" + uid + "/html?images=1");
    assertThat(page.select("p.blocked")).isEmpty();
  }

  @Test
  void theRawSourceAndDownloadsAreNeverPagesOfThisOrigin() throws Exception {
    long uid = deliver("alice@localhost", "INBOX", HOSTILE);
    Browser alice = signedIn("alice@localhost", "alice's password");
    HttpResponse<byte[]> raw = get(alice, "/mail/INBOX/" + uid + "/raw");
    assertThat(raw.headers().firstValue("Content-Type")).hasValue("text/plain; charset=utf-8");
    assertThat(raw.headers().firstValue("Content-Security-Policy")).hasValue("default-src 'none'; sandbox");
    assertThat(raw.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    assertThat(new String(raw.body(), StandardCharsets.UTF_8)).isEqualTo(HOSTILE);

    HttpResponse<byte[]> html = get(alice, "/mail/INBOX/" + uid + "/part/4");
    assertThat(html.statusCode()).isEqualTo(200);
    assertThat(html.headers().firstValue("Content-Type")).hasValue("application/octet-stream");
    assertThat(html.headers().firstValue("Content-Disposition"))
        .hasValue("attachment; filename=\"facture _t_.html\"; filename*=UTF-8''facture%20%C3%A9t%C3%A9.html");
    assertThat(html.headers().firstValue("Content-Security-Policy")).hasValue("default-src 'none'; sandbox");
    assertThat(new String(html.body(), StandardCharsets.UTF_8)).isEqualTo("<script>alert('attachment')</script>");
    assertThat(get(alice, "/mail/INBOX/" + uid + "/part/9").statusCode()).isEqualTo(404);
    assertThat(get(alice, "/mail/INBOX/" + uid + "/part/x").statusCode()).isEqualTo(404);
  }

  @Test
  void actionsMarkFlagMoveAndDelete() throws Exception {
    long uid = deliver("alice@localhost", "INBOX", HOSTILE);
    Browser alice = signedIn("alice@localhost", "alice's password");
    String path = "/mail/INBOX/" + uid;
    String csrf = csrf(page(alice, path));

    HttpResponse<byte[]> unread = act(alice, path, csrf, "unread", null);
    assertThat(unread.statusCode()).isEqualTo(303);
    assertThat(unread.headers().firstValue("Location")).hasValue("/mail/INBOX");
    assertThat(info("alice@localhost", "INBOX", uid).flags() & Flags.SEEN).isZero();
    assertThat(act(alice, path, csrf, "flag", null).headers().firstValue("Location")).hasValue(path);
    assertThat(info("alice@localhost", "INBOX", uid).flags()).isEqualTo(Flags.FLAGGED);
    act(alice, path, csrf, "read", null);
    act(alice, path, csrf, "unflag", null);
    assertThat(info("alice@localhost", "INBOX", uid).flags()).isEqualTo(Flags.SEEN);

    assertThat(act(alice, path, csrf, "move", "Nowhere").statusCode()).isEqualTo(404);
    assertThat(act(alice, path, csrf, "explode", null).statusCode()).isEqualTo(400);
    assertThat(act(alice, path, csrf, "move", "inbox").headers().firstValue("Location")).hasValue("/mail/INBOX");
    assertThat(uids("alice@localhost", "INBOX")).containsExactly(uid); // moved into its own folder: left as it was
    HttpResponse<byte[]> moved = act(alice, path, csrf, "move", "Archive");
    assertThat(moved.headers().firstValue("Location")).hasValue("/mail/INBOX");
    assertThat(uids("alice@localhost", "INBOX")).isEmpty();
    assertThat(uids("alice@localhost", "Archive")).containsExactly(1L);
    assertThat(info("alice@localhost", "Archive", 1).flags()).isEqualTo(Flags.SEEN);

    act(alice, "/mail/Archive/1", csrf, "delete", null);
    assertThat(uids("alice@localhost", "Archive")).isEmpty();
    assertThat(uids("alice@localhost", "Trash")).containsExactly(1L);
    assertThat(Jsoup.parse(page(alice, "/mail/Trash/1")).select("button[value=delete]").text()).isEqualTo("Delete for good");
    HttpResponse<byte[]> gone = act(alice, "/mail/Trash/1", csrf, "delete", null);
    assertThat(gone.headers().firstValue("Location")).hasValue("/mail/Trash");
    assertThat(uids("alice@localhost", "Trash")).isEmpty();
    assertThat(get(alice, "/mail/Trash/1").statusCode()).isEqualTo(404);
  }

  @Test
  void actionsWithoutTheSessionsTokenOrFromAnotherOriginAreRefused() throws Exception {
    long uid = deliver("alice@localhost", "INBOX", HOSTILE);
    Browser alice = signedIn("alice@localhost", "alice's password");
    String path = "/mail/INBOX/" + uid;
    String csrf = csrf(page(alice, path));
    assertThat(act(alice, path, "A".repeat(43), "delete", null).statusCode()).isEqualTo(403);
    assertThat(post(alice, path, Map.of("csrf", csrf, "action", "delete"), "https://evil.example").statusCode()).isEqualTo(403);
    assertThat(post(new Browser(), path, Map.of("csrf", csrf, "action", "delete"), null).statusCode()).isEqualTo(403);
    assertThat(uids("alice@localhost", "INBOX")).containsExactly(uid);
  }

  @Test
  void anotherUsersMessageIsNotFoundByAnyPath() throws Exception {
    long uid = deliver("bob@localhost", "INBOX", HOSTILE);
    deliver("alice@localhost", "INBOX", "Subject: alice's own\n\nhi\n"); // alice has a UID 1 too, elsewhere
    deliver("bob@localhost", "INBOX", "Subject: second\n\nhi\n");
    Browser alice = signedIn("alice@localhost", "alice's password");
    String csrf = csrf(page(alice, "/mail/INBOX"));
    for (String sub : List.of("/2", "/2/html", "/2/raw", "/2/part/3", "/2/part/4")) {
      HttpResponse<byte[]> r = get(alice, "/mail/INBOX" + sub);
      assertThat(r.statusCode()).as(sub).isEqualTo(404);
      assertThat(new String(r.body(), StandardCharsets.UTF_8)).as(sub).doesNotContain("invoice", "second");
    }
    assertThat(act(alice, "/mail/INBOX/2", csrf, "delete", null).statusCode()).isEqualTo(404);
    assertThat(uids("bob@localhost", "INBOX")).containsExactly(uid, 2L);
    assertThat(info("bob@localhost", "INBOX", 2).flags()).isZero();
  }

  @Test
  void aTicketOpensOnePartOfOneMessageUntilItExpires() {
    Instant now = Instant.parse("2026-12-07T09:00:00Z");
    MessagePages pages = new MessagePages(null, null, ZoneOffset.UTC, Clock.fixed(now, ZoneOffset.UTC));
    long until = now.plus(MessagePages.TICKET_LIFE).getEpochSecond();
    String t = pages.ticket("alice@localhost", "INBOX", 7, 2, until);
    assertThat(pages.ticketOpens("alice@localhost", "INBOX", 7, 2, Long.toString(until), t)).isTrue();
    assertThat(pages.ticketOpens("alice@localhost", "INBOX", 7, 3, Long.toString(until), t)).isFalse();
    assertThat(pages.ticketOpens("alice@localhost", "INBOX", 8, 2, Long.toString(until), t)).isFalse();
    assertThat(pages.ticketOpens("alice@localhost", "Sent", 7, 2, Long.toString(until), t)).isFalse();
    assertThat(pages.ticketOpens("bob@localhost", "INBOX", 7, 2, Long.toString(until), t)).isFalse();
    assertThat(pages.ticketOpens("alice@localhost", "INBOX", 7, 2, Long.toString(until + 1), t)).isFalse();
    assertThat(pages.ticketOpens("alice@localhost", "INBOX", 7, 2, "soon", t)).isFalse();
    MessagePages later = new MessagePages(null, null, ZoneOffset.UTC, Clock.fixed(now.plus(MessagePages.TICKET_LIFE).plusSeconds(1), ZoneOffset.UTC));
    assertThat(later.ticketOpens("alice@localhost", "INBOX", 7, 2, Long.toString(until), later.ticket("alice@localhost", "INBOX", 7, 2, until)))
        .isFalse();
  }
}
