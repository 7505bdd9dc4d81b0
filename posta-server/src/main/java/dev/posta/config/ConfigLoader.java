package dev.posta.config;

import static dev.posta.config.ConfigValues.domainName;

import dev.posta.config.ConfigValues.Invalid;
import dev.posta.config.PostaConfig.Limits;
import dev.posta.config.PostaConfig.Listener;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import dev.posta.database.Database;
import dev.posta.database.SharedConfiguration;
import dev.posta.storage.FileModes;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.CharacterCodingException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.List;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * Reads a Posta TOML configuration file into a validated {@link PostaConfig}.
 *
 * <p>Guarantees: either a fully valid configuration comes back, or a {@link ConfigException}
 * listing every problem that could be found, each as {@code file:line: message} in file order, so
 * an operator fixes the file in one pass instead of one restart per mistake. Unknown keys are
 * errors, never ignored, because a misspelt key silently falling back to its default is the worst
 * kind of configuration bug; a close known key is suggested. Every alias and catch-all that points
 * into a local domain is checked to end at a mailbox, without loops.
 *
 * <p>The top-level {@code hostname}, {@code data} and {@code mailbox-mode} are read here; each section by its own class
 * ({@link ListenersSection}, {@link LimitsSection}, {@link TlsSection}, {@link
 * SubmissionSection}, {@link DeliverySection}, {@link DomainsSection}, {@link DkimSection}, {@link SenderChecksSection}, {@link ScreenSection}, {@link LogSection}, {@link HttpSection}, {@link GreylistingSection}), all of them reporting
 * into one {@link TableReader}.
 */
public final class ConfigLoader {

  static final List<String> TOP_KEYS =
      List.of("hostname", "data", "mailbox-mode", "postmaster", "listeners", "limits", "domains", "tls", "submission",
          "queue", "outbound", "relay", "routes", "dkim", "sender-checks", "log", "http", "greylisting", "screen", "milters", "cluster");

  static final Path DEFAULT_DATA_DIR = Path.of("/var/lib/posta");

  /**
   * What each node of a cluster sets in its own file; every other key is shared by the nodes, in
   * the configuration pushed to the database ({@code posta cluster config push}).
   */
  public static final List<String> NODE_KEYS = List.of("hostname", "data", "mailbox-mode", "listeners", "tls", "log", "http", "cluster");

  private ConfigLoader() {}

  /** Reads, parses and validates {@code file}; the result's {@code source} is that file. */
  public static PostaConfig load(Path file) throws ConfigException {
    return load(file, Optional.empty());
  }

  /**
   * Reads a node's file; in a cluster ({@code [cluster] database}) with a shared configuration,
   * together with it, as one: the file then holds only the {@link #NODE_KEYS}, the shared
   * configuration only the others, and a problem in either is said with its own line.
   *
   * @param candidate a shared configuration to read in place of the database's (what {@code posta
   *     cluster config push} checks before it stores it): its name and its text
   */
  public static PostaConfig load(Path file, Optional<Shared> candidate) throws ConfigException {
    Table own = parse(file);
    Shared shared = candidate.isPresent() ? candidate.get() : shared(file, own);
    Table root = own;
    TableReader reader = new TableReader(file, shared == null ? null : shared.name());
    long sharedVersion = 0;
    if (shared != null) {
      Table common;
      try {
        common = Toml.parse(shared.toml(), TableReader.SECOND_DOCUMENT);
      } catch (Toml.TomlException e) {
        throw new ConfigException(List.of(reader.where(e.line()) + ": " + e.getMessage()));
      }
      for (var e : own.entries().entrySet()) {
        if (!NODE_KEYS.contains(e.getKey()) && !e.getKey().equals("capture")) {
          reader.problem(e.getValue().line(), "'" + e.getKey() + "' is shared by the cluster's nodes: change it with posta cluster config push; "
              + "a node's own file holds only " + String.join(", ", NODE_KEYS));
        }
      }
      for (var e : common.entries().entrySet()) {
        if (NODE_KEYS.contains(e.getKey())) {
          reader.problem(e.getValue().line(), "'" + e.getKey() + "' is each node's own: it belongs in the nodes' files, not in the shared configuration");
        }
      }
      reader.throwIfAny();
      root = Toml.union(own, common);
      sharedVersion = shared.version();
    }
    if (root.entries().get("capture") instanceof Toml.Value capture) {
      // Not unknown, but not a real server's: say where it belongs.
      reader.problem(capture.line(), "[capture] is for posta dev --config only (its test DNS zone, its scripted faults); a real server has neither");
    }
    reader.unknownKeys(root, "at top level", concat(TOP_KEYS, "capture"));
    Optional<Str> hostKey = reader.get(root, "", "hostname", Str.class);
    Optional<String> hostname =
        hostKey.flatMap(s -> reader.valid(s.line(), "hostname", () -> domainName(s.value(), "host name")));
    Path dataDir = reader.get(root, "", "data", Str.class).flatMap(s -> reader.path(s, "data")).orElse(DEFAULT_DATA_DIR);
    FileModes mailboxModes = reader.get(root, "", "mailbox-mode", Str.class).flatMap(s -> reader.valid(s.line(), "mailbox-mode", () -> {
      if (!s.value().matches("0?[0-7]{3}")) throw new ConfigValues.Invalid("'" + s.value() + "' is not an octal mode like \"0640\"");
      try {
        return FileModes.of(Integer.parseInt(s.value(), 8));
      } catch (IllegalArgumentException e) {
        throw new ConfigValues.Invalid(e.getMessage());
      }
    })).orElse(FileModes.PRIVATE);
    // Always in this order: problems on one line are reported in the order they were found.
    PostaConfig.Http http = new HttpSection(reader).read(root);
    List<Listener> listeners = new ListenersSection(reader).read(root, http);
    Limits limits = new LimitsSection(reader).read(root);
    PostaConfig.Tls tls = new TlsSection(reader).read(root);
    PostaConfig.Submission submission = new SubmissionSection(reader).read(root);
    PostaConfig.Delivery delivery = new DeliverySection(reader).read(root);
    DomainsSection.LocalDomains domains = new DomainsSection(reader).read(root);
    PostaConfig.Dkim dkim = new DkimSection(reader).read(root, file.toString());
    PostaConfig.SenderChecks senderChecks = new SenderChecksSection(reader)
        .read(root, domains.domains().stream().map(PostaConfig.LocalDomain::name).collect(Collectors.toSet()));
    PostaConfig.Log log = new LogSection(reader).read(root);
    PostaConfig.Greylisting greylisting = new GreylistingSection(reader).read(root);
    PostaConfig.Screen screen = new ScreenSection(reader).read(root, submission.trustedNetworks());
    List<PostaConfig.Milter> milters = new MiltersSection(reader).read(root);
    PostaConfig.Cluster cluster = new ClusterSection(reader).read(root, hostname.orElseGet(ConfigLoader::machineHostName), sharedVersion);

    reader.throwIfAny();
    return new PostaConfig(
        hostKey.isPresent() ? hostname.orElseThrow() : machineHostName(),
        dataDir,
        listeners,
        limits,
        domains.domains(),
        domains.postmaster().orElseThrow(),
        Optional.of(file),
        tls,
        submission,
        delivery,
        dkim,
        senderChecks,
        mailboxModes,
        log,
        PostaConfig.Capture.OFF,
        http,
        greylisting,
        screen,
        milters,
        cluster);
  }

