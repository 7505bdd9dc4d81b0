package dev.posta.cli;

import dev.posta.LogSettings;
import dev.posta.PostaServer;
import dev.posta.config.ConfigException;
import dev.posta.config.PostaConfig;
import dev.posta.database.SharedConfiguration;
import dev.posta.mailauth.dkim.SigningKeys;
import dev.posta.storage.PrivateFiles;
import dev.posta.tls.ServerTls;
import dev.posta.tls.TlsException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import sun.misc.Signal;

/** The {@code posta} command: {@code serve}, {@code dev}, {@code check-config}, {@code queue}, {@code user}, {@code dkim}, {@code dns}. */
@Command(
    name = "posta",
    mixinStandardHelpOptions = true,
    version = "Posta " + Posta.VERSION,
    description = {"A complete mail system: SMTP in, durable queue, local Maildir delivery.",
        "posta sendmail [-t] [-i] [-f ADDR] [-bs|-bp] [RCPT...]: sendmail(8) for programs (also as sendmail, mailq via symlinks)."},
    subcommands = {Posta.Serve.class, AotTraining.Run.class, DevCommand.class, Posta.Reload.class, Posta.CheckConfig.class, ConfigCommand.class, QueueCommand.class, UserCommand.class, TokenCommand.class, DkimCommand.class,
        SendCommand.class, ClusterCommand.class,
        DnsCommand.class, CommandLine.HelpCommand.class})
public final class Posta {
  /**
   * The server's start and stop lines. In a holder: loading Posta (every command, sendmail's one
   * JVM per message too) must not start the logging system.
   */
  private static final class StartStop {
    static final Logger log = LoggerFactory.getLogger(Posta.class);
  }
  /** One version for --version, the banner and the start line. */
  static final String VERSION = dev.posta.PostaServer.VERSION;

  /** The names that make Posta sendmail(8): called by one (a symlink), or as {@code posta sendmail}. */
  private static final java.util.Set<String> SENDMAIL_NAMES = java.util.Set.of("sendmail", "mailq", "newaliases");

  public static void main(String[] args) {
    // Before picocli: sendmail's options are its own, and a JVM per message should load little.
    String calledAs = calledAs(System.getenv("POSTA_ARGV0"));
    if (SENDMAIL_NAMES.contains(calledAs) && "1".equals(System.getenv("POSTA_SENDMAIL_TRAINING"))) {
      try {
        System.exit(Sendmail.train()); // the launcher's ahead-of-time cache recording; see there
      } catch (java.io.IOException e) {
        System.exit(1);
      }
    }
    if (SENDMAIL_NAMES.contains(calledAs)) System.exit(sendmail(calledAs, calledAs, java.util.List.of(args)));
    if (args.length > 0 && args[0].equals("sendmail")) {
      System.exit(sendmail("sendmail", "posta sendmail", java.util.List.of(args).subList(1, args.length)));
    }
    System.setProperty("jdk.tls.rejectClientInitiatedRenegotiation", "true"); // see ServerTls
    System.exit(new CommandLine(new Posta()).execute(args));
  }

  /** The file name of the path the launcher was called by ({@code POSTA_ARGV0}); "posta" without one. */
  static String calledAs(String argv0) {
    if (argv0 == null || argv0.isEmpty()) return "posta";
    return Path.of(argv0).getFileName().toString();
  }

