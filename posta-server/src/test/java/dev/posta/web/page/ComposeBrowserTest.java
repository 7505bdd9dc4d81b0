package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.Browser;
import dev.posta.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * Writing mail in real browsers (headless Chromium), two of them, one signed in as each user:
 * alice writes to bob with a file attached and sends it, while bob's inbox is open; the message
 * must appear in bob's list without his page being loaded again (the page's event stream and
 * script: a marker left in the page's window survives, and what bob half-typed into the search
 * form is still there), his folder count going up with it. Then bob replies (quoted, "Re: "),
 * the reply reaches alice's open inbox the same way, and alice forwards it (the original
 * attached). Screenshots: target/screenshots/compose.png and inbox-new-mail.png.
 */
class ComposeBrowserTest {
  @TempDir Path dir;
  @TempDir Path files;
  TestServer server;
  Browser aliceBrowser;
  Browser bobBrowser;

  @BeforeEach
  void start() throws Exception {
    server = TestServer.start(dir, TestServer::withHttp);
    server.addUser("alice@localhost", "alice's password").addUser("bob@localhost", "bob's long password");
    aliceBrowser = Browser.start();
    bobBrowser = Browser.start();
  }

  @AfterEach
  void stop() {
    if (aliceBrowser != null) aliceBrowser.close();
    if (bobBrowser != null) bobBrowser.close();
    server.close();
  }

  private String base() {
    return "http://127.0.0.1:" + server.httpPort();
  }

