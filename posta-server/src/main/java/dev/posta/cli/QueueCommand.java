package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.posta.PostaServer;
import dev.posta.config.ConfigException;
import dev.posta.config.PostaConfig;
import dev.posta.control.ControlSocket;
import dev.posta.control.QueueReply;
import dev.posta.control.QueueRequest;
import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import dev.posta.queue.QueueSelection;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ProtocolException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code posta queue}: look at and act on the queue. With a server running, the command goes
 * through its control socket, so the server's own schedule changes at once; with none, it acts
 * on the data folder (taking its lock), and the server picks it up at its next start. Either
 * way the answer comes back as records, and {@link QueueOutput} renders it, so the text is the
 * same whether a server runs or not. In cluster mode ({@code [cluster] database}) the queue is the
 * cluster's: the command acts on the database itself ({@link dev.posta.queue.ClusterQueueControl}),
 * from any node's configuration, with or without a node running.
 *
 * <p>{@code delete}, {@code hold}, {@code release}, {@code retry} and {@code bounce} take
 * messages as postsuper(1) does: several queue IDs, {@code -} for IDs on standard input, or
 * {@code ALL}, which the selectors narrow. However many, they go in one request and come back
 * in one answer: one connection, one pass over the queue.
 */
@Command(name = "queue", mixinStandardHelpOptions = true,
    description = {"Look at and act on the queue, whether Posta runs or not.",
        "  list            (default) each message: ID, size, arrival, sender, pending recipients",
        "                  with the last error and next attempt; * = being delivered, ! = held",
        "  show ID         envelope, recipient status and the message itself",
        "  flush           every waiting message due now",
        "  retry ID        one message due now",
        "  hold ID         deliver no further until released",
        "  release ID      go on delivering a held message",
        "  delete ID       remove it, telling nobody",
        "  bounce ID       return it to its sender now, with a delivery status notice",
        "retry, hold, release, delete and bounce take many messages, as postsuper:",
        "ID..., - (IDs on standard input, one a line) or ALL, narrowed by selectors:",
        "  posta queue delete --from spammer@example.com",
        "  posta queue delete ALL      every message, telling nobody",
        "In cluster mode ([cluster] database) it acts on the cluster's queue in the database."})
