package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.TestServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * testssl.sh (Debian's {@code testssl.sh} package) against both TLS listeners: STARTTLS on
 * submission ({@code -t smtp}) and implicit TLS on smtps, read from its CSV report.
 *
 * <p>Only the protocol and cipher sections run here (about 20 s for both listeners at once);
 * the full scan, with the certificate, vulnerabilities and client simulations, is
 * {@code posta-bench/tls/testssl-scan.sh}.
 *
 * <p>testssl.sh contacts nothing but 127.0.0.1: {@code --nodns none} (no DNS lookups; the
 * targets are IP literals), no {@code --phone-out} (no CRL or OCSP fetches), and
 * {@code NXCONNECT=127.0.0.1:0}, which points its probes of the local openssl's options (by
 * default {@code s_client -connect invalid.}, a DNS query) at loopback.
 */
class TlsScanTest {
  private static final Path TESTSSL = Path.of("/usr/bin/testssl");

  /** testssl's sections: protocols, cipher categories, forward secrecy, server preference, each cipher. */
  private static final List<String> SECTIONS =
      List.of("--protocols", "--std", "--fs", "--server-preference", "--each-cipher", "-R");

  /** testssl's exit status is the sum of its checks' return values, except these: fatal errors. */
  private static final int FIRST_FATAL_EXIT = 242;

  /** Severities that fail the test: weaknesses, and problems of the scan itself (WARN, FATAL). */
  private static final Set<String> FAILING = Set.of("MEDIUM", "HIGH", "CRITICAL", "WARN", "FATAL");

  /**
   * Findings at a failing severity that are expected, by id, with the reason. (The self-signed
   * certificate's findings, cert_chain_of_trust, cert_revocation and cert_validityPeriod, come
   * from the server-defaults section, which does not run here; the script expects them.)
   */
  private static final Map<String, String> EXPECTED = Map.of(
      // WARN from the scanner's side: Debian's openssl has no GOST engine (the Recommends
      // libengine-gost-openssl1.1 is not installed); it says nothing about the server.
      "engine_problem", "No engine or GOST support");

  /** Must be "not offered". */
  private static final List<String> NOT_OFFERED = List.of(
      "SSLv2", "SSLv3", "TLS1", "TLS1_1",
      "cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW",
      "cipherlist_3DES_IDEA", "cipherlist_AVERAGE");

  /** Must be "offered" (TLS1_3 says "offered with final"). */
  private static final List<String> OFFERED = List.of("TLS1_2", "TLS1_3", "cipherlist_STRONG", "PFS");

  /**
   * Posta's TLS policy (dev.posta.tls.TlsPolicy.CIPHER_SUITES), by IANA name: every suite
   * testssl finds must be one of these. With the self-signed ECDSA certificate the RSA ones
   * cannot be negotiated.
   */
  private static final Set<String> POLICY_SUITES = Set.of(
      "TLS_AES_256_GCM_SHA384",
      "TLS_AES_128_GCM_SHA256",
      "TLS_CHACHA20_POLY1305_SHA256",
      "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
      "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");

  @TempDir Path tmp;

  /** One row of testssl's CSV: "id","fqdn/ip","port","severity","finding","cve","cwe". */
  record Finding(String id, String severity, String finding) {
    @Override
    public String toString() {
      return severity + " " + id + ": " + finding;
    }
  }

  record Scan(String name, E2e.Run run, List<Finding> findings) {
    List<Finding> all(String id) {
      return findings.stream().filter(f -> f.id().equals(id)).toList();
    }

    @Override
    public String toString() {
      return name;
    }
  }

