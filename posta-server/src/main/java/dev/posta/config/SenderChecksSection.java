package dev.posta.config;

import static dev.posta.config.ConfigValues.domainName;
import static dev.posta.config.TableReader.join;

import dev.posta.config.PostaConfig.SenderChecks.Rules;
import dev.posta.config.Toml.Bool;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code [sender-checks]} section: whether mail from other servers gets SPF, DKIM and DMARC
 * checks and an Authentication-Results field, and what a DMARC policy of reject does; both may
 * differ for a local domain, in {@code [sender-checks.domains."example.org"]}, whose keys left
 * out are the section's. Left out, both are on ({@link PostaConfig.SenderChecks#DEFAULTS}):
 * check everything but the loopback clients' mail, enforce reject.
 * Unknown keys, and domains that are not local, are refused.
 */
final class SenderChecksSection {
  static final List<String> KEYS = List.of("enabled", "dmarc-reject", "skip-networks", "domains");
  static final List<String> DOMAIN_KEYS = List.of("enabled", "dmarc-reject");

  private final TableReader reader;

  SenderChecksSection(TableReader reader) {
    this.reader = reader;
  }

  /** {@code localDomains}: the names of the local domains, lower-case A-labels. */
  PostaConfig.SenderChecks read(Table root, Set<String> localDomains) {
    Table table = reader.get(root, "", "sender-checks", Table.class).orElse(null);
    PostaConfig.SenderChecks d = PostaConfig.SenderChecks.DEFAULTS;
    if (table == null) return d;
    reader.unknownKeys(table, "in [sender-checks]", KEYS);
    // As written, before Rules forgets the DMARC action of checks turned off: a domain inherits it.
    boolean enabled = enabled(table, "sender-checks", d.rules().enabled());
    boolean reject = rejects(table, "sender-checks", d.rules().rejectOnDmarcReject());
    List<Network> skip = d.skipNetworks();
    if (table.entries().containsKey("skip-networks")) {
      skip = new ArrayList<>();
      for (Str s : reader.strings(table, "sender-checks", "skip-networks")) {
        try {
          skip.add(Network.parse(s.value()));
        } catch (IllegalArgumentException e) {
          reader.problem(s.line(), "sender-checks.skip-networks: " + e.getMessage());
        }
      }
    }
    Map<String, Rules> domainRules = new LinkedHashMap<>();
    Table domains = reader.get(table, "sender-checks", "domains", Table.class).orElse(null);
    if (domains != null) {
      Map<String, Integer> firstLine = new LinkedHashMap<>();
      for (var entry : domains.entries().entrySet()) {
        String path = join("sender-checks.domains", entry.getKey());
        int line = entry.getValue().line();
        if (!(entry.getValue() instanceof Table t)) {
          reader.problem(line, path + ": expected a table, got " + TableReader.typeName(entry.getValue()));
          continue;
        }
        reader.unknownKeys(t, "in [" + path + "]", DOMAIN_KEYS);
        String domain = reader.valid(line, path, () -> domainName(entry.getKey(), "domain name")).orElse(null);
        if (domain == null) continue;
        Integer seen = firstLine.putIfAbsent(domain, line);
        if (seen != null) {
          reader.problem(line, path + ": domain '" + domain + "' is listed twice (first on line " + seen + ")");
        } else if (!localDomains.contains(domain)) {
          reader.problem(line, path + ": '" + domain + "' is not a local domain (checks apply to mail for the domains in [domains])");
        } else {
          domainRules.put(domain, new Rules(enabled(t, path, enabled), rejects(t, path, reject)));
        }
      }
    }
    return new PostaConfig.SenderChecks(new Rules(enabled, reject), domainRules, skip);
  }

  private boolean enabled(Table table, String path, boolean otherwise) {
    return reader.get(table, path, "enabled", Bool.class).map(Bool::value).orElse(otherwise);
  }

  private boolean rejects(Table table, String path, boolean otherwise) {
    Str action = reader.get(table, path, "dmarc-reject", Str.class).orElse(null);
    if (action == null) return otherwise;
    return switch (action.value()) {
      case "reject" -> true;
      case "quarantine" -> false;
      default -> {
        reader.problem(action.line(), path + ".dmarc-reject: \"" + action.value() + "\" is not \"reject\" or \"quarantine\"");
        yield otherwise;
      }
    };
  }
}
