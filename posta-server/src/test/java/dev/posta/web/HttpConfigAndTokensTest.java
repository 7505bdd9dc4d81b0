package dev.posta.web;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.auth.ApiTokens;
import dev.posta.auth.UserStore;
import dev.posta.cli.Posta;
import dev.posta.config.ConfigException;
import dev.posta.config.ConfigLoader;
import dev.posta.config.PostaConfig;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The {@code http} listener's configuration, and {@code posta token}'s file. */
class HttpConfigAndTokensTest {
  @TempDir Path dir;

  private Path config(String listeners) throws Exception {
    Path file = dir.resolve("posta.toml");
    Files.writeString(file, "data = \"" + dir.resolve("data") + "\"\n" + listeners + """

        [domains."example.org"]
        mailboxes = ["alice"]
        """);
    return file;
  }

  @Test
  void plainHttpOffTheLoopbackIsRefusedAtLoadUnlessAllowed() throws Exception {
    Path file = config("""
        [listeners]
        http = ["0.0.0.0:8025"]
        """);
    assertThatThrownBy(() -> ConfigLoader.load(file)).isInstanceOf(ConfigException.class)
        .extracting(e -> ((ConfigException) e).problems())
        .isEqualTo(List.of(file + ":3: listeners.http: '0.0.0.0:8025': plain HTTP on 0.0.0.0 would carry API tokens and mail unencrypted"
            + " beyond this machine: listen on 127.0.0.1 or ::1, use listeners.https, or set [http] allow-plain-http = true"));

    Files.writeString(file, Files.readString(file) + "\n[http]\nallow-plain-http = true\n");
    PostaConfig allowed = ConfigLoader.load(file);
    assertThat(allowed.listeners()).contains(new PostaConfig.Listener(PostaConfig.Protocol.HTTP, new InetSocketAddress("0.0.0.0", 8025)));
  }

  @Test
  void webListenersAreOffUnlessNamedAndHttpsMayBePublic() throws Exception {
    PostaConfig none = ConfigLoader.load(config(""));
    assertThat(none.listeners()).noneMatch(l -> l.protocol().web());
    PostaConfig https = ConfigLoader.load(config("""
        [listeners]
        http = ["127.0.0.1:8025"]
        https = ["0.0.0.0:8443"]
        """));
    assertThat(https.listeners()).filteredOn(l -> l.protocol().web()).containsExactly(
        new PostaConfig.Listener(PostaConfig.Protocol.HTTP, new InetSocketAddress("127.0.0.1", 8025)),
        new PostaConfig.Listener(PostaConfig.Protocol.HTTPS, new InetSocketAddress("0.0.0.0", 8443)));
    assertThat(PostaConfig.embeddedDefaults(dir).listeners())
        .contains(new PostaConfig.Listener(PostaConfig.Protocol.HTTP, new InetSocketAddress("127.0.0.1", 8025)));
  }

  private record Run(int exit, String out, String err) {}

  private Run posta(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    PrintStream stdout = System.out;
    PrintStream stderr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    try {
      int exit = new CommandLine(new Posta()).execute(args); // TokenCommand takes System.out and System.err as made
      return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    } finally {
      System.setOut(stdout);
      System.setErr(stderr);
    }
  }

  @Test
  void aTokenIsPrintedOnceAndOnlyItsHashIsKeptPrivately() throws Exception {
    Path data = dir.resolve("data");
    Run unknown = posta("token", "create", "--user", "alice@localhost", "--data", data.toString());
    assertThat(unknown.exit()).isEqualTo(1);
    assertThat(unknown.err()).isEqualTo("posta token create: no such user: alice@localhost (add it first: posta user add alice@localhost)\n");

    new UserStore(data).add("alice@localhost", "a long enough password".toCharArray());
    Run made = posta("token", "create", "--user", "Alice@LOCALHOST", "--name", "ci deploys", "--data", data.toString());
    assertThat(made.exit()).as(made.err()).isZero();
    String token = made.out().strip();
    assertThat(token).matches("posta_[A-Za-z0-9_-]{43}");
    Path file = data.resolve(ApiTokens.FILE_NAME);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    String kept = Files.readString(file);
    assertThat(kept).doesNotContain(token).doesNotContain(token.substring(6));
    ApiTokens.Token found = new ApiTokens(data).find(token).orElseThrow();
    assertThat(found.user()).isEqualTo("alice@localhost");
    assertThat(made.err()).isEqualTo("token " + found.id() + " for alice@localhost (\"ci deploys\"); it is not shown again: only its SHA-256 is kept\n");
    assertThat(kept).contains(found.id() + " " + found.hash() + " alice@localhost " + found.created() + " ci deploys\n");

    Run listed = posta("token", "list", "--data", data.toString());
    assertThat(listed.out()).isEqualTo(found.id() + "  alice@localhost  " + found.created() + "  ci deploys\n");
    Run revoked = posta("token", "revoke", found.id(), "--data", data.toString());
    assertThat(revoked.out()).isEqualTo("revoked " + found.id() + " (alice@localhost, \"ci deploys\")\n");
    assertThat(new ApiTokens(data).find(token)).isEmpty();
    Run again = posta("token", "revoke", found.id(), "--data", data.toString());
    assertThat(again.exit()).isEqualTo(1);
    assertThat(again.err()).isEqualTo("posta token revoke: no token with id " + found.id() + "\n");
  }
}
