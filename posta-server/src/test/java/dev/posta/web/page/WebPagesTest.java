package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.store.Flags;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.testing.TestServer;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The browser pages through a real HTTP client (the JDK's, cookies handled by hand so that
 * their attributes are seen), against a real server: sign-in and its cookie, session fixation,
 * CSRF and cross-origin posts refused, the shared AUTH throttle, the security headers, the list
 * with its search and pages, and one user never reaching another's mail.
 */
class WebPagesTest {
  static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; "
      + "frame-ancestors 'none'; base-uri 'none'";
  private static final Pattern CSRF_FIELD = Pattern.compile("<input type=\"hidden\" name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\">");
  @TempDir Path dir;
  TestServer server;
  HttpClient http;
  final ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logs = new ch.qos.logback.core.read.ListAppender<>();
  final ch.qos.logback.classic.Logger webLog = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(dev.posta.web.WebServer.class);

  @BeforeEach
  void start() {
    server = TestServer.start(dir, c -> TestServer.withHttp(c).toBuilder()
        .submission(new PostaConfig.Submission(List.of(), false, true, 3, Duration.ofMinutes(15)))
        .build());
    server.addUser("alice@localhost", "alice's password").addUser("bob@localhost", "bob's long password");
    http = HttpClient.newHttpClient(); // follows no redirects: each 303 is seen
    logs.start();
    webLog.addAppender(logs);
  }

  @AfterEach
  void stop() {
    webLog.detachAppender(logs);
    http.close();
    server.close();
  }

  /** A browser's state: its cookies (name to value), as Set-Cookie left them. */
  static final class Browser {
    final Map<String, String> cookies = new LinkedHashMap<>();
    String origin;

    String cookieHeader() {
      return cookies.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).collect(Collectors.joining("; "));
    }

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

  private HttpResponse<String> get(Browser b, String path) throws Exception {
    var req = HttpRequest.newBuilder(uri(path)).GET();
    if (b != null && !b.cookies.isEmpty()) req.header("Cookie", b.cookieHeader());
    HttpResponse<String> r = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
    if (b != null) b.take(r);
    return r;
  }

  private HttpResponse<String> post(Browser b, String path, Map<String, String> form) throws Exception {
    return post(b, path, form, "http://127.0.0.1:" + server.httpPort());
  }

