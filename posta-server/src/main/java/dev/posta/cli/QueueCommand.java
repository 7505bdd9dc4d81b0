package dev.posta.cli;

import dev.posta.PostaServer;
import dev.posta.config.ConfigException;
import dev.posta.config.PostaConfig;
import dev.posta.control.ControlSocket;
import dev.posta.control.QueueReply;
import dev.posta.control.QueueRequest;
import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import java.io.IOException;
import java.net.ProtocolException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/**
 * {@code posta queue}: look at and act on the queue. With a server running, the command goes
 * through its control socket, so the server's own schedule changes at once; with none, it acts
 * on the data folder (taking its lock), and the server picks it up at its next start. Either
 * way the answer comes back as records, and {@link QueueOutput} renders it, so the text is the
 * same whether a server runs or not.
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
        "  bounce ID       return it to its sender now, with a delivery status notice"})
final class QueueCommand implements Callable<Integer> {
  @Mixin ConfigOptions options;

  @Parameters(arity = "0..2", paramLabel = "COMMAND", description = "list, show, flush, retry, hold, release, delete or bounce, and a queue ID")
  List<String> args = new ArrayList<>();

  @Override
  public Integer call() {
    PostaConfig cfg;
    try {
      cfg = options.load();
    } catch (ConfigException e) {
      System.err.println(e.getMessage());
      return 2;
    }
    QueueOutput output = run(cfg);
    (output.exitCode() == QueueOutput.DONE ? System.out : System.err).print(output.text());
    return output.exitCode();
  }

  private QueueOutput run(PostaConfig cfg) {
    QueueRequest request;
    try {
      request = request(args);
    } catch (BadUsage e) {
      return e.output; // told before anything is opened, server or folder
    }
    String typedId = request.id() == null ? null : args.get(1);
    QueueReply reply;
    try {
      reply = ControlSocket.send(PostaServer.controlSocketPath(cfg), request);
    } catch (ProtocolException e) {
      return QueueOutput.unreadableAnswer(e);
    } catch (IOException notRunning) {
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
    return QueueOutput.of(request, typedId, reply);
  }

  /** The command line's words as a request: none is {@code list}; a queue ID in any case. */
  static QueueRequest request(List<String> args) throws BadUsage {
    if (args.isEmpty()) return new QueueRequest(QueueRequest.Command.LIST, null);
    QueueRequest.Command command = QueueRequest.Command.of(args.getFirst());
    if (command == null) throw new BadUsage(QueueOutput.usage());
    if (!command.namesMessage()) {
      if (args.size() != 1) throw new BadUsage(QueueOutput.usage());
      return new QueueRequest(command, null);
    }
    if (args.size() != 2) throw new BadUsage(QueueOutput.usage(command));
    try {
      return new QueueRequest(command, new QueueId(args.get(1).toUpperCase(Locale.ROOT)));
    } catch (IllegalArgumentException e) {
      throw new BadUsage(QueueOutput.notAQueueId(args.get(1)));
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
