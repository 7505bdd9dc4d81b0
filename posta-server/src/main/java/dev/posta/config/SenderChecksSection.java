package dev.posta.config;

import dev.posta.config.Toml.Bool;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code [sender-checks]} section: whether mail from other servers gets SPF, DKIM and DMARC
 * checks and an Authentication-Results field, and what a DMARC policy of reject does. Left out,
 * both are on ({@link PostaConfig.SenderChecks#DEFAULTS}): check everything but the loopback
 * clients' mail, enforce reject.
 * Unknown keys are refused.
 */
final class SenderChecksSection {
  static final List<String> KEYS = List.of("enabled", "dmarc-reject", "skip-networks");

  private final TableReader reader;

  SenderChecksSection(TableReader reader) {
    this.reader = reader;
  }

  PostaConfig.SenderChecks read(Table root) {
    Table table = reader.get(root, "", "sender-checks", Table.class).orElse(null);
    PostaConfig.SenderChecks d = PostaConfig.SenderChecks.DEFAULTS;
    if (table == null) return d;
    reader.unknownKeys(table, "in [sender-checks]", KEYS);
    boolean enabled = reader.get(table, "sender-checks", "enabled", Bool.class).map(Bool::value).orElse(d.enabled());
    boolean reject = d.rejectOnDmarcReject();
    Str action = reader.get(table, "sender-checks", "dmarc-reject", Str.class).orElse(null);
    if (action != null) {
      switch (action.value()) {
        case "reject" -> reject = true;
        case "quarantine" -> reject = false;
        default -> reader.problem(action.line(), "sender-checks.dmarc-reject: \"" + action.value() + "\" is not \"reject\" or \"quarantine\"");
      }
    }
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
    return new PostaConfig.SenderChecks(enabled, reject, skip);
  }
}
