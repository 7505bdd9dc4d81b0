package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.posta.config.ConfigException;
import dev.posta.config.PostaConfig;
import dev.posta.control.ControlProtocol;
import dev.posta.control.QueueReply;
import dev.posta.control.QueueRequest;
import dev.posta.local.LocalRequest;
import dev.posta.local.Maildrop;
import dev.posta.queue.QueueControl;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.SequenceInputStream;
import java.net.ProtocolException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * {@code posta sendmail}: the sendmail(8) command line that programs pipe mail to (cron, PHP's
 * mail(), git send-email, logwatch), also as {@code sendmail}, {@code mailq} and
 * {@code newaliases} when Posta is called by those names (symlinks: the launcher passes the name
 * it was called by in {@code POSTA_ARGV0}). Parsed by hand, not by picocli: sendmail's options
 * are not GNU style ({@code -oi}, {@code -bs}, {@code -fuser}, {@code -ti}), and this path should
 * load few classes: one JVM per message.
 *
 * <p>Options: {@code -t} (recipients from To:, Cc: and Bcc:, added to the arguments' as Postfix
 * does; Bcc: removed), {@code -i} and {@code -oi} (a lone dot does not end the message),
 * {@code -f ADDR} and {@code -r ADDR} (envelope sender), {@code -F NAME} (full name for a From:
 * the message lacks), {@code -bm} (the default), {@code -bs} (SMTP on standard input and output),
 * {@code -bp} (list the queue, as mailq; on a clustered node the cluster's, from its database), {@code -bi} and {@code -I} (newaliases: nothing to do),
 * {@code -v}, {@code -C FILE} (Posta's configuration file), {@code --} and recipients. The
 * historic options programs still pass are accepted and ignored ({@code -oX...}, {@code -B},
 * {@code -h}, {@code -L}, {@code -N}, {@code -O}, {@code -R}, {@code -V}, {@code -X},
 * {@code -e}, {@code -p}, {@code -q}, {@code -G}, {@code -U}, {@code -m}, {@code -n},
 * {@code -c}, {@code -x}, and letters not listed); {@code -bd}, {@code -bv} and the other modes
 * are refused (64).
 *
 * <p>The way in: with a server running, its socket {@code <data>/public/submit.sock}; the server
 * knows the caller from the kernel, checks as for submission and answers only once the message is
 * in its spool. With none, a drop file in {@code <data>/public/maildrop}, fsynced before the exit
 * status 0 ({@link Maildrop}); the server takes it in at its start. Either way, 0 means the
 * message is durable.
 *
 * <p>Exit statuses (sysexits.h): 0 taken; 64 EX_USAGE bad options, no recipients, too many;
 * 65 EX_DATAERR malformed message (NUL, bare CR, an over-long line or header section), over the
 * size limit, bad address; 67 EX_NOUSER no such local user; 69 EX_UNAVAILABLE other permanent
 * refusals, no data folder, mailq with the mail system down; 70 EX_SOFTWARE an answer it cannot
 * read; 71 EX_OSERR no standard input; 73 EX_CANTCREAT the drop file cannot be created;
 * 74 EX_IOERR it cannot be written or fsynced (a full or dead disk); 75 EX_TEMPFAIL the server
 * failed temporarily or went away mid-message (nothing was taken: try again); 77 EX_NOPERM a
 * sender the caller may not use; 78 EX_CONFIG the configuration cannot be read.
 */
final class Sendmail {
  static final int EX_OK = 0;
  static final int EX_USAGE = 64;
  static final int EX_DATAERR = 65;
  static final int EX_NOUSER = 67;
  static final int EX_UNAVAILABLE = 69;
  static final int EX_SOFTWARE = 70;
  static final int EX_OSERR = 71;
  static final int EX_CANTCREAT = 73;
  static final int EX_IOERR = 74;
  static final int EX_TEMPFAIL = 75;
  static final int EX_NOPERM = 77;
  static final int EX_CONFIG = 78;

  /** A header section longer than this is malformed (read whole for -t). */
  static final int MAX_HEADER_SECTION = 1024 * 1024;

  enum Mode { DELIVER, SMTP, LIST, NEWALIASES }

  /** The command line, parsed. */
  record Options(Mode mode, boolean extract, boolean ignoreDots, String sender, String fullName, int verbose, Path config,
      List<String> recipients) {}

  /** A command line it cannot run: the message, exit 64. */
  static final class Usage extends Exception {
    Usage(String message) {
      super(message, null, false, false);
    }
  }

  /** Letters that take a value (in the same word or the next); from Postfix's and sendmail 8's getopt strings. */
  private static final String WITH_VALUE = "BCFLNORVXbefhopr";

  /** The options as sendmail's getopt reads them: letters grouped ({@code -ti}), values attached or next. */
  static Options parse(List<String> args, Mode mode) throws Usage {
    boolean extract = false;
    boolean ignoreDots = false;
    String sender = null;
    String fullName = null;
    int verbose = 0;
    Path config = null;
    List<String> recipients = new ArrayList<>();
    int i = 0;
    for (; i < args.size(); i++) {
      String a = args.get(i);
      if (a.equals("--")) {
        i++;
        break;
      }
      if (!a.startsWith("-") || a.equals("-")) break; // the recipients start
      for (int j = 1; j < a.length(); j++) {
        char c = a.charAt(j);
        String value = null;
        if (WITH_VALUE.indexOf(c) >= 0) {
          if (j + 1 < a.length()) {
            value = a.substring(j + 1);
          } else if (c == 'o' || c == 'q') {
            value = "";
          } else if (i + 1 < args.size()) {
            value = args.get(++i);
          } else {
            throw new Usage("option -" + c + " needs a value");
          }
          j = a.length();
        }
        switch (c) {
          case 't' -> extract = true;
          case 'i' -> ignoreDots = true;
          case 'v' -> verbose++;
          case 'f', 'r' -> sender = bare(value);
          case 'F' -> fullName = value;
          case 'C' -> config = Path.of(value);
          case 'o' -> {
            if (value.equals("i")) ignoreDots = true; // -oi; -oem, -odb, -oQ... are ignored
          }
          case 'I' -> mode = Mode.NEWALIASES;
          case 'b' -> mode = switch (value) {
            case "m" -> Mode.DELIVER;
            case "s" -> Mode.SMTP;
            case "p" -> Mode.LIST;
            case "i" -> Mode.NEWALIASES;
            default -> throw new Usage("-b" + value + " is not supported (Posta takes -bm, -bs, -bp and -bi)");
          };
          default -> {} // historic or unknown: accepted and ignored, as sendmail does
        }
      }
    }
    recipients.addAll(args.subList(Math.min(i, args.size()), args.size()));
    for (String r : recipients) {
      if (r.isBlank()) throw new Usage("an empty recipient argument");
    }
    return new Options(mode, extract, ignoreDots, sender, fullName, verbose, config, recipients);
  }

  /** {@code <addr>} as {@code addr}; {@code <>} and an empty value as "" (the null sender). */
  private static String bare(String value) {
    String v = value.strip();
    if (v.startsWith("<") && v.endsWith(">")) v = v.substring(1, v.length() - 1).strip();
    return v;
  }

  // --- Running ------------------------------------------------------------------------------

  private final InputStream stdin;
  private final PrintStream stdout;
  private final PrintStream stderr;

  Sendmail(InputStream stdin, PrintStream stdout, PrintStream stderr) {
    this.stdin = stdin;
    this.stdout = stdout;
    this.stderr = stderr;
  }

  PrintStream stdoutStream() {
    return stdout;
  }

  InputStream stdinStream() {
    return stdin;
  }

  /** The name the program was called by picks the mode: sendmail, mailq, newaliases. */
  static Mode modeFor(String calledAs) {
    return switch (calledAs) {
      case "mailq" -> Mode.LIST;
      case "newaliases" -> Mode.NEWALIASES;
      default -> Mode.DELIVER;
    };
  }

  /**
   * Runs as {@code calledAs} (sendmail, mailq or newaliases) with {@code args}; {@code me} names
   * it in messages ({@code sendmail}, {@code posta sendmail}).
   */
  int run(String calledAs, String me, List<String> args) {
    return run(calledAs, me, args, null);
  }

  /** As {@link #run(String, String, List)}, with {@code given} for the configuration (tests), or null to load it. */
  int run(String calledAs, String me, List<String> args, PostaConfig given) {
    Options o;
    try {
      o = parse(args, modeFor(calledAs));
    } catch (Usage e) {
      stderr.println(me + ": " + e.getMessage());
      stderr.println("usage: " + me + " [-t] [-i] [-f sender] [-F name] [-v] [-bs | -bp] [--] [recipient...]");
      return EX_USAGE;
    }
    PostaConfig config;
    try {
      config = given != null ? given : ConfigOptions.load(o.config(), null);
    } catch (ConfigException | RuntimeException e) {
      stderr.println(me + ": cannot read the configuration: " + e.getMessage());
      return EX_CONFIG;
    }
    return switch (o.mode()) {
      case NEWALIASES -> {
        stdout.println(me + ": Posta keeps its aliases in its configuration file; there is no database to rebuild");
        yield EX_OK;
      }
      case LIST -> mailq(me, config);
      case SMTP -> new SmtpOnStdio(this, me, config, o).run();
      case DELIVER -> deliver(me, config, o);
    };
  }

  private int deliver(String me, PostaConfig config, Options o) {
    InputStream raw = o.ignoreDots() ? stdin : new DotEnds(stdin);
    List<String> recipients = new ArrayList<>(o.recipients());
    InputStream message = raw;
    if (o.extract()) {
      Extracted x;
      try {
        x = extract(raw);
      } catch (Malformed e) {
        stderr.println(me + ": malformed message: " + e.getMessage() + "; nothing was sent");
        return EX_DATAERR;
      } catch (IOException e) {
        stderr.println(me + ": cannot read the message from standard input: " + e.getMessage());
        return EX_OSERR;
      }
      recipients.addAll(x.recipients());
      message = new SequenceInputStream(new ByteArrayInputStream(x.header()), raw);
    }
    if (recipients.isEmpty()) {
      stderr.println(me + ": no recipients: name them as arguments, or use -t with To:, Cc: or Bcc: in the message; nothing was sent");
      return EX_USAGE;
    }
    Outcome outcome = submit(config, LocalRequest.submit(o.sender(), o.fullName(), recipients), message, o.verbose() > 0);
    if (outcome.exit() != EX_OK) stderr.println(me + ": " + outcome.text());
    else if (o.verbose() > 0) stdout.println(me + ": " + outcome.text());
    return outcome.exit();
  }

  /** What became of one message: the exit status and what to say. */
  record Outcome(int exit, String text) {}

  /**
   * Hands one message in: to the running server's socket, else into the drop folder. Returns
   * {@link #EX_OK} only once the message is durable.
   */
  Outcome submit(PostaConfig config, LocalRequest head, InputStream message, boolean verbose) {
    Path data = config.dataDir();
    Path socket = Maildrop.socket(data);
    SocketChannel ch;
    try {
      ch = SocketChannel.open(StandardProtocolFamily.UNIX);
    } catch (IOException e) {
      return new Outcome(EX_OSERR, "cannot open a socket: " + e.getMessage());
    }
    try {
      ch.connect(UnixDomainSocketAddress.of(socket));
    } catch (IOException | RuntimeException noServer) {
      close(ch);
      if (verbose) stdout.println("no server at " + socket + " (" + noServer.getMessage() + "): writing to the drop folder");
      return drop(config, head, message);
    }
    try (ch) {
      OutputStream out = Channels.newOutputStream(ch);
      InputStream in = Channels.newInputStream(ch);
      out.write(head.encode());
      String first = readLine(in);
      if (first == null) return new Outcome(EX_TEMPFAIL, "the server closed the connection without an answer; nothing was sent, try again");
      if (verbose) stdout.println("<<< " + first);
      if (!first.startsWith("354")) return refused(first);
      byte[] buffer = new byte[65536];
      while (true) {
        int n;
        try {
          n = message.read(buffer);
        } catch (Malformed e) {
          return new Outcome(EX_DATAERR, "malformed message: " + e.getMessage() + "; nothing was sent");
        } catch (IOException e) {
          return new Outcome(EX_OSERR, "cannot read the message from standard input: " + e.getMessage() + "; nothing was sent");
        }
        if (n < 0) break;
        try {
          out.write(buffer, 0, n);
        } catch (IOException e) {
          // The server stopped reading: it may have said why.
          String why = readLine(in);
          if (why != null) return refused(why);
          throw e;
        }
      }
      ch.shutdownOutput();
      String last = readLine(in);
      if (last == null) return new Outcome(EX_TEMPFAIL, "the server went away before it answered; the message may not have been taken, try again");
      if (verbose) stdout.println("<<< " + last);
      return last.startsWith("250") ? new Outcome(EX_OK, last.substring(4)) : refused(last);
    } catch (IOException e) {
      return new Outcome(EX_TEMPFAIL, "lost the server while sending (" + e.getMessage() + "); nothing was taken, try again");
    }
  }

  private Outcome drop(PostaConfig config, LocalRequest head, InputStream message) {
    Path folder = Maildrop.folder(config.dataDir());
    if (!Files.isDirectory(config.dataDir())) {
      return new Outcome(EX_UNAVAILABLE, "no data folder " + config.dataDir() + ": Posta has never run with "
          + config.source().map(p -> "the configuration " + p).orElse("the embedded defaults here")
          + " (start it once with posta serve; set POSTA_CONFIG or -C to the server's configuration); nothing was sent");
    }
    try {
      Path file = Maildrop.drop(folder, head, new LineCheck(message, config.limits().maxLineLength()), config.limits().maxMessageSize());
      return new Outcome(EX_OK, "the server is not running: the message waits in " + file + " until it starts");
    } catch (Maildrop.TooBig e) {
      return new Outcome(EX_DATAERR, e.getMessage() + " (max-message-size); nothing was sent");
    } catch (Malformed e) {
      return new Outcome(EX_DATAERR, "malformed message: " + e.getMessage() + "; nothing was sent");
    } catch (NoSuchFileException | AccessDeniedException | FileAlreadyExistsException e) {
      return new Outcome(EX_CANTCREAT, "the server is not running, and no file can be made in its drop folder " + folder + " ("
          + e.getClass().getSimpleName() + "; the server makes the folder when it starts); nothing was sent");
    } catch (IOException e) {
      return new Outcome(EX_IOERR, "the server is not running, and the drop file could not be written in " + folder + ": " + e.getMessage()
          + "; nothing was sent");
    }
  }

  /** A refusal line, {@code code status text}, as an exit status and its message. */
  static Outcome refused(String line) {
    String status = line.length() > 4 ? line.substring(4).split(" ", 2)[0] : "";
    int code = line.length() >= 3 && Character.isDigit(line.charAt(0)) ? Integer.parseInt(line.substring(0, 3)) : 0;
    int exit;
    if (code >= 400 && code < 500) exit = EX_TEMPFAIL;
    else if (code < 500 || code > 599) exit = EX_SOFTWARE;
    else if (status.equals("5.1.1")) exit = EX_NOUSER;
    else if (status.startsWith("5.7.")) exit = EX_NOPERM;
    else if (status.startsWith("5.5.")) exit = EX_USAGE;
    else if (status.equals("5.1.3") || status.equals("5.1.7") || status.startsWith("5.6.") || status.equals("5.3.4")) exit = EX_DATAERR;
    else exit = EX_UNAVAILABLE;
    return new Outcome(exit, "refused: " + line + (exit == EX_TEMPFAIL ? " (nothing was taken, try again)" : ""));
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream(128);
    for (int c = in.read(); c >= 0; c = in.read()) {
      if (c == '\n') return b.toString(UTF_8);
      b.write(c);
    }
    return b.size() == 0 ? null : b.toString(UTF_8);
  }

  private static void close(SocketChannel ch) {
    try {
      ch.close();
    } catch (IOException ignored) {
      // nothing was sent
    }
  }

  // --- Start-up training --------------------------------------------------------------------

  /**
   * What the launcher runs, in the background, to record sendmail's ahead-of-time cache (the
   * classes one message needs, parsed and linked): the real code on a private folder, never real
   * mail. A configuration file is read, a message with -t and -f goes in over a socket of its own
   * (answered as the server answers), another into a drop folder, and the drop folder is listed.
   */
  static int train() throws IOException {
    Path dir = Files.createTempDirectory("posta-sendmail-aot");
    try {
      Path data = dir.resolve("data");
      Files.createDirectories(Maildrop.folder(data));
      Path toml = dir.resolve("posta.toml");
      Files.writeString(toml, "hostname = \"localhost\"\ndata = \"data\"\n[domains.\"localhost\"]\nany-local-part = true\n");
      var sink = new PrintStream(OutputStream.nullOutputStream(), false, UTF_8);
      byte[] message = "To: Someone <someone@localhost>, other\nBcc: hidden@localhost\nSubject: training\n\nbody\n.\n".getBytes(UTF_8);
      try (var server = java.nio.channels.ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
        server.bind(UnixDomainSocketAddress.of(Maildrop.socket(data)));
        Thread answering = Thread.ofPlatform().start(() -> {
          try (SocketChannel c = server.accept()) {
            InputStream in = Channels.newInputStream(c);
            OutputStream out = Channels.newOutputStream(c);
            LocalRequest.read(in);
            out.write("354 Send the message, then end the stream\n".getBytes(UTF_8));
            in.transferTo(OutputStream.nullOutputStream());
            out.write("250 2.0.0 Ok: queued as 1A24DDF606400000\n".getBytes(UTF_8));
          } catch (IOException e) {
            // training only
          }
        });
        new Sendmail(new ByteArrayInputStream(message), sink, sink).run("sendmail", "sendmail",
            List.of("-C", toml.toString(), "-t", "-f", "someone@localhost", "-F", "Some One", "-v"));
        answering.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      Files.deleteIfExists(Maildrop.socket(data));
      new Sendmail(new ByteArrayInputStream(message), sink, sink).run("sendmail", "sendmail", List.of("-C", toml.toString(), "-oi", "root"));
      new Sendmail(new ByteArrayInputStream(new byte[0]), sink, sink).run("mailq", "mailq", List.of("-C", toml.toString()));
      return EX_OK;
    } finally {
      try (var walk = Files.walk(dir)) {
        walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  // --- mailq --------------------------------------------------------------------------------

  private static final DateTimeFormatter WHEN = DateTimeFormatter.ofPattern("EEE MMM d HH:mm:ss", Locale.ROOT).withZone(ZoneId.systemDefault());

  private int mailq(String me, PostaConfig config) {
    Path data = config.dataDir();
    if (config.cluster().database().isPresent()) return clusterMailq(me, config);
    QueueRequest list = new QueueRequest(QueueRequest.Command.LIST, null);
    QueueReply reply = null;
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(Maildrop.socket(data)))) {
      Channels.newOutputStream(ch).write(LocalRequest.MAILQ_REQUEST.encode());
      ch.shutdownOutput();
      reply = ControlProtocol.readAnswer(Channels.newInputStream(ch));
    } catch (ProtocolException e) {
      stderr.println(me + ": the server's answer cannot be read: " + e.getMessage());
      return EX_SOFTWARE;
    } catch (IOException | RuntimeException notRunning) {
      try {
        reply = new QueueReply.Listed(QueueControl.listSpool(data.resolve("queue")));
      } catch (IOException e) {
        stderr.println(me + ": the mail system is down, and its queue in " + data + " cannot be read by this user ("
            + (e instanceof AccessDeniedException ? "permission denied" : e.toString()) + ")");
        return EX_UNAVAILABLE;
      }
    }
    QueueOutput out = QueueOutput.of(list, null, reply);
    stdout.print(out.out());
    stderr.print(out.err());
    listDropFolder(data);
    return out.exitCode() == QueueOutput.DONE ? EX_OK : EX_UNAVAILABLE;
  }

  /**
   * mailq on a clustered node ({@code [cluster] database}): the cluster's queue, read from its
   * database as {@code posta queue list} reads it, whether a node runs here or not. The node's
   * own spool is not the queue any more: mail accepted in cluster mode is in the database (what
   * an embedded run left in the spool is not delivered while the node is clustered, and its log
   * says so at the start).
   */
  private int clusterMailq(String me, PostaConfig config) {
    QueueOutput out;
    try {
      out = QueueCommand.listCluster(config, stdout);
    } catch (java.sql.SQLException | RuntimeException e) {
      String why = e.getMessage() == null ? e.toString() : e.getMessage().replaceAll("\\s+", " ").strip();
      stderr.println(me + ": the cluster's queue cannot be read from its database "
          + dev.posta.database.Database.shownUrl(config.cluster().database().orElseThrow()) + ": " + why);
      return EX_UNAVAILABLE;
    }
    stdout.print(out.out());
    stderr.print(out.err());
    listDropFolder(config.dataDir());
    return out.exitCode() == QueueOutput.DONE ? EX_OK : EX_UNAVAILABLE;
  }

  /** The drop folder's files, after the queue: mail a server takes in when it runs. */
  private void listDropFolder(Path data) {
    try {
      List<Maildrop.Waiting> waiting = Maildrop.list(Maildrop.folder(data));
      if (!waiting.isEmpty()) {
        stdout.println();
        stdout.println("In the drop folder, taken in when the server runs (" + waiting.size() + "):");
        for (Maildrop.Waiting w : waiting) {
          String to = w.head() == null ? "(being written)" : String.join(" ", w.head().recipients());
          String from = w.head() == null || w.head().sender() == null ? "" : (w.head().sender().isEmpty() ? "<>" : w.head().sender()) + " ";
          stdout.printf("%-39s %8d %s  %s(user %s)%n        %s%n", w.name(), w.size(), WHEN.format(w.time()), from, w.owner(), to);
        }
      }
    } catch (IOException e) {
      // Only its owner may list the drop folder; while the server runs it is taken in within seconds.
    }
  }

  // --- -t -----------------------------------------------------------------------------------

  /** The message's header section for -t: recipients found, and the section as sent on (Bcc: removed). */
  record Extracted(List<String> recipients, byte[] header) {}

  /** The message has something no server would take. */
  static final class Malformed extends IOException {
    Malformed(String message) {
      super(message);
    }
  }

  private static final Set<String> RECIPIENT_FIELDS = Set.of("to", "cc", "bcc");

  /**
   * Reads the header section from {@code in} (up to and with its empty line, or to the end),
   * takes the addresses of To:, Cc: and Bcc: (groups and display names as RFC 5322 writes them),
   * and drops the Bcc: fields, continuation lines included. A message whose first line is no
   * header field has no header section: nothing is read past that line, which is given back.
   */
  static Extracted extract(InputStream in) throws IOException {
    ByteArrayOutputStream kept = new ByteArrayOutputStream(1024);
    List<String> recipients = new ArrayList<>();
    List<byte[]> field = new ArrayList<>(); // the current field's lines
    int total = 0;
    boolean first = true;
    while (true) {
      byte[] line = readRawLine(in, MAX_HEADER_SECTION - total + 1);
      if (line == null) break;
      total += line.length;
      if (total > MAX_HEADER_SECTION) throw new Malformed("a header section over " + MAX_HEADER_SECTION + " octets");
      boolean empty = line.length == 0 || line[0] == '\n' || (line[0] == '\r' && line.length > 1 && line[1] == '\n');
      boolean continuation = !first && !empty && (line[0] == ' ' || line[0] == '\t');
      if (continuation && !field.isEmpty()) {
        field.add(line);
        continue;
      }
      endField(field, kept, recipients);
      if (empty || !isField(line)) {
        kept.write(line); // the empty line, or the first body line (no header section, or a stray line ending it)
        break;
      }
      field.add(line);
      first = false;
    }
    endField(field, kept, recipients);
    return new Extracted(recipients, kept.toByteArray());
  }

  private static void endField(List<byte[]> field, ByteArrayOutputStream kept, List<String> recipients) {
    if (field.isEmpty()) return;
    var text = new StringBuilder();
    for (byte[] l : field) text.append(new String(l, UTF_8));
    String unfolded = text.toString().replace("\r\n", "").replace("\n", "");
    int colon = unfolded.indexOf(':');
    String name = unfolded.substring(0, colon).strip().toLowerCase(Locale.ROOT);
    if (RECIPIENT_FIELDS.contains(name)) {
      recipients.addAll(addresses(unfolded.substring(colon + 1)));
    }
    if (!name.equals("bcc")) field.forEach(kept::writeBytes);
    field.clear();
  }

  /**
   * The addresses of an address list (RFC 5322 §3.4) as sendmail -t reads it: comma-separated,
   * each {@code Name <addr>} or a bare {@code addr} (unqualified ones too: {@code To: root}),
   * groups ({@code team: a, b;}) opened, comments and display names dropped; quoted strings
   * keep their commas.
   */
  static List<String> addresses(String list) {
    List<String> out = new ArrayList<>();
    var item = new StringBuilder();
    boolean quoted = false;
    int angle = 0;
    int comment = 0;
    for (int i = 0; i < list.length(); i++) {
      char c = list.charAt(i);
      if (quoted) {
        item.append(c);
        if (c == '\\' && i + 1 < list.length()) item.append(list.charAt(++i));
        else if (c == '"') quoted = false;
        continue;
      }
      if (comment > 0) {
        if (c == '\\') i++;
        else if (c == '(') comment++;
        else if (c == ')') comment--;
        continue;
      }
      switch (c) {
        case '"' -> {
          quoted = true;
          item.append(c);
        }
        case '(' -> comment++;
        case '<' -> {
          angle++;
          item.append(c);
        }
        case '>' -> {
          angle = Math.max(0, angle - 1);
          item.append(c);
        }
        case ':' -> {
          if (angle == 0) item.setLength(0); // a group's name
          else item.append(c);
        }
        case ',', ';' -> {
          if (angle == 0) {
            addAddress(item.toString(), out);
            item.setLength(0);
          } else {
            item.append(c);
          }
        }
        default -> item.append(c);
      }
    }
    addAddress(item.toString(), out);
    return out;
  }

  private static void addAddress(String item, List<String> out) {
    String s = item.strip();
    int open = s.lastIndexOf('<');
    if (open >= 0) {
      int close = s.indexOf('>', open);
      s = s.substring(open + 1, close < 0 ? s.length() : close).strip();
      int route = s.indexOf(':'); // an obsolete route, @a,@b:user@c
      if (s.startsWith("@") && route > 0) s = s.substring(route + 1);
    }
    if (!s.isEmpty()) out.add(s);
  }

  private static boolean isField(byte[] line) {
    for (int i = 0; i < line.length; i++) {
      if (line[i] == ':') return i > 0;
      if (line[i] <= 32 || line[i] >= 127) return false;
    }
    return false;
  }

  /** One line with its LF (if any); null at the end. At most {@code max} octets (then cut: the caller refuses it). */
  private static byte[] readRawLine(InputStream in, int max) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream(128);
    for (int c = in.read(); c >= 0; c = in.read()) {
      b.write(c);
      if (c == '\n' || b.size() >= max) return b.toByteArray();
    }
    return b.size() == 0 ? null : b.toByteArray();
  }

  // --- Streams ------------------------------------------------------------------------------

  /**
   * sendmail's end of input without -i: a line of a lone dot ends the message (and is not part
   * of it); the rest of the input is not read.
   */
  static final class DotEnds extends FilterInputStream {
    private boolean lineStart = true;
    private boolean ended;
    private final byte[] pending = new byte[3];
    private int pendingLength;
    private int pendingPos;

    DotEnds(InputStream in) {
      super(in);
    }

    @Override
    public int read() throws IOException {
      if (pendingPos < pendingLength) return pending[pendingPos++] & 0xff;
      if (ended) return -1;
      int c = in.read();
      if (c < 0) return -1;
      if (lineStart && c == '.') {
        int d = in.read();
        if (d == '\n' || d < 0) return end();
        if (d == '\r') {
          int e = in.read();
          if (e == '\n' || e < 0) return end();
          return replay(c, d, e);
        }
        return replay(c, d, -2);
      }
      lineStart = c == '\n';
      return c;
    }

    private int end() {
      ended = true;
      return -1;
    }

    private int replay(int... octets) {
      pendingLength = 0;
      pendingPos = 0;
      for (int o : octets) if (o >= 0) pending[pendingLength++] = (byte) o;
      int last = pending[pendingLength - 1];
      lineStart = last == '\n';
      return pending[pendingPos++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) return 0;
      int n = 0;
      while (n < len) {
        int c = read();
        if (c < 0) break;
        b[off + n++] = (byte) c;
        if (c == '\n' && in.available() == 0 && pendingPos >= pendingLength) break; // do not wait for more than a line
      }
      return n == 0 ? -1 : n;
    }
  }

  /**
   * Checks the message as it streams into a drop file, as the server would: no NUL, no bare CR,
   * no line over {@code max-line-length}. Over the socket the server checks itself.
   */
  static final class LineCheck extends FilterInputStream {
    private final int maxText;
    private int lineLength;
    private boolean cr;

    LineCheck(InputStream in, int maxLineLength) {
      super(in);
      this.maxText = maxLineLength - 2;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = in.read(b, off, len);
      if (n < 0) {
        if (cr) throw new Malformed("a bare CR at the end");
        return n;
      }
      for (int i = off; i < off + n; i++) {
        byte c = b[i];
        if (c == '\n') {
          cr = false;
          lineLength = 0;
          continue;
        }
        if (cr) throw new Malformed("a bare CR (lines end in LF or CRLF)");
        if (c == '\r') {
          cr = true;
          continue;
        }
        if (c == 0) throw new Malformed("a NUL octet");
        if (++lineLength > maxText) throw new Malformed("a line longer than " + (maxText + 2) + " octets (max-line-length)");
      }
      return n;
    }
  }

  /** For -bs: reads lines of text from standard input. */
  static BufferedReader lines(InputStream in) {
    return new BufferedReader(new InputStreamReader(in, UTF_8));
  }
}
