package dev.posta.web.page;

import static dev.posta.testing.Await.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.queue.QueueControl;
import dev.posta.testing.Browser;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import java.util.ArrayList;
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
 * The queue's pages in a real browser (headless Chromium, {@link Browser}) as an operator uses
 * them: two messages for a domain that cannot be reached (tests have no DNS) wait deferred; the
 * operator checks one and holds it from the list, opens it, reads its timeline, releases it, and
 * deletes it. The forms work without script, under the pages' Content-Security-Policy (the
 * stylesheet applies); the list and the message are saved as screenshots
 * (target/screenshots/queue.png, queue-message.png).
 */
class QueueBrowserTest {
  @TempDir Path dir;
  TestServer server;
  Browser browser;

  @BeforeEach
  void start() throws Exception {
    server = TestServer.start(dir, c -> TestServer.withHttp(TestServer.plaintextAuthOnLoopback(c)));
    server.addUser("alice@localhost", "alice's password");
    server.server().users().add("admin@localhost", "the admin's password".toCharArray(), true);
    browser = Browser.start();
  }

  @AfterEach
  void stop() {
    if (browser != null) browser.close();
    server.close();
  }

  @Test
  void holdFromTheListReadTheTimelineReleaseAndDelete() throws Exception {
    List<String> ids = new ArrayList<>();
    try (SmtpWire wire = new SmtpWire(server.submissionPort())) {
      wire.ehlo();
      assertThat(wire.authPlain("alice@localhost", "alice's password")).startsWith("235 ");
      for (int i = 1; i <= 2; i++) {
        wire.envelope("alice@localhost", "friend" + i + "@example.org");
        String reply = wire.data("Subject: hello " + i + "\r\n\r\nHi!");
        assertThat(reply).startsWith("250 ");
        ids.add(reply.substring(reply.length() - 16));
      }
    }
    await("both deferred", () -> server.server().queueControl().list().stream()
        .filter(l -> l.state() == QueueControl.State.DEFERRED).count() == 2);
    String first = ids.getFirst();

    WebDriver web = browser.driver();
    String base = "http://127.0.0.1:" + server.httpPort();
    web.get(base + "/signin");
    web.findElement(By.id("address")).sendKeys("admin@localhost");
    web.findElement(By.id("password")).sendKeys("the admin's password");
    web.findElement(By.cssSelector("main.signin button")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX"));
    web.findElement(By.linkText("Queue")).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/admin/queue"));
    assertThat(web.getTitle()).isEqualTo("Queue · Posta");
    assertThat(web.findElement(By.cssSelector("h1")).getText()).isEqualTo("Queue 2 messages waiting");
    assertThat(texts(web, "td.id a")).containsExactly(ids.toArray(String[]::new));
    assertThat(web.findElement(By.cssSelector(".queue .states a")).getCssValue("border-top-left-radius")).as("the stylesheet applied")
        .isEqualTo("6px");
    assertThat(browser.screenshot("queue")).isNotEmptyFile();

    // Check the first, hold it: back at the list with posta queue's words.
    web.findElement(By.cssSelector("input[type=checkbox][value='" + first + "']")).click();
    web.findElement(By.cssSelector("form.bulk button[value=hold]")).click();
    browser.waiting().until(ExpectedConditions.urlContains("done=hold"));
    assertThat(web.findElement(By.cssSelector(".notice")).getText()).isEqualTo("Placed on hold: 1 message");
    assertThat(web.findElement(By.cssSelector("tbody tr:first-child")).getAttribute("class")).isEqualTo("held");

    // Its page: the timeline, from its arrival to the hold; release it.
    web.findElement(By.linkText(first)).click();
    browser.waiting().until(ExpectedConditions.urlToBe(base + "/admin/queue/" + first));
    assertThat(texts(web, "ol.timeline li strong")).containsExactly("Received", "Deferred", "Held");
    assertThat(web.findElement(By.cssSelector("ol.timeline li.deferred")).getText()).contains("friend1@example.org");
    assertThat(browser.screenshot("queue-message")).isNotEmptyFile();
    web.findElement(By.cssSelector("form.actions button[value=release]")).click();
    browser.waiting().until(ExpectedConditions.urlContains("done=release"));
    assertThat(web.findElement(By.cssSelector(".notice")).getText()).isEqualTo(first + ": released, due now");

    // Delete: back at the list, one message left.
    await("the release's attempt over", () -> server.server().queueControl().list().stream()
        .anyMatch(l -> l.id().value().equals(first) && l.state() == QueueControl.State.DEFERRED && l.attempts() == 2));
    web.findElement(By.cssSelector("form.actions button[value=delete]")).click();
    browser.waiting().until(ExpectedConditions.urlContains("done=delete"));
    assertThat(web.findElement(By.cssSelector(".notice")).getText()).isEqualTo(first + ": deleted");
    assertThat(texts(web, "td.id a")).containsExactly(ids.get(1));
  }

  private static List<String> texts(WebDriver web, String css) {
    return web.findElements(By.cssSelector(css)).stream().map(WebElement::getText).toList();
  }
}