  /**
   * A cluster's shared configuration: what its problems are said to be in, its TOML text, and
   * its version (0 for a candidate not stored yet).
   */
  public record Shared(String name, String toml, long version) {}

  /**
   * The shared configuration of the cluster a node's file names, read from its database; null
   * for a server on its own, or before the first push. A database that cannot be asked is a
   * problem on the {@code database} line: a node does not start on half its configuration.
   */
  private static Shared shared(Path file, Table own) throws ConfigException {
    if (!(own.entries().get("cluster") instanceof Table cluster) || !(cluster.entries().get("database") instanceof Str url)) return null;
    try {
      Database.checkUrl(url.value());
    } catch (IllegalArgumentException e) {
      return null; // ClusterSection says what is wrong with it
    }
    try (Connection c = Database.connect(url.value(), "posta-config")) {
      return SharedConfiguration.read(c).map(v -> new Shared("shared configuration v" + v.version(), v.toml(), v.version())).orElse(null);
    } catch (SQLException e) {
      throw new ConfigException(List.of(file + ":" + url.line() + ": cluster.database: cannot read the cluster's shared configuration: "
          + e.getMessage()));
    }
  }

  /**
   * Reads {@code posta dev --config FILE}: capture mode's settings, the {@code [capture]} section
   * ({@link CaptureSection}) and nothing else, so that a real server's data folder and settings
   * never come into capture mode; any other key is refused, as unknown keys are.
   */
  public static PostaConfig.Capture.Zone loadCapture(Path file) throws ConfigException {
    Table root = parse(file);
    TableReader reader = new TableReader(file);
    for (var entry : root.entries().entrySet()) {
      if (!entry.getKey().equals("capture")) {
        reader.problem(entry.getValue().line(), "'" + entry.getKey() + "': posta dev reads only [capture] from its --config file "
            + "(its data folder, listeners and logins come from its options)");
      }
    }
    PostaConfig.Capture.Zone zone = new CaptureSection(reader, file.toString()).read(root);
    reader.throwIfAny();
    return zone;
  }

  private static List<String> concat(List<String> keys, String key) {
    return java.util.stream.Stream.concat(keys.stream(), java.util.stream.Stream.of(key)).toList();
  }

  /**
   * The file's TOML tree; a file that cannot be read or parsed has that one problem only, said
   * with the file's name (and the line, for a TOML mistake). Also for {@code posta dev}'s own
   * file.
   */
  public static Table parse(Path file) throws ConfigException {
    String text;
    try {
      text = Files.readString(file);
    } catch (NoSuchFileException e) {
      throw new ConfigException(List.of(file + ": no such file"));
    } catch (CharacterCodingException e) {
      throw new ConfigException(List.of(file + ": not valid UTF-8"));
    } catch (IOException e) {
      throw new ConfigException(List.of(file + ": cannot read: " + e));
    }
    try {
      return Toml.parse(text);
    } catch (Toml.TomlException e) {
      throw new ConfigException(List.of(file + ":" + e.line() + ": " + e.getMessage()));
    }
  }

  /**
   * This machine's name, as the greeting's default. A failed reverse lookup yields an IP address,
   * which is no host name, so that falls back to "localhost" as well.
   */
  static String machineHostName() {
    try {
      return domainName(InetAddress.getLocalHost().getCanonicalHostName(), "host name");
    } catch (IOException | Invalid e) {
      return "localhost";
    }
  }
}
