package dev.posta.config;

import static dev.posta.config.ConfigValues.domainName;

import dev.posta.config.PostaConfig.Protocol;
import dev.posta.config.PostaConfig.Screen;
import dev.posta.config.PostaConfig.Screen.Code;
import dev.posta.config.PostaConfig.Screen.DnsList;
import dev.posta.config.Toml.Int;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import dev.posta.config.Toml.Value;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The {@code [screen]} section and its {@code [[screen.dnsbl]]} and {@code [[screen.dnswl]]}
 * tables (Postfix's postscreen_dnsbl_sites, _threshold, _allowlist_threshold, _greet_wait,
 * _pipelining_enable).
 * Left out: {@link Screen#DEFAULTS}, with {@code skip-networks} the loopback and {@code
 * [submission] trusted-networks}. Unknown keys are refused; every bad value names its line.
 */
final class ScreenSection {
  static final List<String> KEYS =
      List.of("listeners", "dnsbl", "dnswl", "dnsbl-threshold", "dnswl-threshold", "greet-wait", "skip-networks", "pipelining");
  static final List<String> LIST_KEYS = List.of("zone", "weight", "codes");
  /** postscreen accepts any weight; a bound keeps a typo from making one list the only one that counts. */
  private static final int MAX_WEIGHT = 100;
  private static final Duration MAX_GREET_WAIT = Duration.ofMinutes(1);

  private final TableReader reader;

  ScreenSection(TableReader reader) {
    this.reader = reader;
  }

  /** {@code trusted}: {@code [submission] trusted-networks}, skipped unless {@code skip-networks} says otherwise. */
  Screen read(Table root, List<Network> trusted) {
    Table table = reader.get(root, "", "screen", Table.class).orElse(null);
    Screen d = Screen.DEFAULTS;
    List<Network> defaultSkip = new ArrayList<>(d.skipNetworks());
    defaultSkip.addAll(trusted);
    if (table == null) {
      return new Screen(d.listeners(), d.dnsbl(), d.dnswl(), d.dnsblThreshold(), d.dnswlThreshold(), d.greetWait(), defaultSkip, d.pipelining());
    }
    reader.unknownKeys(table, "in [screen]", KEYS);
    Set<Protocol> listeners = reader.smtpListeners(table, "screen", d.listeners());
    List<DnsList> dnsbl = lists(table, "dnsbl", 1);
    List<DnsList> dnswl = lists(table, "dnswl", -1);
    int blThreshold = reader.bounded(table, "screen", "dnsbl-threshold", 1, 1000).orElse(d.dnsblThreshold());
    int wlThreshold = reader.bounded(table, "screen", "dnswl-threshold", -1000, -1).orElse(d.dnswlThreshold());
    Duration greetWait = reader.duration(table, "screen", "greet-wait", Duration.ZERO, MAX_GREET_WAIT).orElse(d.greetWait());
    List<Network> skip = defaultSkip;
    if (table.entries().containsKey("skip-networks")) {
      skip = new ArrayList<>();
      for (Str s : reader.strings(table, "screen", "skip-networks")) {
        try {
          skip.add(Network.parse(s.value()));
        } catch (IllegalArgumentException e) {
          reader.problem(s.line(), "screen.skip-networks: " + e.getMessage());
        }
      }
    }
    boolean pipelining = reader.get(table, "screen", "pipelining", Toml.Bool.class).map(Toml.Bool::value).orElse(d.pipelining());
    return new Screen(listeners, dnsbl, dnswl, blThreshold, wlThreshold, greetWait, skip, pipelining);
  }

  /** {@code [[screen.KIND]]}: each a table with a zone, a weight of {@code sign}'s sign, and codes. */
  private List<DnsList> lists(Table table, String kind, int sign) {
    String path = "screen." + kind;
    List<DnsList> lists = new ArrayList<>();
    Toml.Array array = reader.get(table, "screen", kind, Toml.Array.class).orElse(null);
    if (array == null) return lists;
    List<String> zones = new ArrayList<>();
    for (Value item : array.items()) {
      if (!(item instanceof Table t)) {
        reader.problem(item.line(), path + ": expected tables ([[" + path + "]]), got " + TableReader.typeName(item));
        continue;
      }
      reader.unknownKeys(t, "in [[" + path + "]]", LIST_KEYS);
      Str zoneValue = reader.get(t, path, "zone", Str.class).orElse(null);
      if (zoneValue == null) {
        if (!t.entries().containsKey("zone")) reader.problem(t.line(), path + ": each list needs a zone, like zone = \"zen.example.org\"");
        continue;
      }
      String zone = reader.valid(zoneValue.line(), path + ".zone", () -> domainName(zoneValue.value(), "zone")).orElse(null);
      if (zone == null) continue;
      if (zones.contains(zone)) {
        reader.problem(zoneValue.line(), path + ".zone: '" + zone + "' is listed twice");
        continue;
      }
      zones.add(zone);
      int weight = sign;
      Int w = reader.get(t, path, "weight", Int.class).orElse(null);
      if (w != null) {
        if (Long.signum(w.value()) != sign || Math.abs(w.value()) > MAX_WEIGHT) {
          reader.problem(w.line(), path + ".weight: must be between " + (sign > 0 ? "1 and " + MAX_WEIGHT : "-" + MAX_WEIGHT + " and -1")
              + " (" + (sign > 0 ? "a blocklist adds to" : "an allowlist takes from") + " the score), got " + w.value());
        } else {
          weight = (int) w.value();
        }
      }
      List<Code> codes = new ArrayList<>();
      for (Str s : reader.strings(t, path, "codes")) {
        try {
          codes.add(Code.parse(s.value()));
        } catch (IllegalArgumentException e) {
          reader.problem(s.line(), path + ".codes: " + e.getMessage());
        }
      }
      lists.add(new DnsList(zone, weight, codes));
    }
    return lists;
  }
}