  private HttpResponse<String> post(Browser b, String path, Map<String, String> form, String origin) throws Exception {
    String body = form.entrySet().stream().map(e -> e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
        .collect(Collectors.joining("&"));
    var req = HttpRequest.newBuilder(uri(path)).POST(HttpRequest.BodyPublishers.ofString(body))
        .header("Content-Type", "application/x-www-form-urlencoded");
    if (origin != null) req.header("Origin", origin);
    if (!b.cookies.isEmpty()) req.header("Cookie", b.cookieHeader());
    HttpResponse<String> r = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
    b.take(r);
    return r;
  }

  private static String csrf(HttpResponse<String> page) {
    Matcher m = CSRF_FIELD.matcher(page.body());
    assertThat(m.find()).as("a CSRF field in %s", page.body()).isTrue();
    return m.group(1);
  }

  /** Signs in as a browser does: the form, then its post. */
  private HttpResponse<String> signIn(Browser b, String address, String password) throws Exception {
    String token = csrf(get(b, "/signin"));
    return post(b, "/signin", Map.of("csrf", token, "address", address, "password", password));
  }

  private Browser signedIn(String address, String password) throws Exception {
    Browser b = new Browser();
    HttpResponse<String> r = signIn(b, address, password);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(303);
    return b;
  }

  private void deliver(String account, String folder, String from, String subject, String text, int flags) throws Exception {
    MailboxStore store = server.server().mailboxes();
    MailboxId mailbox = MailboxId.ofAccount(account);
    if (!folder.equals("INBOX") && !store.exists(mailbox, folder)) store.createFolder(mailbox, folder);
    byte[] message = ("From: " + from + "\r\nTo: " + account + "\r\nSubject: " + subject + "\r\nDate: Mon, 7 Dec 2026 09:00:00 +0000\r\n\r\n"
        + text + "\r\n").getBytes(StandardCharsets.UTF_8);
    try (MailboxStore.Lease lease = store.open(mailbox, folder)) {
      lease.folder().append(out -> out.write(ByteBuffer.wrap(message)), flags, Instant.parse("2026-12-07T09:00:00Z"));
    }
  }

  @Test
  void theSignInPageIsStrictHtmlWithAFormTokenInACookie() throws Exception {
    Browser b = new Browser();
    HttpResponse<String> page = get(b, "/signin");
    assertThat(page.statusCode()).isEqualTo(200);
    assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
    assertThat(page.headers().firstValue("Content-Security-Policy")).hasValue(CSP);
    assertThat(page.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    assertThat(page.headers().firstValue("Referrer-Policy")).hasValue("no-referrer");
    assertThat(page.headers().firstValue("Cache-Control")).hasValue("no-store");
    String token = csrf(page);
    assertThat(page.headers().allValues("Set-Cookie")).containsExactly("posta_signin=" + token + "; Path=/signin; HttpOnly; SameSite=Strict");
    assertThat(page.body()).startsWith("<!DOCTYPE html>").contains("<form method=\"post\" action=\"/signin\">")
        .doesNotContain("<script", "style=");
    // The same browser keeps its token (another tab's form stays good).
    assertThat(csrf(get(b, "/signin"))).isEqualTo(token);
  }

  @Test
  void theRootAndMailGoToSignInUntilSignedInThenToTheInbox() throws Exception {
    for (String path : List.of("/", "/mail", "/mail/INBOX", "/mail/INBOX/1")) {
      HttpResponse<String> r = get(null, path);
      assertThat(r.statusCode()).as(path).isEqualTo(303);
      assertThat(r.headers().firstValue("Location")).as(path).hasValue("/signin");
    }
    Browser b = signedIn("alice@localhost", "alice's password");
    assertThat(get(b, "/").headers().firstValue("Location")).hasValue("/mail/INBOX");
    assertThat(get(b, "/signin").headers().firstValue("Location")).hasValue("/mail/INBOX");
  }

  @Test
  void signingInSetsANewHttpOnlyStrictSessionCookieAndClearsTheFormsCookie() throws Exception {
    Browser b = new Browser();
    HttpResponse<String> r = signIn(b, "Alice@LOCALHOST", "alice's password");
    assertThat(r.statusCode()).isEqualTo(303);
    assertThat(r.headers().firstValue("Location")).hasValue("/mail/INBOX");
    List<String> cookies = r.headers().allValues("Set-Cookie");
    assertThat(cookies).hasSize(2);
    assertThat(cookies.get(0)).matches("posta_session=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict");
    assertThat(cookies.get(1)).isEqualTo("posta_signin=; Path=/signin; HttpOnly; SameSite=Strict; Max-Age=0");
    HttpResponse<String> inbox = get(b, "/mail/INBOX");
    assertThat(inbox.statusCode()).isEqualTo(200);
    assertThat(inbox.body()).contains("<span class=\"account\">alice@localhost</span>", "No messages.");
  }

  @Test
  void overHttpsTheSessionCookieIsSecure() throws Exception {
    try (HttpClient tls = HttpClient.newBuilder().sslContext(server.clientTls()).build()) {
      String base = "https://localhost:" + server.httpsPort();
      HttpResponse<String> form = tls.send(HttpRequest.newBuilder(URI.create(base + "/signin")).build(), HttpResponse.BodyHandlers.ofString());
      String token = csrf(form);
      assertThat(form.headers().firstValue("Set-Cookie")).hasValue("posta_signin=" + token + "; Path=/signin; HttpOnly; SameSite=Strict; Secure");
      HttpResponse<String> in = tls.send(HttpRequest.newBuilder(URI.create(base + "/signin"))
          .header("Content-Type", "application/x-www-form-urlencoded").header("Origin", base).header("Cookie", "posta_signin=" + token)
          .POST(HttpRequest.BodyPublishers.ofString("csrf=" + token + "&address=alice%40localhost&password=alice%27s+password")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(in.statusCode()).as(in.body()).isEqualTo(303);
      assertThat(in.headers().allValues("Set-Cookie").getFirst()).matches("posta_session=[A-Za-z0-9_-]{43}; Path=/; HttpOnly; SameSite=Strict; Secure");
    }
  }

  @Test
  void aWrongPasswordOrUnknownUserGetsTheFormAgainWithOneGenericMessage() throws Exception {
    Browser b = new Browser();
    HttpResponse<String> wrong = signIn(b, "alice@localhost", "not it");
    HttpResponse<String> unknown = signIn(b, "nobody@localhost", "not it");
    for (HttpResponse<String> r : List.of(wrong, unknown)) {
      assertThat(r.statusCode()).isEqualTo(401);
      assertThat(r.body()).contains("<p class=\"error\" role=\"alert\">That address and password do not match an account.</p>")
          .contains("<form method=\"post\" action=\"/signin\">");
      assertThat(r.headers().allValues("Set-Cookie")).noneMatch(c -> c.startsWith("posta_session="));
    }
    assertThat(wrong.body()).contains("value=\"alice@localhost\"");
    assertThat(b.cookies).doesNotContainKey("posta_session");
  }

  @Test
  void aSessionIdHeldBeforeSignInIsNeverPromoted() throws Exception {
    // An attacker's chosen ID, planted before sign-in, stays worthless after it.
    Browser b = new Browser();
    String planted = "A".repeat(43);
    b.cookies.put("posta_session", planted);
    assertThat(signIn(b, "alice@localhost", "alice's password").statusCode()).isEqualTo(303);
    assertThat(b.cookies.get("posta_session")).isNotEqualTo(planted).matches("[A-Za-z0-9_-]{43}");
    Browser attacker = new Browser();
    attacker.cookies.put("posta_session", planted);
    assertThat(get(attacker, "/mail/INBOX").headers().firstValue("Location")).hasValue("/signin");

    // Nor is a live session reused: signing in again (a form from another tab, whose token any
    // value matching its cookie is) gives a new ID and ends the old one.
    Browser victim = signedIn("alice@localhost", "alice's password");
    String before = victim.cookies.get("posta_session");
    victim.cookies.put("posta_signin", "C".repeat(43));
    assertThat(post(victim, "/signin", Map.of("csrf", "C".repeat(43), "address", "alice@localhost", "password", "alice's password"))
        .statusCode()).isEqualTo(303);
    assertThat(victim.cookies.get("posta_session")).isNotEqualTo(before);
    Browser stale = new Browser();
    stale.cookies.put("posta_session", before);
    assertThat(get(stale, "/mail/INBOX").statusCode()).isEqualTo(303);
    assertThat(get(victim, "/mail/INBOX").statusCode()).isEqualTo(200);
  }

  @Test
  void postsWithoutTheFormsTokenOrFromAnotherOriginAreRefused() throws Exception {
    Browser alice = signedIn("alice@localhost", "alice's password");
    String token = csrf(get(alice, "/mail/INBOX"));
    String own = "http://127.0.0.1:" + server.httpPort();
    List<HttpResponse<String>> refused = new ArrayList<>();
    refused.add(post(alice, "/signout", Map.of()));
    refused.add(post(alice, "/signout", Map.of("csrf", "B".repeat(43))));
    refused.add(post(alice, "/signout", Map.of("csrf", token), "https://evil.example"));
    refused.add(post(alice, "/signout", Map.of("csrf", token), "null"));
    refused.add(post(alice, "/signout", Map.of("csrf", token), "http://127.0.0.1:" + (server.httpPort() + 1))); // another port, another origin
    for (HttpResponse<String> r : refused) {
      assertThat(r.statusCode()).isEqualTo(403);
      assertThat(r.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
      assertThat(r.headers().firstValue("Content-Security-Policy")).hasValue(CSP);
    }
    assertThat(refused.get(0).body()).contains("<h1>Form expired</h1>");
    assertThat(refused.get(2).body()).contains("This form was sent from another site.");
    // Fetch Metadata: a cross-site post is refused even without an Origin header.
    var crossSite = http.send(HttpRequest.newBuilder(uri("/signout")).header("Content-Type", "application/x-www-form-urlencoded")
        .header("Sec-Fetch-Site", "cross-site").header("Cookie", alice.cookieHeader()).POST(HttpRequest.BodyPublishers.ofString("csrf=" + token))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(crossSite.statusCode()).isEqualTo(403);
    assertThat(get(alice, "/mail/INBOX").statusCode()).as("still signed in").isEqualTo(200);

    // The sign-in form's token must match its cookie: a login forged from elsewhere has neither.
    Browser stranger = new Browser();
    HttpResponse<String> forged = post(stranger, "/signin", Map.of("csrf", token, "address", "alice@localhost", "password", "alice's password"));
    assertThat(forged.statusCode()).isEqualTo(403);
    assertThat(forged.body()).contains("<h1>Sign-in form expired</h1>");
    assertThat(stranger.cookies).doesNotContainKey("posta_session");

    // With its token, from its own origin, sign-out ends the session and clears the cookie. The
    // scheme is not compared: behind a TLS proxy the browser's origin is https, the request http.
    HttpResponse<String> out = post(alice, "/signout", Map.of("csrf", token), own.replace("http://", "https://"));
    assertThat(out.statusCode()).isEqualTo(303);
    assertThat(out.headers().firstValue("Location")).hasValue("/signin");
    assertThat(out.headers().allValues("Set-Cookie")).containsExactly("posta_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    assertThat(alice.cookies).doesNotContainKey("posta_session");
  }

  @Test
  void signOutEndsTheSessionOnTheServerNotOnlyInTheBrowser() throws Exception {
    Browser alice = signedIn("alice@localhost", "alice's password");
    String id = alice.cookies.get("posta_session");
    String token = csrf(get(alice, "/mail/INBOX"));
    assertThat(post(alice, "/signout", Map.of("csrf", token)).statusCode()).isEqualTo(303);
    Browser replay = new Browser();
    replay.cookies.put("posta_session", id);
    assertThat(get(replay, "/mail/INBOX").headers().firstValue("Location")).hasValue("/signin");
    assertThat(logLines()).containsExactly("http[127.0.0.1]: web sign-in succeeded: user=alice@localhost",
        "http[127.0.0.1]: signed out: user=alice@localhost");
  }

  @Test
  void disablingOrRemovingAnAccountEndsItsSessions() throws Exception {
    Browser alice = signedIn("alice@localhost", "alice's password");
    Browser bob = signedIn("bob@localhost", "bob's long password");
    var users = server.server().users();
    users.setDisabled("alice@localhost", true);
    users.remove("bob@localhost");
    await(() -> get(alice, "/mail/INBOX").statusCode() == 303);
    await(() -> get(bob, "/mail/INBOX").statusCode() == 303);
    assertThat(get(alice, "/mail/INBOX").headers().firstValue("Location")).hasValue("/signin");
    // Ended, not only refused: enabling the account again does not bring the session back.
    users.setDisabled("alice@localhost", false);
    assertThat(signIn(new Browser(), "alice@localhost", "alice's password").statusCode()).isEqualTo(303);
    assertThat(get(alice, "/mail/INBOX").statusCode()).isEqualTo(303);
    assertThat(logLines()).contains("http[127.0.0.1]: session ended: the account is disabled: user=alice@localhost",
        "http[127.0.0.1]: session ended: the account is removed: user=bob@localhost");
  }

  /** The accounts file is read again within a second of a change (UserStore's recheck): wait that long at most, twice over. */
  private static void await(java.util.concurrent.Callable<Boolean> condition) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(3).toNanos();
    while (!condition.call()) {
      assertThat(System.nanoTime()).as("still signed in after 3 s").isLessThan(deadline);
      Thread.sleep(50);
    }
  }

  @Test
  void failedSignInsShareTheAuthThrottleWithTheMailProtocols() throws Exception {
    Browser b = new Browser();
    for (int i = 0; i < 3; i++) assertThat(signIn(b, "alice@localhost", "guess " + i).statusCode()).isEqualTo(401);
    // auth-failures-before-lockout = 3: the right password is refused now, unchecked, as IMAP would refuse it.
    HttpResponse<String> locked = signIn(b, "alice@localhost", "alice's password");
    assertThat(locked.statusCode()).isEqualTo(429);
    assertThat(locked.headers().firstValue("Retry-After")).hasValue("900");
    assertThat(locked.body()).contains("<h1>Too many failed sign-ins</h1>");
    assertThat(b.cookies).doesNotContainKey("posta_session");
    assertThat(server.server().authThrottle().isLockedOut(java.net.InetAddress.getLoopbackAddress())).isTrue();
    assertThat(logLines()).containsExactly(
        "http[127.0.0.1]: web sign-in failed: wrong password or unknown user alice@localhost (1 recent failures from this address)",
        "http[127.0.0.1]: web sign-in failed: wrong password or unknown user alice@localhost (2 recent failures from this address)",
        "http[127.0.0.1]: web sign-in failed: wrong password or unknown user alice@localhost (3 recent failures from this address)",
        "http[127.0.0.1]: web sign-in refused: locked out after 3 failures");
  }

  private List<String> logLines() {
    return logs.list.stream().map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage).toList();
  }

  @Test
  void theListShowsTheUsersFoldersAndMessagesNewestFirstWithSearchAndPages() throws Exception {
    for (int i = 1; i <= 55; i++) {
      deliver("alice@localhost", "INBOX", "Robot <robot@example.com>", "Report " + i, "body " + i, i % 2 == 0 ? Flags.SEEN : 0);
    }
    deliver("alice@localhost", "INBOX", "Carol Jones <carol@example.org>", "Lunch on Friday?", "Shall we try the new place?", Flags.FLAGGED);
    deliver("alice@localhost", "Projects", "Dave <dave@example.net>", "Plans", "text", Flags.SEEN);
    Browser b = signedIn("alice@localhost", "alice's password");
    HttpResponse<String> first = get(b, "/mail/INBOX");
    assertThat(first.statusCode()).isEqualTo(200);
    String page = first.body();
    // Folders: INBOX, the special folders made at sign-in, then the user's own; counts and unread counts.
    assertThat(folderNames(page)).containsExactly("Inbox", "Drafts", "Sent", "Trash", "Junk", "Archive", "Projects");
    assertThat(page).contains("<li class=\"current\" data-folder=\"INBOX\"><a href=\"/mail/INBOX\"><span class=\"name\">Inbox</span><span class=\"unseen\" title=\"29 unread\">29</span><span class=\"count\" title=\"56 messages\">56</span></a></li>");
    assertThat(page).contains("<h1>Inbox <small>56 messages</small></h1>", "Page 1 of 2");
    List<String> subjects = subjects(page);
    assertThat(subjects).hasSize(50);
    assertThat(subjects.subList(0, 3)).containsExactly("Lunch on Friday?", "Report 55", "Report 54");
    assertThat(page).contains("<td class=\"from\" title=\"carol@example.org\">Carol Jones</td>",
        "<td class=\"subject\"><a href=\"/mail/INBOX/56\">Lunch on Friday?</a></td>", "<span class=\"flag\" title=\"Flagged\">");
    assertThat(page).contains("<a rel=\"next\" href=\"/mail/INBOX?page=2\">");

    HttpResponse<String> second = get(b, "/mail/INBOX?page=2");
    assertThat(subjects(second.body())).containsExactly("Report 6", "Report 5", "Report 4", "Report 3", "Report 2", "Report 1");
    assertThat(second.body()).contains("Page 2 of 2", "<a rel=\"prev\" href=\"/mail/INBOX\">").doesNotContain("rel=\"next\"");

    // Search: by sender, by text of the body, by subject, by arrival day.
    assertThat(subjects(get(b, "/mail/INBOX?from=carol").body())).containsExactly("Lunch on Friday?");
    assertThat(subjects(get(b, "/mail/INBOX?from=JONES").body())).containsExactly("Lunch on Friday?");
    assertThat(subjects(get(b, "/mail/INBOX?text=new+place").body())).containsExactly("Lunch on Friday?");
    assertThat(subjects(get(b, "/mail/INBOX?to=alice&subject=report+5").body())).containsExactly("Report 55", "Report 54", "Report 53",
        "Report 52", "Report 51", "Report 50", "Report 5");
    assertThat(subjects(get(b, "/mail/INBOX?to=bob&subject=report").body())).isEmpty();
    assertThat(subjects(get(b, "/mail/INBOX?since=2026-12-08").body())).isEmpty();
    HttpResponse<String> all = get(b, "/mail/INBOX?since=2026-12-07&before=2026-12-08");
    assertThat(subjects(all.body())).hasSize(50);
    assertThat(all.body()).contains("50 matches, more below",
        "<a rel=\"next\" href=\"/mail/INBOX?since=2026-12-07&amp;before=2026-12-08&amp;older=7\">");
    assertThat(subjects(get(b, "/mail/INBOX?since=2026-12-07&before=2026-12-08&older=7").body())).hasSize(6);
    assertThat(get(b, "/mail/INBOX?since=yesterday").statusCode()).isEqualTo(400);

    // Another folder, and a message's page.
    assertThat(subjects(get(b, "/mail/Projects").body())).containsExactly("Plans");
    HttpResponse<String> message = get(b, "/mail/INBOX/56");
    assertThat(message.statusCode()).isEqualTo(200);
    assertThat(message.body()).contains("<h1>Lunch on Friday?</h1>", "<dt>From</dt><dd>Carol Jones &lt;carol@example.org&gt;</dd>");
  }

  @Test
  void textFromMailIsEscapedNeverMarkup() throws Exception {
    deliver("alice@localhost", "INBOX", "\"<img src=x onerror=alert(1)>\" <evil@example.com>", "<script>alert(1)</script>", "x", 0);
    Browser b = signedIn("alice@localhost", "alice's password");
    String page = get(b, "/mail/INBOX").body();
    assertThat(page).doesNotContain("<script>alert", "<img src=x")
        .contains("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;");
  }

  @Test
  void oneUserCannotReachAnothersMailByChangingThePath() throws Exception {
    deliver("bob@localhost", "INBOX", "Friend <friend@example.com>", "For Bob only", "secret", 0);
    deliver("bob@localhost", "Private", "Friend <friend@example.com>", "Bob's private", "secret", 0);
    Browser alice = signedIn("alice@localhost", "alice's password");
    for (String path : List.of("/mail/INBOX/1", "/mail/Private", "/mail/Private/1", "/mail/..%2Fbob", "/mail/INBOX/0", "/mail/INBOX/x",
        "/mail/bob@localhost/INBOX", "/mail/INBOX/1/raw")) {
      HttpResponse<String> r = get(alice, path);
      assertThat(r.statusCode()).as(path).isIn(400, 404);
      assertThat(r.body()).as(path).doesNotContain("For Bob only", "Bob's private");
    }
    assertThat(get(alice, "/mail/Private").statusCode()).isEqualTo(404);
    assertThat(get(alice, "/mail/INBOX/1").statusCode()).isEqualTo(404);
    assertThat(get(alice, "/mail/INBOX").body()).doesNotContain("For Bob only");
    Browser bob = signedIn("bob@localhost", "bob's long password");
    assertThat(get(bob, "/mail/INBOX/1").body()).contains("<h1>For Bob only</h1>");
  }

  @Test
  void unknownPagesAreHtml404sWhileTheApiKeepsJson() throws Exception {
    HttpResponse<String> page = get(null, "/elsewhere");
    assertThat(page.statusCode()).isEqualTo(404);
    assertThat(page.headers().firstValue("Content-Type")).hasValue("text/html; charset=utf-8");
    assertThat(page.headers().firstValue("Content-Security-Policy")).hasValue(CSP);
    assertThat(page.body()).contains("<h1>Not found</h1>");
    HttpResponse<String> api = get(null, "/api/v1/nothing");
    assertThat(api.statusCode()).isEqualTo(404);
    assertThat(api.headers().firstValue("Content-Type")).hasValue("application/json");
    HttpResponse<String> method = http.send(HttpRequest.newBuilder(uri("/mail/INBOX")).DELETE().build(), HttpResponse.BodyHandlers.ofString());
    assertThat(method.statusCode()).isEqualTo(405);
    assertThat(method.headers().firstValue("Allow")).hasValue("GET, HEAD");
  }

  @Test
  void theStylesheetIsServedVersionedAndRevalidatedByItsETag() throws Exception {
    String page = get(null, "/signin").body();
    Matcher link = Pattern.compile("<link rel=\"stylesheet\" href=\"(/static/posta\\.css\\?v=([0-9a-f]{12}))\">").matcher(page);
    assertThat(link.find()).as(page).isTrue();
    HttpResponse<String> css = get(null, link.group(1));
    assertThat(css.statusCode()).isEqualTo(200);
    assertThat(css.headers().firstValue("Content-Type")).hasValue("text/css; charset=utf-8");
    assertThat(css.headers().firstValue("Cache-Control")).hasValue("public, max-age=31536000, immutable");
    assertThat(css.headers().firstValue("ETag")).hasValue("\"" + link.group(2) + "\"");
    assertThat(css.body()).contains(".folders");
    assertThat(get(null, "/static/posta.css").headers().firstValue("Cache-Control")).hasValue("no-cache");
    HttpResponse<String> again = http.send(HttpRequest.newBuilder(uri("/static/posta.css")).header("If-None-Match", "\"" + link.group(2) + "\"")
        .build(), HttpResponse.BodyHandlers.ofString());
    assertThat(again.statusCode()).isEqualTo(304);
    assertThat(get(null, "/static/other.css").statusCode()).isEqualTo(404);
  }

  private static List<String> folderNames(String page) {
    return Pattern.compile("<span class=\"name\">([^<]*)</span>").matcher(page).results().map(m -> m.group(1)).toList();
  }

  private static List<String> subjects(String page) {
    return Pattern.compile("<td class=\"subject\"><a href=\"[^\"]*\">([^<]*)</a></td>").matcher(page).results().map(m -> m.group(1)).toList();
  }

  /**
   * A form's POST answered before its body is read (here 405: "/" takes no POST) keeps its
   * connection: the server reads the body first, so the client's next request on the same
   * connection is answered too (RFC 9112 §9.3). The body comes after a pause, as a client's
   * second TCP segment can: without the read, the answer went out at once and the connection was
   * closed after it, with no {@code Connection: close}.
   */
  @Test
  void aPostAnsweredBeforeItsBodyIsReadKeepsItsConnection() throws Exception {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", server.httpPort())) {
      s.setSoTimeout(10_000);
      var out = s.getOutputStream();
      out.write(("POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\n"
          + "Content-Length: 9\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Thread.sleep(300);
      out.write("csrf=nope".getBytes(StandardCharsets.US_ASCII));
      out.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String both = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
      assertThat(both).startsWith("HTTP/1.1 405 Method Not Allowed\r\n");
      assertThat(both.substring(both.indexOf("HTTP/1.1 ", 1))).startsWith("HTTP/1.1 200 OK\r\n").endsWith("\r\n\r\nok\n");
    }
  }
}
