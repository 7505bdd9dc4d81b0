package dev.posta.config;

import static dev.posta.config.ConfigValues.domainName;
import static dev.posta.config.TableReader.join;

import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The {@code [dkim]} section: which keys sign the mail of which domain.
 *
 * <pre>
 * [dkim.selectors]
 * "example.org" = ["20250712-rsa", "20250712-ed25519"]
 * </pre>
 *
 * <p>Guarantees: domain names are valid and lower case (IDNs as A-labels), none listed twice;
 * selectors are DNS names (letters, digits and hyphens in dot-separated labels, RFC 6376
 * §3.1), lower case, none listed twice for a domain, at most {@value #MAX_SELECTORS} per domain
 * (two keys of each kind while one is rotated). An empty list means: do not sign this domain's
 * mail. Each selector keeps its {@code file:line}, so that a missing key file, found only at
 * start-up (the data folder may be given later, with {@code --data}), is reported there. No key
 * file is read here. Unknown keys are refused.
 */
final class DkimSection {
  static final List<String> DKIM_KEYS = List.of("selectors");
  static final int MAX_SELECTORS = 4;

  private static final Pattern SELECTOR =
      Pattern.compile("[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*");

  private final TableReader reader;

  DkimSection(TableReader reader) {
    this.reader = reader;
  }

  PostaConfig.Dkim read(Table root, String file) {
    Table table = reader.get(root, "", "dkim", Table.class).orElse(null);
    if (table == null) return PostaConfig.Dkim.NONE;
    reader.unknownKeys(table, "in [dkim]", DKIM_KEYS);
    Table selectors = reader.get(table, "dkim", "selectors", Table.class).orElse(null);
    if (selectors == null) return PostaConfig.Dkim.NONE;
    Map<String, List<PostaConfig.Dkim.Selector>> byDomain = new LinkedHashMap<>();
    Map<String, Integer> firstLine = new LinkedHashMap<>();
    for (var entry : selectors.entries().entrySet()) {
      String path = join("dkim.selectors", entry.getKey());
      int line = entry.getValue().line();
      String domain = reader.valid(line, path, () -> domainName(entry.getKey(), "domain name")).orElse(null);
      if (domain == null) continue;
      Integer seen = firstLine.putIfAbsent(domain, line);
      if (seen != null) {
        reader.problem(line, path + ": domain '" + domain + "' is listed twice (first on line " + seen + ")");
        continue;
      }
      if (!(entry.getValue() instanceof Toml.Array array)) {
        reader.problem(line, path + ": expected an array of selectors, got " + TableReader.typeName(entry.getValue()));
        continue;
      }
      List<PostaConfig.Dkim.Selector> list = new ArrayList<>();
      for (Str s : reader.strings(array, path)) {
        String name = s.value().toLowerCase(Locale.ROOT);
        if (!SELECTOR.matcher(name).matches() || name.length() > 63 * 4) {
          reader.problem(s.line(), path + ": '" + s.value() + "' is not a selector (letters, digits and hyphens, labels separated by dots)");
        } else if (list.stream().anyMatch(x -> x.name().equals(name))) {
          reader.problem(s.line(), path + ": selector '" + name + "' is listed twice");
        } else {
          list.add(new PostaConfig.Dkim.Selector(name, file + ":" + s.line()));
        }
      }
      if (list.size() > MAX_SELECTORS) {
        reader.problem(line, path + ": at most " + MAX_SELECTORS + " selectors (an old and a new key of each kind while a key is rotated), got " + list.size());
      }
      byDomain.put(domain, List.copyOf(list));
    }
    return new PostaConfig.Dkim(byDomain);
  }
}
