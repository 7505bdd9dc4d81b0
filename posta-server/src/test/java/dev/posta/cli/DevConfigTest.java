package dev.posta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.PostaServer;
import dev.posta.config.ConfigException;
import dev.posta.config.PostaConfig;
import dev.posta.config.PostaConfig.Capture.RecordType;
import dev.posta.config.PostaConfig.Capture.ZoneKey;
import dev.posta.config.PostaConfig.Capture.ZoneRecord;
import dev.posta.mailauth.dkim.DkimAlgorithm;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code posta dev --config FILE}: capture mode's {@code [capture.dns]} records are read with
 * {@code file:line} for every problem, nothing but {@code [capture]} is taken from the file, and
 * a message from the developer's domain is checked against their records (the header asserted
 * whole, as the captured message holds it).
 */
class DevConfigTest {
  @TempDir Path dir;

  private DevCommand dev(String... args) {
    CommandLine cli = new CommandLine(new Posta());
    return (DevCommand) cli.parseArgs(args).subcommand().commandSpec().userObject();
  }

  /** What {@code posta dev --config FILE} serves, on one SMTP listener on a port the OS picks. */
  private PostaConfig config(Path file) throws ConfigException {
    return dev("dev", "--config", file.toString(), "--data", dir.resolve("data").toString()).config().toBuilder()
        .listeners(List.of(new PostaConfig.Listener(PostaConfig.Protocol.SMTP, new java.net.InetSocketAddress("127.0.0.1", 0))))
        .build();
  }

  @Test
  void recordsAndKeysAreReadWithWhereTheyWereGiven() throws Exception {
    Path key = DkimKeyFiles.generate(dir, "shop.example", "s2", DkimAlgorithm.KeyType.ED25519).file();
    Path file = Files.writeString(dir.resolve("posta-dev.toml"), """
        # the shop's real records, to check them before they go live
        [capture.dns]
        records = [
          "Shop.Example. TXT v=spf1 ip4:127.0.0.1 -all",
          "_dmarc.shop.example TXT \\"v=DMARC1; \\" \\"p=reject\\"",
          "mail.shop.example A 127.0.0.1",
          "mail.shop.example AAAA ::1",
          "shop.example MX 10 mail.shop.example.",
          "127.0.0.1 PTR mail.shop.example",
        ]
        dkim-keys = ["shop.example s2 dkim/shop.example/s2.pem"]
        """);
    PostaConfig.Capture capture = config(file).capture();
    assertThat(capture.enabled()).isTrue();
    assertThat(capture.zone().records()).containsExactly(
        new ZoneRecord("shop.example", RecordType.TXT, "v=spf1 ip4:127.0.0.1 -all", file + ":4"),
        new ZoneRecord("_dmarc.shop.example", RecordType.TXT, "v=DMARC1; p=reject", file + ":5"),
        new ZoneRecord("mail.shop.example", RecordType.A, "127.0.0.1", file + ":6"),
        new ZoneRecord("mail.shop.example", RecordType.AAAA, "0:0:0:0:0:0:0:1", file + ":7"),
        new ZoneRecord("shop.example", RecordType.MX, "mail.shop.example", file + ":8"),
        new ZoneRecord("127.0.0.1", RecordType.PTR, "mail.shop.example", file + ":9"));
    assertThat(capture.zone().dkimKeys()).containsExactly(new ZoneKey("shop.example", "s2", key, file + ":11"));
  }

