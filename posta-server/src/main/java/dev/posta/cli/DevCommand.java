package dev.posta.cli;

import dev.posta.LogSettings;
import dev.posta.PostaServer;
import dev.posta.config.ConfigException;
import dev.posta.config.ConfigLoader;
import dev.posta.config.PostaConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
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
 * change) and the other listeners on 1xxx ports, the HTTP API on Mailpit's 8025, all on loopback. Logins with any password are
 * safe only there: a listener on another address is refused unless {@code --allow-remote} asks
 * for it. No server configuration file is read: a real server's file would bring its data
 * folder, and with it real mail, into capture mode. Capture mode's own settings are options: how
 * captured mail is filed under namespaces ({@code --namespace-pattern}, {@code
 * --no-login-namespaces}) and how much of it the in-memory index keeps ({@code --retain});
 * {@link PostaConfig.Capture} has the rules. {@code --config FILE} reads capture mode's own
 * settings only: {@code [capture.dns]}, the test DNS zone's records ({@link
 * ConfigLoader#loadCapture}), and scripted SMTP faults, a tarpit and a rate limit ({@code
 * [[capture.faults]]}, {@link dev.posta.CaptureFile}), for testing an application's retry path; each fault
 * that fires is logged with why.
 *
 * <p>{@code posta dev release ID --to ADDRESS} is the one way out, as Mailpit's release: a copy
 * of one captured message, named by its queue ID or Message-ID, sent to a real address the
 * command names, through the real server's remote delivery (the address's MX, or the smart
 * host {@code --via} names, TLS as the server's defaults say) and logged. It reads the message
 * from the data folder, so it works whether or not {@code posta dev} runs.
 */
