package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.store.Flags;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.testing.TestServer;
import jakarta.mail.Multipart;
import jakarta.mail.Part;
import jakarta.mail.Session;
import jakarta.mail.internet.MimeMessage;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
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
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writing mail in the web view, through a real HTTP client against a real server whose domain
 * knows four mailboxes: a new message with a file goes out as the signed-in account (its From,
 * its Bcc kept out of what is delivered) and its copy lands in Sent, \Seen, with the Bcc; a
 * reply quotes and threads; a forward carries the original whole; refusals (an unknown recipient,
 * too large) come back on the form with the SMTP reply and everything typed; forged posts send
 * nothing; and the page's event stream tells of new mail and ends with its session.
 */
class ComposePagesTest {
  private static final Pattern CSRF_FIELD = Pattern.compile("name=\"csrf\" value=\"([A-Za-z0-9_-]{43})\"");
  static final String ORIGINAL = """
      From: Bob Baker <bob@localhost>
      To: alice@localhost, dave@localhost
      Cc: carol@localhost
      Subject: Lunch?
      Date: Mon, 7 Dec 2026 09:00:00 +0000
      Message-ID: <lunch-2@example.org>
      In-Reply-To: <lunch-1@example.org>
      References: <lunch-0@example.org> <lunch-1@example.org>
      MIME-Version: 1.0
      Content-Type: text/plain; charset=utf-8

      Shall we meet at noon?
      > an older line
      """;

  @TempDir Path dir;
  TestServer server;
  HttpClient http;
  final ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> logs = new ch.qos.logback.core.read.ListAppender<>();
  final ch.qos.logback.classic.Logger webLog = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(dev.posta.web.WebServer.class);

  @BeforeEach
  void start() {
    server = TestServer.start(dir, c -> TestServer.withHttp(c).toBuilder()
        .limits(new PostaConfig.Limits(64 * 1024, 100, 64 * 1024, 1000, 50, 10, Duration.ofMinutes(5), Duration.ofMinutes(3), 100))
        .domains(List.of(new PostaConfig.LocalDomain("localhost", Set.of("alice", "bob", "carol", "dave", "postmaster"), false, Optional.empty(),
            Map.of())))
        .build());
    server.addUser("alice@localhost", "alice's password").addUser("bob@localhost", "bob's long password");
    http = HttpClient.newHttpClient();
    logs.start();
    webLog.addAppender(logs);
  }

  @AfterEach
  void stop() {
    webLog.detachAppender(logs);
    http.close();
    server.close();
  }

  // ---- a browser, by hand

  static final class Browser {
    final Map<String, String> cookies = new LinkedHashMap<>();

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

  /** A part of a multipart/form-data body: a field (filename null) or a file. */
  record FormPart(String name, String filename, String type, byte[] content) {
    static FormPart field(String name, String value) {
      return new FormPart(name, null, null, value.getBytes(StandardCharsets.UTF_8));
    }
  }

  private String origin() {
    return "http://127.0.0.1:" + server.httpPort();
  }

  private URI uri(String path) {
    return URI.create(origin() + path);
  }

  private HttpResponse<String> get(Browser b, String path) throws Exception {
    var req = HttpRequest.newBuilder(uri(path)).GET();
    if (!b.cookies.isEmpty()) req.header("Cookie", b.cookieHeader());
    HttpResponse<String> r = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
    b.take(r);
    return r;
  }

