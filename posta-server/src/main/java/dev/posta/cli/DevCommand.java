package dev.posta.cli;

import dev.posta.LogSettings;
import dev.posta.PostaServer;
import dev.posta.config.PostaConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code posta dev}: capture mode for developing applications that send mail, as Mailpit is.
 * The real server with {@link PostaConfig.Capture} on ({@link PostaConfig.Capture} says what that
 * changes): it takes mail for any address in any domain, relays nothing ever, and keeps every
 * message readable over IMAP and POP3.
 *
 * <p>Its own defaults, so that it never meets a real server's: the data folder {@code
 * ./posta-dev-data}, Mailpit's SMTP port 1025 (an application set up for Mailpit needs no
 * change) and the other listeners on 1xxx ports, all on loopback. Logins with any password are
 * safe only there: a listener on another address is refused unless {@code --allow-remote} asks
 * for it. No configuration file is read: a real server's file would bring its data folder, and
 * with it real mail, into capture mode.
 */
@Command(name = "dev", mixinStandardHelpOptions = true,
    description = {"Capture mode for development: accept mail for any address in any domain, relay nothing ever, "
        + "keep every message readable over IMAP and POP3 (log in as the recipient's address with any password, "
        + "or as " + PostaConfig.Capture.EVERYTHING + " for every message). Serves until stopped (Ctrl-C)."})
final class DevCommand implements Callable<Integer> {
  private static final Logger startStop = LoggerFactory.getLogger(Posta.class);

  /** The listeners of {@code posta dev}: Mailpit's SMTP port, the others alike, loopback only. */
  static final List<PostaConfig.Listener> LISTENERS = List.of(
      listener(PostaConfig.Protocol.SMTP, 1025),
      listener(PostaConfig.Protocol.SUBMISSION, 1587),
      listener(PostaConfig.Protocol.SMTPS, 1465),
      listener(PostaConfig.Protocol.IMAP, 1143),
      listener(PostaConfig.Protocol.IMAPS, 1993),
      listener(PostaConfig.Protocol.POP3, 1110),
      listener(PostaConfig.Protocol.POP3S, 1995));

  @Option(names = "--data", paramLabel = "DIR", description = "Data folder for the captured mail. Default: ./posta-dev-data.")
  Path data;

  @Option(names = "--listen", paramLabel = "PROTOCOL=HOST:PORT",
      description = "Listen there for that protocol instead (repeatable, as posta serve's); PROTOCOL= alone turns it off. "
          + "Default: smtp 127.0.0.1:1025, submission 1587, smtps 1465, imap 1143, imaps 1993, pop3 1110, pop3s 1995.")
  List<String> listen = new ArrayList<>();

  @Option(names = "--reset", description = "Empty every mailbox of the data folder before serving.")
  boolean reset;

  @Option(names = "--allow-remote",
      description = "Listen on addresses other than loopback too. Dangerous: anyone who reaches them can read every captured message "
          + "(logins take any password).")
  boolean allowRemote;

  private static PostaConfig.Listener listener(PostaConfig.Protocol protocol, int port) {
    return new PostaConfig.Listener(protocol, new InetSocketAddress("127.0.0.1", port));
  }

  /** The configuration {@code posta dev} serves with these options. */
  PostaConfig config() {
    PostaConfig defaults = PostaConfig.embeddedDefaults((data != null ? data : Path.of("posta-dev-data")).toAbsolutePath());
    var submission = defaults.submission();
    PostaConfig dev = defaults.toBuilder()
        .listeners(LISTENERS)
        // Plain-text logins from loopback: a developer's IMAP client need not trust the self-signed certificate.
        .submission(new PostaConfig.Submission(List.of(), true, false, submission.authFailuresBeforeLockout(), submission.authLockout()))
        .senderChecks(new PostaConfig.SenderChecks(PostaConfig.SenderChecks.Rules.OFF, Map.of(), List.of()))
        .capture(PostaConfig.Capture.ANY_LOGIN)
        .build();
    return Posta.Serve.withListen(dev, listen);
  }

  @Override
  public Integer call() throws Exception {
    PostaConfig cfg;
    try {
      cfg = config();
    } catch (IllegalArgumentException e) {
      System.err.println("posta dev: --listen " + e.getMessage());
      return 2;
    }
    List<String> remote = cfg.listeners().stream().filter(l -> !l.address().getAddress().isLoopbackAddress())
        .map(l -> l.protocol().name().toLowerCase(java.util.Locale.ROOT) + "=" + Posta.Serve.hostPortOf(l.address())).toList();
    if (!remote.isEmpty() && !allowRemote) {
      System.err.println("posta dev: refusing to listen on " + String.join(", ", remote) + ": in capture mode anyone who reaches it "
          + "can read every captured message (logins take any password). Add --allow-remote if that is what you want.");
      return 2;
    }
    LogSettings.apply(cfg.log());
    PostaServer server;
    try {
      String notOwner = DataFolderOwner.refusal(cfg.dataDir());
      if (notOwner != null) {
        System.err.println("posta dev: cannot start: " + notOwner);
        return 1;
      }
      server = new PostaServer(cfg).start();
    } catch (IOException e) {
      System.err.println("posta dev: cannot start: " + e.getMessage());
      return 1;
    }
    if (reset) {
      try {
        int removed = server.clearMailboxes();
        System.out.println("posta dev: --reset removed " + removed + " message(s)");
      } catch (IOException e) {
        server.close();
        System.err.println("posta dev: --reset failed: " + e.getMessage());
        return 1;
      }
    }
    System.out.println(banner(server, !remote.isEmpty()));
    System.out.flush();
    startStop.info("posta {} started in capture mode: data {}, nothing is relayed", Posta.VERSION, cfg.dataDir());
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      server.close();
      startStop.info("posta dev stopped");
      LogSettings.flush();
      stopped.countDown();
    }));
    stopped.await();
    return 0;
  }

  static String banner(PostaServer server, boolean remote) {
    PostaConfig cfg = server.config();
    var s = new StringBuilder("Posta " + Posta.VERSION + " in capture mode (posta dev): takes mail for any address, RELAYS NOTHING\n");
    for (PostaServer.Bound b : server.listeners()) {
      s.append("  %-11s %s%n".formatted(b.listener().protocol().name().toLowerCase(java.util.Locale.ROOT), Posta.Serve.hostPortOf(b.address())));
    }
    s.append("  %-11s none: no message is ever relayed, to any domain; each recipient gets a mailbox here%n".formatted("outbound"));
    s.append("  %-11s no AUTH needed on smtp or submission; AUTH, IMAP and POP3 take any address with any password%n".formatted("logins"));
    s.append("  %-11s log in as a recipient's address to read its mail, as %s to read every message%n".formatted("reading",
        PostaConfig.Capture.EVERYTHING));
    s.append("  %-11s self-signed certificate, SHA-256 %s%n".formatted("tls", dev.posta.tls.ServerTls.fingerprint(server.tls().certificate())));
    s.append("  %-11s %s (posta dev --reset empties it)%n".formatted("data", cfg.dataDir()));
    if (remote) {
      s.append("WARNING: listening beyond loopback (--allow-remote): anyone who reaches these ports can read every captured message\n");
    }
    return s.toString().stripTrailing();
  }
}
