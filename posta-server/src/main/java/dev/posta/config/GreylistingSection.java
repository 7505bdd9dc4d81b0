package dev.posta.config;

import static dev.posta.config.ConfigValues.domainName;

import dev.posta.config.PostaConfig.Greylisting;
import dev.posta.config.PostaConfig.Protocol;
import dev.posta.config.Toml.Bool;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The {@code [greylisting]} section (RFC 6647): off unless {@code enabled = true}; every key left
 * out is {@link Greylisting#DEFAULTS}'. Unknown keys are refused; each bad value is a problem on
 * its line. {@code exempt-networks = []} greylists the loopback too (a test on 127.0.0.1), and
 * {@code listeners} names the SMTP listener kinds only ({@code smtp}, {@code submission},
 * {@code smtps}).
 */
final class GreylistingSection {
  static final List<String> KEYS = List.of("enabled", "delay", "retry-window", "expire", "auto-allowlist-after", "max-entries",
      "exempt-networks", "exempt-spf-domains", "listeners");

  private final TableReader reader;

  GreylistingSection(TableReader reader) {
    this.reader = reader;
  }

  Greylisting read(Table root) {
    Table table = reader.get(root, "", "greylisting", Table.class).orElse(null);
    Greylisting d = Greylisting.DEFAULTS;
    if (table == null) return d;
    String s = "greylisting";
    reader.unknownKeys(table, "in [greylisting]", KEYS);
    boolean enabled = reader.get(table, s, "enabled", Bool.class).map(Bool::value).orElse(d.enabled());
    // A real MTA retries within minutes to an hour; a delay past a day would refuse mail for good.
    Duration delay = reader.duration(table, s, "delay", Duration.ZERO, Duration.ofDays(1)).orElse(d.delay());
    Duration window = reader.duration(table, s, "retry-window", Duration.ofMinutes(1), Duration.ofDays(30)).orElse(d.retryWindow());
    if (window.compareTo(delay) <= 0 && table.entries().containsKey("retry-window")) {
      reader.problem(table.entries().get("retry-window").line(), s + ".retry-window: must be longer than the delay (" + ConfigValues.shown(delay) + ")");
    }
    Duration expire = reader.duration(table, s, "expire", Duration.ofDays(1), Duration.ofDays(3650)).orElse(d.expire());
    int autoAllowlist = reader.bounded(table, s, "auto-allowlist-after", 0, 1000).orElse(d.autoAllowlistAfter());
    int maxEntries = reader.bounded(table, s, "max-entries", 1000, 100_000_000).orElse(d.maxEntries());
    List<Network> exempt = d.exemptNetworks();
    if (table.entries().containsKey("exempt-networks")) {
      exempt = new ArrayList<>();
      for (Str n : reader.strings(table, s, "exempt-networks")) {
        try {
          exempt.add(Network.parse(n.value()));
        } catch (IllegalArgumentException e) {
          reader.problem(n.line(), s + ".exempt-networks: " + e.getMessage());
        }
      }
    }
    List<String> spfDomains = new ArrayList<>();
    for (Str n : reader.strings(table, s, "exempt-spf-domains")) {
      reader.valid(n.line(), s + ".exempt-spf-domains", () -> domainName(n.value(), "domain name")).ifPresent(spfDomains::add);
    }
    Set<Protocol> listeners = reader.smtpListeners(table, s, d.listeners());
    return new Greylisting(enabled, delay, window, expire, autoAllowlist, maxEntries, exempt, spfDomains, listeners);
  }
}
