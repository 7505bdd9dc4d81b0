package dev.posta.example;

import static dev.posta.capture.TextMatch.contains;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.junit.PostaExtension;
import dev.posta.junit.ReceivedMessage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The README's Spring Boot example: the application sends a password-reset mail through Spring's
 * {@code JavaMailSender} to a Posta in this JVM; the test waits for the mail, takes the link out
 * of it and follows it. {@code spring.mail.*} comes from the extension, so the application's
 * configuration is untouched.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class PasswordResetTest {
  @RegisterExtension static PostaExtension mail = PostaExtension.withDefaults();

  @DynamicPropertySource
  static void mailServer(DynamicPropertyRegistry registry) {
    mail.springMailProperties().forEach((key, value) -> registry.add((String) key, () -> value));
  }

  @LocalServerPort int port;

  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  void theResetLinkInTheMailOpensOnce() throws Exception {
    assertThat(post("/password-reset?email=ada@example.com").statusCode()).isEqualTo(202);

    ReceivedMessage reset = mail.await().to("ada@example.com").subject(contains("Reset")).first();
    String link = reset.link("/password-reset/");
    assertThat(link).matches("http://localhost:" + port + "/password-reset/[0-9a-f]{32}");

    assertThat(get(link).body()).isEqualTo("Choose a new password for ada@example.com.\n");
    assertThat(get(link).statusCode()).as("a second use").isEqualTo(410);
  }

  private HttpResponse<String> post(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://localhost:" + port + path)).POST(HttpRequest.BodyPublishers.noBody()).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> get(String url) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.ofString());
  }
}
