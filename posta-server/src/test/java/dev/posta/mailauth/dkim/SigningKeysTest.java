package dev.posta.mailauth.dkim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.PostaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.LocalDate;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which keys sign: the key folder by default, the configuration where it names a domain; every problem at start-up. */
class SigningKeysTest {
  @TempDir Path data;

  private void key(String domain, String selector, DkimAlgorithm.KeyType type) throws Exception {
    DkimKeyFiles.generate(data, domain, selector, type);
  }

  private static PostaConfig.Dkim config(String domain, String... selectors) {
    return new PostaConfig.Dkim(Map.of(domain, java.util.Arrays.stream(selectors)
        .map(s -> new PostaConfig.Dkim.Selector(s, "/etc/posta/posta.toml:12")).toList()));
  }

  @Test
  void everyKeyInADomainsFolderSignsWhenTheConfigurationDoesNotNameIt() throws Exception {
    key("example.org", "20250101-rsa", DkimAlgorithm.KeyType.RSA);
    key("example.org", "20250701-rsa", DkimAlgorithm.KeyType.RSA);
    key("example.org", "20250701-ed25519", DkimAlgorithm.KeyType.ED25519);
    key("localhost", "s", DkimAlgorithm.KeyType.ED25519);
    Files.writeString(data.resolve("dkim/example.org/20250701-rsa.txt"), "the record, kept for reference");
    SigningKeys keys = SigningKeys.load(data, PostaConfig.Dkim.NONE);
    assertThat(keys.describe()).containsExactly(
        "example.org (20250101-rsa rsa-sha256, 20250701-ed25519 ed25519-sha256, 20250701-rsa rsa-sha256)",
        "localhost (s ed25519-sha256)");
    assertThat(keys.forSender("example.org")).extracting(SigningKey::selector).containsExactly("20250101-rsa", "20250701-ed25519", "20250701-rsa");
    assertThat(keys.forSender("mail.news.example.org")).isSameAs(keys.forSender("example.org"));
    assertThat(keys.forSender("example.com")).isEmpty();
    assertThat(keys.forSender("org")).isEmpty();
    assertThat(SigningKeys.load(data.resolve("nothing-here"), PostaConfig.Dkim.NONE).isEmpty()).isTrue();
  }

  @Test
  void aDomainInTheConfigurationSignsWithExactlyItsSelectorsAndAnEmptyListWithNone() throws Exception {
    key("example.org", "old", DkimAlgorithm.KeyType.RSA);
    key("example.org", "new", DkimAlgorithm.KeyType.RSA);
    key("example.net", "s", DkimAlgorithm.KeyType.RSA);
    var dkim = new PostaConfig.Dkim(Map.of(
        "example.org", List.of(new PostaConfig.Dkim.Selector("new", "posta.toml:3")),
        "example.net", List.of()));
    assertThat(SigningKeys.load(data, dkim).describe()).containsExactly("example.org (new rsa-sha256)");
  }

  @Test
  void aConfiguredSelectorWithoutItsKeyFileIsReportedAtItsSetting() {
    assertThatThrownBy(() -> SigningKeys.load(data, config("example.org", "2025-rsa")))
        .isInstanceOf(SigningKeys.KeyProblems.class)
        .hasMessage("/etc/posta/posta.toml:12: dkim.selectors.\"example.org\": no key file " + data.resolve("dkim/example.org/2025-rsa.pem")
            + " for selector 2025-rsa (make one with: posta dkim keygen example.org --selector 2025-rsa)");
  }

