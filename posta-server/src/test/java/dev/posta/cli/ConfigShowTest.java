package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.ConfigLoader;
import dev.posta.config.PostaConfig;
import dev.posta.config.Toml;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code posta config show [--all]}: exactly the settings not at their default (or every key),
 * as TOML that {@code posta check-config} accepts and that loads into the same configuration;
 * never an inline password.
 */
class ConfigShowTest {
  @TempDir Path dir;

  record Run(int status, String out, String err) {}

  static Run posta(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    System.setOut(new PrintStream(out, true, UTF_8));
    System.setErr(new PrintStream(err, true, UTF_8));
    try {
      int status = new CommandLine(new Posta()).execute(args);
      return new Run(status, out.toString(UTF_8), err.toString(UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  /**
   * A file with a bit of everything: IDN domains, a smart host with a password file, a route with
   * an inline password; DKIM turned off for a domain (check-config wants the key files of selectors named).
   */
  Path richConfig() throws Exception {
    Files.writeString(dir.resolve("relay-password"), "s3cret-from-file\n");
    return Files.writeString(dir.resolve("posta.toml"), """
        hostname = "mail.example.org"
        data = "data"
        mailbox-mode = "640"
        [listeners]
        smtp = ["127.0.0.1:10025", "[::1]:10025"]
        pop3 = []
        [submission]
        trusted-networks = ["192.0.2.0/24"]
        [limits]
        max-message-size = "10M"
        max-connections = 100
        command-timeout = "90s"
        [queue]
        lifetime = "2d"
        [outbound]
        tls = "encrypt"
        dns-servers = ["192.0.2.53"]
        [outbound.tls-policy]
        "bank.example" = "verify"
        [relay]
        host = "smtp.provider.example"
        port = 587
        username = "me@provider.example"
        password-file = "relay-password"
        [routes."Bücher.example"]
        host = "mx.partner.example"
        tls = "encrypt"
        username = "partner\\"user"
        password = "inline-s3cret"
        [dkim.selectors]
        "example.org" = []
        [sender-checks]
        dmarc-reject = "quarantine"
        [sender-checks.domains."example.org"]
        enabled = false
        [screen]
        greet-wait = "3s"
        [[screen.dnsbl]]
        zone = "bl.example"
        weight = 2
        codes = ["127.0.0.2-11"]
        [[screen.dnswl]]
        zone = "wl.example"
        [domains."example.org"]
        mailboxes = ["bob", "alice"]
        catch-all = "alice"
        [domains."example.org".aliases]
        sales = ["alice", "bob"]
        "info.desk" = "alice"
        [domains."bücher.example"]
        any-local-part = true
        """);
  }

  @Test
  void showsTheSettingsThatDifferFromTheDefaultsAsPostconfNDoes() throws Exception {
    Path file = richConfig();
    Run shown = posta("config", "show", "--config", file.toString());
    assertThat(shown).isEqualTo(new Run(0, """
        hostname = "mail.example.org"
        data = "%s"
        mailbox-mode = "0640"

        [listeners]
        smtp = ["127.0.0.1:10025", "[0:0:0:0:0:0:0:1]:10025"]
        pop3 = []

        [submission]
        trusted-networks = ["192.0.2.0/24"]

        [limits]
        max-message-size = "10M"
        max-connections = 100
        command-timeout = "90s"

        [queue]
        lifetime = "2d"

        [outbound]
        tls = "encrypt"
        dns-servers = ["192.0.2.53"]

        [outbound.tls-policy]
        "bank.example" = "verify"

        [relay]
        host = "smtp.provider.example"
        port = 587
        implicit-tls = false
        tls = "verify"
        username = "me@provider.example"
        password-file = "%s"

        [routes."xn--bcher-kva.example"]
        host = "mx.partner.example"
        port = 25
        implicit-tls = false
        tls = "encrypt"
        username = "partner\\"user"
        # password: set in %s, not shown

        [dkim.selectors]
        "example.org" = []

        [sender-checks]
        dmarc-reject = "quarantine"

        [sender-checks.domains."example.org"]
        enabled = false
        dmarc-reject = "quarantine"

        [screen]
        greet-wait = "3s"

        [[screen.dnsbl]]
        zone = "bl.example"
        weight = 2
        codes = ["127.0.0.2-11"]

        [[screen.dnswl]]
        zone = "wl.example"
        weight = -1

        [domains."example.org"]
        mailboxes = ["alice", "bob"]
        any-local-part = false
        catch-all = "alice@example.org"

        [domains."example.org".aliases]
        "info.desk" = ["alice@example.org"]
        sales = ["alice@example.org", "bob@example.org"]

        [domains."xn--bcher-kva.example"]
        mailboxes = []
        any-local-part = true
        """.formatted(dir.resolve("data"), dir.resolve("relay-password"), file), ""));
    assertThat(shown.out()).doesNotContain("s3cret");
  }

  @Test
  void whatItShowsLoadsIntoTheSameConfigurationAndCheckConfigAcceptsIt() throws Exception {
    Path rich = richConfig();
    for (Path file : new Path[] {rich, exampleFile()}) {
      PostaConfig original = ConfigLoader.load(file);
      for (String[] flags : new String[][] {{}, {"--all"}}) {
        Run shown = posta(concat(new String[] {"config", "show", "--config", file.toString()}, flags));
        assertThat(shown.status()).isZero();
        String text = shown.out();
        if (file == rich) {
          // The inline password is not shown: without it the route is refused, with it the configuration is the same.
          Path without = Files.writeString(dir.resolve("shown-without.toml"), text);
          assertThat(posta("check-config", without.toString()).err()).contains("set both username and password");
          text = text.replace("# password: set in " + rich + ", not shown", "password = \"inline-s3cret\"");
        }
        Path back = Files.writeString(dir.resolve("shown.toml"), text);
        // The example names Let's Encrypt's files, which are not here for check-config to load: loading it back must do.
        if (file == rich) assertThat(posta("check-config", back.toString())).isEqualTo(new Run(0, back + ": OK (2 domain(s), 7 listener(s))\n", ""));
        assertThat(ConfigLoader.load(back)).as("%s %s, loaded back", file, String.join(" ", flags))
            .usingRecursiveComparison().ignoringFields("source").ignoringFieldsMatchingRegexes(".*origin").isEqualTo(original);
      }
    }
  }

  /** A key added to the configuration but not to config show would be lost silently: the example sets every key. */
  @Test
  void showAllWritesEveryKeyTheExampleSets() throws Exception {
    Run shown = posta("config", "show", "--all", "--config", exampleFile().toString());
    assertThat(keys(Toml.parse(shown.out()), "")).containsAll(keys(Toml.parse(Files.readString(exampleFile())), ""));
  }

  /** Every key's dotted path; a domain's or a policy's own name stands as {@code *}. */
  private static Set<String> keys(Toml.Table table, String path) {
    Set<String> keys = new TreeSet<>();
    table.entries().forEach((key, value) -> {
      String name = path.equals("domains") || path.endsWith("tls-policy") || path.endsWith("selectors") || path.endsWith("aliases") ? "*" : key;
      String full = path.isEmpty() ? name : path + "." + name;
      if (value instanceof Toml.Table t) keys.addAll(keys(t, full));
      else keys.add(full);
    });
    return keys;
  }

  @Test
  void theEmbeddedDefaultsToo() throws Exception {
    PostaConfig defaults = PostaConfig.embeddedDefaults(dir.resolve("posta-data"));
    for (boolean all : new boolean[] {false, true}) {
      Path back = Files.writeString(dir.resolve("defaults.toml"), dev.posta.config.ConfigPrinter.toml(defaults, all));
      assertThat(ConfigLoader.load(back)).usingRecursiveComparison().ignoringFields("source").isEqualTo(defaults);
    }
  }

  @Test
  void aBrokenConfigurationIsReportedAsCheckConfigReportsIt() throws Exception {
    Path file = Files.writeString(dir.resolve("bad.toml"), "hostnme = \"x\"\n[domains.localhost]\n");
    Run shown = posta("config", "show", "--config", file.toString());
    assertThat(shown.status()).isEqualTo(2);
    assertThat(shown.out()).isEmpty();
    assertThat(shown.err()).startsWith(file + ":1: ");
  }

  static String[] concat(String[] a, String[] b) {
    String[] all = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }

  static Path exampleFile() {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      if (Files.exists(d.resolve("posta.example.toml"))) return d.resolve("posta.example.toml");
    }
    throw new AssertionError("posta.example.toml not found above " + Path.of("").toAbsolutePath());
  }
}