final class QueueCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Parameters(arity = "0..*", paramLabel = "COMMAND",
      description = "list, show, flush, retry, hold, release, delete or bounce, and queue IDs, - or ALL")
  List<String> args = new ArrayList<>();

  @Option(names = "--to-domain", paramLabel = "DOMAIN", description = "only messages with a recipient still to deliver in DOMAIN")
  String toDomain;

  @Option(names = "--from", paramLabel = "ADDRESS", description = "only messages from exactly ADDRESS; \"\" or \"<>\" for the null sender")
  String from;

  @Option(names = "--older-than", paramLabel = "AGE", description = "only messages that arrived longer ago than AGE: 30m, 2h, 7d (s, m, h, d, w)")
  String olderThan;

  @Option(names = "--json", description = "list: one JSON object per message and line, as postqueue -j")
  boolean json;

  @Override
  public Integer call() {
    PostaConfig cfg;
    try {
      cfg = options.load();
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return 2;
    }
    QueueOutput output = cfg.cluster().database().isPresent() ? inCluster(cfg) : run(cfg);
    System.out.print(output.out());
    System.err.print(output.err());
    return output.exitCode();
  }

  private QueueOutput run(PostaConfig cfg) {
    QueueRequest request;
    try {
      request = request(args, new Selectors(toDomain, from, olderThan), json, () -> new BufferedReader(new InputStreamReader(System.in, UTF_8)));
    } catch (BadUsage e) {
      return e.output; // told before anything is opened, server or folder
    }
    String typedId = request.id() == null ? null : args.get(1);
    QueueReply reply;
    // A running server's listing is printed as it comes, the first message at once however long
    // the queue (a million deferred messages: issue 18); the totals follow at the end.
    var streamed = new java.io.PrintStream(new java.io.BufferedOutputStream(System.out, 1 << 16), false, UTF_8);
    QueueOutput.ListPrinter printer = request.command() != QueueRequest.Command.LIST ? null : new QueueOutput.ListPrinter(json, text -> {
      streamed.print(text);
      if (!streamed.checkError() && firstPrinted()) streamed.flush();
    });
    try {
      reply = ControlSocket.send(PostaServer.controlSocketPath(cfg), request, printer);
      if (printer != null && reply instanceof QueueReply.Listed) {
        streamed.flush();
        return printer.end("");
      }
    } catch (ProtocolException e) {
      streamed.flush();
      return QueueOutput.unreadableAnswer(e);
    } catch (IOException notRunning) {
      streamed.flush();
      if (printer != null && printer.messages() > 0) {
        return QueueOutput.unreadableAnswer(new ProtocolException("the listing was cut short: " + notRunning));
      }
      if (!Files.isDirectory(cfg.dataDir())) {
        return QueueOutput.noDataFolder(cfg.dataDir(), cfg.source().map(Path::toString).orElse("the embedded defaults"));
      }
      try {
        // Acting on a stopped server's spool writes there: only as the folder's owner.
        String notOwner = request.command() == QueueRequest.Command.LIST || request.command() == QueueRequest.Command.SHOW
            ? null : DataFolderOwner.refusal(cfg.dataDir());
        if (notOwner != null) return QueueOutput.notOwner(notOwner);
        reply = withoutServer(cfg, request);
      } catch (IOException e) {
        return QueueOutput.cannotAct(cfg.dataDir(), e);
      }
    }
    if (json && reply instanceof QueueReply.Listed l) return QueueOutput.json(l.messages());
    return QueueOutput.of(request, typedId, reply);
  }

  /**
   * Cluster mode: the queue is the cluster's, in its database, and the command acts on it there
   * with the node's configuration ({@code [cluster] database}, {@code node}), in short transactions
   * of its own: no control socket, no running node needed, any node's configuration will do.
   */
  private QueueOutput inCluster(PostaConfig cfg) {
    QueueRequest request;
    try {
      request = request(args, new Selectors(toDomain, from, olderThan), json, () -> new BufferedReader(new InputStreamReader(System.in, UTF_8)));
    } catch (BadUsage e) {
      return e.output;
    }
    String url = cfg.cluster().database().orElseThrow();
    var root = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    var level = root.getLevel();
    root.setLevel(ch.qos.logback.classic.Level.WARN); // the answer is the output: no pool or queue info lines around it
    try (var database = dev.posta.database.Database.open(url, cfg.cluster().node() + " (posta queue)", 2)) {
      var control = dev.posta.queue.ClusterQueueControl.ofNode(database, cfg.cluster().node(), cfg.hostname());
      return inCluster(control, request, request.id() == null ? null : args.get(1), json, System.out);
    } catch (java.sql.SQLException | RuntimeException e) {
      return QueueOutput.clusterUnreachable(dev.posta.database.Database.shownUrl(url), e);
    } finally {
      root.setLevel(level);
    }
  }

  /**
   * The cluster's queue listed to {@code out} as {@code posta queue list} lists it, read from the
   * database {@code cfg} names ({@code mailq} on a clustered node: {@link Sendmail}).
   *
   * @throws java.sql.SQLException when the database cannot be reached
   */
  static QueueOutput listCluster(PostaConfig cfg, java.io.PrintStream out) throws java.sql.SQLException {
    var root = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    var level = root.getLevel();
    root.setLevel(ch.qos.logback.classic.Level.WARN); // the answer is the output: no pool or queue info lines around it
    try (var database = dev.posta.database.Database.open(cfg.cluster().database().orElseThrow(), cfg.cluster().node() + " (mailq)", 2)) {
      var control = dev.posta.queue.ClusterQueueControl.ofNode(database, cfg.cluster().node(), cfg.hostname());
      return inCluster(control, new QueueRequest(QueueRequest.Command.LIST, null), null, false, out);
    } finally {
      root.setLevel(level);
    }
  }

  /** {@code request} on the cluster's queue: a listing printed to {@code out} as it is read, page by page, the rest as records. */
  static QueueOutput inCluster(dev.posta.queue.QueueCommands control, QueueRequest request, String typedId, boolean json,
      java.io.PrintStream out) {
    if (request.command() == QueueRequest.Command.LIST) {
      var streamed = new java.io.PrintStream(new java.io.BufferedOutputStream(out, 1 << 16), false, UTF_8);
      var printer = new QueueOutput.ListPrinter(json, streamed::print);
      try {
        control.listings().forEach(printer);
      } catch (java.io.UncheckedIOException e) {
        streamed.flush();
        return QueueOutput.of(request, typedId, new QueueReply.SpoolError(e.getCause().getMessage()));
      }
      streamed.flush();
      return printer.end("");
    }
    return QueueOutput.of(request, typedId, request.applyTo(control));
  }

  private boolean printedOne;

  /** True the first time it is asked: the first message of a listing is pushed out at once, the rest in blocks. */
  private boolean firstPrinted() {
    boolean first = !printedOne;
    printedOne = true;
    return first;
  }

  /** The selectors as typed; null for one not given. */
  record Selectors(String toDomain, String from, String olderThan) {
    static final Selectors NONE = new Selectors(null, null, null);

    boolean any() {
      return toDomain != null || from != null || olderThan != null;
    }
  }

  /** Where IDs given as {@code -} are read from: standard input, or a test's text. */
  interface Input {
    BufferedReader open() throws IOException;
  }

  /** The command line's words as a request, without selectors or standard input. */
  static QueueRequest request(List<String> args) throws BadUsage {
    return request(args, Selectors.NONE, false, () -> {
      throw new IOException("no standard input here");
    });
  }

  /**
   * The command line's words as a request: none is {@code list}; queue IDs in any case. One ID
   * is the command for one message, as it always was; several, {@code -}, {@code ALL} or
   * selectors make a bulk request. Selectors narrow {@code ALL} only: with IDs they are refused
   * (which would win is a guess), as is a bulk command with no messages at all, so that
   * {@code ALL} is always written out.
   */
  static QueueRequest request(List<String> args, Selectors selectors, boolean json, Input stdin) throws BadUsage {
    if (args.isEmpty()) args = List.of("list");
    QueueRequest.Command command = QueueRequest.Command.of(args.getFirst());
    if (command == null) throw new BadUsage(QueueOutput.usage());
    if (json && command != QueueRequest.Command.LIST) throw new BadUsage(QueueOutput.usage("--json is for list only"));
    if (command.action() == null) {
      if (args.size() != 1 && !(command == QueueRequest.Command.SHOW && args.size() == 2)) {
        throw new BadUsage(command == QueueRequest.Command.SHOW ? QueueOutput.usage(command) : QueueOutput.usage());
      }
      if (selectors.any()) throw new BadUsage(QueueOutput.usage("--to-domain, --from and --older-than pick messages to act on, not to " + command.word()));
      if (command == QueueRequest.Command.SHOW && args.size() != 2) throw new BadUsage(QueueOutput.usage(command));
      return new QueueRequest(command, command.namesMessage() ? id(args.get(1)) : null);
    }
    List<String> named = args.subList(1, args.size());
    boolean all = named.contains("ALL");
    if (all && named.size() > 1) throw new BadUsage(QueueOutput.usage("ALL is every message: give it alone, or queue IDs without it"));
    if (all || named.isEmpty() && selectors.any()) return QueueRequest.bulk(command, matching(selectors));
    if (named.isEmpty()) throw new BadUsage(QueueOutput.usage(command));
    if (selectors.any()) {
      throw new BadUsage(QueueOutput.usage("--to-domain, --from and --older-than pick from ALL, not from queue IDs: give one or the other"));
    }
    if (named.size() == 1 && !named.getFirst().equals("-")) return new QueueRequest(command, id(named.getFirst()));
    List<QueueId> ids = new ArrayList<>();
    for (String word : named) {
      if (word.equals("-")) ids.addAll(idsFrom(stdin));
      else ids.add(id(word));
    }
    return QueueRequest.bulk(command, new QueueSelection.Named(ids));
  }

  private static QueueId id(String typed) throws BadUsage {
    try {
      return new QueueId(typed.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new BadUsage(QueueOutput.notAQueueId(typed));
    }
  }

  /**
   * Queue IDs one per line, as {@code postqueue -j | jq -r .queue_id} or the first column of
   * {@code posta queue} gives them: blank lines are skipped, and the {@code *} or {@code !}
   * the listing puts after an ID ignored, as postsuper(1) does. Any other line refuses the
   * whole command before anything is done: a pipeline gone wrong acts on nothing.
   */
  static List<QueueId> idsFrom(Input stdin) throws BadUsage {
    List<QueueId> ids = new ArrayList<>();
    try (BufferedReader in = stdin.open()) {
      int n = 0;
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        n++;
        String word = line.strip();
        if (word.isEmpty()) continue;
        if (word.endsWith("*") || word.endsWith("!")) word = word.substring(0, word.length() - 1);
        try {
          ids.add(new QueueId(word.toUpperCase(Locale.ROOT)));
        } catch (IllegalArgumentException e) {
          throw new BadUsage(QueueOutput.notAQueueIdOnInput(n, line));
        }
      }
    } catch (IOException e) {
      throw new BadUsage(QueueOutput.unreadableInput(e));
    }
    return ids;
  }

  /** The selectors as {@code ALL} narrowed by them, checked as the API checks its own ({@link QueueSelection.Matching#typed}). */
  private static QueueSelection.Matching matching(Selectors s) throws BadUsage {
    try {
      return QueueSelection.Matching.typed(s.toDomain(), s.from(), s.olderThan());
    } catch (QueueSelection.Refused e) {
      throw new BadUsage(QueueOutput.usage("--" + e.selector() + ": " + e.getMessage()));
    }
  }

  /** Words that are no command; the output says what is wrong. */
  static final class BadUsage extends Exception {
    final transient QueueOutput output;

    BadUsage(QueueOutput output) {
      super(output.text(), null, false, false);
      this.output = output;
    }
  }

  /** Carries the request out on the data folder, as {@link QueueRequest#applyTo} does in a server. */
  private static QueueReply withoutServer(PostaConfig cfg, QueueRequest request) throws IOException {
    Path spool = cfg.dataDir().resolve("queue");
    // Looking needs no lock: safe beside a running server whose control socket is unreachable.
    if (request.command() == QueueRequest.Command.LIST) return new QueueReply.Listed(QueueControl.listSpool(spool));
    if (request.command() == QueueRequest.Command.SHOW) {
      return QueueControl.showSpool(spool, request.id()).<QueueReply>map(QueueReply.Shown::new)
          .orElseGet(() -> new QueueReply.Refused(QueueControl.Refusal.NO_SUCH_MESSAGE, request.id()));
    }
    // The command's answer is the output; the server's info lines (recovery, "held by") would only clutter it.
    var root = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    var level = root.getLevel();
    root.setLevel(ch.qos.logback.classic.Level.WARN);
    try (PostaServer offline = new PostaServer(cfg).openForQueueControl()) {
      return request.applyTo(offline.queueControl());
    } finally {
      root.setLevel(level);
    }
  }
}
