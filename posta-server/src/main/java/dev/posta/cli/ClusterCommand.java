package dev.posta.cli;

import dev.posta.config.ConfigException;
import dev.posta.config.ConfigLoader;
import dev.posta.config.PostaConfig;
import dev.posta.database.ClusterStatus;
import dev.posta.database.Database;
import dev.posta.database.SharedConfiguration;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.MalformedInputException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code posta cluster config push FILE} and {@code posta cluster config show}: the configuration
 * a cluster's nodes share ({@link SharedConfiguration}). A push is checked first, read together
 * with this node's own file as the nodes will read it; one with problems is refused with every
 * problem and stores nothing. Each running node takes a new version within seconds, as a reload
 * ({@code SIGHUP}) takes a changed file.
 *
 * <p>{@code posta cluster status}: the nodes, their heartbeats, the queue's depth and the leases
 * each node holds ({@link ClusterStatus}), read from the database the configuration's {@code
 * [cluster] database} names (or {@code --database}), whether or not a node runs on this machine.
 *
 * <p>Exit status: 0 done, 1 refused or the database unreachable (one line per problem on
 * standard error), 2 usage error.
 */
@Command(name = "cluster", description = "Several Posta nodes sharing one PostgreSQL ([cluster] database).",
    subcommands = {ClusterCommand.Status.class, ClusterCommand.Config.class})
public final class ClusterCommand {
  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  final PrintStream out;
  final PrintStream err;

  public ClusterCommand() {
    this(System.out, System.err);
  }

  /** With other streams, for tests. */
  public ClusterCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  @Command(name = "config", description = "The configuration the nodes share: every key but a node's own "
      + "(hostname, data, mailbox-mode, listeners, tls, log, http, cluster).", subcommands = {Push.class, Show.class})
  static final class Config {
    @ParentCommand ClusterCommand parent;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;
  }

  @Command(name = "push", description = {"Check FILE with this node's own file, then store it as the shared configuration's next version.",
      "Every running node takes it within seconds, as a reload does."})
  static final class Push implements Callable<Integer> {
    @ParentCommand Config config;
    @Mixin ConfigOptions options;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Parameters(paramLabel = "FILE", description = "The shared settings (TOML): domains, submission, queue, outbound, dkim, ...")
    Path file;

    @Override
    public Integer call() {
      PrintStream err = config.parent.err;
      String toml;
      try {
        toml = Files.readString(file);
      } catch (NoSuchFileException e) {
        err.println("posta cluster config push: " + file + ": no such file");
        return 1;
      } catch (MalformedInputException e) {
        err.println("posta cluster config push: " + file + ": not valid UTF-8");
        return 1;
      } catch (IOException e) {
        err.println("posta cluster config push: " + file + ": cannot read: " + e);
        return 1;
      }
      Path own = options.config != null ? options.config : ConfigOptions.defaultFile(System.getenv(), Path.of(ConfigOptions.SYSTEM_CONFIG));
      if (own == null) {
        err.println("posta cluster config push: no node configuration to find the database in: give --config FILE (with [cluster] database)");
        return 2;
      }
      PostaConfig checked;
      try {
        checked = ConfigLoader.load(own, Optional.of(new ConfigLoader.Shared(file.toString(), toml, 0)));
      } catch (ConfigException e) {
        e.problems().forEach(p -> err.println("posta cluster config push: " + p));
        return 1;
      }
      if (checked.cluster().database().isEmpty()) {
        err.println("posta cluster config push: " + own + " has no [cluster] database: a server on its own reads its whole configuration from its file");
        return 1;
      }
      String by = System.getProperty("user.name") + "@" + checked.cluster().node();
      try (Database database = Database.open(checked.cluster().database().get(), "posta-cluster-config", 2)) {
        long version = SharedConfiguration.push(database, toml, by);
        config.parent.out.println("posta cluster config push: stored " + file + " as version " + version + "; the running nodes take it within seconds");
        return 0;
      } catch (SQLException e) {
        err.println("posta cluster config push: cannot store it in " + Database.shownUrl(checked.cluster().database().get()) + ": " + e.getMessage());
        return 1;
      }
    }
  }

  @Command(name = "show", description = "Print the shared configuration's current version, as it was pushed.")
  static final class Show implements Callable<Integer> {
    @ParentCommand Config config;
    @Mixin ConfigOptions options;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Override
    public Integer call() {
      PrintStream err = config.parent.err;
      PostaConfig node;
      try {
        node = options.load();
      } catch (ConfigException e) {
        e.problems().forEach(p -> err.println("posta cluster config show: " + p));
        return 1;
      }
      if (node.cluster().database().isEmpty()) {
        err.println("posta cluster config show: " + node.source().map(Path::toString).orElse("the embedded defaults")
            + " has no [cluster] database: a server on its own has no shared configuration");
        return 1;
      }
      String url = node.cluster().database().get();
      try (Connection c = Database.connect(url, "posta-cluster-config")) {
        Optional<SharedConfiguration.Version> v = SharedConfiguration.read(c);
        PrintStream out = config.parent.out;
        if (v.isEmpty()) {
          out.println("# no shared configuration yet: each node reads its whole file (posta cluster config push FILE stores one)");
          return 0;
        }
        out.println("# shared configuration version " + v.get().version() + ", pushed " + v.get().pushed() + " by " + v.get().pushedBy());
        out.print(v.get().toml().endsWith("\n") || v.get().toml().isEmpty() ? v.get().toml() : v.get().toml() + "\n");
        return 0;
      } catch (SQLException e) {
        err.println("posta cluster config show: cannot read it from " + Database.shownUrl(url) + ": " + e.getMessage());
        return 1;
      }
    }
  }

  @Command(name = "status", description = "The nodes with their heartbeats (dead after 30 s without one), the queue's depth and each node's leases.")
  static final class Status implements Callable<Integer> {
    @ParentCommand ClusterCommand parent;
    @Mixin ConfigOptions options;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Option(names = "--database", paramLabel = "URL",
        description = "The cluster's database (postgresql://user:password@host:port/database). Default: the configuration's [cluster] database.")
    String database;

    @Override
    public Integer call() {
      try {
        String url = database != null ? database : options.load().cluster().database().orElse(null);
        if (url == null) {
          parent.err.println("posta cluster status: this node is not clustered: its configuration has no [cluster] database (or give --database URL)");
          return 1;
        }
        try (Database db = Database.open(url, "posta cluster status", 1)) {
          parent.out.print(ClusterStatus.read(db).render(db.shown()));
        }
        return 0;
      } catch (ConfigException e) {
        parent.err.println("posta cluster status: " + String.join("; ", e.problems()));
      } catch (SQLException e) {
        parent.err.println("posta cluster status: the cluster's database cannot be read: " + e.getMessage());
      } catch (IllegalArgumentException e) {
        parent.err.println("posta cluster status: " + e.getMessage());
      }
      return 1;
    }
  }
}