  private static int sendmail(String calledAs, String me, List<String> args) {
    var out = new java.io.PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), false, StandardCharsets.UTF_8);
    int status = new Sendmail(new java.io.BufferedInputStream(System.in, 65536), out, System.err).run(calledAs, me, args);
    out.flush();
    return status;
  }

  @Command(name = "serve", mixinStandardHelpOptions = true,
      description = "Start Posta and serve until stopped (Ctrl-C or SIGTERM); SIGHUP reads the configuration again.")
  static final class Serve implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger("dev.posta.reload");
    /** How often a node reads the shared configuration's version when no notification came. */
    static final java.time.Duration SHARED_CONFIG_POLL = java.time.Duration.ofSeconds(5);

    @Mixin ConfigOptions options;

    @Option(names = "--listen", paramLabel = "PROTOCOL=HOST:PORT",
        description = "Listen there for that protocol instead of where the configuration says (repeatable: "
            + "--listen smtp=127.0.0.1:2525 --listen submission=127.0.0.1:2587); PROTOCOL= alone turns it off.")
    List<String> listen = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
      PostaConfig cfg;
      try {
        cfg = load();
      } catch (ConfigException e) {
        System.err.println(e.getMessage());
        return 2;
      } catch (IllegalArgumentException e) {
        System.err.println("posta serve: --listen " + e.getMessage());
        return 2;
      }
      LogSettings.apply(cfg.log());
      long started = System.nanoTime();
      ServerRun run = new ServerRun(
          // Java does not say which signal (TERM, INT) or exit started the shutdown.
          running -> {
            StartStop.log.info("posta stopping: shutdown requested after {}", running(System.nanoTime() - started));
            try {
              Files.deleteIfExists(running.config().dataDir().resolve(PID_FILE));
            } catch (IOException e) {
              // the server stops all the same; a stale file names a process that is gone
            }
          },
          running -> StartStop.log.info("posta stopped: {} message(s) left in the queue", running.mailQueue().size()));
      PostaServer server = run.start(cfg, "posta");
      if (server == null) return 1;
      // SIGHUP, as Postfix and logrotate expect: read the file again (on a thread of its own,
      // so that a slow reload never holds up the JVM's signal dispatch). Taken before the banner
      // says the server runs: until then SIGHUP would still end the JVM.
      Signal.handle(new Signal("HUP"), signal -> Thread.ofPlatform().name("reload").start(() -> reload(server)));
      // A node of a cluster takes each new version of the shared configuration as it takes a SIGHUP.
      SharedConfiguration.Watch shared = cfg.cluster().database()
          .map(url -> SharedConfiguration.Watch.start(url, "posta-config-watch-" + cfg.cluster().node(), cfg.cluster().sharedVersion(),
              SHARED_CONFIG_POLL, version -> reload(server)))
          .orElse(null);
      // Where `posta reload` finds this process: the data folder is this server's alone (its lock).
      Path pidFile = server.config().dataDir().resolve(PID_FILE);
      try {
        PrivateFiles.replace(pidFile, (ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.US_ASCII));
      } catch (IOException e) {
        log.warn("no {} ({}): posta reload cannot find this server; kill -HUP still reloads it", pidFile, e.toString());
      }
      System.out.println(banner(server));
      System.out.flush();
      StartStop.log.info("posta {} started: config {}, data {}, listeners {}, {} message(s) in the queue", VERSION,
          cfg.source().map(Path::toString).orElse("embedded defaults"), cfg.dataDir(), listeners(server), server.mailQueue().size());
      run.awaitStop();
      if (shared != null) shared.close();
      return 0;
    }

    /**
     * The configuration with {@code --listen} applied: each protocol it names has the listeners
     * given for it, and no others. (A reload applies them again.)
     */
    PostaConfig load() throws ConfigException {
      return withListen(options.load(), listen);
    }

    /** {@code config} with {@code --listen}'s specs applied (shared with {@code posta dev}). */
    static PostaConfig withListen(PostaConfig config, List<String> listen) {
      if (listen.isEmpty()) return config;
      Map<PostaConfig.Protocol, List<PostaConfig.Listener>> given = new EnumMap<>(PostaConfig.Protocol.class);
      for (String spec : listen) {
        if (spec.endsWith("=")) {
          given.computeIfAbsent(PostaConfig.Protocol.named(spec.substring(0, spec.length() - 1)), p -> new ArrayList<>());
        } else {
          PostaConfig.Listener l = PostaConfig.Listener.parse(spec);
          given.computeIfAbsent(l.protocol(), p -> new ArrayList<>()).add(l);
        }
      }
      List<PostaConfig.Listener> listeners = new ArrayList<>(config.listeners());
      listeners.removeIf(l -> given.containsKey(l.protocol()));
      given.values().forEach(listeners::addAll);
      listeners.sort(Comparator.comparing(PostaConfig.Listener::protocol)); // stable: the file's order within one
      return config.toBuilder().listeners(listeners).build();
    }

    /**
     * Reads the configuration again, from where it was read at the start, and has the server take
     * it; a file with problems, or a change the server cannot take, leaves the running
     * configuration as it is. Either way the log says so, with every problem or every change.
     */
    private void reload(PostaServer server) {
      PostaConfig next;
      try {
        next = load();
      } catch (ConfigException e) {
        log.warn("reload refused, the running configuration is kept:\n{}", e.getMessage());
        return;
      }
      String source = next.source().map(Path::toString).orElse("embedded defaults")
          + (next.cluster().sharedVersion() > 0 ? " with shared configuration v" + next.cluster().sharedVersion() : "");
      try {
        List<String> changes = server.reload(next);
        LogSettings.apply(next.log()); // [log] too: text or JSON from the next line on
        log.info("reloaded {}: {}", source, changes.isEmpty() ? "no setting changed" : String.join("; ", changes));
      } catch (IOException | RuntimeException e) {
        log.warn("reload of {} refused, the running configuration is kept: {}", source, e.getMessage());
      }
    }

    /** The listeners as bound, for the start line: {@code smtp 127.0.0.1:25, submission 127.0.0.1:587}. */
    private static String listeners(PostaServer server) {
      return String.join(", ", server.listeners().stream()
          .map(b -> b.listener().protocol().name().toLowerCase(java.util.Locale.ROOT) + " " + hostPort(b.address())).toList());
    }

    /** How long the server ran, as {@code 2h05m07s}. */
    private static String running(long nanos) {
      long s = java.util.concurrent.TimeUnit.NANOSECONDS.toSeconds(nanos);
      return s >= 3600 ? "%dh%02dm%02ds".formatted(s / 3600, s / 60 % 60, s % 60) : s >= 60 ? "%dm%02ds".formatted(s / 60, s % 60) : s + "s";
    }

    static String hostPortOf(java.net.InetSocketAddress a) {
      return hostPort(a);
    }

    static String banner(PostaServer server) {
      PostaConfig cfg = server.config();
      var s = new StringBuilder("Posta " + VERSION + " is running\n");
      for (PostaConfig.Listener l : cfg.listeners()) {
        var bound = server.listeners().stream().filter(b -> b.listener() == l).findFirst();
        String name = l.protocol().name().toLowerCase();
        s.append("  %-11s %s%n".formatted(name, hostPort(bound.orElseThrow().address())));
      }
      var tls = server.tls();
      s.append("  %-11s %s%n".formatted("tls", tls.selfSigned()
          ? "self-signed certificate for " + cfg.hostname() + ": " + tls.certificatePath()
              + "\n              (clients must trust it explicitly; set [tls] certificate and key for a real one)"
          : "certificate " + tls.certificatePath()));
      s.append("  %-11s SHA-256 %s%n".formatted("", dev.posta.tls.ServerTls.fingerprint(tls.certificate())));
      var d = cfg.delivery();
      String outbound = d.relay()
          .map(r -> "through smart host " + r.host() + ":" + r.port() + " (TLS " + (r.implicitTls() ? "implicit" : r.tls().name().toLowerCase()) + ")")
          .orElse("to each domain's MX (DNS " + (d.dnsServers().isEmpty() ? "from /etc/resolv.conf" : String.join(", ", d.dnsServers()))
              + ", TLS " + d.tls().name().toLowerCase() + ")");
      s.append("  %-11s %s%n".formatted("outbound", outbound + (d.routes().isEmpty() ? "" : ", " + d.routes().size() + " route(s)")));
      for (String signing : server.dkimKeys().describe()) s.append("  %-11s %s%n".formatted("dkim", signing));
      if (cfg.listeners().stream().anyMatch(l -> l.protocol() == PostaConfig.Protocol.SMTP)) {
        s.append("  %-11s %s%n".formatted("checks", senderChecks(cfg.senderChecks())));
      }
      String defenses = defenses(cfg);
      if (defenses != null) s.append("  %-11s %s%n".formatted("defenses", defenses));
      s.append("  %-11s %s%n".formatted("data", cfg.dataDir()));
      if (server.clusterDatabase() != null) {
        s.append("  %-11s %s (node %s)%n".formatted("cluster", server.clusterDatabase(), cfg.cluster().node()));
      }
      s.append("  %-11s %s%n".formatted("config", cfg.source().map(Path::toString).orElse("embedded defaults")));
      if (cfg.source().isEmpty()) {
        s.append("Mail to anyone@localhost is delivered to ")
            .append(cfg.dataDir().resolve("mail/localhost/<user>/Maildir")).append("\n");
      }
      return s.toString().stripTrailing();
    }

    /** What the smtp listener checks of mail from other servers, in one line. */
    static String senderChecks(PostaConfig.SenderChecks checks) {
      if (!checks.anyEnabled()) return "off: no SPF, DKIM or DMARC checks on mail from other servers ([sender-checks])";
      String skipped = checks.skipNetworks().isEmpty() ? ""
          : checks.skipNetworks().equals(PostaConfig.SenderChecks.DEFAULTS.skipNetworks()) ? " except from loopback"
          : " except from " + String.join(", ", checks.skipNetworks().stream().map(Object::toString).toList());
      StringBuilder s = new StringBuilder("SPF, DKIM, DMARC on smtp" + skipped);
      checks.domainRules().forEach((domain, rules) -> s.append("; ").append(domain).append(": ").append(rules));
      return s.append(checks.domainRules().isEmpty() ? "; " : "; other domains: ").append(checks.rules()).toString();
    }

    /**
     * Which of the defenses against unwanted mail ([screen], [greylisting], [[milters]]) each SMTP
     * listener kind has, in one line: {@code smtp: screen (greet wait 6s, pipelining) except from
     * loopback, greylisting, milters rspamd; submission: none}. Null without an SMTP listener.
     */
    static String defenses(PostaConfig cfg) {
      var kinds = java.util.EnumSet.of(PostaConfig.Protocol.SMTP, PostaConfig.Protocol.SUBMISSION, PostaConfig.Protocol.SMTPS);
      List<String> out = new ArrayList<>();
      cfg.listeners().stream().map(PostaConfig.Listener::protocol).filter(kinds::contains).distinct().sorted().forEach(p -> {
        List<String> on = new ArrayList<>();
        PostaConfig.Screen screen = cfg.screen();
        if (screen.listeners().contains(p)) {
          List<String> tests = new ArrayList<>();
          if (!screen.greetWait().isZero()) {
            long ms = screen.greetWait().toMillis();
            tests.add("greet wait " + (ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms"));
          }
          if (screen.pipelining()) tests.add("pipelining");
          screen.dnsbl().forEach(l -> tests.add("DNSBL " + l.zone()));
          screen.dnswl().forEach(l -> tests.add("DNSWL " + l.zone()));
          List<String> skip = new ArrayList<>();
          boolean loopback = screen.skipNetworks().containsAll(PostaConfig.Screen.LOOPBACK);
          if (loopback) skip.add("loopback");
          screen.skipNetworks().stream().filter(n -> !(loopback && PostaConfig.Screen.LOOPBACK.contains(n))).map(Object::toString).distinct()
              .forEach(skip::add);
          String skipped = skip.isEmpty() ? "" : " except from " + String.join(", ", skip);
          if (!tests.isEmpty()) on.add("screen (" + String.join(", ", tests) + ")" + skipped);
        }
        if (cfg.greylisting().appliesTo(p)) on.add("greylisting");
        List<String> milters = cfg.milters().stream().filter(m -> m.listeners().contains(p)).map(PostaConfig.Milter::name).toList();
        if (!milters.isEmpty()) on.add("milters " + String.join(", ", milters));
        out.add(p.name().toLowerCase(java.util.Locale.ROOT) + ": " + (on.isEmpty() ? "none" : String.join(", ", on)));
      });
      return out.isEmpty() ? null : String.join("; ", out);
    }

    private static String hostPort(java.net.InetSocketAddress a) {
      String host = a.getAddress().getHostAddress();
      return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }
  }

  /** The file in the data folder that names the serving process, for {@code posta reload}. */
  static final String PID_FILE = "posta.pid";

  @Command(name = "reload", mixinStandardHelpOptions = true,
      description = "Check the configuration file, then have the running server read it again (SIGHUP); its log says what changed.")
  static final class Reload implements Callable<Integer> {
    @Mixin ConfigOptions options;

    @Override
    public Integer call() {
      PostaConfig cfg;
      try {
        cfg = options.load();
      } catch (ConfigException e) {
        System.err.println(e.getMessage());
        System.err.println("posta reload: not asked: the server keeps its configuration");
        return 2;
      }
      String source = cfg.source().map(Path::toString).orElse("the embedded defaults");
      Path pidFile = cfg.dataDir().resolve(PID_FILE);
      Optional<ProcessHandle> server;
      try {
        server = ProcessHandle.of(Long.parseLong(Files.readString(pidFile).strip()))
            .filter(p -> p.info().commandLine().orElse("").contains(" serve"));
      } catch (IOException | NumberFormatException e) {
        server = Optional.empty();
      }
      if (server.isEmpty()) {
        System.err.println("posta reload: no server is running with " + source + " (" + pidFile + " names none)");
        return 1;
      }
      long pid = server.get().pid();
      try {
        Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(pid)).inheritIO().start();
        if (kill.waitFor() != 0) {
          System.err.println("posta reload: could not signal the server (pid " + pid + ")");
          return 1;
        }
      } catch (IOException e) {
        System.err.println("posta reload: could not signal the server (pid " + pid + "): " + e.getMessage());
        return 1;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return 1;
      }
      System.out.println("posta reload: asked the server (pid " + pid + ") to read " + source + " again; its log says what changed");
      return 0;
    }
  }

  @Command(name = "check-config", mixinStandardHelpOptions = true, description = "Validate a configuration file, the TLS certificate and key it names and the DKIM keys, and exit: 0 when valid, 2 with every problem listed otherwise.")
  static final class CheckConfig implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE",
        description = "Configuration file (TOML). Default: $POSTA_CONFIG, else " + ConfigOptions.SYSTEM_CONFIG + " when it exists, else the embedded defaults.")
    Path config;

    @Parameters(arity = "0..1", paramLabel = "FILE", description = "The configuration file, as --config names it.")
    Path file;

    @Override
    public Integer call() {
      if (config != null && file != null && !config.equals(file)) {
        System.err.println("posta check-config: two files named (" + file + " and --config " + config + "): name one");
        return 2;
      }
      try {
        PostaConfig cfg = ConfigOptions.load(file != null ? file : config, null);
        // A certificate or key that cannot be loaded would stop `posta serve`: catch it here too.
        // Only configured files are checked; the self-signed certificate is made by serve, not here.
        var tlsFiles = cfg.tls();
        if (tlsFiles.certificate().isPresent() && tlsFiles.key().isPresent()) {
          try {
            ServerTls.load(tlsFiles.certificate(), tlsFiles.key(), cfg.hostname(), cfg.dataDir());
          } catch (TlsException e) {
            System.err.println(cfg.source().map(p -> p + ": ").orElse("") + "tls: " + e.getMessage());
            return 2;
          }
        }
        // So are DKIM keys: a configured selector without its key file would stop it.
        try {
          SigningKeys.load(cfg.dataDir(), cfg.dkim());
        } catch (SigningKeys.KeyProblems e) {
          e.problems().forEach(System.err::println);
          return 2;
        }
        System.out.println(cfg.source().map(p -> p + ": OK").orElse("embedded defaults: OK") + " ("
            + cfg.domains().size() + " domain(s), " + cfg.listeners().size() + " listener(s))");
        return 0;
      } catch (ConfigException e) {
        System.err.println(e.getMessage());
        return 2;
      }
    }
  }
}
