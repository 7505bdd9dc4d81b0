package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.posta.store.Flags;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.testing.Browser;
import dev.posta.testing.TestServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * The message view in a real browser (headless Chromium): a hostile HTML message is opened and
 * its script must not have run (it would add an element, change the title and call home) nor
 * its remote image loaded until "Show remote images" is clicked; "calling home" is a request to
 * a loopback HTTP server this test starts, which counts every request it gets. Then an
 * attachment is downloaded, the message marked unread, opened again and deleted. Screenshots:
 * target/screenshots/message-view.png and message-view-images.png.
 */
class MessageBrowserTest {
  @TempDir Path dir;
  @TempDir Path downloads;
  TestServer server;
  Browser browser;
  HttpServer detector;
  final List<String> detected = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() throws Exception {
    server = TestServer.start(dir, TestServer::withHttp);
    server.addUser("alice@localhost", "alice's password");
    detector = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    detector.createContext("/", exchange -> {
      detected.add(exchange.getRequestURI().getPath());
      byte[] gif = java.util.Base64.getDecoder().decode("R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==");
      exchange.getResponseHeaders().add("Content-Type", "image/gif");
      exchange.sendResponseHeaders(200, gif.length);
      exchange.getResponseBody().write(gif);
      exchange.close();
    });
    detector.start();
    browser = Browser.start(downloads);
  }

  @AfterEach
  void stop() {
    if (browser != null) browser.close();
    if (detector != null) detector.stop(0);
    server.close();
  }

  private String hostileMessage() {
    String home = "http://127.0.0.1:" + detector.getAddress().getPort();
    return """
        From: Mallory <mallory@example.com>
        To: alice@localhost
        Subject: Your invoice
        Date: Mon, 7 Dec 2026 09:00:00 +0000
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="outer"

        --outer
        Content-Type: multipart/related; boundary="rel"

        --rel
        Content-Type: text/html; charset=utf-8

        <html><head><title>framed</title><script>document.title='pwned';new Image().src='HOME/script-ran';</script>
        <style>body{font-family:sans-serif} .x{background:url(HOME/css-image)}</style></head>
        <body onload="document.body.appendChild(document.createElement('hr')).id='pwned'">
        <h2 id="hello">Hello Alice</h2><p class="x">Your invoice is <b>attached</b>.</p>
        <img src="cid:logo@example.com" alt="logo" width="40" height="40">
        <img src="HOME/pixel.gif" alt="tracker" onerror="new Image().src='HOME/onerror-ran'">
        <svg><script>new Image().src='HOME/svg-ran'</script></svg>
        <iframe src="HOME/iframe"></iframe><object data="HOME/object"></object>
        <a href="javascript:new Image().src='HOME/link-ran'" id="jslink">pay now</a>
        <form action="HOME/form"><input name="card"><button>Pay</button></form>
        </body></html>
        --rel
        Content-Type: image/png
        Content-ID: <logo@example.com>
        Content-Transfer-Encoding: base64

        iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==
        --rel--
        --outer
        Content-Type: text/plain; name="invoice.txt"
        Content-Disposition: attachment; filename="invoice.txt"

        Invoice 42: 10 EUR
        --outer--
        """.replace("HOME", home);
  }

