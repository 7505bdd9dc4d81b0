package dev.posta.web.page;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.posta.config.PostaConfig;
import dev.posta.mailauth.dkim.DkimAlgorithm;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import dev.posta.testing.Dnsmasq;
import dev.posta.testing.TestServer;
import dev.posta.web.WebServer;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The domains pages against dnsmasq on loopback: the list of local domains as configured, with
 * their DKIM keys and accounts; one domain's DNS health with OK, MISSING, WRONG and UNKNOWN rows
 * exactly as {@code posta dns check} finds them, and the zone file {@code posta dns} prints; 404
 * for a domain that is not local, whose records are never looked up.
 */
class DomainPagesTest {
  @TempDir static Path shared;
  @TempDir Path dir;
  static Dnsmasq dns;
  static DkimKeyFiles.Generated key;
  TestServer server;
  final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  final Logger webLog = (Logger) LoggerFactory.getLogger(WebServer.class);

  @BeforeAll
  static void zones() throws Exception {
    key = DkimKeyFiles.generate(shared.resolve("keys"), "example.org", "s1", DkimAlgorithm.KeyType.ED25519);
    dns = Dnsmasq.start(shared, z -> z
        // example.org: everything as posta dns prints it.
        .mx("example.org", "mail.example.org", 10)
        .a("mail.example.org", "192.0.2.10")
        .txt("example.org", "v=spf1 ip4:192.0.2.10 -all")
        .txt("s1._domainkey.example.org", DkimKeyFiles.txtStrings(key.publicKey()).toArray(String[]::new))
        .txt("_dmarc.example.org", "v=DMARC1; p=none; rua=mailto:postmaster@example.org")
        .ptr("192.0.2.10", "mail.example.org")
        // wrong.example: its mail goes elsewhere, and it has no SPF or DMARC record.
        .mx("wrong.example", "mx.elsewhere.net", 10)
        // broken.example: its DNS server fails.
        .servfail("broken.example"));
  }

  @AfterAll
  static void stopDns() {
    if (dns != null) dns.close();
  }

  @BeforeEach
  void start() throws Exception {
    java.nio.file.Files.createDirectories(dir);
    copy(shared.resolve("keys"), dir); // the key in the server's data folder, so it signs for example.org
    server = TestServer.start(dir, c -> TestServer.withHttp(c.toBuilder().hostname("mail.example.org")
        .domains(List.of(c.domains().getFirst(),
            new PostaConfig.LocalDomain("example.org", Set.of("alice", "bob"), false, Optional.of("alice@example.org"),
                Map.of("postmaster", List.of("alice@example.org"), "sales", List.of("bob@example.org", "carol@elsewhere.net"))),
            new PostaConfig.LocalDomain("wrong.example", Set.of(), true, Optional.empty(), Map.of()),
            new PostaConfig.LocalDomain("broken.example", Set.of(), true, Optional.empty(), Map.of())))
        .delivery(c.delivery().toBuilder().dns(List.of(dns.address()), 25).build()).build()));
    server.server().users().add("admin@localhost", "the admin's password".toCharArray(), true);
    server.server().users().add("alice@example.org", "alice's long password".toCharArray());
    server.server().users().add("bob@example.org", "bob's long password!".toCharArray());
    logs.start();
    webLog.addAppender(logs);
  }

  @AfterEach
  void stop() {
    webLog.detachAppender(logs);
    server.close();
  }

  private static void copy(Path from, Path to) throws Exception {
    try (var files = java.nio.file.Files.walk(from)) {
      for (Path p : files.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (java.nio.file.Files.isDirectory(p)) java.nio.file.Files.createDirectories(target);
        else java.nio.file.Files.copy(p, target);
      }
    }
  }

  PageClient admin() throws Exception {
    return PageClient.signedIn(server.httpPort(), "admin@localhost", "the admin's password");
  }

  @Test
  void theListShowsEachLocalDomainAsConfigured() throws Exception {
    try (PageClient admin = admin()) {
      HttpResponse<String> r = admin.get("/admin/domains");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(flat(r.body())).contains("<title>Domains · Posta</title>", "<a href=\"/admin/domains\" aria-current=\"page\">Domains</a>",
          "<h1>Domains <small>mail for them is kept here; this server is mail.example.org</small></h1>", """
          <tr>
            <td class="name">example.org</td>
            <td>2 listed</td>
            <td>alice@example.org</td>
            <td><ul class="plain"><li>postmaster → alice@example.org</li><li>sales → bob@example.org, carol@elsewhere.net</li></ul></td>
            <td><ul class="plain"><li>s1 (ed25519-sha256)</li></ul></td>
            <td class="count">2</td>
            <td><a href="/admin/domains/example.org">DNS health</a></td>
          </tr>""".replace("\n  ", "\n"), """
          <tr>
            <td class="name">wrong.example</td>
            <td>any local part</td>
            <td>none</td>
            <td>none</td>
            <td><span class="status missing">no key</span></td>
            <td class="count">0</td>
            <td><a href="/admin/domains/wrong.example">DNS health</a></td>
          </tr>""".replace("\n  ", "\n"), """
            <td class="name">localhost</td>""");
    }
  }

