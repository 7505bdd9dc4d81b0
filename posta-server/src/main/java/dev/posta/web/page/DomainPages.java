package dev.posta.web.page;

import dev.posta.PostaServer;
import dev.posta.config.PostaConfig;
import dev.posta.dns.ResolverRecords;
import dev.posta.mailauth.dkim.SigningKey;
import dev.posta.mailauth.publish.BoundedRecords;
import dev.posta.mailauth.publish.PublishedRecords;
import dev.posta.mailauth.publish.RequiredRecords;
import dev.posta.web.Exchange;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local domains, {@code /admin/domains}: each as the configuration's {@code [domains]} has
 * it (every local part a mailbox or the listed ones, the catch-all, the aliases), the DKIM keys
 * that sign its mail as the server loaded them, and how many accounts it has; and one domain's
 * DNS health, {@code /admin/domains/<domain>}: the records {@code posta dns DOMAIN} prints
 * ({@link RequiredRecords}, zone-file form, to copy) and the check {@code posta dns check DOMAIN}
 * makes ({@link PublishedRecords}), record by record OK, MISSING, WRONG, CONFLICT or UNKNOWN
 * with the fix. Governed by RFC 5321 §5.1, RFC 7208, RFC 6376 and RFC 7489, as those are.
 *
 * <p>As {@code posta dns check} without options: the host is the configuration's {@code
 * hostname}, its addresses are its A/AAAA records as DNS has them, the keys those that sign for
 * the domain, the DNS servers {@code [outbound] dns-servers} (else the system's). Each question
 * waits {@value #LOOKUP_SECONDS} s at most and the whole check {@value #BUDGET_SECONDS} s: what
 * is not answered by then is UNKNOWN, so the page never hangs on a silent DNS server. Nothing is
 * looked up for a domain that is not local (404), so the page cannot be made to ask DNS about
 * any name. Each check logs one line: {@code WebServer: http[192.0.2.7]: admin@example.org:
 * checked the DNS records of example.org: 2 of 8 to fix}.
 */
final class DomainPages implements OperatorPages.Section {
  private static final Logger log = LoggerFactory.getLogger(dev.posta.web.WebServer.class);
  static final int LOOKUP_SECONDS = 3;
  static final int BUDGET_SECONDS = 10;

  private final PostaServer server;
  private final Pages pages;
  DomainPages(PostaServer server, Pages pages) {
    this.server = server;
    this.pages = pages;
  }

  @Override
  public void handle(Exchange x, Sessions.Session s, Views.Layout layout, List<String> path) throws PageError {
    if (path.size() > 1) throw PageError.notFound();
    Pages.allow(x, "GET, HEAD");
    PostaConfig config = server.config();
    if (path.isEmpty()) {
      pages.html(x, 200, "domains.jte", domains(layout, config), null);
      return;
    }
    String wanted = path.getFirst().toLowerCase(Locale.ROOT);
    Optional<PostaConfig.LocalDomain> domain = config.domains().stream().filter(d -> d.name().equals(wanted)).findFirst();
    if (domain.isEmpty()) throw PageError.notFound();
    pages.html(x, 200, "domain.jte", health(x, s, layout, config, domain.get().name()), null);
  }

  private DomainViews.DomainsPage domains(Views.Layout layout, PostaConfig config) {
    Map<String, Integer> accounts = new HashMap<>();
    try {
      for (String address : server.users().list()) accounts.merge(address.substring(address.indexOf('@') + 1), 1, Integer::sum);
    } catch (IOException e) {
      log.warn("cannot read the accounts to count them by domain: {}", e.toString());
    }
    List<DomainViews.Domain> rows = new ArrayList<>();
    for (PostaConfig.LocalDomain d : config.domains()) {
      List<String> aliases = d.aliases().entrySet().stream().sorted(Map.Entry.comparingByKey())
          .map(e -> e.getKey() + " → " + String.join(", ", e.getValue())).toList();
      List<String> dkim = new ArrayList<>();
      for (SigningKey k : server.dkimKeys().forSender(d.name())) {
        dkim.add(k.selector() + " (" + k.algorithm().tag + ")" + (k.domain().equals(d.name()) ? "" : " of " + k.domain()));
      }
      rows.add(new DomainViews.Domain(d.name(), d.anyLocalPart(), d.mailboxes().size(), d.catchAll().orElse(null), aliases, dkim,
          accounts.getOrDefault(d.name(), 0), "/admin/domains/" + d.name()));
    }
    return new DomainViews.DomainsPage(layout.withTitle("Domains"), rows, config.hostname());
  }

  /** The records {@code domain} needs and how DNS has them now, within the check's time budget. */
  private DomainViews.DnsPage health(Exchange x, Sessions.Session s, Views.Layout layout, PostaConfig config, String domain) {
    Views.Layout titled = layout.withTitle("DNS of " + domain);
    String host = RequiredRecords.publicName(config.hostname());
    if (host == null) {
      return new DomainViews.DnsPage(titled, domain, config.hostname(), null, List.of(), null, "The host name is '" + config.hostname()
          + "', which other mail servers cannot look up: set hostname in " + config.source().map(Object::toString).orElse("the configuration file")
          + " to this server's public name.");
    }
    RequiredRecords required = RequiredRecords.of(domain, host, List.of(), server.dkimKeys());
    ResolverRecords dns;
    try {
      dns = new ResolverRecords(config.delivery().dnsServers(), Duration.ofSeconds(LOOKUP_SECONDS));
    } catch (IllegalArgumentException e) {
      return new DomainViews.DnsPage(titled, domain, host, required.zoneFile(), List.of(), null, "The DNS servers cannot be asked: " + e.getMessage());
    }
    List<PublishedRecords.Finding> found = new PublishedRecords(new BoundedRecords(dns, Duration.ofSeconds(BUDGET_SECONDS)), server.clock()).check(required);
    long problems = found.stream().filter(f -> f.status() != PublishedRecords.Status.OK).count();
    log.info("http[{}]: {}: checked the DNS records of {}: {}", x.client().getHostAddress(), s.account, domain,
        problems == 0 ? "all " + found.size() + " OK" : problems + " of " + found.size() + " to fix");
    String summary = problems == 0 ? "All " + found.size() + " records of " + domain + " are OK."
        : problems + " of " + found.size() + " records of " + domain + " to fix; reload this page after.";
    List<DomainViews.Finding> findings = found.stream()
        .map(f -> new DomainViews.Finding(f.status().name(), f.kind(), f.name(), f.found(), f.fix())).toList();
    return new DomainViews.DnsPage(titled, domain, host, required.zoneFile(), findings, summary, null);
  }
}
