package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.TestServer;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who reaches the operators' pages: an administrator's session; anyone else is sent to sign in
 * or refused, and an account whose admin attribute is revoked loses them at its next request.
 * The top bar links the sections for an administrator only.
 */
class OperatorPagesTest {
  @TempDir Path dir;
  TestServer server;

  @BeforeEach
  void start() throws Exception {
    server = TestServer.start(dir, TestServer::withHttp);
    server.server().users().add("admin@localhost", "the admin's password".toCharArray(), true);
    // Through the server's own store: another instance's change is seen only after its file check.
    server.server().users().add("bob@localhost", "bob's long password".toCharArray());
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void withoutASessionThePagesSendToSignIn() throws Exception {
    try (PageClient browser = new PageClient(server.httpPort())) {
      for (String path : new String[] {"/admin", "/admin/queue", "/admin/users", "/admin/domains"}) {
        HttpResponse<String> r = browser.get(path);
        assertThat(r.statusCode()).as(path).isEqualTo(303);
        assertThat(r.headers().firstValue("Location")).as(path).contains("/signin");
      }
    }
  }

  @Test
  void aUserWhoIsNoAdministratorIsRefused() throws Exception {
    try (PageClient bob = PageClient.signedIn(server.httpPort(), "bob@localhost", "bob's long password")) {
      HttpResponse<String> inbox = bob.get("/mail/INBOX");
      assertThat(inbox.body()).doesNotContain("href=\"/admin");
      for (String path : new String[] {"/admin", "/admin/queue", "/admin/users", "/admin/domains"}) {
        HttpResponse<String> r = bob.get(path);
        assertThat(r.statusCode()).as(path).isEqualTo(403);
        assertThat(r.body()).contains("<h1>For operators</h1>", "These pages are for the server's administrators; bob@localhost is not one.");
      }
    }
  }

  @Test
  void anAdministratorSeesTheSectionsUntilRevoked() throws Exception {
    try (PageClient admin = PageClient.signedIn(server.httpPort(), "admin@localhost", "the admin's password")) {
      HttpResponse<String> inbox = admin.get("/mail/INBOX");
      assertThat(inbox.body()).contains("<nav class=\"sections\" aria-label=\"Operators\">",
          "<a href=\"/mail/INBOX\" aria-current=\"page\">Mail</a>", "<a href=\"/admin\">Server</a>", "<a href=\"/admin/queue\">Queue</a>",
          "<a href=\"/admin/users\">Users</a>", "<a href=\"/admin/domains\">Domains</a>");
      server.server().users().setAdmin("admin@localhost", false);
      HttpResponse<String> r = admin.get("/admin/queue");
      assertThat(r.statusCode()).isEqualTo(403);
      assertThat(admin.get("/mail/INBOX").body()).doesNotContain("class=\"sections\"");
    }
  }
}
