package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.Browser;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.WindowType;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The server's page in a real browser (headless Chromium, {@link Browser}): an administrator
 * signs in and opens {@code /admin} with a refresh of 1 s ({@code ?refresh=1}, the page's {@code
 * data-refresh}); both charts' images load and are drawn under the pages' Content-Security-Policy
 * (a refused or broken SVG has no natural width); mail arrives, and within the refresh the
 * messages chart's URL changes, the new image is drawn, and the headline figure says it. With
 * another tab in front the page fetches nothing (counted in Resource Timing), and shown again
 * it goes on. A screenshot is kept (target/screenshots/server.png).
 */
class ServerBrowserTest {
  @TempDir Path dir;
  TestServer server;
  Browser browser;

  @BeforeEach
  void start() throws Exception {
    server = TestServer.start(dir, TestServer::withHttp);
    server.server().users().add("admin@localhost", "the admin's password".toCharArray(), true);
    browser = Browser.start();
  }

  @AfterEach
  void stop() {
    if (browser != null) browser.close();
    server.close();
  }

  @Test
  void theChartsAreDrawnAndFollowNewMail() throws Exception {
    WebDriver web = browser.driver();
    String base = "http://127.0.0.1:" + server.httpPort();
    web.get(base + "/signin");
    web.findElement(By.id("address")).sendKeys("admin@localhost");
    web.findElement(By.id("password")).sendKeys("the admin's password");
    web.findElement(By.cssSelector("main.signin button")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX"));

    web.get(base + "/admin?refresh=1");
    assertThat(web.getTitle()).isEqualTo("Server · Posta");
    WebElement messages = web.findElement(By.cssSelector("figure[data-chart=messages] img"));
    WebElement queue = web.findElement(By.cssSelector("figure[data-chart=queue] img"));
    browser.waiting().until(d -> drawn(d, messages) && drawn(d, queue));
    assertThat(((JavascriptExecutor) web).executeScript("return document.visibilityState")).isEqualTo("visible");
    // The stylesheet applied: the figures are a grid.
    assertThat(web.findElement(By.cssSelector(".server dl.figures")).getCssValue("display")).isEqualTo("grid");
    assertThat(figure(web, "Accepted, last hour")).isEqualTo("0");
    String before = messages.getDomProperty("src");

    try (SmtpWire smtp = new SmtpWire(server.smtpPort())) {
      assertThat(smtp.ehlo()).startsWith("250");
      assertThat(smtp.command("MAIL FROM:<friend@example.net>")).startsWith("250");
      assertThat(smtp.command("RCPT TO:<admin@localhost>")).startsWith("250");
      assertThat(smtp.command("DATA")).startsWith("354");
      assertThat(smtp.command("Subject: for the charts\r\n\r\nHello!\r\n.")).startsWith("250");
    }
    // Within a few refreshes of 1 s (never a reload of the page: the same element changes).
    new WebDriverWait(web, Duration.ofSeconds(5)).until(d -> !before.equals(messages.getDomProperty("src")));
    assertThat(messages.getDomProperty("src")).startsWith(base + "/admin/charts/messages.svg?v=");
    browser.waiting().until(d -> drawn(d, messages));
    browser.waiting().until(d -> figure(d, "Accepted, last hour").equals("1"));
    assertThat(browser.screenshot("server")).isNotEmptyFile();

    // Hidden (another tab in front), the page fetches nothing; shown again, it refreshes at once and goes on.
    JavascriptExecutor js = (JavascriptExecutor) web;
    js.executeScript("window.seen = []; document.addEventListener('visibilitychange', function () { window.seen.push(document.visibilityState); });");
    String page = web.getWindowHandle();
    long shown = fetches(web);
    web.switchTo().newWindow(WindowType.TAB);
    web.get(base + "/static/posta.css");
    Thread.sleep(3500); // three turns of the refresh
    web.switchTo().window(page);
    long hidden = fetches(web) - shown;
    assertThat(js.executeScript("return window.seen")).asList().startsWith("hidden");
    assertThat(hidden).as("fetches while hidden").isLessThanOrEqualTo(1); // at most one begun as the tab was hidden
    new WebDriverWait(web, Duration.ofSeconds(5)).until(d -> fetches(d) >= shown + hidden + 2);
  }

  /** How many times the page fetched itself (the Resource Timing entries of /admin). */
  private static long fetches(WebDriver web) {
    return ((Number) ((JavascriptExecutor) web).executeScript(
        "return performance.getEntriesByType('resource').filter(function (e) { return new URL(e.name).pathname === '/admin'; }).length"))
        .longValue();
  }

  /** Whether the image has loaded and been decoded: a broken or refused one has no natural width. */
  private static boolean drawn(WebDriver web, WebElement img) {
    Object width = ((JavascriptExecutor) web).executeScript("return arguments[0].complete ? arguments[0].naturalWidth : 0", img);
    return width instanceof Number n && n.intValue() == 720;
  }

  private static String figure(WebDriver web, String name) {
    for (WebElement div : web.findElements(By.cssSelector(".server dl.figures div"))) {
      if (div.findElement(By.tagName("dt")).getText().equals(name)) return div.findElement(By.tagName("dd")).getText();
    }
    throw new AssertionError("no figure " + name);
  }
}
