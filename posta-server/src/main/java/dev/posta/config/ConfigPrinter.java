package dev.posta.config;

import dev.posta.config.PostaConfig.Delivery;
import dev.posta.config.PostaConfig.Limits;
import dev.posta.config.PostaConfig.Protocol;
import dev.posta.config.PostaConfig.Relay;
import dev.posta.config.PostaConfig.SenderChecks;
import dev.posta.database.Database;
import dev.posta.storage.FileModes;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;

/**
 * A configuration written back as the TOML {@link ConfigLoader} reads ({@code posta config
 * show}, as {@code postconf -n} and {@code postconf}): every key, or only those whose value
 * differs from what the loader takes when the key is left out. Either way, loading the text
 * gives the same configuration again; values are written as the example file writes them
 * ({@code "35M"}, {@code "5m"}), paths absolute, domains as A-labels.
 *
 * <p>Secrets are never written: a relay password set in the file itself is left out with a
 * comment saying so (the text then fails {@code check-config} until one is added), a password
 * file is named by its path. Keys that have no value (an optional file not set) are written, with
 * {@code all}, as comments.
 */
public final class ConfigPrinter {
  private final PostaConfig config;
  private final boolean all;
  private final StringBuilder out = new StringBuilder();
  /** The section being written; its header is written with its first key, so an empty section is left out. */
  private String section = "";
  private boolean headerWritten = true;

  private ConfigPrinter(PostaConfig config, boolean all) {
    this.config = config;
    this.all = all;
  }

  /** The configuration as TOML: with {@code all} every key, else only those not at their default. */
  public static String toml(PostaConfig config, boolean all) {
    return new ConfigPrinter(config, all).write();
  }

