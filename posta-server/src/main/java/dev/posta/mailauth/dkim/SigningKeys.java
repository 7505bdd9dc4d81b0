package dev.posta.mailauth.dkim;

import dev.posta.config.PostaConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The keys that sign submitted mail, per domain, read and parsed once at start-up (a signature
 * then costs no file access and no PEM parsing).
 *
 * <p>Where they come from: a domain named in {@code [dkim.selectors]} signs with exactly the
 * selectors listed there, each of whose key files ({@code <data>/dkim/<domain>/<selector>.pem})
 * must exist: a missing or unusable one stops start-up, reported at the {@code file:line} of the
 * setting. Any other domain with a folder in {@code <data>/dkim} signs with every {@code .pem}
 * key in it: {@code posta dkim keygen}, publishing the record it prints and a restart are all it
 * takes, and a key is retired by removing its file. Files not ending in {@code .pem} are left
 * alone (a saved copy of the record, say).
 *
 * <p>Limits: at most {@value #MAX_PER_KIND} keys of each kind (RSA, Ed25519) per domain, the old
 * and the new one while a key is rotated; both sign until the old one goes. More is a start-up
 * error, as are a folder that is no domain name and a key file that is no RSA (1024 bits or
 * more) or Ed25519 private key.
 */
public final class SigningKeys {
  public static final int MAX_PER_KIND = 2;
  /** A domain folder's name: lower-case ASCII labels (IDNs as A-labels, as the configuration has them). */
  private static final Pattern DOMAIN = Pattern.compile("[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*");

  public static final SigningKeys NONE = new SigningKeys(Map.of());

  private final Map<String, List<SigningKey>> byDomain;

  private SigningKeys(Map<String, List<SigningKey>> byDomain) {
    this.byDomain = byDomain;
  }

  /** Keys that cannot be used; every problem found, one a line. */
  public static final class KeyProblems extends Exception {
    private final List<String> problems;

    KeyProblems(List<String> problems) {
      super(String.join("\n", problems));
      this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
      return problems;
    }
  }

  /** Keys given in code (tests, and embedding). */
  public static SigningKeys of(List<SigningKey> keys) {
    Map<String, List<SigningKey>> map = new TreeMap<>();
    for (SigningKey k : keys) map.computeIfAbsent(k.domain(), d -> new ArrayList<>()).add(k);
    map.replaceAll((d, list) -> List.copyOf(list));
    return new SigningKeys(map);
  }

  /** Reads the keys the configuration and the data folder give; see the class comment. */
  public static SigningKeys load(Path dataDir, PostaConfig.Dkim config) throws KeyProblems {
    List<String> problems = new ArrayList<>();
    Map<String, List<SigningKey>> map = new TreeMap<>();
    for (var entry : config.selectors().entrySet()) {
      String domain = entry.getKey();
      List<SigningKey> keys = new ArrayList<>();
      for (PostaConfig.Dkim.Selector s : entry.getValue()) {
        Path file = DkimKeyFiles.keyFile(dataDir, domain, s.name());
        String setting = s.origin() + ": dkim.selectors.\"" + domain + "\": ";
        if (!Files.exists(file)) {
          problems.add(setting + "no key file " + file + " for selector " + s.name() + " (make one with: posta dkim keygen " + domain
              + " --selector " + s.name() + ")");
          continue;
        }
        try {
          keys.add(DkimKeyFiles.read(file, domain, s.name()));
        } catch (DkimKeyFiles.KeyFileException e) {
          problems.add(setting + e.getMessage());
        }
      }
      if (!keys.isEmpty()) map.put(domain, keys);
    }
    Path folder = DkimKeyFiles.folder(dataDir);
    for (Path domainFolder : list(folder, problems)) {
      String domain = domainFolder.getFileName().toString();
      if (!Files.isDirectory(domainFolder) || config.selectors().containsKey(domain)) continue;
      if (!DOMAIN.matcher(domain).matches()) {
        problems.add(domainFolder + ": not a domain name (keys are " + folder + "/<domain>/<selector>.pem, the domain in lower case, IDNs as xn--)");
        continue;
      }
      List<SigningKey> keys = new ArrayList<>();
      for (Path file : list(domainFolder, problems)) {
        String name = file.getFileName().toString();
        if (!name.endsWith(".pem")) continue;
        String selector = name.substring(0, name.length() - ".pem".length());
        if (!DkimKeyFiles.isSelector(selector)) {
          problems.add(file + ": '" + selector + "' is not a selector (letters, digits and hyphens, labels separated by dots, lower case)");
          continue;
        }
        try {
          keys.add(DkimKeyFiles.read(file, domain, selector));
        } catch (DkimKeyFiles.KeyFileException e) {
          problems.add(e.getMessage());
        }
      }
      if (!keys.isEmpty()) map.put(domain, keys);
    }
    for (var entry : map.entrySet()) {
      for (DkimAlgorithm.KeyType type : DkimAlgorithm.KeyType.values()) {
        List<String> ofKind = entry.getValue().stream().filter(k -> k.algorithm().keyType == type).map(SigningKey::selector).toList();
        if (ofKind.size() > MAX_PER_KIND) {
          problems.add(entry.getKey() + ": " + ofKind.size() + " " + type.tag + " keys (" + String.join(", ", ofKind) + "); at most "
              + MAX_PER_KIND + " of a kind sign at once, an old and a new one while a key is rotated: remove the oldest");
        }
      }
    }
    if (!problems.isEmpty()) throw new KeyProblems(problems);
    map.replaceAll((d, list) -> List.copyOf(list));
    return new SigningKeys(map);
  }

  /** The entries of a folder, sorted; none when it does not exist. */
  private static List<Path> list(Path folder, List<String> problems) {
    if (!Files.isDirectory(folder)) return List.of();
    try (Stream<Path> entries = Files.list(folder)) {
      return entries.sorted().toList();
    } catch (IOException e) {
      problems.add(folder + ": cannot list: " + e.getMessage());
      return List.of();
    }
  }

  public boolean isEmpty() {
    return byDomain.isEmpty();
  }

  /** Domain to its keys, domains in order. */
  public Map<String, List<SigningKey>> byDomain() {
    return byDomain;
  }

  /**
   * The keys for mail from {@code domain} (lower case, A-labels): its own, or else those of the
   * nearest parent domain that has keys (mail from {@code news.example.org} signed as {@code
   * example.org}, which DMARC's relaxed alignment accepts, RFC 7489 §3.1.1). Empty when none.
   */
  public List<SigningKey> forSender(String domain) {
    for (String d = domain; ; d = d.substring(d.indexOf('.') + 1)) {
      List<SigningKey> keys = byDomain.get(d);
      if (keys != null) return keys;
      if (d.indexOf('.') < 0) return List.of();
    }
  }

  /** For the log and the banner: {@code example.org (20250712-rsa rsa-sha256, ...)}, one domain after another. */
  public List<String> describe() {
    List<String> lines = new ArrayList<>();
    byDomain.forEach((domain, keys) -> lines.add(domain + " (" + String.join(", ", keys.stream().map(k -> k.selector() + " " + k.algorithm().tag).toList()) + ")"));
    return lines;
  }
}
