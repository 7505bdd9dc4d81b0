package dev.posta.auth;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.cli.UserCommand;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code posta user ...} with the password on standard input, as from a script. */
class UserCommandTest {
  @TempDir Path dir;

  record Run(int status, String out, String err) {}

  Run run(String stdin, String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    var command = new UserCommand(new ByteArrayInputStream(stdin.getBytes(UTF_8)), new PrintStream(out, true, UTF_8), new PrintStream(err, true, UTF_8));
    List<String> all = new ArrayList<>(List.of(args));
    if (all.stream().noneMatch(a -> a.equals("--config"))) all.addAll(List.of("--data", dir.toString()));
    int status = new CommandLine(command)
        .setErr(new java.io.PrintWriter(new PrintStream(err, true, UTF_8), true))
        .execute(all.toArray(String[]::new));
    return new Run(status, out.toString(UTF_8), err.toString(UTF_8));
  }

  @Test
  void addListPasswdDel() throws Exception {
    assertThat(run("", "list")).isEqualTo(new Run(0, "", ""));
    assertThat(run("s3cret s3cret\nignored\n", "add", "Alice@LOCALHOST")).isEqualTo(new Run(0, "added alice@localhost\n", ""));
    assertThat(new UserStore(dir).verify("alice@localhost", "s3cret s3cret".toCharArray())).isTrue();
    assertThat(run("", "list")).isEqualTo(new Run(0, "alice@localhost\n", ""));

    assertThat(run("n3w n3w n3w n3w\r\n", "passwd", "alice@localhost")).isEqualTo(new Run(0, "password changed for alice@localhost\n", ""));
    assertThat(new UserStore(dir).verify("alice@localhost", "n3w n3w n3w n3w".toCharArray())).isTrue();

    assertThat(run("", "del", "alice@localhost")).isEqualTo(new Run(0, "removed alice@localhost\n", ""));
    assertThat(run("", "list")).isEqualTo(new Run(0, "", ""));
  }

  @Test
  void adminsAndDisabledAccounts() throws Exception {
    assertThat(run("s3cret s3cret\n", "add", "--admin", "Root@localhost")).isEqualTo(new Run(0, "added root@localhost (admin)\n", ""));
    assertThat(run("s3cret s3cret\n", "add", "bob@localhost")).isEqualTo(new Run(0, "added bob@localhost\n", ""));
    assertThat(run("", "list")).isEqualTo(new Run(0, "bob@localhost\nroot@localhost\tadmin\n", ""));

    assertThat(run("", "disable", "BOB@localhost")).isEqualTo(
        new Run(0, "disabled bob@localhost (sessions already logged in end when they disconnect)\n", ""));
    assertThat(run("", "admin", "bob@localhost")).isEqualTo(new Run(0, "bob@localhost is an admin\n", ""));
    assertThat(run("", "list")).isEqualTo(new Run(0, "bob@localhost\tadmin,disabled\nroot@localhost\tadmin\n", ""));
    UserStore users = new UserStore(dir);
    assertThat(users.find("bob@localhost")).get().extracting(UserStore.User::admin, UserStore.User::disabled).containsExactly(true, true);
    assertThat(users.verify("bob@localhost", "s3cret s3cret".toCharArray())).as("a disabled account cannot log in").isFalse();
    // The attributes survive a password change, and the file keeps them in its fourth field.
    assertThat(run("n3w n3w n3w n3w\n", "passwd", "bob@localhost")).isEqualTo(new Run(0, "password changed for bob@localhost\n", ""));
    assertThat(Files.readAllLines(dir.resolve("users"))).filteredOn(l -> l.startsWith("bob@")).singleElement()
        .satisfies(l -> assertThat(l.split("\t")).hasSize(4).endsWith("admin,disabled"));

    assertThat(run("", "enable", "bob@localhost")).isEqualTo(new Run(0, "enabled bob@localhost\n", ""));
    assertThat(run("", "admin", "--revoke", "bob@localhost")).isEqualTo(new Run(0, "bob@localhost is no longer an admin\n", ""));
    assertThat(Files.readAllLines(dir.resolve("users"))).filteredOn(l -> l.startsWith("bob@")).singleElement()
        .satisfies(l -> assertThat(l.split("\t", -1)).as("no attributes: three fields, as before attributes existed").hasSize(3));
    assertThat(new UserStore(dir).verify("bob@localhost", "n3w n3w n3w n3w".toCharArray())).isTrue();
    assertThat(run("", "disable", "carol@localhost")).isEqualTo(new Run(1, "", "posta user disable: no such user: carol@localhost\n"));
  }