  private String write() {
    setting("hostname", str(config.hostname()), str(ConfigLoader.machineHostName()));
    setting("data", str(config.dataDir().toAbsolutePath().normalize().toString()), str(ConfigLoader.DEFAULT_DATA_DIR.toString()));
    setting("mailbox-mode", str(mode(config.mailboxModes())), str(mode(FileModes.PRIVATE)));
    setting("postmaster", str(config.postmaster()), str("postmaster@" + config.domains().getFirst().name()));

    section("listeners");
    for (Protocol p : Protocol.values()) {
      List<String> addresses = config.listeners().stream().filter(l -> l.protocol() == p).map(l -> str(address(l.address()))).toList();
      setting(p.name().toLowerCase(Locale.ROOT), list(addresses), list(p.web() ? List.of() : List.of(str("0.0.0.0:" + p.standardPort))));
    }

    section("tls");
    optional("certificate", config.tls().certificate().map(ConfigPrinter::path));
    optional("key", config.tls().key().map(ConfigPrinter::path));

    section("submission");
    PostaConfig.Submission s = config.submission();
    PostaConfig.Submission ds = PostaConfig.Submission.defaults();
    setting("trusted-networks", list(s.trustedNetworks().stream().map(n -> str(n.toString())).toList()),
        list(ds.trustedNetworks().stream().map(n -> str(n.toString())).toList()));
    setting("plaintext-auth-on-loopback", bool(s.plaintextAuthOnLoopback()), bool(ds.plaintextAuthOnLoopback()));
    setting("sender-must-be-owned", bool(s.senderMustBeOwned()), bool(ds.senderMustBeOwned()));
    setting("auth-failures-before-lockout", num(s.authFailuresBeforeLockout()), num(ds.authFailuresBeforeLockout()));
    setting("auth-lockout", time(s.authLockout()), time(ds.authLockout()));
    setting("min-password-length", num(s.minPasswordLength()), num(ds.minPasswordLength()));

    section("limits");
    Limits l = config.limits();
    Limits dl = Limits.defaults();
    setting("max-message-size", size(l.maxMessageSize()), size(dl.maxMessageSize()));
    setting("max-recipients", num(l.maxRecipients()), num(dl.maxRecipients()));
    setting("max-line-length", num(l.maxLineLength()), num(dl.maxLineLength()));
    setting("max-connections", num(l.maxConnections()), num(dl.maxConnections()));
    // Its default follows max-connections: left out, it follows it again.
    setting("max-connections-per-ip", num(l.maxConnectionsPerIp()), num(Limits.defaultPerIp(l.maxConnections())));
    setting("max-errors", num(l.maxErrors()), num(dl.maxErrors()));
    setting("command-timeout", time(l.commandTimeout()), time(dl.commandTimeout()));
    setting("data-timeout", time(l.dataTimeout()), time(dl.dataTimeout()));
    setting("min-data-rate", num(l.minDataRate()), num(dl.minDataRate()));
    setting("handshake-timeout", time(l.handshakeTimeout()), time(dl.handshakeTimeout()));
    setting("max-session-time", time(l.maxSessionTime()), time(dl.maxSessionTime()));
    setting("max-hops", num(l.maxHops()), num(dl.maxHops()));

    Delivery d = config.delivery();
    Delivery dd = Delivery.defaults();
    section("queue");
    setting("first-retry", time(d.firstRetry()), time(dd.firstRetry()));
    setting("max-retry", time(d.maxRetry()), time(dd.maxRetry()));
    setting("lifetime", time(d.lifetime()), time(dd.lifetime()));
    setting("delay-warning", time(d.delayWarning()), time(dd.delayWarning()));

    section("outbound");
    setting("concurrency", num(d.concurrency()), num(dd.concurrency()));
    setting("per-destination", num(d.perDestination()), num(dd.perDestination()));
    setting("tls", word(d.tls()), word(dd.tls()));
    optional("trusted-certificates", d.trustedCertificates().map(ConfigPrinter::path));
    setting("dns-servers", list(d.dnsServers().stream().map(ConfigPrinter::str).toList()), list(List.of()));
    section("outbound.tls-policy");
    d.tlsPolicies().entrySet().stream().sorted(Map.Entry.comparingByKey())
        .forEach(e -> line(Toml.quoteKey(e.getKey()) + " = " + word(e.getValue())));

    d.relay().ifPresent(r -> relay("relay", r));
    d.routes().keySet().stream().sorted().forEach(domain -> relay("routes." + Toml.quoteKey(domain), d.routes().get(domain)));

    section("dkim.selectors");
    config.dkim().selectors().forEach((domain, selectors) ->
        line(Toml.quoteKey(domain) + " = " + list(selectors.stream().map(sel -> str(sel.name())).toList())));

    SenderChecks c = config.senderChecks();
    SenderChecks dc = SenderChecks.DEFAULTS;
    section("sender-checks");
    setting("enabled", bool(c.rules().enabled()), bool(dc.rules().enabled()));
    setting("dmarc-reject", dmarcReject(c.rules()), dmarcReject(dc.rules()));
    setting("skip-networks", list(c.skipNetworks().stream().map(n -> str(n.toString())).toList()),
        list(dc.skipNetworks().stream().map(n -> str(n.toString())).toList()));
    c.domainRules().forEach((domain, rules) -> {
      section("sender-checks.domains." + Toml.quoteKey(domain));
      line("enabled = " + bool(rules.enabled()));
      line("dmarc-reject = " + dmarcReject(rules));
    });

    PostaConfig.Greylisting g = config.greylisting();
    PostaConfig.Greylisting dg = PostaConfig.Greylisting.DEFAULTS;
    section("greylisting");
    setting("enabled", bool(g.enabled()), bool(dg.enabled()));
    setting("delay", time(g.delay()), time(dg.delay()));
    setting("retry-window", time(g.retryWindow()), time(dg.retryWindow()));
    setting("expire", time(g.expire()), time(dg.expire()));
    setting("auto-allowlist-after", num(g.autoAllowlistAfter()), num(dg.autoAllowlistAfter()));
    setting("max-entries", num(g.maxEntries()), num(dg.maxEntries()));
    setting("exempt-networks", list(g.exemptNetworks().stream().map(n -> str(n.toString())).toList()),
        list(dg.exemptNetworks().stream().map(n -> str(n.toString())).toList()));
    setting("exempt-spf-domains", list(g.exemptSpfDomains().stream().map(ConfigPrinter::str).toList()), list(List.of()));
    setting("listeners", list(g.listeners().stream().map(ConfigPrinter::word).toList()), list(dg.listeners().stream().map(ConfigPrinter::word).toList()));

    PostaConfig.Screen sc = config.screen();
    PostaConfig.Screen dsc = PostaConfig.Screen.DEFAULTS;
    section("screen");
    setting("listeners", list(sc.listeners().stream().sorted().map(p -> str(p.name().toLowerCase(java.util.Locale.ROOT))).toList()),
        list(dsc.listeners().stream().sorted().map(p -> str(p.name().toLowerCase(java.util.Locale.ROOT))).toList()));
    setting("dnsbl-threshold", num(sc.dnsblThreshold()), num(dsc.dnsblThreshold()));
    setting("dnswl-threshold", num(sc.dnswlThreshold()), num(dsc.dnswlThreshold()));
    setting("greet-wait", time(sc.greetWait()), time(dsc.greetWait()));
    setting("pipelining", bool(sc.pipelining()), bool(dsc.pipelining()));
    // Left out, the loopback and the trusted networks are skipped: that is the default to compare with.
    List<Network> defaultSkip = new java.util.ArrayList<>(dsc.skipNetworks());
    defaultSkip.addAll(config.submission().trustedNetworks());
    setting("skip-networks", list(sc.skipNetworks().stream().map(n -> str(n.toString())).toList()),
        list(defaultSkip.stream().map(n -> str(n.toString())).toList()));
    dnsLists("screen.dnsbl", sc.dnsbl());
    dnsLists("screen.dnswl", sc.dnswl());

    // Each [[milters]] entry with every key: an entry has no defaults to leave out, its order matters.
    for (PostaConfig.Milter m : config.milters()) {
      if (!out.isEmpty()) out.append('\n');
      out.append("[[milters]]\n");
      section = "milters";
      headerWritten = true;
      line("name = " + str(m.name()));
      line("address = " + str(m.address()));
      line("listeners = " + list(m.listeners().stream().sorted().map(p -> word(p)).toList()));
      line("on-failure = " + str(m.failureTempfails() ? "tempfail" : "accept"));
      line("connect-timeout = " + time(m.connectTimeout()));
      line("command-timeout = " + time(m.commandTimeout()));
      line("content-timeout = " + time(m.contentTimeout()));
      line("quarantine = " + str(m.quarantineHolds() ? "hold" : "junk"));
    }

    PostaConfig.Cluster cl = config.cluster();
    PostaConfig.Cluster dcl = PostaConfig.Cluster.embedded(config.hostname());
    section("cluster");
    if (cl.database().isPresent()) {
      String url = cl.database().get();
      if (Database.hasPassword(url)) line("# database: set in " + config.source().map(Path::toString).orElse("the configuration") + " with its password, not shown");
      else line("database = " + str(url));
    } else if (all) {
      line("# database: not set (embedded: the state is in the data folder)");
    }
    setting("node", str(cl.node()), str(dcl.node()));
    setting("pool-size", num(cl.poolSize()), num(dcl.poolSize()));
    setting("blobs", str(cl.blobs().store()), str(dcl.blobs().store()));
    if (cl.blobs().s3().isPresent()) {
      PostaConfig.Cluster.S3 s3 = cl.blobs().s3().get();
      line("s3-endpoint = " + str(s3.endpoint().toString()));
      line("s3-region = " + str(s3.region()));
      line("s3-bucket = " + str(s3.bucket()));
      line("s3-access-key = " + str(s3.accessKey()));
      line("# s3-secret-key: set in " + config.source().map(Path::toString).orElse("the configuration") + ", not shown");
    }
    setting("blob-sweep-every", time(cl.blobs().sweepEvery()), time(dcl.blobs().sweepEvery()));
    setting("blob-sweep-age", time(cl.blobs().sweepAge()), time(dcl.blobs().sweepAge()));

    PostaConfig.Log log = config.log();
    section("http");
    setting("allow-plain-http", bool(config.http().allowPlainHttp()), bool(PostaConfig.Http.DEFAULTS.allowPlainHttp()));
    setting("ready-min-free-space", size(config.http().readyMinFreeSpace()), size(PostaConfig.Http.DEFAULTS.readyMinFreeSpace()));
    setting("metrics-public", bool(config.http().metricsPublic()), bool(PostaConfig.Http.DEFAULTS.metricsPublic()));

    section("log");
    setting("format", word(log.format()), word(PostaConfig.Log.DEFAULTS.format()));
    // Unset, it follows where standard error goes (journald or not): only a choice is written.
    if (log.timestamps().isPresent()) line("timestamps = " + bool(log.timestamps().get()));
    else if (all) line("# timestamps: not set");

    for (PostaConfig.LocalDomain domain : config.domains()) {
      // Always written: a domain has no default, and the first one decides postmaster's.
      section("domains." + Toml.quoteKey(domain.name()));
      line("mailboxes = " + list(new TreeSet<>(domain.mailboxes()).stream().map(ConfigPrinter::str).toList()));
      line("any-local-part = " + bool(domain.anyLocalPart()));
      domain.catchAll().ifPresentOrElse(a -> line("catch-all = " + str(a)), () -> {
        if (all) line("# catch-all: not set");
      });
      setting("spam-folder", str(domain.spamFolder() == null ? "INBOX" : domain.spamFolder()), str(PostaConfig.LocalDomain.JUNK));
      section("domains." + Toml.quoteKey(domain.name()) + ".aliases");
      domain.aliases().entrySet().stream().sorted(Map.Entry.comparingByKey())
          .forEach(e -> line(Toml.quoteKey(e.getKey()) + " = " + list(e.getValue().stream().map(ConfigPrinter::str).toList())));
    }
    return out.toString();
  }