  @Test
  void bothListenersOfferOnlyTls12And13WithStrongCiphers() throws Exception {
    assertThat(Files.isExecutable(TESTSSL))
        .as("testssl.sh is missing at %s: .ci/run must install testssl.sh "
            + "(apt-get install -y --no-install-recommends testssl.sh)", TESTSSL)
        .isTrue();

    try (var server = TestServer.start(tmp.resolve("data"));
        var pool = Executors.newVirtualThreadPerTaskExecutor()) {
      var submission = CompletableFuture.supplyAsync(
          () -> scan("submission", "-t", "smtp", "127.0.0.1:" + server.submissionPort()), pool);
      var smtps = CompletableFuture.supplyAsync(() -> scan("smtps", "127.0.0.1:" + server.smtpsPort()), pool);

      var soft = new SoftAssertions();
      for (Scan scan : List.of(submission.join(), smtps.join())) check(soft, scan);
      soft.assertAll();
    }
  }

  private Scan scan(String name, String... target) {
    Path csv = tmp.resolve(name + ".csv");
    List<String> command = new ArrayList<>(List.of("/usr/bin/env", "NXCONNECT=127.0.0.1:0",
        TESTSSL.toString(), "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none",
        "--connect-timeout", "10", "--openssl-timeout", "10"));
    command.addAll(SECTIONS);
    command.addAll(List.of("--csvfile", csv.toString()));
    command.addAll(List.of(target));
    E2e.Run run = E2e.run(Duration.ofSeconds(150), command);
    assertThat(run.exit()).as("testssl failed on %s: %s", name, run).isLessThan(FIRST_FATAL_EXIT);
    assertThat(csv).as("testssl wrote no CSV for %s: %s", name, run).isNotEmptyFile();
    return new Scan(name, run, parseCsv(csv));
  }

  /** testssl quotes every field and turns quotes and newlines inside findings into ' and spaces. */
  private static List<Finding> parseCsv(Path csv) {
    try {
      List<String> lines = Files.readAllLines(csv, StandardCharsets.UTF_8);
      assertThat(lines).as("CSV header of %s", csv).isNotEmpty();
      assertThat(lines.getFirst()).startsWith("\"id\",\"fqdn/ip\",\"port\",\"severity\",\"finding\"");
      List<Finding> out = new ArrayList<>();
      for (String line : lines.subList(1, lines.size())) {
        if (line.isBlank()) continue;
        assertThat(line).as("CSV line").startsWith("\"").endsWith("\"");
        String[] f = line.substring(1, line.length() - 1).split("\",\"", -1);
        assertThat(f.length).as("fields in CSV line %s", line).isGreaterThanOrEqualTo(5);
        out.add(new Finding(f[0], f[3], f[4]));
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void check(SoftAssertions soft, Scan scan) {
    for (String id : NOT_OFFERED) {
      soft.assertThat(scan.all(id)).as("%s: %s", id, scan).extracting(Finding::finding).containsExactly("not offered");
    }
    for (String id : OFFERED) {
      soft.assertThat(scan.all(id)).as("%s: %s", id, scan).singleElement()
          .extracting(Finding::finding).asString().startsWith("offered");
    }
    soft.assertThat(scan.all("cipher_order")).as("cipher_order: %s", scan)
        .extracting(Finding::finding).containsExactly("server");

    // cipher_xHHHH: "xc02c   ECDHE-ECDSA-AES256-GCM-SHA384   ECDH 253   AESGCM   256   TLS_ECDHE_..."
    List<String> suites = scan.findings().stream().filter(f -> f.id().startsWith("cipher_x"))
        .map(f -> f.finding().substring(f.finding().lastIndexOf(' ') + 1)).toList();
    soft.assertThat(suites).as("cipher suites offered on %s", scan)
        .contains("TLS_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256")
        .allMatch(POLICY_SUITES::contains);

    List<Finding> bad = scan.findings().stream()
        .filter(f -> FAILING.contains(f.severity()))
        .filter(f -> !(EXPECTED.containsKey(f.id()) && f.finding().contains(EXPECTED.get(f.id()))))
        .toList();
    soft.assertThat(bad).as("findings at MEDIUM or worse, or scan problems, on %s (testssl %s)", scan, scan.run())
        .isEmpty();
  }
}