  private HttpResponse<String> postMultipart(Browser b, List<FormPart> parts, String origin) throws Exception {
    String boundary = "----postaTestBoundary7MA4YWxkTrZu0gW";
    var body = new ByteArrayOutputStream();
    for (FormPart p : parts) {
      body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + p.name() + "\""
          + (p.filename() == null ? "" : "; filename=\"" + p.filename() + "\"") + "\r\n"
          + (p.type() == null ? "" : "Content-Type: " + p.type() + "\r\n") + "\r\n").getBytes(StandardCharsets.UTF_8));
      body.writeBytes(p.content());
      body.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    body.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII));
    var req = HttpRequest.newBuilder(uri("/compose")).POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()))
        .header("Content-Type", "multipart/form-data; boundary=" + boundary);
    if (origin != null) req.header("Origin", origin);
    if (!b.cookies.isEmpty()) req.header("Cookie", b.cookieHeader());
    HttpResponse<String> r = http.send(req.build(), HttpResponse.BodyHandlers.ofString());
    b.take(r);
    return r;
  }

  /** Posts the compose form {@code page} shows, its fields as shown changed by {@code changes}, and {@code files}. */
  private HttpResponse<String> send(Browser b, HttpResponse<String> page, Map<String, String> changes, List<FormPart> files) throws Exception {
    Document doc = Jsoup.parse(page.body());
    Element form = doc.selectFirst("main.compose form");
    assertThat(form).as(page.body()).isNotNull();
    assertThat(form.attr("enctype")).isEqualTo("multipart/form-data");
    List<FormPart> parts = new ArrayList<>();
    for (Element input : form.select("input[name]:not([type=file]), textarea[name]")) {
      String name = input.attr("name");
      String value = changes.containsKey(name) ? changes.get(name) : input.is("textarea") ? input.wholeText() : input.attr("value");
      parts.add(FormPart.field(name, value.replace("\n", "\r\n"))); // as a browser sends a textarea
    }
    parts.addAll(files);
    return postMultipart(b, parts, origin());
  }

  private static String csrf(String page) {
    Matcher m = CSRF_FIELD.matcher(page);
    assertThat(m.find()).as("a CSRF field in %s", page).isTrue();
    return m.group(1);
  }

  private Browser signedIn(String address, String password) throws Exception {
    Browser b = new Browser();
    String token = csrf(get(b, "/signin").body());
    String form = "csrf=" + token + "&address=" + URLEncoder.encode(address, StandardCharsets.UTF_8) + "&password="
        + URLEncoder.encode(password, StandardCharsets.UTF_8);
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(uri("/signin")).POST(HttpRequest.BodyPublishers.ofString(form))
        .header("Content-Type", "application/x-www-form-urlencoded").header("Origin", origin()).header("Cookie", b.cookieHeader()).build(),
        HttpResponse.BodyHandlers.ofString());
    b.take(r);
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

  /** The messages of a folder, each with its flags: raw (LF line ends) and parsed. */
  private List<Map.Entry<Integer, byte[]>> folder(String account, String folder) throws Exception {
    List<Map.Entry<Integer, byte[]>> out = new ArrayList<>();
    MailboxStore store = server.server().mailboxes();
    MailboxId mailbox = MailboxId.ofAccount(account);
    if (!store.exists(mailbox, folder)) return out;
    try (MailboxStore.Lease lease = store.open(mailbox, folder)) {
      lease.folder().sync();
      for (long uid : lease.folder().uids()) {
        try (var in = lease.folder().openMessage(uid)) {
          out.add(Map.entry(lease.folder().get(uid).flags(), Channels.newInputStream(in).readAllBytes()));
        }
      }
    }
    return out;
  }

  private static MimeMessage parse(String raw) throws Exception {
    return new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(raw.getBytes(StandardCharsets.UTF_8)));
  }

  private List<String> logLines() {
    return logs.list.stream().map(ch.qos.logback.classic.spi.ILoggingEvent::getFormattedMessage).toList();
  }

  // ---- sending

  @Test
  void aNewMessageGoesOutAsTheAccountWithItsFileAndItsCopyWithTheBccIsKeptInSent() throws Exception {
    Browser alice = signedIn("alice@localhost", "alice's password");
    HttpResponse<String> form = get(alice, "/compose");
    assertThat(form.statusCode()).isEqualTo(200);
    assertThat(Jsoup.parse(form.body()).selectFirst("main.compose .from").text()).isEqualTo("alice@localhost");
    byte[] binary = new byte[3000];
    for (int i = 0; i < binary.length; i++) binary[i] = (byte) (i * 7);
    HttpResponse<String> sent = send(alice, form, Map.of("to", "Bob Baker <bob@localhost>", "cc", "carol@localhost", "bcc", "dave@localhost",
        "subject", "Plans für Montag", "body", "Hello Bob,\nthe plan is attached.\n"),
        List.of(new FormPart("attachment", "plan.bin", "application/octet-stream", binary),
            new FormPart("attachment", "", "application/octet-stream", new byte[0]))); // a second file field left empty

    assertThat(sent.statusCode()).as(sent.body()).isEqualTo(303);
    String location = sent.headers().firstValue("Location").orElseThrow();
    assertThat(location).matches("/mail/Sent\\?sent=[0-9A-F]{16}");
    String queueId = location.substring(location.indexOf('=') + 1);

    for (String user : List.of("bob", "carol", "dave")) {
      MimeMessage m = parse(server.awaitMail(user, 1).getFirst());
      assertThat(m.getHeader("From")).containsExactly("alice@localhost");
      assertThat(m.getHeader("To")).containsExactly("Bob Baker <bob@localhost>");
      assertThat(m.getHeader("Cc")).containsExactly("carol@localhost");
      assertThat(m.getHeader("Bcc")).as("Bcc is never delivered").isNull();
      assertThat(m.getSubject()).isEqualTo("Plans für Montag");
      assertThat(m.getHeader("Received")[0]).contains("via web").contains("id " + queueId);
      Multipart mixed = (Multipart) m.getContent();
      assertThat(mixed.getCount()).isEqualTo(2);
      assertThat(mixed.getBodyPart(0).getContent()).isEqualTo("Hello Bob,\nthe plan is attached.\n"); // as stored: LF
      assertThat(mixed.getBodyPart(1).getFileName()).isEqualTo("plan.bin");
      assertThat(mixed.getBodyPart(1).getDisposition()).isEqualTo(Part.ATTACHMENT);
      assertThat(mixed.getBodyPart(1).getInputStream().readAllBytes()).isEqualTo(binary);
    }
    MimeMessage delivered = parse(server.mail("bob").getFirst());

    List<Map.Entry<Integer, byte[]>> copies = folder("alice@localhost", "Sent");
    assertThat(copies).hasSize(1);
    assertThat(copies.getFirst().getKey() & Flags.SEEN).isEqualTo(Flags.SEEN);
    MimeMessage copy = parse(new String(copies.getFirst().getValue(), StandardCharsets.UTF_8));
    assertThat(copy.getHeader("Bcc")).containsExactly("dave@localhost");
    assertThat(copy.getMessageID()).isEqualTo(delivered.getMessageID()).matches("<[0-9a-f]{32}@localhost>");
    assertThat(copy.getHeader("Date")).isEqualTo(delivered.getHeader("Date"));
    assertThat(copy.getHeader("Received")).as("the copy is the message as written, not as queued").isNull();

    assertThat(logLines()).contains("http[127.0.0.1]: web send new: " + queueId + ", nrcpt=3, saved to Sent/1: user=alice@localhost");
    HttpResponse<String> sentList = get(alice, location);
    assertThat(Jsoup.parse(sentList.body()).selectFirst("p.notice").text())
        .isEqualTo("Your message was sent (queue ID " + queueId + "); this is its copy.");
    assertThat(Jsoup.parse(sentList.body()).selectFirst("td.subject").text()).isEqualTo("Plans für Montag");
  }

  @Test
  void aRefusedRecipientComesBackOnTheFormWithTheSmtpReplyAndEverythingTyped() throws Exception {
    Browser alice = signedIn("alice@localhost", "alice's password");
    HttpResponse<String> refused = send(alice, get(alice, "/compose"), Map.of("to", "bob@localhost, nobody@localhost", "subject", "Hi <all>",
        "body", "Dear all,\n<b>see</b> you\n"), List.of(new FormPart("attachment", "a.txt", "text/plain", "x".getBytes(StandardCharsets.UTF_8))));

    assertThat(refused.statusCode()).isEqualTo(400);
    Document page = Jsoup.parse(refused.body());
    assertThat(page.selectFirst("p.error").text()).isEqualTo("Not sent: 550 5.1.1 <nobody@localhost>: Recipient address rejected: no such user here"
        + " The files you attached were not kept: attach them again.");
    assertThat(page.selectFirst("input[name=to]").attr("value")).isEqualTo("bob@localhost, nobody@localhost");
    assertThat(page.selectFirst("input[name=subject]").attr("value")).isEqualTo("Hi <all>");
    assertThat(page.selectFirst("textarea[name=body]").wholeText()).isEqualTo("Dear all,\r\n<b>see</b> you\r\n");
    assertThat(csrf(refused.body())).isEqualTo(csrf(get(alice, "/compose").body()));
    assertThat(folder("alice@localhost", "Sent")).isEmpty();
    assertThat(server.mail("bob")).isEmpty();
    assertThat(logLines()).contains("http[127.0.0.1]: web send refused: 550 5.1.1 <nobody@localhost>: Recipient address rejected: no such user here:"
        + " user=alice@localhost");

    // What the form itself finds wrong, before anything is submitted.
    HttpResponse<String> noAddress = send(alice, get(alice, "/compose"), Map.of("to", "bob", "subject", "x"), List.of());
    assertThat(noAddress.statusCode()).isEqualTo(400);
    assertThat(Jsoup.parse(noAddress.body()).selectFirst("p.error").text()).isEqualTo("To: 'bob' is not a list of addresses (name@example.org or Name <name@example.org>, separated by commas).");
    HttpResponse<String> nobody = send(alice, get(alice, "/compose"), Map.of("subject", "x"), List.of());
    assertThat(Jsoup.parse(nobody.body()).selectFirst("p.error").text()).isEqualTo("Add at least one recipient in To, Cc or Bcc.");
  }

  @Test
  void tooLargeIsRefusedOnTheFormWhetherTheFilesOrTheMessageCross() throws Exception {
    Browser alice = signedIn("alice@localhost", "alice's password");
    // 50 KB of file is under the 64 KiB the form takes, but base64 makes the message 67 KB: submission's own 552.
    HttpResponse<String> overInMessage = send(alice, get(alice, "/compose"), Map.of("to", "bob@localhost", "subject", "Photos"),
        List.of(new FormPart("attachment", "photo.jpg", "image/jpeg", new byte[50_000])));
    assertThat(overInMessage.statusCode()).isEqualTo(413);
    assertThat(Jsoup.parse(overInMessage.body()).selectFirst("p.error").text())
        .isEqualTo("Not sent: 552 5.3.4 Message size exceeds fixed maximum message size (65536 octets)"
            + " The files you attached were not kept: attach them again.");

    // 70 KB of files: dropped as they stream in, the text still read and shown again.
    HttpResponse<String> overInForm = send(alice, get(alice, "/compose"), Map.of("to", "bob@localhost", "subject", "Photos", "body", "Look!"),
        List.of(new FormPart("attachment", "a.jpg", "image/jpeg", new byte[40_000]), new FormPart("attachment", "b.jpg", "image/jpeg",
            new byte[30_000])));
    assertThat(overInForm.statusCode()).isEqualTo(413);
    Document page = Jsoup.parse(overInForm.body());
    assertThat(page.selectFirst("p.error").text()).isEqualTo("Not sent: 552 5.3.4 Message size exceeds fixed maximum message size (65536 octets)."
        + " The files attached come to 70 KB. The files you attached were not kept: attach them again.");
    assertThat(page.selectFirst("input[name=subject]").attr("value")).isEqualTo("Photos");
    assertThat(page.selectFirst("textarea[name=body]").wholeText()).isEqualTo("Look!");
    assertThat(server.mail("bob")).isEmpty();
    assertThat(logLines()).contains("http[127.0.0.1]: web send refused: files of 70000 octets over the limit 65536: user=alice@localhost");
  }

  @Test
  void aFormWithoutTheSessionsTokenOrFromElsewhereSendsNothing() throws Exception {
    Browser alice = signedIn("alice@localhost", "alice's password");
    String token = csrf(get(alice, "/compose").body());
    List<FormPart> fields = List.of(FormPart.field("mode", "new"), FormPart.field("to", "bob@localhost"), FormPart.field("subject", "forged"));
    List<FormPart> withToken = new ArrayList<>(fields);
    withToken.add(FormPart.field("csrf", token));
    List<FormPart> wrongToken = new ArrayList<>(fields);
    wrongToken.add(FormPart.field("csrf", token.substring(1) + "A"));

    assertThat(postMultipart(alice, fields, origin()).statusCode()).as("no token").isEqualTo(403);
    assertThat(postMultipart(alice, wrongToken, origin()).statusCode()).as("another token").isEqualTo(403);
    assertThat(postMultipart(alice, withToken, "http://evil.example").statusCode()).as("another origin").isEqualTo(403);
    assertThat(postMultipart(new Browser(), withToken, origin()).statusCode()).as("no session").isEqualTo(403);
    Browser bob = signedIn("bob@localhost", "bob's long password");
    assertThat(postMultipart(bob, withToken, origin()).statusCode()).as("alice's token in bob's session").isEqualTo(403);
    HttpResponse<String> urlencoded = http.send(HttpRequest.newBuilder(uri("/compose")).POST(HttpRequest.BodyPublishers.ofString("csrf=" + token
        + "&to=bob%40localhost")).header("Content-Type", "application/x-www-form-urlencoded").header("Origin", origin())
        .header("Cookie", alice.cookieHeader()).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(urlencoded.statusCode()).isEqualTo(415);
    Thread.sleep(300);
    assertThat(server.mail("bob")).isEmpty();
    assertThat(folder("alice@localhost", "Sent")).isEmpty();
    assertThat(logLines()).contains("http[127.0.0.1]: POST /compose refused: missing or wrong CSRF token");

    // Nor can a reply or forward reach another user's message: 404 as for one that is not there.
    long bobs = deliver("bob@localhost", "INBOX", ORIGINAL);
    assertThat(get(alice, "/compose?mode=forward&folder=INBOX&uid=" + bobs).statusCode()).isEqualTo(404);
    List<FormPart> forward = new ArrayList<>(List.of(FormPart.field("csrf", token), FormPart.field("mode", "forward"),
        FormPart.field("folder", "INBOX"), FormPart.field("uid", Long.toString(bobs)), FormPart.field("to", "alice@localhost")));
    assertThat(postMultipart(alice, forward, origin()).statusCode()).isEqualTo(404);
    assertThat(server.mail("alice")).isEmpty();
  }

  @Test
  void aFileNameInUtf8AsBrowsersSendItKeepsItsLettersAndAnHtmlOnlyMessageIsQuotedAsText() throws Exception {
    long uid = deliver("alice@localhost", "INBOX", """
        From: Shop <news@shop.example>
        To: alice@localhost
        Subject: Sale
        Message-ID: <sale@shop.example>
        MIME-Version: 1.0
        Content-Type: text/html; charset=utf-8

        <html><head><style>p{color:red}</style><script>var x = 1;</script></head><body><h1>Big   sale</h1>
        <p>Everything <b>half</b> price.<br>Until Sunday.</p><ul><li>Shoes</li><li>Hats</li></ul></body></html>
        """);
    Browser alice = signedIn("alice@localhost", "alice's password");
    HttpResponse<String> form = get(alice, "/compose?mode=reply&folder=INBOX&uid=" + uid);
    assertThat(Jsoup.parse(form.body()).selectFirst("textarea[name=body]").wholeText())
        .endsWith(" wrote:\n> Big sale\n> Everything half price.\n> Until Sunday.\n> Shoes\n> Hats\n");

    HttpResponse<String> sent = send(alice, form, Map.of("to", "bob@localhost"),
        // %22: a quote, as a browser writes it there
        List.of(new FormPart("attachment", "Übersicht %22Q4%22.txt", "text/plain; charset=utf-8", "ü".getBytes(StandardCharsets.UTF_8))));
    assertThat(sent.statusCode()).as(sent.body()).isEqualTo(303);
    MimeMessage m = parse(server.awaitMail("bob", 1).getFirst());
    Part file = ((Multipart) m.getContent()).getBodyPart(1);
    assertThat(jakarta.mail.internet.MimeUtility.decodeText(file.getFileName())).isEqualTo("Übersicht \"Q4\".txt");
    assertThat(file.getContentType()).startsWith("text/plain;");
    assertThat(file.getInputStream().readAllBytes()).isEqualTo("ü".getBytes(StandardCharsets.UTF_8));
  }

  // ---- reply and forward

  @Test
  void aReplyQuotesTheOriginalAndThreadsWithIt() throws Exception {
    long uid = deliver("alice@localhost", "INBOX", ORIGINAL);
    Browser alice = signedIn("alice@localhost", "alice's password");
    HttpResponse<String> message = get(alice, "/mail/INBOX/" + uid);
    Document view = Jsoup.parse(message.body());
    assertThat(view.select("nav.answer a").eachAttr("href")).containsExactly("/compose?mode=reply&folder=INBOX&uid=1",
        "/compose?mode=reply-all&folder=INBOX&uid=1", "/compose?mode=forward&folder=INBOX&uid=1");

    HttpResponse<String> form = get(alice, "/compose?mode=reply&folder=INBOX&uid=" + uid);
    Document page = Jsoup.parse(form.body());
    String date = DateTimeFormatter.ofPattern("EEE d MMM yyyy 'at' HH:mm", Locale.ENGLISH)
        .format(Instant.parse("2026-12-07T09:00:00Z").atZone(ZoneId.systemDefault()));
    assertThat(page.selectFirst("h1").text()).isEqualTo("Reply");
    assertThat(page.selectFirst("input[name=to]").attr("value")).isEqualTo("Bob Baker <bob@localhost>");
    assertThat(page.selectFirst("input[name=cc]").attr("value")).isEmpty();
    assertThat(page.selectFirst("input[name=subject]").attr("value")).isEqualTo("Re: Lunch?");
    assertThat(page.selectFirst("input[name=in-reply-to]").attr("value")).isEqualTo("<lunch-2@example.org>");
    assertThat(page.selectFirst("input[name=references]").attr("value"))
        .isEqualTo("<lunch-0@example.org> <lunch-1@example.org> <lunch-2@example.org>");
    assertThat(page.selectFirst("textarea[name=body]").wholeText())
        .isEqualTo("\n\nOn " + date + ", Bob Baker wrote:\n> Shall we meet at noon?\n>> an older line\n");

    Document all = Jsoup.parse(get(alice, "/compose?mode=reply-all&folder=INBOX&uid=" + uid).body());
    assertThat(all.selectFirst("input[name=to]").attr("value")).isEqualTo("Bob Baker <bob@localhost>, dave@localhost");
    assertThat(all.selectFirst("input[name=cc]").attr("value")).isEqualTo("carol@localhost");

    String body = page.selectFirst("textarea[name=body]").wholeText();
    HttpResponse<String> sent = send(alice, form, Map.of("body", "Yes, noon is fine." + body), List.of());
    assertThat(sent.statusCode()).as(sent.body()).isEqualTo(303);
    MimeMessage reply = parse(server.awaitMail("bob", 1).getFirst());
    assertThat(reply.getSubject()).isEqualTo("Re: Lunch?");
    assertThat(reply.getHeader("In-Reply-To")).containsExactly("<lunch-2@example.org>");
    assertThat(reply.getHeader("References")).containsExactly("<lunch-0@example.org>\r\n <lunch-1@example.org>\r\n <lunch-2@example.org>");
    assertThat(reply.getContent()).isEqualTo("Yes, noon is fine.\n\nOn " + date + ", Bob Baker wrote:\n> Shall we meet at noon?\n"
        + ">> an older line\n");
    assertThat(logLines()).anyMatch(l -> l.matches("http\\[127\\.0\\.0\\.1\\]: web send reply: [0-9A-F]{16}, nrcpt=1, saved to Sent/1: "
        + "user=alice@localhost"));
  }

  @Test
  void aForwardCarriesTheOriginalWholeAsAnAttachedMessage() throws Exception {
    long uid = deliver("alice@localhost", "INBOX", ORIGINAL);
    Browser alice = signedIn("alice@localhost", "alice's password");
    HttpResponse<String> form = get(alice, "/compose?mode=forward&folder=INBOX&uid=" + uid);
    Document page = Jsoup.parse(form.body());
    assertThat(page.selectFirst("input[name=subject]").attr("value")).isEqualTo("Fwd: Lunch?");
    assertThat(page.selectFirst("input[name=to]").attr("value")).isEmpty();
    assertThat(page.selectFirst("input[name=in-reply-to]").attr("value")).isEmpty();
    assertThat(page.selectFirst("p.forwarded").text()).startsWith("Attached: the original message, Lunch_.eml (");
    assertThat(page.selectFirst("textarea[name=body]").wholeText()).startsWith("\n\n---------- Forwarded message (attached) ----------\n"
        + "From: Bob Baker <bob@localhost>\n");

    HttpResponse<String> sent = send(alice, form, Map.of("to", "carol@localhost", "body", "See below."), List.of());
    assertThat(sent.statusCode()).as(sent.body()).isEqualTo(303);
    MimeMessage fwd = parse(server.awaitMail("carol", 1).getFirst());
    assertThat(fwd.getSubject()).isEqualTo("Fwd: Lunch?");
    assertThat(fwd.getHeader("In-Reply-To")).isNull();
    Multipart mixed = (Multipart) fwd.getContent();
    assertThat(mixed.getCount()).isEqualTo(2);
    assertThat(mixed.getBodyPart(0).getContent()).isEqualTo("See below.");
    Part attached = mixed.getBodyPart(1);
    assertThat(attached.getContentType()).startsWith("message/rfc822");
    assertThat(attached.getHeader("Content-Transfer-Encoding")).containsExactly("7bit");
    assertThat(attached.getFileName()).isEqualTo("Lunch_.eml");
    byte[] inner;
    try (InputStream in = attached.getInputStream()) {
      inner = in.readAllBytes();
    }
    assertThat(new String(inner, StandardCharsets.UTF_8)).isEqualTo(ORIGINAL); // octet for octet, as stored (LF)
  }

  // ---- live updates

  @Test
  void thePagesEventStreamTellsOfNewMailAndEndsWithItsSession() throws Exception {
    deliver("alice@localhost", "INBOX", ORIGINAL);
    Browser alice = signedIn("alice@localhost", "alice's password");
    String token = csrf(get(alice, "/mail/INBOX").body());
    assertThat(get(alice, "/mail/events").statusCode()).as("without Accept: text/event-stream, a folder that is not there").isEqualTo(404);
    HttpResponse<InputStream> anonymous = http.send(HttpRequest.newBuilder(uri("/mail/events")).header("Accept", "text/event-stream").build(),
        HttpResponse.BodyHandlers.ofInputStream());
    anonymous.body().close();
    assertThat(anonymous.statusCode()).isEqualTo(403);

    HttpResponse<InputStream> stream = http.send(HttpRequest.newBuilder(uri("/mail/events")).header("Accept", "text/event-stream")
        .header("Cookie", alice.cookieHeader()).build(), HttpResponse.BodyHandlers.ofInputStream());
    assertThat(stream.statusCode()).isEqualTo(200);
    assertThat(stream.headers().firstValue("Content-Type")).hasValue("text/event-stream; charset=utf-8");
    try (BufferedReader lines = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8))) {
      List<String> first = new ArrayList<>();
      for (int i = 0; i < 6; i++) first.add(data(lines));
      assertThat(first).containsExactly("{\"folder\":\"INBOX\",\"messages\":1,\"unseen\":1,\"uidNext\":2}",
          "{\"folder\":\"Drafts\",\"messages\":0,\"unseen\":0,\"uidNext\":1}", "{\"folder\":\"Sent\",\"messages\":0,\"unseen\":0,\"uidNext\":1}",
          "{\"folder\":\"Trash\",\"messages\":0,\"unseen\":0,\"uidNext\":1}", "{\"folder\":\"Junk\",\"messages\":0,\"unseen\":0,\"uidNext\":1}",
          "{\"folder\":\"Archive\",\"messages\":0,\"unseen\":0,\"uidNext\":1}");
      deliver("alice@localhost", "INBOX", ORIGINAL);
      assertThat(data(lines)).isEqualTo("{\"folder\":\"INBOX\",\"messages\":2,\"unseen\":2,\"uidNext\":3}");

      // Signed out: the next change ends the stream rather than telling it.
      String form = "csrf=" + token;
      http.send(HttpRequest.newBuilder(uri("/signout")).POST(HttpRequest.BodyPublishers.ofString(form))
          .header("Content-Type", "application/x-www-form-urlencoded").header("Origin", origin()).header("Cookie", alice.cookieHeader()).build(),
          HttpResponse.BodyHandlers.ofString());
      long signedOut = System.nanoTime();
      deliver("alice@localhost", "INBOX", ORIGINAL);
      String line;
      List<String> after = new ArrayList<>();
      while ((line = lines.readLine()) != null) after.add(line);
      assertThat(after).as("no event more: the end of the last one, then the stream's").containsExactly("");
      assertThat(Duration.ofNanos(System.nanoTime() - signedOut)).as("ended by the change, not at the next 5 s heartbeat")
          .isLessThan(Duration.ofSeconds(2));
    }
  }

  /** The data of the next event (a heartbeat comment skipped). */
  private static String data(BufferedReader lines) throws Exception {
    String line;
    while ((line = lines.readLine()) != null) {
      if (line.startsWith("data: ")) return line.substring("data: ".length());
    }
    throw new AssertionError("the stream ended");
  }
}