  @Test
  void aDomainWhoseRecordsArePublishedIsAllOk() throws Exception {
    try (PageClient admin = admin()) {
      HttpResponse<String> r = admin.get("/admin/domains/example.org");
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(flat(r.body())).contains("<title>DNS of example.org · Posta</title>", "<h1>DNS of example.org <small>for Posta on mail.example.org</small></h1>",
          "<p class=\"summary\">All 6 records of example.org are OK.</p>", """
          <tr>
            <td><span class="status ok">OK</span></td>
            <td>MX</td>
            <td class="name">example.org</td>
            <td>mail goes to mail.example.org</td>
          </tr>""".replace("\n  ", "\n"));
      assertThat(findings(r.body())).containsExactly(
          "OK|MX|example.org|mail goes to mail.example.org",
          "OK|A|mail.example.org|192.0.2.10",
          "OK|SPF|example.org|\"v=spf1 ip4:192.0.2.10 -all\" passes 192.0.2.10",
          "OK|DKIM|s1._domainkey.example.org|the public key of " + dir.resolve("dkim/example.org/s1.pem").toAbsolutePath(),
          "OK|DMARC|_dmarc.example.org|p=none (monitoring: move to p=quarantine once the reports show only your mail)",
          "OK|PTR|192.0.2.10|mail.example.org, which resolves back to 192.0.2.10");
      // The records to publish, as posta dns prints them: the zone file in a pre, escaped.
      assertThat(r.body()).contains("<pre class=\"zone\">; DNS records for example.org, for Posta on mail.example.org to receive its mail and to send mail\n",
          "example.org. 3600 IN MX 10 mail.example.org.\n", "example.org. 3600 IN TXT \"v=spf1 mx -all\"\n",
          "_dmarc.example.org. 3600 IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@example.org\"\n");
    }
    assertThat(logs.list.stream().map(ILoggingEvent::getFormattedMessage))
        .contains("http[127.0.0.1]: admin@localhost: checked the DNS records of example.org: all 6 OK");
  }

  @Test
  void missingWrongAndUnknownRecordsWithTheirFixes() throws Exception {
    try (PageClient admin = admin()) {
      HttpResponse<String> wrong = admin.get("/admin/domains/WRONG.example");
      assertThat(wrong.statusCode()).isEqualTo(200);
      assertThat(flat(wrong.body())).contains("<p class=\"summary\">4 of 6 records of wrong.example to fix; reload this page after.</p>", """
          <tr>
            <td><span class="status wrong">WRONG</span></td>
            <td>MX</td>
            <td class="name">wrong.example</td>
            <td>mail goes to mx.elsewhere.net, not to mail.example.org<br><span class="fix">fix: publish wrong.example. 3600 IN MX 10 mail.example.org. (and remove the others unless they relay to mail.example.org)</span></td>
          </tr>""".replace("\n  ", "\n"));
      assertThat(findings(wrong.body())).containsExactly(
          "WRONG|MX|wrong.example|mail goes to mx.elsewhere.net, not to mail.example.org"
              + "fix: publish wrong.example. 3600 IN MX 10 mail.example.org. (and remove the others unless they relay to mail.example.org)",
          "OK|A|mail.example.org|192.0.2.10",
          "MISSING|SPF|wrong.example|no SPF recordfix: publish wrong.example. 3600 IN TXT \"v=spf1 mx -all\"",
          "MISSING|DKIM|wrong.example|no signing key on disk, so Posta does not sign its mail"
              + "fix: posta dkim keygen wrong.example, reload Posta, and publish the record it prints",
          "MISSING|DMARC|_dmarc.wrong.example|no DMARC recordfix: publish _dmarc.wrong.example. 3600 IN TXT \"v=DMARC1; p=none; rua=mailto:postmaster@wrong.example\"",
          "OK|PTR|192.0.2.10|mail.example.org, which resolves back to 192.0.2.10");

      HttpResponse<String> broken = admin.get("/admin/domains/broken.example");
      assertThat(broken.statusCode()).isEqualTo(200);
      assertThat(findings(broken.body())).first().asString().startsWith("UNKNOWN|MX|broken.example|")
          .endsWith("fix: check again; if it persists, ask the DNS provider");
      assertThat(broken.body()).contains("<span class=\"status unknown\">UNKNOWN</span>");
    }
  }

  @Test
  void aDomainThatIsNotLocalIs404AndNotLookedUp() throws Exception {
    try (PageClient admin = admin()) {
      for (String path : new String[] {"/admin/domains/elsewhere.net", "/admin/domains/example.org/more", "/admin/domains/mail.example.org"}) {
        HttpResponse<String> r = admin.get(path);
        assertThat(r.statusCode()).as(path).isEqualTo(404);
        assertThat(r.body()).as(path).contains("<h1>Not found</h1>");
      }
      HttpResponse<String> post = admin.post("/admin/domains/example.org", Map.of());
      assertThat(post.statusCode()).isEqualTo(405);
      assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
    }
    assertThat(logs.list.stream().map(ILoggingEvent::getFormattedMessage)).noneMatch(l -> l.contains("checked the DNS records"));
  }

  /** The page with every line's indentation taken away, so that fragments of several lines compare whatever the template's nesting. */
  private static String flat(String page) {
    return page.replaceAll("\n[ \t]+", "\n");
  }

  /** Each row of the findings as status|kind|name|found and fix, tags stripped. */
  private static List<String> findings(String page) {
    String body = page.substring(page.indexOf("<tbody>"), page.indexOf("</tbody>"));
    List<String> rows = new ArrayList<>();
    for (String tr : body.split("<tr>")) {
      if (!tr.contains("<td")) continue;
      List<String> cells = new ArrayList<>();
      for (String td : tr.split("<td")) {
        if (!td.contains("</td>")) continue;
        cells.add(td.substring(td.indexOf('>') + 1, td.lastIndexOf("</td>")).replaceAll("<[^>]+>", "").strip());
      }
      rows.add(String.join("|", cells));
    }
    return rows;
  }
}