  /** A smart host's table: every key, as a table that is there at all has no defaults to leave out. */
  private void relay(String table, Relay r) {
    section(table);
    line("host = " + str(r.host()));
    line("port = " + r.port());
    line("implicit-tls = " + bool(r.implicitTls()));
    line("tls = " + word(r.tls()));
    r.username().ifPresent(u -> line("username = " + str(u)));
    if (r.password().isPresent()) {
      Optional<String> file = passwordFile(table);
      if (file.isPresent()) line("password-file = " + str(file.get()));
      else line("# password: set in " + config.source().map(Path::toString).orElse("the configuration") + ", not shown");
    }
  }

  /**
   * The password file a smart host's table names, as an absolute path: the configuration keeps
   * only the password read from it, so the file is looked up where it was written.
   */
  private Optional<String> passwordFile(String table) {
    if (config.source().isEmpty()) return Optional.empty();
    Path file = config.source().get();
    try {
      Toml.Value t = Toml.parse(java.nio.file.Files.readString(file));
      for (String part : table.equals("relay") ? List.of("relay") : List.of("routes", unquote(table.substring("routes.".length())))) {
        if (!(t instanceof Toml.Table tt) || !(tt.entries().get(part) instanceof Toml.Value v)) return Optional.empty();
        t = v;
      }
      if (t instanceof Toml.Table tt && tt.entries().get("password-file") instanceof Toml.Str s) {
        Path parent = file.toAbsolutePath().getParent();
        return Optional.of(path(parent == null ? Path.of(s.value()) : parent.resolve(s.value())));
      }
    } catch (java.io.IOException | Toml.TomlException e) {
      // The file changed or went since it was loaded: the password is then simply not named.
    }
    return Optional.empty();
  }

