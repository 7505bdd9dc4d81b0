package dev.posta.web.page;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.posta.auth.ApiTokens;
import dev.posta.auth.UserStore;
import dev.posta.testing.TestServer;
import dev.posta.web.WebServer;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The users page, {@code /admin/users}, over HTTP as a browser's forms use it: the list's rows
 * exactly, every action with its 303 and notice, the refusals with the operators' API's words
 * and status (409 for the admin's own account, 400 for a short password), a forged form that
 * changes nothing, a disabled account's session that ends, paging past 200 accounts, and the
 * log lines.
 */
class UserPagesTest {
  private static final String ADMIN_PASSWORD = "the admin's password";
  private static final String BOB_PASSWORD = "bob's long password";
  @TempDir Path dir;
  TestServer server;
  UserStore users;
  final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  final Logger webLog = (Logger) LoggerFactory.getLogger(WebServer.class);

  @BeforeEach
  void start() throws Exception {
    server = TestServer.start(dir, TestServer::withHttp);
    users = server.server().users();
    users.add("admin@localhost", ADMIN_PASSWORD.toCharArray(), true);
    users.add("bob@localhost", BOB_PASSWORD.toCharArray());
    logs.start();
    webLog.addAppender(logs);
  }

  @AfterEach
  void stop() {
    webLog.detachAppender(logs);
    server.close();
  }

  PageClient admin() throws Exception {
    return PageClient.signedIn(server.httpPort(), "admin@localhost", ADMIN_PASSWORD);
  }

  List<String> logged() {
    return logs.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  @Test
  void theListShowsEveryAccountSortedWithItsRoleStateMailboxAndTokens() throws Exception {
    users.add("app@elsewhere.example", "the app's password".toCharArray());
    users.setDisabled("bob@localhost", true);
    ApiTokens tokens = new ApiTokens(dir);
    tokens.create("app@elsewhere.example", "ci");
    tokens.create("app@elsewhere.example", "deploy");
    try (PageClient admin = admin()) {
      HttpResponse<String> r = admin.get("/admin/users");
      assertThat(r.statusCode()).isEqualTo(200);
      String page = r.body();
      assertThat(page).contains("<title>Users · Posta</title>", "<a href=\"/admin/users\" aria-current=\"page\">Users</a>",
          "<h1>Users <small>3 accounts</small></h1>", "<span class=\"where\">page 1 of 1</span>");
      assertThat(rows(page)).containsExactly("admin@localhost (you)|admin|enabled|here|0", "app@elsewhere.example|user|enabled|send only|2",
          "bob@localhost|user|disabled|here|0");
      // A row's actions: enable for a disabled account, make admin, the confirmation link, the password form.
      assertThat(page).contains("""
          <form class="inline" method="post" action="/admin/users/enable">""", """
          <input type="hidden" name="address" value="bob@localhost">""", """
          <button type="submit" class="quiet">Make admin</button>""", """
          <a class="remove" href="/admin/users/remove?address=bob%40localhost">Remove</a>""", """
          <input type="password" name="password" autocomplete="new-password" minlength="12" required aria-label="New password for bob@localhost">""");
      // None for the admin's own account but the password.
      String own = page.substring(page.indexOf("admin@localhost <small>(you)"), page.indexOf("app@elsewhere.example</td>"));
      assertThat(own).doesNotContain("Disable", "Revoke admin", "Remove").contains("Reset password");
    }
  }

  @Test
  void everyActionIsAFormThatAnswers303WithItsNoticeAndLogs() throws Exception {
    try (PageClient admin = admin()) {
      admin.get("/admin/users");
      HttpResponse<String> added = admin.post("/admin/users/add", Map.of("address", "Carol@LocalHost", "password", "carol's password"));
      assertThat(added.statusCode()).isEqualTo(303);
      assertThat(added.headers().firstValue("Location")).hasValue("/admin/users?done=add&address=carol%40localhost");
      assertThat(notice(admin, added)).isEqualTo("Added carol@localhost.");
      assertThat(users.verify("carol@localhost", "carol's password".toCharArray())).isTrue();

      HttpResponse<String> app = admin.post("/admin/users/add", Map.of("address", "app@elsewhere.example", "password", "long enough pw",
          "admin", "on"));
      assertThat(notice(admin, app))
          .isEqualTo("Added app@elsewhere.example (send only: elsewhere.example is not a local domain, so it has no mailbox here).");
      assertThat(users.find("app@elsewhere.example").orElseThrow().admin()).isTrue();

      assertThat(notice(admin, admin.post("/admin/users/disable", Map.of("address", "bob@localhost"))))
          .isEqualTo("Disabled bob@localhost: it can no longer sign in anywhere; its mail is still delivered.");
      assertThat(users.find("bob@localhost").orElseThrow().disabled()).isTrue();
      assertThat(notice(admin, admin.post("/admin/users/enable", Map.of("address", "BOB@localhost")))).isEqualTo("Enabled bob@localhost.");
      assertThat(users.find("bob@localhost").orElseThrow().disabled()).isFalse();
      assertThat(notice(admin, admin.post("/admin/users/admin", Map.of("address", "bob@localhost")))).isEqualTo("bob@localhost is an admin.");
      assertThat(users.find("bob@localhost").orElseThrow().admin()).isTrue();
      assertThat(notice(admin, admin.post("/admin/users/revoke", Map.of("address", "bob@localhost"))))
          .isEqualTo("bob@localhost is no longer an admin.");
      assertThat(users.find("bob@localhost").orElseThrow().admin()).isFalse();
      assertThat(notice(admin, admin.post("/admin/users/password", Map.of("address", "carol@localhost", "password", "carol's new password"))))
          .isEqualTo("Changed the password of carol@localhost.");
      assertThat(users.verify("carol@localhost", "carol's new password".toCharArray())).isTrue();
      assertThat(users.verify("carol@localhost", "carol's password".toCharArray())).isFalse();

      // Removing asks first, on a page of its own with the button.
      HttpResponse<String> confirm = admin.get("/admin/users/remove?address=carol%40localhost");
      assertThat(confirm.statusCode()).isEqualTo(200);
      assertThat(confirm.body()).contains("<title>Remove carol@localhost · Posta</title>", "<h1>Remove carol@localhost?</h1>",
          "<p>Its mail stays. It can no longer sign in, and its API tokens are revoked.</p>", "<form method=\"post\" action=\"/admin/users/remove\">",
          "<input type=\"hidden\" name=\"address\" value=\"carol@localhost\">",
          "<button type=\"submit\" class=\"danger\">Remove carol@localhost</button>", "<a href=\"/admin/users\">Cancel</a>");
      assertThat(users.find("carol@localhost")).as("asking removes nothing").isPresent();
      assertThat(notice(admin, admin.post("/admin/users/remove", Map.of("address", "carol@localhost"))))
          .isEqualTo("Removed carol@localhost; its mail stays.");
      assertThat(users.find("carol@localhost")).isEmpty();

      HttpResponse<String> gone = admin.get("/admin/users/remove?address=carol%40localhost");
      assertThat(gone.statusCode()).isEqualTo(404);
      assertThat(gone.body()).contains("<p class=\"error\" role=\"alert\">no such user: carol@localhost</p>");
      HttpResponse<String> again = admin.post("/admin/users/enable", Map.of("address", "carol@localhost"));
      assertThat(again.statusCode()).isEqualTo(404);
      assertThat(again.body()).contains("<p class=\"error\" role=\"alert\">no such user: carol@localhost</p>");
    }
    assertThat(logged()).containsSubsequence(
        "http[127.0.0.1]: admin@localhost: added carol@localhost",
        "http[127.0.0.1]: admin@localhost: added app@elsewhere.example (admin) (send only: elsewhere.example is not a local domain, so it has no mailbox here)",
        "http[127.0.0.1]: admin@localhost: disabled bob@localhost",
        "http[127.0.0.1]: admin@localhost: enabled bob@localhost",
        "http[127.0.0.1]: admin@localhost: made an admin bob@localhost",
        "http[127.0.0.1]: admin@localhost: revoked the admin attribute of bob@localhost",
        "http[127.0.0.1]: admin@localhost: changed the password of carol@localhost",
        "http[127.0.0.1]: admin@localhost: removed carol@localhost (its mail stays)");
  }

  @Test
  void anAdministratorCannotDisableRemoveOrRevokeTheirOwnAccount() throws Exception {
    try (PageClient admin = admin()) {
      admin.get("/admin/users");
      Map<String, String> refusals = Map.of(
          "disable", "you cannot disable your own account (admin@localhost); another admin can",
          "remove", "you cannot remove your own account (admin@localhost); another admin can",
          "revoke", "you cannot revoke the admin attribute of your own account (admin@localhost); another admin can");
      for (var refusal : refusals.entrySet()) {
        HttpResponse<String> r = admin.post("/admin/users/" + refusal.getKey(), Map.of("address", "Admin@LOCALHOST"));
        assertThat(r.statusCode()).as(refusal.getKey()).isEqualTo(409);
        assertThat(r.body()).as(refusal.getKey()).contains("<p class=\"error\" role=\"alert\">" + refusal.getValue() + "</p>",
            "<h1>Users <small>2 accounts</small></h1>");
      }
      UserStore.User self = users.find("admin@localhost").orElseThrow();
      assertThat(self.admin()).isTrue();
      assertThat(self.disabled()).isFalse();
    }
  }

  @Test
  void aShortPasswordIsRefused400InPostaUsersWords() throws Exception {
    try (PageClient admin = admin()) {
      admin.get("/admin/users");
      HttpResponse<String> add = admin.post("/admin/users/add", Map.of("address", "dave@localhost", "password", "short", "admin", "on"));
      assertThat(add.statusCode()).isEqualTo(400);
      assertThat(add.body()).contains(
          "<p class=\"error\" role=\"alert\">password too short: 5 characters, at least 12 ([submission] min-password-length)</p>",
          // The form keeps what was typed but the password.
          "<input name=\"address\" type=\"email\" value=\"dave@localhost\" required autocomplete=\"off\">",
          "<input name=\"admin\" type=\"checkbox\" checked>");
      assertThat(users.find("dave@localhost")).isEmpty();
      HttpResponse<String> reset = admin.post("/admin/users/password", Map.of("address", "bob@localhost", "password", "tiny"));
      assertThat(reset.statusCode()).isEqualTo(400);
      assertThat(reset.body()).contains(
          "<p class=\"error\" role=\"alert\">password too short: 4 characters, at least 12 ([submission] min-password-length)</p>");
      assertThat(users.verify("bob@localhost", BOB_PASSWORD.toCharArray())).isTrue();
      HttpResponse<String> bad = admin.post("/admin/users/add", Map.of("address", "dave", "password", "dave's password"));
      assertThat(bad.statusCode()).isEqualTo(400);
      assertThat(bad.body()).contains("<p class=\"error\" role=\"alert\">address: dave: not a valid address (local@domain, without spaces)</p>");
      HttpResponse<String> twice = admin.post("/admin/users/add", Map.of("address", "bob@localhost", "password", "another password"));
      assertThat(twice.statusCode()).isEqualTo(409);
      assertThat(twice.body()).contains("<p class=\"error\" role=\"alert\">bob@localhost already exists</p>");
    }
  }

  @Test
  void aFormWithoutTheSessionsTokenChangesNothing() throws Exception {
    try (PageClient admin = admin()) {
      admin.get("/admin/users");
      HttpResponse<String> r = admin.post("/admin/users/disable", Map.of("address", "bob@localhost", "csrf", "A".repeat(43)));
      assertThat(r.statusCode()).isEqualTo(403);
      assertThat(r.body()).contains("<h1>Form expired</h1>");
      HttpResponse<String> added = admin.post("/admin/users/add", Map.of("address", "eve@localhost", "password", "eve's password!", "csrf", ""));
      assertThat(added.statusCode()).isEqualTo(403);
    }
    assertThat(users.find("bob@localhost").orElseThrow().disabled()).isFalse();
    assertThat(users.find("eve@localhost")).isEmpty();
    assertThat(logged()).contains("http[127.0.0.1]: POST /admin/users/disable refused: missing or wrong CSRF token")
        .noneMatch(l -> l.contains(": disabled ") || l.contains(": added "));
  }

  @Test
  void aDisabledAccountsSessionEndsAndItCannotSignIn() throws Exception {
    try (PageClient admin = admin(); PageClient bob = PageClient.signedIn(server.httpPort(), "bob@localhost", BOB_PASSWORD)) {
      assertThat(bob.get("/mail/INBOX").statusCode()).isEqualTo(200);
      admin.get("/admin/users");
      assertThat(admin.post("/admin/users/disable", Map.of("address", "bob@localhost")).statusCode()).isEqualTo(303);
      HttpResponse<String> ended = bob.get("/mail/INBOX");
      assertThat(ended.statusCode()).isEqualTo(303);
      assertThat(ended.headers().firstValue("Location")).hasValue("/signin");
      assertThat(bob.signIn("bob@localhost", BOB_PASSWORD).statusCode()).isEqualTo(401);
    }
    assertThat(logged()).contains("http[127.0.0.1]: session ended: the account is disabled: user=bob@localhost");
  }

  @Test
  void moreThan200AccountsArePaged() throws Exception {
    // 250 more accounts written into the users file as posta user would (one password hash shared: hashing 250 takes long).
    users.add("z000@localhost", "a long password".toCharArray());
    Path file = users.file();
    String line = Files.readAllLines(file, StandardCharsets.UTF_8).stream().filter(l -> l.startsWith("z000@localhost\t")).findFirst().orElseThrow();
    List<String> more = new ArrayList<>();
    for (int i = 1; i < 250; i++) more.add(line.replace("z000@", "z%03d@".formatted(i)));
    Files.write(file, more, StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND);
    long until = System.nanoTime() + 5_000_000_000L;
    while (users.list().size() < 252 && System.nanoTime() < until) Thread.sleep(100); // the store's once-a-second check
    assertThat(users.list()).hasSize(252);
    try (PageClient admin = admin()) {
      String first = admin.get("/admin/users").body();
      assertThat(first).contains("<h1>Users <small>252 accounts</small></h1>", "<span class=\"where\">page 1 of 2</span>",
          "<a rel=\"next\" href=\"/admin/users?page=2\">Next &rsaquo;</a>");
      assertThat(rows(first)).hasSize(200).startsWith("admin@localhost (you)|admin|enabled|here|0").endsWith("z197@localhost|user|enabled|here|0");
      String second = admin.get("/admin/users?page=2").body();
      assertThat(rows(second)).hasSize(52).startsWith("z198@localhost|user|enabled|here|0").endsWith("z249@localhost|user|enabled|here|0");
      assertThat(second).contains("<span class=\"where\">page 2 of 2</span>", "<a rel=\"prev\" href=\"/admin/users\">&lsaquo; Previous</a>",
          "<input type=\"hidden\" name=\"page\" value=\"2\">");
      // An action from page 2 comes back to page 2.
      HttpResponse<String> r = admin.post("/admin/users/disable", Map.of("address", "z249@localhost", "page", "2"));
      assertThat(r.headers().firstValue("Location")).hasValue("/admin/users?page=2&done=disable&address=z249%40localhost");
      HttpResponse<String> bad = admin.get("/admin/users?page=0");
      assertThat(bad.statusCode()).isEqualTo(400);
      assertThat(bad.body()).contains("<p>page: expected a page number (1, 2, ...), got '0'</p>");
    }
  }

  @Test
  void aCraftedLinkCannotPutWordsOrAClaimOnThePage() throws Exception {
    try (PageClient admin = admin()) {
      for (String query : new String[] {
          "done=disable&address=" + java.net.URLEncoder.encode("Your password leaked, sign in at https://evil.example @", UTF_8),
          "done=remove&address=bob%40localhost", // bob exists: nothing was removed
          "done=disable&address=bob%40localhost", // bob is not disabled
          "done=add&address=nobody%40localhost"}) {
        HttpResponse<String> r = admin.get("/admin/users?" + query);
        assertThat(r.statusCode()).as(query).isEqualTo(200);
        assertThat(r.body()).as(query).doesNotContain("class=\"notice\"");
      }
      assertThat(admin.get("/admin/users?done=enable&address=bob%40localhost").body())
          .as("what the accounts bear out is told").contains("<p class=\"notice\" role=\"status\">Enabled bob@localhost.</p>");
    }
  }

  /** The page after following a 303, and its notice line. */
  private static String notice(PageClient client, HttpResponse<String> r) throws Exception {
    assertThat(r.statusCode()).as(r.body()).isEqualTo(303);
    String page = client.get(r.headers().firstValue("Location").orElseThrow()).body();
    var m = java.util.regex.Pattern.compile("<p class=\"notice\" role=\"status\">([^<]*)</p>").matcher(page);
    assertThat(m.find()).as(page).isTrue();
    return m.group(1);
  }

  /** Each row of the accounts table as address|role|state|mailbox|tokens, tags stripped. */
  private static List<String> rows(String page) {
    String body = page.substring(page.indexOf("<tbody>"), page.indexOf("</tbody>"));
    List<String> rows = new ArrayList<>();
    for (String tr : body.split("<tr ")) {
      if (!tr.contains("<td")) continue;
      List<String> cells = new ArrayList<>();
      for (String td : tr.split("<td")) {
        if (!td.startsWith(">") && !td.startsWith(" class")) continue;
        String text = td.substring(td.indexOf('>') + 1);
        if (text.contains("</td>")) text = text.substring(0, text.indexOf("</td>"));
        cells.add(text.replaceAll("<[^>]+>", "").strip());
      }
      rows.add(String.join("|", cells.subList(0, 5)));
    }
    return rows;
  }
}