  @Test
  void everyProblemIsReportedAtItsLine() throws Exception {
    Path file = Files.writeString(dir.resolve("posta-dev.toml"), """
        data = "/var/lib/posta"
        [capture.dns]
        records = [
          "shop.example TXT",
          "shop.example CNAME other.example",
          "shop..example TXT v=spf1 -all",
          "mail.shop.example A ::1",
          "mail.shop.example AAAA 127.0.0.1",
          "shop.example MX 10 not_a host",
          "mail.shop.example PTR 127.0.0.1",
          "shop.example TXT \\"v=spf1",
        ]
        dkim-keys = [
          "shop.example s_2 s2.pem",
          "shop.example s2",
          "shop_example s2 s2.pem",
        ]
        typo = 1
        """);
    assertThatThrownBy(() -> config(file)).isInstanceOfSatisfying(ConfigException.class, e -> assertThat(e.problems()).containsExactly(
        file + ":1: 'data': posta dev reads only [capture] from its --config file (its data folder, listeners and logins come from its options)",
        file + ":4: capture.dns.records: 'shop.example TXT': expected NAME TYPE VALUE, like \"example.com TXT v=spf1 ip4:127.0.0.1 -all\"",
        file + ":5: capture.dns.records: 'CNAME' is not a record type the test zone holds (TXT, A, AAAA, MX, PTR)",
        file + ":6: capture.dns.records: 'shop..example' is not a DNS name",
        file + ":7: capture.dns.records: mail.shop.example A: '::1' is not an IPv4 address",
        file + ":8: capture.dns.records: mail.shop.example AAAA: '127.0.0.1' is not an IPv6 address",
        file + ":9: capture.dns.records: shop.example MX: '10 not_a host' is not a host name",
        file + ":10: capture.dns.records: a PTR record is named by its address (127.0.0.1, ::1), got 'mail.shop.example'",
        file + ":11: capture.dns.records: shop.example TXT: unbalanced quotes in \"v=spf1",
        file + ":14: capture.dns.dkim-keys: 's_2' is not a selector (letters, digits and hyphens, labels separated by dots)",
        file + ":15: capture.dns.dkim-keys: 'shop.example s2': expected DOMAIN SELECTOR KEY-FILE, like \"example.com s1 keys/s1.pem\"",
        file + ":16: capture.dns.dkim-keys: 'shop_example' is not a valid domain name",
        file + ":18: unknown key 'typo' in [capture.dns]"));
  }

  @Test
  void aMessageFromTheDevelopersDomainIsCheckedAgainstTheirRecords() throws Exception {
    Path file = Files.writeString(dir.resolve("posta-dev.toml"), """
        [capture.dns]
        records = [
          "shop.example TXT v=spf1 ip4:127.0.0.1 -all",
          "_dmarc.shop.example TXT v=DMARC1; p=quarantine",
        ]
        """);
    try (PostaServer server = new PostaServer(config(file)).start()) {
      assertThat(DevCommand.banner(server, false))
          .contains("  checks      each message gets Authentication-Results (SPF, DKIM, DMARC; recorded, never refused) from a test DNS zone, "
              + "no real DNS: example.test, and 2 record(s) and 0 DKIM key(s) of --config\n")
          .contains("  test keys   example.test signs with selector posta-rsa (" + dir.resolve("data/test-domain/rsa.pem")
              + ") or posta-ed25519 (" + dir.resolve("data/test-domain/ed25519.pem") + ")\n");
      int port = server.address(PostaConfig.Protocol.SMTP).getPort();
      String send = """
          import smtplib
          with smtplib.SMTP("127.0.0.1", %d) as s:
              print(s.sendmail("orders@shop.example", ["ada@customer.example"],
                  "From: orders@shop.example\\r\\nTo: ada@customer.example\\r\\nSubject: Order 42\\r\\n\\r\\nThanks\\r\\n"))
          """.formatted(port);
      ProcessBuilder pb = new ProcessBuilder("/usr/bin/python3", "-c", send).redirectErrorStream(true);
      pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(out).isEqualTo("{}\n");
      Path inbox = dir.resolve("data/mail/customer.example/ada/Maildir/new");
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while ((!Files.isDirectory(inbox) || Files.list(inbox).findAny().isEmpty()) && System.nanoTime() < deadline) Thread.sleep(20);
      List<Path> files = Files.list(inbox).toList();
      assertThat(files).hasSize(1);
      String message = Files.readString(files.getFirst(), StandardCharsets.ISO_8859_1).replace("\r\n", "\n");
      assertThat(message).contains("""
          Authentication-Results: localhost;
          \tspf=pass (shop.example: ip4:127.0.0.1 matched 127.0.0.1) smtp.mailfrom=shop.example;
          \tdkim=none;
          \tdmarc=pass (p=quarantine dis=accept; SPF pass for shop.example) header.from=shop.example
          Received: from""");
    }
  }
}