  @Test
  void unusableKeysAndFoldersAreEachReported() throws Exception {
    Files.createDirectories(data.resolve("dkim/example.org"));
    Files.writeString(data.resolve("dkim/example.org/garbage.pem"), "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    Files.writeString(data.resolve("dkim/example.org/empty.pem"), "");
    Files.writeString(data.resolve("dkim/example.org/Bad_Name.pem"), "");
    var ec = java.security.KeyPairGenerator.getInstance("EC").generateKeyPair();
    Files.write(data.resolve("dkim/example.org/ec.pem"), DkimKeyFiles.pem(ec.getPrivate()));
    Files.write(data.resolve("dkim/example.org/small.pem"), DkimKeyFiles.pem(TestSignatures.RSA_512.getPrivate()));
    Files.createDirectories(data.resolve("dkim/Not A Domain"));
    for (String s : List.of("a", "b", "c")) key("example.net", s, DkimAlgorithm.KeyType.ED25519);
    var problems = org.assertj.core.api.Assertions.catchThrowableOfType(SigningKeys.KeyProblems.class,
        () -> SigningKeys.load(data, PostaConfig.Dkim.NONE)).problems();
    Path org = data.resolve("dkim/example.org");
    assertThat(problems).hasSize(7);
    assertThat(problems.get(0)).isEqualTo(data.resolve("dkim/Not A Domain")
        + ": not a domain name (keys are " + data.resolve("dkim") + "/<domain>/<selector>.pem, the domain in lower case, IDNs as xn--)");
    assertThat(problems.get(1)).isEqualTo(org.resolve("Bad_Name.pem") + ": 'Bad_Name' is not a selector (letters, digits and hyphens, labels separated by dots, lower case)");
    assertThat(problems.get(2)).isEqualTo(org.resolve("ec.pem") + ": a key of type EC; DKIM signs with RSA or Ed25519");
    assertThat(problems.get(3)).isEqualTo(org.resolve("empty.pem") + ": no PEM private key in it");
    assertThat(problems.get(4)).startsWith(org.resolve("garbage.pem") + ": not a PEM private key (");
    assertThat(problems.get(5)).isEqualTo(org.resolve("small.pem") + ": an RSA key of 512 bits; RFC 8301 asks for at least 1024 (2048 recommended)");
    assertThat(problems.get(6)).isEqualTo("example.net: 3 ed25519 keys (a, b, c); at most 2 of a kind sign at once, an old and a new one while a key is rotated: remove the oldest");
  }

  @Test
  void keyFilesArePrivateAndNeverReplaced() throws Exception {
    var made = DkimKeyFiles.generate(data, "example.org", "s", DkimAlgorithm.KeyType.RSA);
    assertThat(made.file()).isEqualTo(data.resolve("dkim/example.org/s.pem"));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(made.file()))).isEqualTo("rw-------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(made.file().getParent()))).isEqualTo("rwx------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(data.resolve("dkim")))).isEqualTo("rwx------");
    assertThat(Files.readString(made.file())).startsWith("-----BEGIN PRIVATE KEY-----\n").endsWith("\n-----END PRIVATE KEY-----\n");
    byte[] before = Files.readAllBytes(made.file());
    assertThatThrownBy(() -> DkimKeyFiles.generate(data, "example.org", "s", DkimAlgorithm.KeyType.ED25519))
        .isInstanceOf(java.nio.file.FileAlreadyExistsException.class);
    assertThat(Files.readAllBytes(made.file())).isEqualTo(before);
    assertThat(DkimKeyFiles.read(made.file(), "example.org", "s").key().getEncoded()).isNotEmpty();
  }

  @Test
  void theRecordToPublishIsSplitIntoStringsOf255OctetsAtMost() throws Exception {
    var rsa = DkimKeyFiles.generate(data, "example.org", "r", DkimAlgorithm.KeyType.RSA).publicKey();
    List<String> strings = DkimKeyFiles.txtStrings(rsa);
    assertThat(strings).hasSize(2);
    assertThat(strings.get(0)).hasSize(255).startsWith("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA");
    assertThat(String.join("", strings)).hasSize(18 + 392);
    assertThat(DkimKeyFiles.txtRecord("example.org", "r", rsa))
        .isEqualTo("r._domainkey.example.org. IN TXT ( \"" + strings.get(0) + "\"\n\t\"" + strings.get(1) + "\" )");
    var ed = DkimKeyFiles.generate(data, "example.org", "e", DkimAlgorithm.KeyType.ED25519).publicKey();
    assertThat(DkimKeyFiles.txtRecord("example.org", "e", ed)).matches("e\\._domainkey\\.example\\.org\\. IN TXT \\( \"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=\" \\)");
    assertThat(DkimKeyFiles.defaultSelector(LocalDate.of(2025, 7, 2), DkimAlgorithm.KeyType.ED25519)).isEqualTo("20250702-ed25519");
  }
}
