package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code posta check-config} checks the configured certificate and key, not only the TOML. */
class CheckConfigTest {
  @TempDir Path dir;

  record Run(int status, String out, String err) {}

  /** Runs {@code posta check-config --config <file>}, with System.out and System.err captured. */
  Run checkConfig(Path file) {
    return checkConfig("--config", file.toString());
  }

  /** Runs {@code posta check-config} with these arguments, with System.out and System.err captured. */
  Run checkConfig(String... args) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    System.setOut(new PrintStream(out, true, UTF_8));
    System.setErr(new PrintStream(err, true, UTF_8));
    try {
      String[] all = new String[args.length + 1];
      all[0] = "check-config";
      System.arraycopy(args, 0, all, 1, args.length);
      int status = new CommandLine(new Posta()).execute(all);
      return new Run(status, out.toString(UTF_8), err.toString(UTF_8));
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  Path config(String certificate, String key) throws Exception {
    return Files.writeString(dir.resolve("posta.toml"), """
        hostname = "localhost"
        data = "data"
        [tls]
        certificate = "%s"
        key = "%s"
        [domains.localhost]
        any-local-part = true
        """.formatted(certificate, key));
  }

  @Test
  void theFileMayBeNamedWithoutTheOptionButOnlyOnce() throws Exception {
    Path file = Files.writeString(dir.resolve("posta.toml"), "hostname = \"localhost\"\n[domains.localhost]\n");
    assertThat(checkConfig(file.toString())).isEqualTo(new Run(0, file + ": OK (1 domain(s), 7 listener(s))\n", ""));
    assertThat(checkConfig(file.toString(), "--config", file.toString()).status()).isZero();
    assertThat(checkConfig(file.toString(), "--config", "other.toml"))
        .isEqualTo(new Run(2, "", "posta check-config: two files named (" + file + " and --config other.toml): name one\n"));
  }

  @Test
  void missingCertificateFileIsAConfigProblem() throws Exception {
    Path file = config("missing-cert.pem", "missing-key.pem");
    Run run = checkConfig(file);
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.out()).isEmpty();
    assertThat(run.err()).startsWith(file + ": tls: ").contains(dir.resolve("missing-cert.pem").toString());
    assertThat(run.err().strip()).doesNotContain("\n"); // one line, ready for an operator
    assertThat(dir.resolve("data")).doesNotExist(); // and no self-signed certificate made
  }

  @Test
  void keyThatIsNotPemIsAConfigProblem() throws Exception {
    makeCertificate();
    Files.writeString(dir.resolve("key.pem"), "not a key\n");
    Run run = checkConfig(config("cert.pem", "key.pem"));
    assertThat(run.status()).isEqualTo(2);
    assertThat(run.err()).contains(dir.resolve("key.pem").toString());
  }

  @Test
  void usableCertificateAndKeyPass() throws Exception {
    makeCertificate();
    Path file = config("cert.pem", "key.pem");
    Run run = checkConfig(file);
    // (System.err may hold the loader's log lines, e.g. a warning that the certificate has no SAN.)
    assertThat(run.err()).doesNotContain(": tls: ");
    assertThat(run.status()).isEqualTo(0);
    assertThat(run.out()).startsWith(file + ": OK");
    assertThat(dir.resolve("data")).doesNotExist();
  }

  /** cert.pem and key.pem in {@code dir}: a self-signed EC P-256 certificate for localhost. */
  private void makeCertificate() throws Exception {
    Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=localhost")
        .directory(dir.toFile()).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isZero();
  }
}