  @Test
  void aRemovedAccountsTokensAreRevokedSoAnAccountMadeAgainDoesNotInheritThem() throws Exception {
    assertThat(run("s3cret s3cret\n", "add", "bob@localhost").status()).isZero();
    assertThat(run("s3cret s3cret\n", "add", "carol@localhost").status()).isZero();
    ApiTokens tokens = new ApiTokens(dir);
    String bobs = tokens.create("bob@localhost", "ci").secret();
    tokens.create("bob@localhost", "laptop");
    String carols = tokens.create("carol@localhost", "ci").secret();

    assertThat(run("", "del", "bob@localhost")).isEqualTo(new Run(0, "removed bob@localhost\n", ""));
    assertThat(run("s3cret s3cret\n", "add", "bob@localhost").status()).isZero();
    assertThat(tokens.find(bobs)).isEmpty();
    assertThat(tokens.list()).extracting(ApiTokens.Token::user).containsExactly("carol@localhost");
    assertThat(tokens.find(carols)).isPresent();
  }

  @Test
  void anUnknownAttributeIgnoresTheLine() throws Exception {
    String scram = ScramCredentials.derive("x".toCharArray(), new byte[16], 4096).encode();
    String hash = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s";
    Files.writeString(dir.resolve("users"), "alice@localhost\t" + hash + "\t" + scram + "\troot\n"
        + "bob@localhost\t" + hash + "\t" + scram + "\tdisabled, admin\n");
    assertThat(run("", "list")).isEqualTo(new Run(0, "bob@localhost\tadmin,disabled\n", ""));
  }

  @Test
  void refusals() throws Exception {
    Files.writeString(dir.resolve("users"), "alice@localhost\t$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s\t"
        + ScramCredentials.derive("x".toCharArray(), new byte[16], 4096).encode() + "\n");
    assertThat(run("pw\n", "add", "alice@localhost")).isEqualTo(new Run(1, "", "posta user add: alice@localhost already exists\n"));
    assertThat(run("pw\n", "add", "bob")).isEqualTo(new Run(1, "", "posta user add: bob: not a valid address (local@domain, without spaces)\n"));
    assertThat(run("", "add", "bob@localhost")).isEqualTo(new Run(1, "", "posta user add: empty password refused\n"));
    assertThat(run("\n", "add", "bob@localhost")).isEqualTo(new Run(1, "", "posta user add: empty password refused\n"));
    assertThat(run("a\tlong\tenough\tone\n", "add", "bob@localhost")).isEqualTo(new Run(1, "", "posta user add: password contains control characters\n"));
    // Counted in characters, not octets: eleven of them are too few, however many octets they take.
    assertThat(run("ééééééééééé\n", "add", "bob@localhost"))
        .isEqualTo(new Run(1, "", "posta user add: password too short: 11 characters, at least 12 ([submission] min-password-length)\n"));
    assertThat(run("short\n", "passwd", "alice@localhost"))
        .isEqualTo(new Run(1, "", "posta user passwd: password too short: 5 characters, at least 12 ([submission] min-password-length)\n"));
    assertThat(run("pw\n", "passwd", "bob@localhost")).isEqualTo(new Run(1, "", "posta user passwd: no such user: bob@localhost\n"));
    assertThat(run("", "del", "bob@localhost")).isEqualTo(new Run(1, "", "posta user del: no such user: bob@localhost\n"));
    assertThat(run("", "list")).isEqualTo(new Run(0, "alice@localhost\n", ""));
  }

  @Test
  void accountsOutsideTheLocalDomainsAreSendOnly() throws Exception {
    assertThat(run("a password long enough\n", "add", "noreply@example.org"))
        .isEqualTo(new Run(0, "added noreply@example.org (send only: example.org is not a local domain, so it has no mailbox here)\n", ""));
    assertThat(run("", "list")).isEqualTo(new Run(0, "noreply@example.org\n", ""));
  }

  @Test
  void theConfigurationsDomainsAndDataFolderAreUsed() throws Exception {
    Path config = dir.resolve("posta.toml");
    Files.writeString(config, "hostname = \"mail.example.org\"\ndata = \"state\"\n[domains.\"example.org\"]\n[domains.\"example.net\"]\n"
        + "[submission]\nmin-password-length = 3\n");
    assertThat(run("pw\n", "add", "bob@example.net", "--config", config.toString()))
        .isEqualTo(new Run(1, "", "posta user add: password too short: 2 characters, at least 3 ([submission] min-password-length)\n"));
    assertThat(run("pwd\n", "add", "bob@example.net", "--config", config.toString())).isEqualTo(new Run(0, "added bob@example.net\n", ""));
    assertThat(new UserStore(dir.resolve("state")).list()).containsExactly("bob@example.net");
  }

  @Test
  void aBrokenConfigurationIsOneLineAndStatusOne() throws Exception {
    Path config = dir.resolve("posta.toml");
    Files.writeString(config, "hostname = \n");
    Run r = run("", "list", "--config", config.toString());
    assertThat(r.status()).isEqualTo(1);
    assertThat(r.out()).isEmpty();
    assertThat(r.err()).startsWith("posta user list: " + config).endsWith("\n");
    assertThat(r.err().lines()).hasSize(1);
  }

  @Test
  void aPasswordIsNeverAnArgument() {
    Run r = run("", "add", "bob@localhost", "secret");
    assertThat(r.status()).isEqualTo(2); // picocli usage error
    assertThat(r.err()).contains("Unmatched argument");
  }
}
