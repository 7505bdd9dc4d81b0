package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.mailauth.dkim.SigningKeys;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code posta dkim keygen}: the key file, the record printed, and the refusals. (LauncherIT runs it through ./posta.) */
class DkimCommandTest {
  @TempDir Path dir;
  static final Clock JULY_12 = Clock.fixed(Instant.parse("2025-07-12T10:00:00Z"), ZoneOffset.UTC);

  record Run(int status, String out, String err) {}

  Run run(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    var command = new DkimCommand(new PrintStream(out, true, UTF_8), new PrintStream(err, true, UTF_8), JULY_12);
    List<String> all = new ArrayList<>(List.of(args));
    if (all.stream().noneMatch(a -> a.equals("--config"))) all.addAll(List.of("--data", dir.toString()));
    int status = new CommandLine(command).setErr(new java.io.PrintWriter(new PrintStream(err, true, UTF_8), true)).execute(all.toArray(String[]::new));
    return new Run(status, out.toString(UTF_8), err.toString(UTF_8));
  }

  @Test
  void keygenWritesTheKeyAndPrintsTheRecordAsAZoneFileWould() throws Exception {
    Run rsa = run("keygen", "Example.ORG");
    assertThat(rsa.status()).as("%s", rsa).isZero();
    assertThat(rsa.err()).isEmpty();
    Path file = dir.resolve("dkim/example.org/20250712-rsa.pem");
    Matcher m = Pattern.compile("""
        ; DKIM key for example.org, selector 20250712-rsa \\(rsa-sha256, 2048 bits\\): \\Q%s\\E
        ; Publish this record in the DNS of example.org, then reload Posta: it signs the mail from example.org with every key in \\Q%s\\E.
        20250712-rsa._domainkey.example.org. IN TXT \\( "(v=DKIM1; k=rsa; p=[A-Za-z0-9+/]{237})"
        \t"([A-Za-z0-9+/]{155})" \\)
        """.formatted(file, file.getParent())).matcher(rsa.out());
    assertThat(m.matches()).as(rsa.out()).isTrue();
    assertThat(m.group(1)).hasSize(255);

    Run ed = run("keygen", "example.org", "--algorithm", "ED25519");
    assertThat(ed.out()).endsWith("20250712-ed25519._domainkey.example.org. IN TXT ( \"v=DKIM1; k=ed25519; p=" + ed.out().split("p=")[1].substring(0, 44) + "\" )\n");
    assertThat(ed.out()).startsWith("; DKIM key for example.org, selector 20250712-ed25519 (ed25519-sha256): " + dir.resolve("dkim/example.org/20250712-ed25519.pem") + "\n");

    // What keygen made is what the server signs with.
    assertThat(SigningKeys.load(dir, PostaConfig.Dkim.NONE).describe())
        .containsExactly("example.org (20250712-ed25519 ed25519-sha256, 20250712-rsa rsa-sha256)");
  }

  @Test
  void keygenRefusesToReplaceAKeyAThirdOfAKindAndBadArguments() throws Exception {
    assertThat(run("keygen", "example.org", "--selector", "a").status()).isZero();
    byte[] key = Files.readAllBytes(dir.resolve("dkim/example.org/a.pem"));
    Path existing = dir.resolve("dkim/example.org/a.pem");
    assertThat(run("keygen", "example.org", "--selector", "A", "--algorithm", "ed25519"))
        .isEqualTo(new Run(1, "", "posta dkim keygen: " + existing + " exists already: choose another --selector\n"));
    assertThat(Files.readAllBytes(existing)).isEqualTo(key);
    assertThat(run("keygen", "example.org", "--selector", "b").status()).isZero();
    assertThat(run("keygen", "example.org", "--selector", "c"))
        .isEqualTo(new Run(1, "", "posta dkim keygen: example.org has 2 rsa keys already (a, b), and at most two of a kind sign: remove the one you retire first\n"));
    assertThat(run("keygen", "example.org", "--algorithm", "dsa"))
        .isEqualTo(new Run(2, "", "posta dkim keygen: --algorithm must be rsa or ed25519, not 'dsa'\n"));
    assertThat(run("keygen", "not a domain")).isEqualTo(new Run(2, "", "posta dkim keygen: 'not a domain' is not a domain name\n"));
    assertThat(run("keygen", "example.org", "--selector", "../../etc")).isEqualTo(new Run(2, "",
        "posta dkim keygen: '../../etc' is not a selector (letters, digits and hyphens, labels separated by dots)\n"));
    assertThat(dir.resolve("dkim/example.org")).isDirectoryContaining(p -> true);
    try (var files = Files.list(dir.resolve("dkim/example.org"))) {
      assertThat(files.map(p -> p.getFileName().toString()).sorted()).containsExactly("a.pem", "b.pem");
    }
  }

  @Test
  void withTheDomainConfiguredKeygenSaysToListTheSelector() throws Exception {
    Path config = Files.writeString(dir.resolve("posta.toml"), """
        hostname = "mail.example.org"
        data = "data"
        [domains."example.org"]
        [dkim.selectors]
        "example.org" = ["listed"]
        """);
    Run unlisted = run("keygen", "example.org", "--selector", "other", "--algorithm", "ed25519", "--config", config.toString());
    assertThat(unlisted.out().lines().toList().get(1)).isEqualTo("; Publish this record in the DNS of example.org, add \"other\" to "
        + "dkim.selectors.\"example.org\" in " + config + " (only the selectors listed there sign), then reload Posta.");
    Run listed = run("keygen", "example.org", "--selector", "listed", "--algorithm", "ed25519", "--config", config.toString());
    assertThat(listed.out().lines().toList().get(1)).isEqualTo("; Publish this record in the DNS of example.org, then reload Posta: dkim.selectors lists listed.");
    assertThat(dir.resolve("data/dkim/example.org/listed.pem")).isRegularFile();
  }
}
