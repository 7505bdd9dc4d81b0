package dev.posta.web;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.management.HotSpotDiagnosticMXBean;
import dev.posta.config.PostaConfig;
import dev.posta.testing.TestServer;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stopping the HTTP listeners: a request in progress (capture mode's long-poll wait, up to five
 * minutes) gets the stop grace, is then interrupted and ends, and no request thread ({@code http-*},
 * virtual or Jetty's own) outlives the server.
 */
class WebServerStopTest {
  private static final Pattern HTTP_THREAD = Pattern.compile("\"name\":\\s*\"(http-[^\"]*)\"");
  @TempDir Path dir;

  @Test
  void aWaitInProgressEndsWhenTheServerStopsAndNoHttpThreadIsLeft() throws Exception {
    TestServer server = TestServer.start(dir.resolve("posta"),
        c -> TestServer.withHttp(c).toBuilder().capture(new PostaConfig.Capture(true, Map.of())).build());
    CompletableFuture<HttpResponse<String>> answer;
    try (HttpClient http = HttpClient.newHttpClient()) {
      answer = http.sendAsync(HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + server.httpPort() + "/api/v1/messages/wait?to=nobody%40posta.test&timeout=5m")).build(),
          HttpResponse.BodyHandlers.ofString());
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (server.server().capturedMail().waiting() < 1) {
        if (System.nanoTime() > end) throw new AssertionError("no wait registered within 10 s");
        Thread.sleep(10);
      }
      long start = System.nanoTime();
      server.close();
      // Five seconds' grace for requests in progress, then they are interrupted: far less than the five minutes asked for.
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(12));
      // The wait ended with the server: its connection closed once the grace was over (a 503 could not reach it).
      assertThat(answer).failsWithin(Duration.ofSeconds(5)).withThrowableThat().havingRootCause().isInstanceOf(java.io.IOException.class);
    }
    assertThat(server.server().capturedMail().waiting()).isZero();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    String left;
    while (!(left = httpThreads()).isEmpty()) {
      if (System.nanoTime() > end) throw new AssertionError("threads left after the server stopped: " + left);
      Thread.sleep(50);
    }
  }

  /** The names of the live threads named {@code http-*}, virtual ones included (a JSON thread dump lists them; getAllStackTraces does not). */
  private String httpThreads() throws Exception {
    Path dump = dir.resolve("threads-" + System.nanoTime() + ".json");
    ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
        .dumpThreads(dump.toString(), HotSpotDiagnosticMXBean.ThreadDumpFormat.JSON);
    Matcher m = HTTP_THREAD.matcher(Files.readString(dump));
    StringBuilder names = new StringBuilder();
    while (m.find()) names.append(names.isEmpty() ? "" : ", ").append(m.group(1));
    return names.toString();
  }
}
