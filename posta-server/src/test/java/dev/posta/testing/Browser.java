package dev.posta.testing;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * A real browser for tests: Debian's headless Chromium ({@code /usr/bin/chromium}) driven
 * through Debian's chromedriver ({@code /usr/bin/chromedriver}) by Selenium, both named
 * explicitly so Selenium Manager never looks for (or downloads) a browser or driver of its own.
 * Each browser gets a fresh profile in a temporary folder, deleted at {@link #close}, and a
 * fixed 1280x860 window, so screenshots are alike from run to run.
 *
 * <p>Missing Chromium or chromedriver is a failure, not a skip: the pages' tests are what prove
 * the pages work ({@code apt-get install chromium chromium-driver}; {@code .ci/run} does).
 * Screenshots go to {@code target/screenshots/NAME.png} (of the module the test runs in), kept as
 * the build's artifacts.
 */
public final class Browser implements AutoCloseable {
  public static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  public static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  public static final Path SCREENSHOTS = Path.of("target", "screenshots");

  private final ChromeDriverService service;
  private final ChromeDriver driver;
  private final Path profile;

  private Browser(ChromeDriverService service, ChromeDriver driver, Path profile) {
    this.service = service;
    this.driver = driver;
    this.profile = profile;
  }

  /** Starts chromedriver and a headless Chromium; throws (failing the test) when either is not installed. */
  public static Browser start() throws IOException {
    return start(null);
  }

  /** {@link #start()}, with downloads saved into {@code downloads} without asking (null: the profile's default). */
  public static Browser start(Path downloads) throws IOException {
    for (Path p : new Path[] {CHROMIUM, CHROMEDRIVER}) {
      if (!Files.isExecutable(p)) {
        throw new AssertionError(p + " is missing: the browser tests need Debian's chromium and chromium-driver "
            + "(apt-get install chromium chromium-driver)");
      }
    }
    Path profile = Files.createTempDirectory("posta-chromium-");
    ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile()).usingAnyFreePort()
        .withLogFile(profile.resolve("chromedriver.log").toFile()).build();
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,860", "--lang=en-US",
        "--user-data-dir=" + profile.resolve("profile"));
    if (downloads != null) {
      options.setExperimentalOption("prefs", java.util.Map.of("download.default_directory", downloads.toAbsolutePath().toString(),
          "download.prompt_for_download", false));
    }
    try {
      service.start();
      return new Browser(service, new ChromeDriver(service, options), profile);
    } catch (RuntimeException e) {
      service.stop();
      delete(profile);
      throw e;
    }
  }

  public WebDriver driver() {
    return driver;
  }

  /** Waits up to 10 s for a page's condition. */
  public WebDriverWait waiting() {
    return new WebDriverWait(driver, Duration.ofSeconds(10));
  }

  /** Saves what the window shows as {@code target/screenshots/NAME.png}; returns its path. */
  public Path screenshot(String name) throws IOException {
    Files.createDirectories(SCREENSHOTS);
    File shot = ((TakesScreenshot) driver).getScreenshotAs(OutputType.FILE);
    Path to = SCREENSHOTS.resolve(name + ".png");
    Files.move(shot.toPath(), to, StandardCopyOption.REPLACE_EXISTING);
    return to;
  }

  @Override
  public void close() {
    try {
      driver.quit();
    } finally {
      service.stop();
      delete(profile);
    }
  }

  private static void delete(Path dir) {
    try (Stream<Path> all = Files.walk(dir)) {
      all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
