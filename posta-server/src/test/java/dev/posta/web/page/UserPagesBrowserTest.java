package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.Browser;
import dev.posta.testing.TestServer;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * The users page in a real browser (headless Chromium, {@link Browser}): an administrator adds an
 * account, resets its password from the row's form, and the new user signs in with it in a second
 * browser of their own. The page is kept as target/screenshots/users.png.
 */
class UserPagesBrowserTest {
  @TempDir Path dir;
  TestServer server;
  Browser admin;
  Browser carol;

  @BeforeEach
  void start() throws Exception {
    server = TestServer.start(dir, TestServer::withHttp);
    server.server().users().add("admin@localhost", "the admin's password".toCharArray(), true);
    admin = Browser.start();
  }

  @AfterEach
  void stop() {
    if (carol != null) carol.close();
    if (admin != null) admin.close();
    server.close();
  }

  @Test
  void addAUserResetTheirPasswordAndTheySignIn() throws Exception {
    String base = "http://127.0.0.1:" + server.httpPort();
    WebDriver web = admin.driver();
    signIn(admin, base, "admin@localhost", "the admin's password");
    web.get(base + "/admin/users");
    assertThat(web.getTitle()).isEqualTo("Users · Posta");

    WebElement add = web.findElement(By.cssSelector("form.add"));
    add.findElement(By.name("address")).sendKeys("carol@localhost");
    add.findElement(By.name("password")).sendKeys("carol's first password");
    add.findElement(By.cssSelector("button")).click();
    admin.waiting().until(ExpectedConditions.urlContains("done=add"));
    assertThat(web.findElement(By.cssSelector("p.notice")).getText()).isEqualTo("Added carol@localhost.");
    assertThat(web.findElement(By.cssSelector("h1 small")).getText()).isEqualTo("2 accounts");

    // Her row's password form, opened from its summary (no script needed).
    WebElement row = web.findElement(By.xpath("//tr[td[@class='address' and text()='carol@localhost']]"));
    row.findElement(By.cssSelector("details.reset summary")).click();
    row.findElement(By.name("password")).sendKeys("carol's second password");
    row.findElement(By.cssSelector("details.reset button")).click();
    admin.waiting().until(ExpectedConditions.urlContains("done=password"));
    assertThat(web.findElement(By.cssSelector("p.notice")).getText()).isEqualTo("Changed the password of carol@localhost.");
    assertThat(admin.screenshot("users")).isNotEmptyFile();

    carol = Browser.start();
    signIn(carol, base, "carol@localhost", "carol's first password");
    assertThat(carol.driver().findElement(By.cssSelector("p.error")).getText()).isEqualTo("That address and password do not match an account.");
    signIn(carol, base, "carol@localhost", "carol's second password");
    carol.waiting().until(ExpectedConditions.urlToBe(base + "/mail/INBOX"));
    assertThat(carol.driver().findElement(By.cssSelector(".account")).getText()).isEqualTo("carol@localhost");
    assertThat(carol.driver().findElements(By.cssSelector("nav.sections"))).as("she is no administrator").isEmpty();
  }

  private static void signIn(Browser browser, String base, String address, String password) {
    WebDriver web = browser.driver();
    web.get(base + "/signin");
    web.findElement(By.id("address")).clear();
    web.findElement(By.id("address")).sendKeys(address);
    web.findElement(By.id("password")).sendKeys(password);
    web.findElement(By.cssSelector("main.signin button")).click();
    browser.waiting().until(d -> !d.getCurrentUrl().equals(base + "/signin") || !d.findElements(By.cssSelector("p.error")).isEmpty());
  }
}
