package dev.posta.cli;

import dev.posta.PostaServer;
import dev.posta.config.ConfigException;
import dev.posta.config.PostaConfig;
import dev.posta.control.ControlSocket;
import dev.posta.queue.QueueControl;
import dev.posta.queue.QueueManager;
import dev.posta.queue.Spool;
import dev.posta.queue.SpooledMessage;
import java.io.IOException;
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
 * on the data folder (taking its lock), and the server picks it up at its next start.
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
    QueueControl.Result result;
    try {
      result = ControlSocket.send(PostaServer.controlSocketPath(cfg), args);
    } catch (IOException notRunning) {
      result = withoutServer(cfg);
    }
    (result.exitCode() == 0 ? System.out : System.err).print(result.output());
    return result.exitCode();
  }

  private QueueControl.Result withoutServer(PostaConfig cfg) {
    String command = args.isEmpty() ? "list" : args.getFirst();
    try {
      // Looking needs no lock: safe beside a running server whose control socket is unreachable.
      if (command.equals("list") && args.size() <= 1) {
        List<QueueManager.Listing> listings = new ArrayList<>();
        for (SpooledMessage m : Spool.inspect(cfg.dataDir().resolve("queue"))) {
          listings.add(QueueManager.listing(m, false));
        }
        return QueueControl.list(listings);
      }
      if (command.equals("show") && args.size() == 2) {
        for (SpooledMessage m : Spool.inspect(cfg.dataDir().resolve("queue"))) {
          if (m.id().value().equals(args.get(1).toUpperCase(Locale.ROOT))) return new QueueControl.Result(0, QueueControl.show(m));
        }
        return new QueueControl.Result(1, "no message " + args.get(1) + " in the queue\n");
      }
      // The command's answer is the output; the server's info lines (recovery, "held by") would only clutter it.
      var root = (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
      var level = root.getLevel();
      root.setLevel(ch.qos.logback.classic.Level.WARN);
      try (PostaServer offline = new PostaServer(cfg).openForQueueControl()) {
        return new QueueControl(offline.queue()).execute(args);
      } finally {
        root.setLevel(level);
      }
    } catch (IOException e) {
      return new QueueControl.Result(1, "cannot act on the queue in " + cfg.dataDir() + ": " + e.getMessage() + "\n");
    }
  }
}