  /** Each list its own {@code [[table]]} (the header is written as {@code [} + name + {@code ]}). */
  private void dnsLists(String table, List<PostaConfig.Screen.DnsList> lists) {
    for (PostaConfig.Screen.DnsList l : lists) {
      section("[" + table + "]");
      line("zone = " + str(l.zone()));
      line("weight = " + num(l.weight()));
      if (!l.codes().isEmpty()) line("codes = " + list(l.codes().stream().map(c -> str(c.text())).toList()));
    }
  }

  private static String unquote(String key) {
    return key.startsWith("\"") ? key.substring(1, key.length() - 1).replace("\\\"", "\"").replace("\\\\", "\\") : key;
  }

  // --- Lines ---------------------------------------------------------------------------------

  private void section(String name) {
    section = name;
    headerWritten = false;
  }

  /** A key with a default: written with {@code all}, or when its value is another. */
  private void setting(String key, String value, String byDefault) {
    if (all || !value.equals(byDefault)) line(key + " = " + value);
  }

  /** A key that may have no value: then, with {@code all}, a comment. */
  private void optional(String key, Optional<String> value) {
    if (value.isPresent()) line(key + " = " + str(value.get()));
    else if (all) line("# " + key + ": not set");
  }

  private void line(String text) {
    if (!headerWritten) {
      if (!out.isEmpty()) out.append('\n');
      out.append('[').append(section).append("]\n");
      headerWritten = true;
    }
    out.append(text).append('\n');
  }

