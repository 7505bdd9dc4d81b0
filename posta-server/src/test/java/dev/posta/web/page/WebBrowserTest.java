package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.store.Flags;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.testing.Browser;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * The pages in a real browser (headless Chromium, {@link Browser}) as a person uses them: the
 * sign-in page, a wrong password, signing in, the folders and a message delivered over SMTP in
 * the list, searching, the next page, a message, signing out. The stylesheet must apply under
 * the pages' Content-Security-Policy (a style the browser refused would leave the layout
 * unstyled), and the sign-in page and the list are saved as screenshots
 * (target/screenshots/signin.png, message-list.png, message.png).
 */
class WebBrowserTest {
  @TempDir Path dir;
  TestServer server;
  Browser browser;

  @BeforeEach
  void start() throws Exception {
    server = TestServer.start(dir, TestServer::withHttp);
    server.addUser("alice@localhost", "alice's password");
    browser = Browser.start();
  }

  @AfterEach
  void stop() {
    if (browser != null) browser.close();
    server.close();
  }

  @Test
  void signInReadTheListSearchPageAndSignOut() throws Exception {
    MailboxStore store = server.server().mailboxes();
    MailboxId alice = MailboxId.ofAccount("alice@localhost");
    store.createInbox(alice);
    String[] senders = {"Grace Hopper <grace@example.org>", "Ada Lovelace <ada@example.org>", "Build Robot <ci@example.com>"};
    try (MailboxStore.Lease inbox = store.open(alice, "INBOX")) {
      for (int i = 1; i <= 54; i++) {
        byte[] m = ("From: " + senders[i % 3] + "\r\nTo: alice@localhost\r\nSubject: Weekly report " + i + "\r\n\r\nNumbers for week " + i
            + ".\r\n").getBytes(StandardCharsets.UTF_8);
        inbox.folder().append(out -> out.write(ByteBuffer.wrap(m)), i % 4 == 0 ? Flags.SEEN | Flags.FLAGGED : i % 3 == 0 ? 0 : Flags.SEEN,
            Instant.parse("2026-11-01T09:00:00Z").plusSeconds(3600L * i));
      }
    }
    try (SmtpWire smtp = new SmtpWire(server.smtpPort())) {
      assertThat(smtp.ehlo()).startsWith("250");
      assertThat(smtp.command("MAIL FROM:<friend@example.net>")).startsWith("250");
      assertThat(smtp.command("RCPT TO:<alice@localhost>")).startsWith("250");
      assertThat(smtp.command("DATA")).startsWith("354");
      assertThat(smtp.command("From: Friend <friend@example.net>\r\nTo: alice@localhost\r\nSubject: Welcome to Posta\r\n\r\nHello!\r\n."))
          .startsWith("250");
    }
    server.awaitMail("alice", 1);

    WebDriver web = browser.driver();
    String base = "http://127.0.0.1:" + server.httpPort();
    web.get(base + "/");
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/signin"));
    assertThat(web.getTitle()).isEqualTo("Sign in · Posta");
    // The stylesheet applied: the top bar has its height, the sign-in box its border radius.
    assertThat(web.findElement(By.cssSelector(".topbar")).getCssValue("height")).isEqualTo("52px");
    assertThat(web.findElement(By.cssSelector("main.signin")).getCssValue("border-top-left-radius")).isEqualTo("12px");
    assertThat(browser.screenshot("signin")).isNotEmptyFile();

    web.findElement(By.id("address")).sendKeys("alice@localhost");
    web.findElement(By.id("password")).sendKeys("not my password");
    web.findElement(By.cssSelector("main.signin button")).click();
    browser.waiting().until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector("p.error")));
    assertThat(web.findElement(By.cssSelector("p.error")).getText()).isEqualTo("That address and password do not match an account.");
    assertThat(web.findElement(By.id("address")).getAttribute("value")).isEqualTo("alice@localhost");

    web.findElement(By.id("password")).sendKeys("alice's password");
    web.findElement(By.cssSelector("main.signin button")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX"));
    assertThat(web.getTitle()).isEqualTo("Inbox · Posta");
    assertThat(texts(web, ".folders .name")).containsExactly("Inbox", "Drafts", "Sent", "Trash", "Junk", "Archive");
    assertThat(web.findElement(By.cssSelector(".folders li.current .unseen")).getText()).isEqualTo("15"); // 14 of the 54 (threes but not fours), and the welcome
    assertThat(web.findElement(By.cssSelector(".account")).getText()).isEqualTo("alice@localhost");
    List<String> subjects = texts(web, "td.subject a");
    assertThat(subjects).hasSize(50);
    assertThat(subjects.subList(0, 2)).containsExactly("Welcome to Posta", "Weekly report 54");
    assertThat(web.findElement(By.cssSelector("tbody tr:first-child td.from")).getText()).isEqualTo("Friend");
    assertThat(web.findElement(By.cssSelector("tbody tr:first-child")).getAttribute("class")).isEqualTo("unseen");
    assertThat(web.findElement(By.cssSelector(".pager .where")).getText()).isEqualTo("Page 1 of 2");
    assertThat(browser.screenshot("message-list")).isNotEmptyFile();

    // Search by sender: the form is a GET, its fields kept.
    web.findElement(By.name("from")).sendKeys("lovelace");
    web.findElement(By.name("subject")).sendKeys("report 4");
    web.findElement(By.cssSelector("form.search button")).click();
    browser.waiting().until(ExpectedConditions.urlContains("from=lovelace"));
    assertThat(texts(web, "td.subject a")).containsExactly("Weekly report 49", "Weekly report 46", "Weekly report 43", "Weekly report 40",
        "Weekly report 4");
    assertThat(web.findElement(By.name("from")).getAttribute("value")).isEqualTo("lovelace");
    web.findElement(By.linkText("Clear")).click();

    // The next page, then one message and back.
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX"));
    web.findElement(By.cssSelector(".pager a[rel=next]")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX?page=2"));
    assertThat(texts(web, "td.subject a")).containsExactly("Weekly report 5", "Weekly report 4", "Weekly report 3", "Weekly report 2",
        "Weekly report 1");
    web.findElement(By.linkText("Weekly report 3")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX/3"));
    assertThat(web.findElement(By.tagName("h1")).getText()).isEqualTo("Weekly report 3");
    assertThat(browser.screenshot("message")).isNotEmptyFile();

    // Sign out: back at the sign-in page, and the mail is out of reach.
    web.findElement(By.cssSelector("form.signout button")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/signin"));
    web.get(base + "/mail/INBOX");
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/signin"));
    assertThat(Files.size(Browser.SCREENSHOTS.resolve("message-list.png"))).isGreaterThan(10_000);
  }

  private static List<String> texts(WebDriver web, String css) {
    return web.findElements(By.cssSelector(css)).stream().map(WebElement::getText).toList();
  }
}
