package dev.posta.web;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.auth.ApiTokens;
import dev.posta.cli.TokenCommand;
import dev.posta.cli.UserCommand;
import dev.posta.config.PostaConfig;
import dev.posta.database.Database;
import dev.posta.testing.Postgres;
import dev.posta.testing.TestServer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The HTTP API's tokens of a cluster (a real PostgreSQL): made, listed and revoked by {@code posta
 * token} with another node's configuration, they work on a running node at once; removing the
 * account with {@code posta user del} on another node refuses its tokens on this one at the next
 * request, without waiting for any notification or poll; only their SHA-256 is kept, in the
 * database, and no node's data folder holds a tokens file.
 */
class ClusterApiTokensTest {
  @TempDir Path dir;
  String url;
  TestServer n1;
  Path n2;
  HttpClient http;

  @BeforeEach
  void start() throws Exception {
    url = Postgres.shared().newDatabase();
    n1 = TestServer.start(dir.resolve("n1"), c -> TestServer.withHttp(c.toBuilder().cluster(new PostaConfig.Cluster(Optional.of(url), "n1", 4)).build()));
    n2 = Files.writeString(dir.resolve("n2.toml"), "hostname = \"mx2.example.org\"\ndata = \"" + dir.resolve("n2") + "\"\n"
        + "[domains.\"localhost\"]\n[cluster]\ndatabase = \"" + url + "\"\nnode = \"n2\"\n");
    n1.server().users().add("alice@localhost", "alice's password".toCharArray());
    n1.server().users().add("bob@localhost", "bob's long password".toCharArray());
    http = HttpClient.newHttpClient();
  }

  @AfterEach
  void stop() {
    http.close();
    n1.close();
  }

  record Run(int status, String out, String err) {}

  private Run token(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--config", n2.toString()));
    int status = new CommandLine(new TokenCommand(new PrintStream(out, true, UTF_8), new PrintStream(err, true, UTF_8))).execute(all.toArray(String[]::new));
    return new Run(status, out.toString(UTF_8), err.toString(UTF_8));
  }

  private Run user(String input, String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    List<String> all = new ArrayList<>(List.of(args));
    all.addAll(List.of("--config", n2.toString()));
    int status = new CommandLine(new UserCommand(new ByteArrayInputStream(input.getBytes(UTF_8)), new PrintStream(out, true, UTF_8),
        new PrintStream(err, true, UTF_8))).execute(all.toArray(String[]::new));
    return new Run(status, out.toString(UTF_8), err.toString(UTF_8));
  }

  private int messages(String token) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + n1.httpPort() + "/api/v1/messages"))
        .header("Authorization", "Bearer " + token).GET().build(), HttpResponse.BodyHandlers.ofString()).statusCode();
  }

  private List<String> rows(String sql) throws Exception {
    try (Database db = Database.open(url, "test", 1)) {
      return db.transaction(c -> {
        List<String> rows = new ArrayList<>();
        try (ResultSet r = c.createStatement().executeQuery(sql)) {
          while (r.next()) rows.add(r.getString(1));
        }
        return rows;
      });
    }
  }

  private static String sha256(String s) throws Exception {
    return HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(s.getBytes(UTF_8)));
  }

  @Test
  void aTokenMadeWithAnotherNodesConfigurationWorksHereAndGoesWithItsAccount() throws Exception {
    Run made = token("create", "--user", "Alice@localhost", "--name", "ci");
    assertThat(made.status()).as("%s", made).isZero();
    String secret = made.out().strip();
    assertThat(secret).matches("posta_[A-Za-z0-9_-]{43}");
    String id = sha256(secret).substring(0, 12);
    assertThat(made.err()).isEqualTo("token " + id + " for alice@localhost (\"ci\"); it is not shown again: only its SHA-256 is kept\n");
    // Kept as the file keeps it: the hash, never the token.
    assertThat(rows("select hash || ' ' || account || ' ' || name from api_tokens")).containsExactly(sha256(secret) + " alice@localhost ci");
    assertThat(rows("select count(*) from api_tokens t where position('" + secret + "' in t::text) > 0")).containsExactly("0");
    assertThat(dir.resolve("n1").resolve(ApiTokens.FILE_NAME)).doesNotExist();
    assertThat(dir.resolve("n2").resolve(ApiTokens.FILE_NAME)).doesNotExist();

    assertThat(messages(secret)).isEqualTo(200);
    assertThat(n1.server().apiTokens().list()).extracting(ApiTokens.Token::id, ApiTokens.Token::user, ApiTokens.Token::name)
        .containsExactly(org.assertj.core.groups.Tuple.tuple(id, "alice@localhost", "ci"));
    Run listed = token("list");
    assertThat(listed.out()).matches(id + "  alice@localhost  \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  ci\n");

    // Removed on the other node: refused here at the next request, the token gone with the account.
    assertThat(user("", "del", "alice@localhost")).isEqualTo(new Run(0, "removed alice@localhost\n", ""));
    assertThat(messages(secret)).isEqualTo(401);
    assertThat(rows("select count(*) from api_tokens")).containsExactly("0");
    // An account made again under the address does not inherit it.
    assertThat(user("a new long password\n", "add", "alice@localhost").status()).isZero();
    assertThat(n1.server().apiTokens().find(secret)).isEmpty();
  }

  @Test
  void aTokenRevokedWithAnotherNodesConfigurationIsRefusedHereAtOnce() throws Exception {
    String secret = token("create", "--user", "bob@localhost").out().strip();
    assertThat(messages(secret)).isEqualTo(200);
    String id = sha256(secret).substring(0, 12);
    assertThat(token("revoke", id.toUpperCase(java.util.Locale.ROOT))).isEqualTo(new Run(0, "revoked " + id + " (bob@localhost, \"api\")\n", ""));
    assertThat(messages(secret)).isEqualTo(401);
    assertThat(token("revoke", id)).isEqualTo(new Run(1, "", "posta token revoke: no token with id " + id + "\n"));
    assertThat(token("create", "--user", "nobody@localhost")).isEqualTo(new Run(1, "",
        "posta token create: no such user: nobody@localhost (add it first: posta user add nobody@localhost)\n"));
  }

  @Test
  void theDatabaseRefusesATokenForAnAccountRemovedMeanwhile() throws Exception {
    try (Database db = Database.open(url, "test", 1)) {
      ApiTokens tokens = ApiTokens.inDatabase(db);
      n1.server().users().remove("bob@localhost");
      assertThatThrownBy(() -> tokens.create("bob@localhost", "late"))
          .isInstanceOf(java.io.IOException.class)
          .hasMessage("no such user: bob@localhost (removed meanwhile)");
      assertThat(tokens.list()).isEmpty();
    }
  }
}
