package dev.posta.cli;

import dev.posta.LogSettings;
import dev.posta.PostaServer;
import dev.posta.config.PostaConfig;
import dev.posta.web.WebServer;
import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * A server that a command ({@code posta serve}, {@code posta dev}) runs until the JVM is told to
 * stop (SIGTERM, Ctrl-C). The shutdown hook is taken before the server starts, so that a signal
 * at any moment closes what has started and writes out the log lines still buffered; the data
 * folder must belong to the user running it ({@link DataFolderOwner}). A cluster node that loses
 * its name to another start of it stops as at a SIGTERM and exits with status {@value #NAME_LOST}.
 */
final class ServerRun {
  /** The exit status of a cluster node that stopped because another start of it took its name. */
  static final int NAME_LOST = 3;

  private final AtomicReference<PostaServer> serving = new AtomicReference<>();
  private final CountDownLatch stopped = new CountDownLatch(1);

  /**
   * @param stopping runs in the shutdown hook with the running server, before it closes
   * @param closed runs in the shutdown hook with the server once closed (its last log line)
   */
  ServerRun(Consumer<PostaServer> stopping, Consumer<PostaServer> closed) {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      PostaServer running = serving.get();
      if (running != null) {
        stopping.accept(running);
        running.close();
        closed.accept(running);
      }
      LogSettings.flush();
      stopped.countDown();
    }));
  }

  /** Starts the server; null, with why on standard error as {@code command: cannot start: ...}, when it cannot. */
  PostaServer start(PostaConfig config, String command) {
    return start(config, command, null);
  }

  /** Starts the server with the SMTP faults {@code faults} scripts (capture mode only: {@code posta dev --config}); null: none. */
  PostaServer start(PostaConfig config, String command, dev.posta.CaptureFile faults) {
    try {
      String notOwner = DataFolderOwner.refusal(config.dataDir());
      if (notOwner != null) {
        System.err.println(command + ": cannot start: " + notOwner);
        return null;
      }
      // A cluster node that lost its name to another start of it exits, with a status of its own:
      // the shutdown hook closes it as a SIGTERM would (System.exit from its own thread, which the
      // hook's close does not wait for).
      PostaServer assembled = new PostaServer(config).web(WebServer::new).whenNameLost(() -> System.exit(NAME_LOST));
      PostaServer server = (faults != null ? assembled.faults(faults) : assembled).start();
      serving.set(server);
      return server;
    } catch (IOException e) {
      System.err.println(command + ": cannot start: " + e.getMessage());
      return null;
    }
  }

  /** Closes a server that started but must not run after all; the shutdown hook then has none to close. */
  void abandon(PostaServer server) {
    serving.set(null);
    server.close();
  }

  /** Waits until the shutdown hook has closed the server. */
  void awaitStop() throws InterruptedException {
    stopped.await();
  }
}