  @Test
  void aHostileMessageRunsNoScriptAndLoadsNothingRemoteUntilAsked() throws Exception {
    MailboxStore store = server.server().mailboxes();
    MailboxId alice = MailboxId.ofAccount("alice@localhost");
    store.createInbox(alice);
    store.makeSpecialFolders(alice);
    byte[] octets = hostileMessage().getBytes(StandardCharsets.UTF_8);
    try (MailboxStore.Lease inbox = store.open(alice, "INBOX")) {
      inbox.folder().append(out -> out.write(ByteBuffer.wrap(octets)), 0, Instant.parse("2026-12-07T09:00:00Z"));
    }

    WebDriver web = browser.driver();
    String base = "http://127.0.0.1:" + server.httpPort();
    web.get(base + "/signin");
    web.findElement(By.id("address")).sendKeys("alice@localhost");
    web.findElement(By.id("password")).sendKeys("alice's password");
    web.findElement(By.cssSelector("main.signin button")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX"));
    web.findElement(By.linkText("Your invoice")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX/1"));
    assertThat(web.getTitle()).isEqualTo("Your invoice · Posta");
    assertThat(web.findElement(By.cssSelector("p.blocked")).getText()).isEqualTo("2 remote images were blocked. Show remote images");

    // Inside the frame: the message's text, its inline image (loaded by its ticket), none of the script's work.
    browser.waiting().until(ExpectedConditions.frameToBeAvailableAndSwitchToIt(By.cssSelector("iframe.body")));
    browser.waiting().until(ExpectedConditions.presenceOfElementLocated(By.tagName("h2")));
    assertThat(web.findElement(By.tagName("h2")).getText()).isEqualTo("Hello Alice"); // (its id is gone: ids are not kept)
    WebElement logo = web.findElement(By.cssSelector("img[alt=logo]"));
    browser.waiting().until(d -> "1".equals(logo.getDomProperty("naturalWidth")));
    assertThat(web.findElements(By.id("pwned"))).isEmpty();
    assertThat(web.findElements(By.cssSelector("script, iframe, object, form, input, svg"))).isEmpty();
    web.findElement(By.linkText("pay now")).click(); // its javascript: URL is gone: nothing happens
    web.switchTo().defaultContent();
    assertThat(web.getTitle()).isEqualTo("Your invoice · Posta");
    Thread.sleep(500); // anything the page was going to ask for, it has asked for by now
    assertThat(detected).as("requests that reached the loopback server").isEmpty();
    assertThat(browser.screenshot("message-view")).isNotEmptyFile();

    // Asked for: the remote image loads, and still no script runs.
    web.findElement(By.linkText("Show remote images")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX/1?images=1"));
    browser.waiting().until(d -> detected.contains("/pixel.gif") && detected.contains("/css-image"));
    browser.waiting().until(ExpectedConditions.frameToBeAvailableAndSwitchToIt(By.cssSelector("iframe.body")));
    WebElement tracker = web.findElement(By.cssSelector("img[alt=tracker]"));
    browser.waiting().until(d -> "1".equals(tracker.getDomProperty("naturalWidth")));
    web.switchTo().defaultContent();
    Thread.sleep(300);
    assertThat(detected).containsExactlyInAnyOrder("/pixel.gif", "/css-image");
    assertThat(browser.screenshot("message-view-images")).isNotEmptyFile();

    // Download the attachment.
    web.findElement(By.linkText("invoice.txt")).click();
    Path file = downloads.resolve("invoice.txt");
    browser.waiting().withTimeout(Duration.ofSeconds(20)).until(d -> Files.exists(file));
    assertThat(Files.readString(file)).isEqualTo("Invoice 42: 10 EUR");

    // Mark unread: back to the list, where it shows unread; then open it again and delete it.
    web.findElement(By.xpath("//button[text()='Mark unread']")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX"));
    assertThat(web.findElement(By.cssSelector("tbody tr:first-child")).getAttribute("class")).isEqualTo("unseen");
    assertThat(flags(alice, "INBOX", 1) & Flags.SEEN).isZero();
    web.findElement(By.linkText("Your invoice")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX/1"));
    assertThat(flags(alice, "INBOX", 1) & Flags.SEEN).isEqualTo(Flags.SEEN);
    web.findElement(By.xpath("//button[text()='Delete']")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX"));
    assertThat(web.findElement(By.cssSelector("p.empty")).getText()).isEqualTo("No messages.");
    try (MailboxStore.Lease trash = store.open(alice, "Trash")) {
      trash.folder().sync();
      assertThat(trash.folder().uids()).containsExactly(1L);
    }
    assertThat(detected).containsExactlyInAnyOrder("/pixel.gif", "/css-image");
  }

  private int flags(MailboxId mailbox, String folder, long uid) throws Exception {
    try (MailboxStore.Lease lease = server.server().mailboxes().open(mailbox, folder)) {
      lease.folder().sync();
      return lease.folder().get(uid).flags();
    }
  }
}