@Command(name = "dev", mixinStandardHelpOptions = true, subcommands = DevCommand.Release.class,
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
      listener(PostaConfig.Protocol.POP3S, 1995),
      // Mailpit's web and API port: a script or browser test written against it finds the API there.
      listener(PostaConfig.Protocol.HTTP, 8025));

  @Option(names = "--data", paramLabel = "DIR", description = "Data folder for the captured mail. Default: posta-dev-data in the current folder.")
  Path data;

  @Option(names = "--listen", paramLabel = "PROTOCOL=HOST:PORT",
      description = "Listen there for that protocol instead (repeatable, as posta serve's); PROTOCOL= alone turns it off. "
          + "Default: smtp 127.0.0.1:1025, submission 1587, smtps 1465, imap 1143, imaps 1993, pop3 1110, pop3s 1995, http 8025 (the API).")
  List<String> listen = new ArrayList<>();

  @Option(names = "--config", paramLabel = "FILE",
      description = "Capture mode's settings: a TOML file with only [capture]: [capture.dns], your own records (SPF, DKIM, DMARC) for "
          + "the test DNS zone that captured mail is checked against (default: the built-in test domain example.test only); "
          + "[[capture.faults]], tarpit and rate-limit, scripted SMTP faults.")
  Path config;

  @Option(names = "--reset", description = "Empty every mailbox of the data folder before serving.")
  boolean reset;

  @Option(names = "--namespace-pattern", paramLabel = "REGEX",
      description = "The regular expression whose first group, found in a recipient's address (lower case), names the namespace of "
          + "captured mail that came without SMTP AUTH. Default: the plus tag, ${DEFAULT-VALUE} (ada+t1@example.com is t1). "
          + "'' turns it off.")
  String namespacePattern = PostaConfig.Capture.PLUS_TAG;

  @Option(names = "--no-login-namespaces", negatable = false,
      description = "An SMTP AUTH login does not name the namespace (by default it does: its plus tag, else the whole login).")
  boolean noLoginNamespaces;

  @Option(names = "--retain", paramLabel = "N",
      description = "How many captured messages the index of captured mail keeps for finding and waiting, oldest forgotten first. "
          + "Default: ${DEFAULT-VALUE}. The mailboxes keep every message.")
  int retain = PostaConfig.Capture.DEFAULT_RETENTION;

  @Option(names = "--allow-remote",
      description = "Listen on addresses other than loopback too. Dangerous: anyone who reaches them can read every captured message "
          + "(logins take any password).")
  boolean allowRemote;

  private static PostaConfig.Listener listener(PostaConfig.Protocol protocol, int port) {
    return new PostaConfig.Listener(protocol, new InetSocketAddress("127.0.0.1", port));
  }

  /**
   * The configuration {@code posta dev} serves with these options (and its {@code --config} file).
   *
   * @throws IllegalArgumentException saying which option is wrong and why
   * @throws ConfigException listing the problems of the {@code --config} file
   */
  PostaConfig config() throws ConfigException {
    PostaConfig.Capture capture;
    try {
      capture = new PostaConfig.Capture(true, Map.of(), !noLoginNamespaces, namespacePattern, retain);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException((e.getMessage().contains("retention") ? "--retain " : "--namespace-pattern ") + e.getMessage(), e);
    }
    PostaConfig defaults = PostaConfig.embeddedDefaults((data != null ? data : Path.of("posta-dev-data")).toAbsolutePath());
    var submission = defaults.submission();
    PostaConfig dev = defaults.toBuilder()
        .listeners(LISTENERS)
        // Plain-text logins from loopback: a developer's IMAP client need not trust the self-signed certificate.
        .submission(new PostaConfig.Submission(List.of(), true, false, submission.authFailuresBeforeLockout(), submission.authLockout()))
        .senderChecks(new PostaConfig.SenderChecks(PostaConfig.SenderChecks.Rules.OFF, Map.of(), List.of()))
        .capture(config == null ? capture : capture.withZone(ConfigLoader.loadCapture(config.toAbsolutePath())))
        .build();
    try {
      return Posta.Serve.withListen(dev, listen);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--listen " + e.getMessage(), e);
    }
  }

  @Override
  public Integer call() throws Exception {
    PostaConfig cfg;
    try {
      cfg = config();
    } catch (IllegalArgumentException e) {
      System.err.println("posta dev: " + e.getMessage());
      return 2;
    } catch (ConfigException e) {
      System.err.println("posta dev: --config " + config + ":");
      for (String problem : e.problems()) System.err.println("  " + problem);
      return 2;
    }
    List<String> remote = cfg.listeners().stream().filter(l -> !l.address().getAddress().isLoopbackAddress())
        .map(l -> l.protocol().name().toLowerCase(java.util.Locale.ROOT) + "=" + Posta.Serve.hostPortOf(l.address())).toList();
    if (!remote.isEmpty() && !allowRemote) {
      System.err.println("posta dev: refusing to listen on " + String.join(", ", remote) + ": in capture mode anyone who reaches it "
          + "can read every captured message (logins take any password). Add --allow-remote if that is what you want.");
      return 2;
    }
    dev.posta.CaptureFile faults = null;
    if (config != null) {
      try {
        faults = dev.posta.CaptureFile.read(config.toAbsolutePath());
      } catch (ConfigException e) {
        System.err.println("posta dev: --config " + config + ":");
        for (String problem : e.problems()) System.err.println("  " + problem);
        return 2;
      }
      if (faults.describe().isEmpty()) faults = null; // a file of [capture.dns] only
    }
    LogSettings.apply(cfg.log());
    ServerRun run = new ServerRun(running -> {}, running -> startStop.info("posta dev stopped"));
    PostaServer server = run.start(cfg, "posta dev", faults);
    if (server == null) return 1;
    if (reset) {
      try {
        int removed = server.clearMailboxes();
        System.out.println("posta dev: --reset removed " + removed + " message(s)");
      } catch (IOException e) {
        run.abandon(server);
        System.err.println("posta dev: --reset failed: " + e.getMessage());
        return 1;
      }
    }
    System.out.println(banner(server, !remote.isEmpty()) + (faults == null ? "" : "\n" + faultLines(faults)));
    System.out.flush();
    startStop.info("posta {} started in capture mode: data {}, nothing is relayed", Posta.VERSION, cfg.dataDir());
    if (faults != null) {
      List<String> lines = faults.describe();
      for (int i = 0; i < lines.size(); i++) {
        startStop.info("posta dev: {} from {}: {}", i < faults.faultCount() ? "scripted fault " + (i + 1) : "scripted", config, lines.get(i));
      }
    }
    run.awaitStop();
    return 0;
  }

  /** The banner's lines for scripted faults: how many, from where. */
  static String faultLines(dev.posta.CaptureFile faults) {
    var s = new StringBuilder("  %-11s %d scripted from %s (each logged when it fires)".formatted("faults", faults.faultCount(), faults.file()));
    for (String line : faults.describe()) s.append("\n  %-11s %s".formatted("", line));
    return s.toString();
  }

  static String banner(PostaServer server, boolean remote) {
    PostaConfig cfg = server.config();
    var s = new StringBuilder("Posta " + Posta.VERSION + " in capture mode (posta dev): takes mail for any address, RELAYS NOTHING\n");
    for (PostaServer.Bound b : server.listeners()) {
      s.append("  %-11s %s%n".formatted(b.listener().protocol().name().toLowerCase(java.util.Locale.ROOT), Posta.Serve.hostPortOf(b.address())));
    }
    s.append("  %-11s none: no message is ever relayed, to any domain; each recipient gets a mailbox here%n".formatted("outbound"));
    s.append("  %-11s no AUTH needed on smtp or submission; AUTH, IMAP and POP3 take any address with any password%n".formatted("logins"));
    if (server.listeners().stream().anyMatch(b -> b.listener().protocol() == PostaConfig.Protocol.HTTP)) {
      s.append("  %-11s /api/v1/messages, /api/v1/messages/wait?to=ADDRESS&timeout=10s: no token needed in capture mode%n".formatted("api"));
    }
    s.append("  %-11s log in as a recipient's address to read its mail, as %s to read every message%n".formatted("reading",
        PostaConfig.Capture.EVERYTHING));
    s.append("  %-11s self-signed certificate, SHA-256 %s%n".formatted("tls", dev.posta.tls.ServerTls.fingerprint(server.tls().certificate())));
    // The file a developer's client is told to trust, instead of turning its checks off.
    s.append("  %-11s %s (a client's CA file: Python cafile=, curl --cacert, openssl -CAfile, keytool -importcert)%n".formatted("trust",
        server.tls().certificatePath().toAbsolutePath()));
    s.append(("  %-11s each message gets Authentication-Results (SPF, DKIM, DMARC; recorded, never refused) from a test DNS zone, "
        + "no real DNS: %s%s%n").formatted("checks", dev.posta.mailauth.TestDomain.DOMAIN, zoneSize(cfg.capture().zone())));
    var keys = server.testDomainKeys();
    if (keys != null) {
      s.append("  %-11s %s signs with selector %s (%s) or %s (%s)%n".formatted("test keys", dev.posta.mailauth.TestDomain.DOMAIN,
          dev.posta.mailauth.TestDomain.RSA_SELECTOR, keys.rsaPem(), dev.posta.mailauth.TestDomain.ED25519_SELECTOR, keys.ed25519Pem()));
    }
    s.append("  %-11s %s (posta dev --reset empties it)%n".formatted("data", cfg.dataDir()));
    s.append("  %-11s posta dev release QUEUE-ID --to ADDRESS sends a copy of one message out, on request only%n".formatted("release"));
    if (remote) {
      s.append("WARNING: listening beyond loopback (--allow-remote): anyone who reaches these ports can read every captured message\n");
    }
    return s.toString().stripTrailing();
  }

  /** ", and 3 records and 1 DKIM key of --config" or nothing. */
  private static String zoneSize(PostaConfig.Capture.Zone zone) {
    if (zone.records().isEmpty() && zone.dkimKeys().isEmpty()) return "";
    return ", and " + zone.records().size() + " record(s) and " + zone.dkimKeys().size() + " DKIM key(s) of --config";
  }

  /** {@code posta dev release}: see the class comment. */
  @Command(name = "release", mixinStandardHelpOptions = true,
      description = "Send a copy of one captured message to a real address (Mailpit's release): through that address's MX, "
          + "or the smart host --via names. Nothing else ever leaves capture mode. Exit 0 when every address took it.")
  static final class Release implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger("dev.posta.release");

    @picocli.CommandLine.Parameters(paramLabel = "QUEUE-ID|MESSAGE-ID",
        description = "The message: the queue ID its 250 reply gave (also in the log), or its Message-ID.")
    String id;

    @Option(names = "--to", paramLabel = "ADDRESS", required = true, split = ",", description = "Where the copy goes (repeatable).")
    List<String> to;

    @Option(names = "--via", paramLabel = "HOST:PORT", description = "A smart host to send it through (STARTTLS when offered), instead of the MX.")
    String via;

    @Option(names = "--data", paramLabel = "DIR", description = "The data folder of posta dev. Default: posta-dev-data in the current folder.")
    Path data;

    @Override
    public Integer call() throws Exception {
      Path dataDir = (data != null ? data : Path.of("posta-dev-data")).toAbsolutePath();
      List<dev.posta.mail.MailAddress> recipients = new ArrayList<>();
      for (String address : to) {
        try {
          recipients.add(dev.posta.mail.AddressParser.parseMailbox(address.strip()));
        } catch (dev.posta.mail.AddressParser.SyntaxException e) {
          System.err.println("posta dev release: --to " + address + ": " + e.getMessage());
          return 2;
        }
      }
      Path file = find(dataDir, id);
      if (file == null) {
        System.err.println("posta dev release: no captured message " + id + " in " + dataDir.resolve(EVERYTHING_INBOX));
        return 1;
      }
      Captured message = Captured.read(file);
      PostaConfig.Delivery.Builder delivery = PostaConfig.Delivery.defaults().toBuilder();
      if (via != null) {
        int colon = via.lastIndexOf(':');
        String host = colon > 0 ? via.substring(0, colon) : "";
        if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
        int port;
        try {
          port = Integer.parseInt(via.substring(colon + 1));
        } catch (NumberFormatException e) {
          port = -1;
        }
        if (host.isEmpty() || port < 1 || port > 65535) {
          System.err.println("posta dev release: --via '" + via + "': expected HOST:PORT, like smtp.example.com:25 or [::1]:2525");
          return 2;
        }
        delivery.relay(new PostaConfig.Relay(host, port, false, PostaConfig.TlsPolicy.MAY, Optional.empty(), Optional.empty()));
      }
      PostaConfig config = PostaConfig.embeddedDefaults(dataDir).toBuilder().delivery(delivery.build()).build();
      var outbound = new dev.posta.delivery.RemoteDelivery(config, new dev.posta.dns.MxResolver(List.of(), java.time.Duration.ofSeconds(10)),
          dev.posta.client.Timeouts.rfc5321());
      try {
        boolean all = true;
        for (dev.posta.mail.MailAddress rcpt : recipients) {
          var queueId = dev.posta.mail.QueueId.next();
          var envelope = new dev.posta.mail.Envelope(queueId, java.time.Instant.now(), "127.0.0.1", "localhost", message.sender(),
              new dev.posta.mail.MailParameters(message.content().length, message.eightBit() ? dev.posta.mail.MailParameters.BodyType.EIGHT_BIT_MIME
                  : dev.posta.mail.MailParameters.BodyType.SEVEN_BIT, false, null, null),
              List.of(new dev.posta.mail.Recipient(rcpt, dev.posta.mail.RcptParameters.NONE)));
          String destination = outbound.destinationOf(dev.posta.delivery.Router.domainOf(rcpt.toString()));
          log.info("{}: release of captured {} ({}) to <{}> via {}, asked on the command line", queueId, id, file.getFileName(), rcpt, destination);
          var result = outbound.deliver(new dev.posta.delivery.Delivery(envelope, message.content().length,
              out -> out.write(java.nio.ByteBuffer.wrap(message.content())), destination,
              List.of(new dev.posta.delivery.Delivery.Recipient(new dev.posta.delivery.Router.Remote(rcpt.toString()), dev.posta.mail.RcptParameters.NONE,
                  rcpt, false)))).getFirst();
          boolean sent = result.kind() == dev.posta.delivery.DeliveryResult.Kind.DELIVERED || result.kind() == dev.posta.delivery.DeliveryResult.Kind.RELAYED;
          all &= sent;
          System.out.println("posta dev release: " + id + " to <" + rcpt + "> via " + destination + ": " + (sent ? "sent" : "not sent")
              + " (" + result.describe() + ")");
        }
        return all ? 0 : 1;
      } finally {
        outbound.close();
        LogSettings.flush();
      }
    }

    static final String EVERYTHING_INBOX = "mail/localhost/all/Maildir";

    /** The file in all@localhost's inbox of the message with that queue ID or Message-ID; null for none. */
    static Path find(Path dataDir, String id) throws IOException {
      String messageId = id.startsWith("<") ? id : "<" + id + ">";
      Path byMessageId = null;
      for (String sub : List.of("new", "cur")) {
        Path dir = dataDir.resolve(EVERYTHING_INBOX).resolve(sub);
        if (!java.nio.file.Files.isDirectory(dir)) continue;
        try (var files = java.nio.file.Files.list(dir)) {
          for (Path f : files.sorted().toList()) {
            if (f.getFileName().toString().contains("." + id + "_")) return f; // <secs>.<queue ID>_<hash>.<host>...
            if (byMessageId == null && Captured.read(f).messageIds().contains(messageId)) byMessageId = f;
          }
        }
      }
      return byMessageId;
    }
  }

  /**
   * A captured message as stored: its envelope sender (from the Return-Path: delivery added) and
   * its content as it was received (CRLF line ends, without delivery's Return-Path: and
   * Delivered-To: and capture mode's Authentication-Results).
   */
  record Captured(dev.posta.mail.MailAddress sender, byte[] content, List<String> messageIds, boolean eightBit) {
    static Captured read(Path file) throws IOException {
      String text = new String(java.nio.file.Files.readAllBytes(file), java.nio.charset.StandardCharsets.ISO_8859_1); // octets as chars
      dev.posta.mail.MailAddress sender = null;
      if (text.startsWith("Return-Path: ")) {
        int end = text.indexOf('\n');
        String path = text.substring("Return-Path: ".length(), end).strip();
        if (path.length() > 2) {
          try {
            sender = dev.posta.mail.AddressParser.parseMailbox(new String(path.substring(1, path.length() - 1).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1),
                java.nio.charset.StandardCharsets.UTF_8));
          } catch (dev.posta.mail.AddressParser.SyntaxException e) {
            sender = null;
          }
        }
        text = text.substring(end + 1);
      }
      if (text.startsWith("Delivered-To: ")) text = text.substring(text.indexOf('\n') + 1);
      // Capture mode's own Authentication-Results, on top: results from the test zone, not for a real server to read.
      if (text.startsWith("Authentication-Results: ")) {
        int end = text.indexOf('\n');
        while (end >= 0 && end + 1 < text.length() && (text.charAt(end + 1) == ' ' || text.charAt(end + 1) == '\t')) end = text.indexOf('\n', end + 1);
        text = end < 0 ? "" : text.substring(end + 1);
      }
      String crlf = text.replace("\r\n", "\n").replace("\n", "\r\n");
      if (!crlf.endsWith("\r\n")) crlf += "\r\n";
      var m = java.util.regex.Pattern.compile("(?im)^Message-ID:\\s*(<[^>\\r\\n]*>)").matcher(crlf.substring(0, Math.max(0, headerEnd(crlf))));
      byte[] bytes = crlf.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
      boolean eightBit = false;
      for (byte b : bytes) if (b < 0) { eightBit = true; break; }
      List<String> ids = new ArrayList<>();
      while (m.find()) ids.add(m.group(1));
      return new Captured(sender, bytes, ids, eightBit);
    }

    private static int headerEnd(String crlf) {
      int end = crlf.indexOf("\r\n\r\n");
      return end < 0 ? crlf.length() : end;
    }
  }
}