  private void signIn(Browser browser, String address, String password) {
    WebDriver web = browser.driver();
    web.get(base() + "/signin");
    web.findElement(By.id("address")).sendKeys(address);
    web.findElement(By.id("password")).sendKeys(password);
    web.findElement(By.cssSelector("main.signin button")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base() + "/mail/INBOX"));
  }

  /** Marks the page's window, so that a reload (which makes a new window object) shows. */
  private static void mark(WebDriver web) {
    ((JavascriptExecutor) web).executeScript("window.postaTestMarker = 'still here';");
  }

  private static Object marker(WebDriver web) {
    return ((JavascriptExecutor) web).executeScript("return window.postaTestMarker;");
  }

  private static String inboxCount(WebDriver web) {
    return web.findElement(By.cssSelector("nav.folders li[data-folder=INBOX] .count")).getText();
  }

  @Test
  void aMessageWithAFileArrivesInTheOpenInboxThenIsAnsweredAndForwarded() throws Exception {
    WebDriver alice = aliceBrowser.driver();
    WebDriver bob = bobBrowser.driver();
    signIn(bobBrowser, "bob@localhost", "bob's long password");
    assertThat(bob.findElement(By.cssSelector("p.empty")).getText()).isEqualTo("No messages.");
    mark(bob);
    bob.findElement(By.name("from")).sendKeys("half-typ"); // a search not sent: the live update must not take it away
    Thread.sleep(300); // the page's event stream is open by now (its first events tell the folders as they are)

    // Alice writes, with a file.
    signIn(aliceBrowser, "alice@localhost", "alice's password");
    alice.findElement(By.linkText("New message")).click();
    aliceBrowser.waiting().until(ExpectedConditions.urlToBe(base() + "/compose"));
    Path csv = files.resolve("numbers.csv");
    Files.writeString(csv, "quarter,sales\nQ3,1200\nQ4,1750\n", StandardCharsets.UTF_8);
    alice.findElement(By.id("to")).sendKeys("Bob <bob@localhost>");
    alice.findElement(By.id("subject")).sendKeys("Quarterly numbers");
    alice.findElement(By.id("body")).sendKeys("Hi Bob,\nthe numbers are attached.\nAlice");
    alice.findElement(By.id("attachments")).sendKeys(csv.toAbsolutePath().toString());
    assertThat(aliceBrowser.screenshot("compose")).isNotEmptyFile();
    alice.findElement(By.cssSelector("main.compose button[type=submit]")).click();
    aliceBrowser.waiting().until(ExpectedConditions.urlMatches("/mail/Sent\\?sent=[0-9A-F]{16}$"));
    assertThat(alice.findElement(By.cssSelector("p.notice")).getText()).startsWith("Your message was sent (queue ID ");
    assertThat(alice.findElement(By.cssSelector("td.subject")).getText()).isEqualTo("Quarterly numbers");

    // Bob's inbox shows it without being loaded again.
    bobBrowser.waiting().withTimeout(Duration.ofSeconds(15))
        .until(d -> !d.findElements(By.xpath("//td[@class='subject']/a[text()='Quarterly numbers']")).isEmpty());
    assertThat(marker(bob)).as("the same page: not reloaded").isEqualTo("still here");
    assertThat(bob.getCurrentUrl()).isEqualTo(base() + "/mail/INBOX");
    assertThat(bob.findElement(By.name("from")).getDomProperty("value")).isEqualTo("half-typ");
    assertThat(bob.findElement(By.cssSelector("td.from")).getText()).isEqualTo("alice@localhost");
    bobBrowser.waiting().until(d -> inboxCount(d).equals("1"));
    assertThat(bob.findElement(By.cssSelector("nav.folders li[data-folder=INBOX] .unseen")).getText()).isEqualTo("1");
    assertThat(bobBrowser.screenshot("inbox-new-mail")).isNotEmptyFile();

    // Bob reads it, with its file, and replies; alice's inbox (open) gets the reply the same way.
    alice.get(base() + "/mail/INBOX");
    mark(alice);
    Thread.sleep(300);
    bob.findElement(By.linkText("Quarterly numbers")).click();
    bobBrowser.waiting().until(ExpectedConditions.urlToBe(base() + "/mail/INBOX/1"));
    assertThat(bob.findElement(By.cssSelector("pre.body")).getText()).isEqualTo("Hi Bob,\nthe numbers are attached.\nAlice");
    assertThat(bob.findElement(By.cssSelector("ul.attachments a")).getText()).isEqualTo("numbers.csv");
    bob.findElement(By.linkText("Reply")).click();
    bobBrowser.waiting().until(ExpectedConditions.urlToBe(base() + "/compose?mode=reply&folder=INBOX&uid=1"));
    assertThat(bob.findElement(By.id("to")).getDomProperty("value")).isEqualTo("alice@localhost");
    assertThat(bob.findElement(By.id("subject")).getDomProperty("value")).isEqualTo("Re: Quarterly numbers");
    assertThat(bob.findElement(By.id("body")).getDomProperty("value")).contains(", alice@localhost wrote:\n> Hi Bob,\n> the numbers are attached.\n> Alice");
    bob.findElement(By.id("body")).sendKeys(org.openqa.selenium.Keys.CONTROL, org.openqa.selenium.Keys.HOME);
    bob.findElement(By.id("body")).sendKeys("Thanks, looks good.");
    bob.findElement(By.cssSelector("main.compose button[type=submit]")).click();
    bobBrowser.waiting().until(ExpectedConditions.urlMatches("/mail/Sent\\?sent="));
    aliceBrowser.waiting().withTimeout(Duration.ofSeconds(15))
        .until(d -> !d.findElements(By.xpath("//td[@class='subject']/a[text()='Re: Quarterly numbers']")).isEmpty());
    assertThat(marker(alice)).isEqualTo("still here");

    // Alice opens the reply and forwards it back to bob, the reply itself attached.
    alice.findElement(By.linkText("Re: Quarterly numbers")).click();
    aliceBrowser.waiting().until(ExpectedConditions.urlToBe(base() + "/mail/INBOX/1"));
    assertThat(alice.findElement(By.cssSelector("pre.body")).getText()).startsWith("Thanks, looks good.\n\nOn ");
    alice.findElement(By.linkText("Forward")).click();
    aliceBrowser.waiting().until(ExpectedConditions.urlToBe(base() + "/compose?mode=forward&folder=INBOX&uid=1"));
    assertThat(alice.findElement(By.id("subject")).getDomProperty("value")).isEqualTo("Fwd: Re: Quarterly numbers");
    assertThat(alice.findElement(By.cssSelector("p.forwarded")).getText()).startsWith("Attached: the original message, Re_ Quarterly numbers.eml (");
    alice.findElement(By.id("to")).sendKeys("bob@localhost");
    // Bob is looking at a search meanwhile: what it shows is not replaced, a line tells of the news.
    bob.get(base() + "/mail/INBOX?subject=Quarterly");
    mark(bob);
    Thread.sleep(300);
    alice.findElement(By.cssSelector("main.compose button[type=submit]")).click();
    aliceBrowser.waiting().until(ExpectedConditions.urlMatches("/mail/Sent\\?sent="));
    assertThat(alice.findElements(By.cssSelector("td.subject"))).hasSize(2);

    bobBrowser.waiting().withTimeout(Duration.ofSeconds(15)).until(d -> d.findElement(By.cssSelector("p.news")).isDisplayed());
    assertThat(bob.findElement(By.cssSelector("p.news")).getText()).isEqualTo("1 new message \u2014 show");
    assertThat(bob.findElements(By.cssSelector("td.subject"))).extracting(e -> e.getText()).containsExactly("Quarterly numbers");
    assertThat(marker(bob)).isEqualTo("still here");
    bob.findElement(By.linkText("1 new message \u2014 show")).click();
    bobBrowser.waiting().until(ExpectedConditions.urlToBe(base() + "/mail/INBOX"));
    bob.findElement(By.linkText("Fwd: Re: Quarterly numbers")).click();
    assertThat(bob.findElement(By.cssSelector("ul.attachments a")).getText()).isEqualTo("Re_ Quarterly numbers.eml");
    assertThat(bob.findElement(By.cssSelector("ul.attachments .meta")).getText()).startsWith("message/rfc822 · ");
  }
}