  // --- Values, as TOML -----------------------------------------------------------------------

  /** A TOML basic string: quotes, backslashes and control characters escaped (TOML 1.0, "String"). */
  static String str(String value) {
    var s = new StringBuilder("\"");
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> s.append("\\\"");
        case '\\' -> s.append("\\\\");
        case '\n' -> s.append("\\n");
        case '\t' -> s.append("\\t");
        case '\r' -> s.append("\\r");
        default -> {
          if (c < 0x20 || c == 0x7F) s.append("\\u%04X".formatted((int) c));
          else s.append(c);
        }
      }
    }
    return s.append('"').toString();
  }

  private static String list(List<String> values) {
    return "[" + String.join(", ", values) + "]";
  }

  private static String num(long n) {
    return Long.toString(n);
  }

  private static String bool(boolean b) {
    return Boolean.toString(b);
  }

  private static String time(Duration d) {
    return str(ConfigValues.shown(d));
  }

  private static String word(Enum<?> e) {
    return str(e.name().toLowerCase(Locale.ROOT));
  }

  private static String dmarcReject(SenderChecks.Rules rules) {
    return str(rules.rejectOnDmarcReject() ? "reject" : "quarantine");
  }

  /** A size as the example writes it: in M or K when it is a whole number of them (binary multiples), else in octets. */
  private static String size(long octets) {
    if (octets % (1024 * 1024) == 0) return str(octets / (1024 * 1024) + "M");
    if (octets % 1024 == 0) return str(octets / 1024 + "K");
    return Long.toString(octets);
  }

  private static String path(Path p) {
    return p.toAbsolutePath().normalize().toString();
  }

  /** A file mode as {@code mailbox-mode} writes it: "0640". */
  private static String mode(FileModes modes) {
    int mode = 0;
    // PosixFilePermission's constants run from OWNER_READ (0400) down to OTHERS_EXECUTE (0001).
    for (PosixFilePermission p : modes.file()) mode |= 1 << (8 - p.ordinal());
    return "%04o".formatted(mode);
  }

  /** "0.0.0.0:25", "[::1]:25": an IP literal and its port, as listeners are written. */
  private static String address(InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
  }
}
