package dev.posta.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A scriptable receiving SMTP server for outbound-delivery tests: the recipient's mail server
 * that Posta's remote delivery talks to. A real process (Debian's python3 with python3-aiosmtpd,
 * script {@code peers/smtp_peer.py}) on a loopback address, so Posta meets a foreign SMTP
 * implementation on a real socket.
 *
 * <p>By default it offers SIZE, 8BITMIME, SMTPUTF8 and DSN (accepting RET, ENVID, NOTIFY and
 * ORCPT), no STARTTLS and no AUTH, and accepts every message. {@link Options} changes that:
 * another address, STARTTLS with a given certificate, required AUTH, canned refusals for
 * chosen recipients, for the end of data or at connect.
 *
 * <p>Accepted messages are files in {@code <dir>/peer-N/}: {@code 0001.eml} with the content as
 * received and {@code 0001.json} with the envelope, the .json renamed into place last, so
 * {@link #messages()} only ever sees complete ones. Options are kept as the client sent them
 * (aiosmtpd itself would upper-case them). The script's log is {@code peer.log} next to them.
 *
 * <p>Close it after use; a shutdown hook and the script's watch on its stdin (it exits when the
 * JVM that started it goes away) keep a forgotten peer from outliving the test run.
 */
public final class SmtpPeer implements AutoCloseable {
  private static final Path PYTHON = Path.of("/usr/bin/python3");
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(10);
  private static final Pattern MESSAGE = Pattern.compile("\\d{4,}\\.json");
  private static final AtomicInteger PEERS = new AtomicInteger();

  /** One accepted message. {@code mailFrom} is "" for the null reverse-path {@code <>}. */
  public record Received(
      String mailFrom, List<String> mailOptions, List<String> rcptTos, List<List<String>> rcptOptions,
      byte[] content, boolean tls, String authUser) {

    /** The content as UTF-8 text. */
    public String text() {
      return new String(content, StandardCharsets.UTF_8);
    }
  }

  /** What the peer offers and how it answers; every setter returns this for chaining. */
  public static final class Options {
    private String host = "127.0.0.1";
    private int port;
    private boolean smtpUtf8 = true;
    private boolean eightBitMime = true;
    private boolean dsn = true;
    private Path certificate;
    private Path key;
    private String certificatePem;
    private String keyPem;
    private boolean requireStartTls;
    private String authUser;
    private String authPassword;
    private final List<String[]> rcptReplies = new ArrayList<>();
    private String dataReply;
    private int dataReplyTimes;
    private String greeting;
    private int lineLengthLimit;

    /** The loopback address to listen on, any 127.0.0.x; default 127.0.0.1. */
    public Options host(String host) {
      this.host = host;
      return this;
    }

    /** The port; 0 (the default) takes a free one, which {@link SmtpPeer#port()} tells. */
    public Options port(int port) {
      this.port = port;
      return this;
    }

    /** Whether SMTPUTF8 is offered (RFC 6531); default true. Without it non-ASCII is refused. */
    public Options smtpUtf8(boolean offer) {
      this.smtpUtf8 = offer;
      return this;
    }

    /** Whether 8BITMIME is offered in the EHLO reply (RFC 6152); default true. */
    public Options eightBitMime(boolean offer) {
      this.eightBitMime = offer;
      return this;
    }

    /**
     * Whether DSN is offered (RFC 3461); default true. Without it RET, ENVID, NOTIFY and ORCPT
     * are refused with 555, as aiosmtpd refuses any parameter it does not know.
     */
    public Options dsn(boolean offer) {
      this.dsn = offer;
      return this;
    }

    /** Offers STARTTLS with this certificate (chain) and key, both PEM files. */
    public Options startTls(Path certificatePem, Path keyPem) {
      this.certificate = certificatePem;
      this.key = keyPem;
      return this;
    }

    /** Offers STARTTLS with this certificate (chain) and key given as PEM text. */
    public Options startTls(String certificatePem, String keyPem) {
      this.certificatePem = certificatePem;
      this.keyPem = keyPem;
      return this;
    }

    /** Refuses everything but EHLO, NOOP, STARTTLS and QUIT before STARTTLS (530). Needs {@code startTls}. */
    public Options requireStartTls() {
      this.requireStartTls = true;
      return this;
    }

    /**
     * Requires AUTH PLAIN or LOGIN with these credentials before MAIL (530 5.7.0 otherwise).
     * With STARTTLS offered, AUTH is offered only after it (538 5.7.11 before); without, in
     * the clear.
     */
    public Options auth(String user, String password) {
      this.authUser = user;
      this.authPassword = password;
      return this;
    }

    /** Answers RCPT for {@code address} (exact, case-insensitive) with {@code reply}, always. */
    public Options rcptReply(String address, String reply) {
      return rcptReply(address, reply, 0);
    }

    /** Answers RCPT for {@code address} with {@code reply} the first {@code times} times, then accepts. */
    public Options rcptReply(String address, String reply, int times) {
      rcptReplies.add(new String[] {address, reply, Integer.toString(times)});
      return this;
    }

    /** Answers the end of data with {@code reply} instead of accepting, always. */
    public Options dataReply(String reply) {
      return dataReply(reply, 0);
    }

    /** Answers the end of data with {@code reply} the first {@code times} times, then accepts. */
    public Options dataReply(String reply, int times) {
      this.dataReply = reply;
      this.dataReplyTimes = times;
      return this;
    }

    /**
     * Takes message lines up to {@code octets} (CRLF included) instead of aiosmtpd's 1001, which
     * answers longer ones {@code 500 Line too long}: a receiver that keeps long lines.
     */
    public Options lineLengthLimit(int octets) {
      this.lineLengthLimit = octets;
      return this;
    }

    /** Greets every connection with {@code reply} (e.g. {@code 421 4.3.2 busy}) and closes it. */
    public Options greeting(String reply) {
      this.greeting = reply;
      return this;
    }

    private String toJson(Path folder) throws IOException {
      if (certificatePem != null) {
        certificate = Files.writeString(folder.resolve("peer-cert.pem"), certificatePem);
        key = Files.writeString(folder.resolve("peer-key.pem"), keyPem);
      }
      if (requireStartTls && certificate == null) throw new IllegalArgumentException("requireStartTls needs startTls");
      var c = new LinkedHashMap<String, Object>();
      c.put("folder", folder.toAbsolutePath().toString());
      c.put("host", host);
      c.put("port", port);
      c.put("smtpUtf8", smtpUtf8);
      c.put("dsn", dsn);
      c.put("eightBitMime", eightBitMime);
      c.put("tlsCertificate", certificate == null ? null : certificate.toAbsolutePath().toString());
      c.put("tlsKey", key == null ? null : key.toAbsolutePath().toString());
      c.put("requireStartTls", requireStartTls);
      c.put("authUser", authUser);
      c.put("authPassword", authPassword);
      c.put("lineLengthLimit", lineLengthLimit > 0 ? lineLengthLimit : null);
      List<Object> replies = new ArrayList<>();
      for (String[] r : rcptReplies) {
        var m = new LinkedHashMap<String, Object>();
        m.put("address", r[0]);
        m.put("reply", r[1]);
        m.put("times", Integer.parseInt(r[2]) > 0 ? Integer.parseInt(r[2]) : null);
        replies.add(m);
      }
      c.put("rcptReplies", replies);
      if (dataReply != null) {
        var m = new LinkedHashMap<String, Object>();
        m.put("reply", dataReply);
        m.put("times", dataReplyTimes > 0 ? dataReplyTimes : null);
        c.put("dataReply", m);
      } else {
        c.put("dataReply", null);
      }
      c.put("greeting", greeting);
      return Json.write(c);
    }
  }

  private final Process process;
  private final Path folder;
  private final String host;
  private final int port;
  private final Thread shutdownHook;

  private SmtpPeer(Process process, Path folder, String host, int port, Thread shutdownHook) {
    this.process = process;
    this.folder = folder;
    this.host = host;
    this.port = port;
    this.shutdownHook = shutdownHook;
  }

  /** A peer with the defaults: 127.0.0.1, a free port, accepting everything. */
  public static SmtpPeer start(Path dir) {
    return start(dir, o -> o);
  }

  /** A peer configured by {@code options}, listening once this returns. */
  public static SmtpPeer start(Path dir, UnaryOperator<Options> options) {
    Options o = options.apply(new Options());
    Path folder = dir.resolve("peer-" + PEERS.incrementAndGet());
    Process process = null;
    Thread hook = null;
    try {
      Files.createDirectories(folder);
      Path config = Files.writeString(folder.resolve("peer-config.json"), o.toJson(folder));
      Path log = folder.resolve("peer.log");
      process = new ProcessBuilder(PYTHON.toString(), script().toString(), config.toString())
          .redirectError(log.toFile())
          .start();
      Process p = process;
      hook = new Thread(p::destroyForcibly, "smtp-peer-reaper");
      Runtime.getRuntime().addShutdownHook(hook);
      int port = awaitReady(p, log);
      return new SmtpPeer(p, folder, o.host, port, hook);
    } catch (IOException e) {
      abandon(process, hook);
      throw new UncheckedIOException("cannot start the SMTP peer", e);
    } catch (RuntimeException | Error e) {
      abandon(process, hook);
      throw e;
    }
  }

  private static void abandon(Process process, Thread hook) {
    if (process != null) process.destroyForcibly();
    if (hook != null) Runtime.getRuntime().removeShutdownHook(hook);
  }

  private static Path script() {
    var url = SmtpPeer.class.getResource("/peers/smtp_peer.py");
    if (url == null) throw new IllegalStateException("test resource peers/smtp_peer.py is missing");
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Reads stdout until {@code READY <port>}, then keeps draining it on a daemon thread. */
  private static int awaitReady(Process p, Path log) throws IOException {
    var ready = new CompletableFuture<Integer>();
    var reader = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    Thread.ofVirtual().name("smtp-peer-stdout").start(() -> {
      try {
        String line;
        while ((line = reader.readLine()) != null) {
          if (!ready.isDone() && line.startsWith("READY ")) ready.complete(Integer.parseInt(line.substring(6).strip()));
        }
      } catch (IOException | NumberFormatException e) {
        ready.completeExceptionally(e);
      }
      ready.completeExceptionally(new IOException("the peer ended its output without READY"));
    });
    try {
      return ready.get(READY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException | ExecutionException e) {
      p.destroyForcibly();
      waitFor(p);
      throw new IllegalStateException("the SMTP peer did not become ready within " + READY_TIMEOUT
          + (p.isAlive() ? "" : " (exit " + p.exitValue() + ")") + ": " + e + "\n--- peer.log ---\n" + read(log), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new IllegalStateException("interrupted while starting the SMTP peer", e);
    }
  }

  public String host() {
    return host;
  }

  public int port() {
    return port;
  }

  /** The folder holding the messages and {@code peer.log}. */
  public Path folder() {
    return folder;
  }

  /** The script's log: every command it saw and every reply it gave. For failure messages. */
  public String log() {
    return read(folder.resolve("peer.log"));
  }

  /** The messages accepted so far, in order of acceptance. */
  public List<Received> messages() {
    List<Path> envelopes;
    try (Stream<Path> files = Files.list(folder)) {
      envelopes = files.filter(f -> MESSAGE.matcher(f.getFileName().toString()).matches()).sorted().toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<Received> out = new ArrayList<>(envelopes.size());
    for (Path json : envelopes) {
      String name = json.getFileName().toString();
      Path eml = json.resolveSibling(name.substring(0, name.length() - ".json".length()) + ".eml");
      try {
        out.add(received(Files.readString(json, StandardCharsets.UTF_8), Files.readAllBytes(eml)));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return out;
  }

  /** Waits until at least {@code n} messages were accepted; fails with the peer's log otherwise. */
  public List<Received> awaitMessages(int n, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      List<Received> got = messages();
      if (got.size() >= n) return got;
      if (!process.isAlive()) {
        throw new AssertionError("the SMTP peer exited (" + process.exitValue() + ") with " + got.size() + " of "
            + n + " messages\n--- peer.log ---\n" + log());
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the SMTP peer got " + got.size() + " of " + n + " messages within " + timeout
            + "\n--- peer.log ---\n" + log());
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted", e);
      }
    }
  }

  /** True while the script runs. */
  public boolean isAlive() {
    return process.isAlive();
  }

  @Override
  public void close() {
    process.destroy(); // SIGTERM; aiosmtpd needs no orderly shutdown, the files are already in place
    if (!waitFor(process)) {
      process.destroyForcibly();
      waitFor(process);
    }
    try {
      Runtime.getRuntime().removeShutdownHook(shutdownHook);
    } catch (IllegalStateException e) {
      // the JVM is shutting down already; the hook runs anyway
    }
  }

  private static boolean waitFor(Process p) {
    try {
      return p.waitFor(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "<" + e + ">";
    }
  }

  @SuppressWarnings("unchecked")
  private static Received received(String json, byte[] content) {
    Map<String, Object> m = (Map<String, Object>) Json.read(json);
    List<List<String>> rcptOptions = new ArrayList<>();
    for (Object o : (List<Object>) m.get("rcptOptions")) rcptOptions.add(List.copyOf((List<String>) o));
    return new Received((String) m.get("mailFrom"), List.copyOf((List<String>) m.get("mailOptions")),
        List.copyOf((List<String>) m.get("rcptTos")), List.copyOf(rcptOptions), content,
        (Boolean) m.get("tls"), (String) m.get("authUser"));
  }

  /** Just enough JSON for the config written here and the envelopes the script writes. */
  static final class Json {
    private final String s;
    private int i;

    private Json(String s) {
      this.s = s;
    }

    static Object read(String text) {
      Json j = new Json(text);
      Object v = j.value();
      j.space();
      if (j.i != text.length()) throw j.error("trailing text");
      return v;
    }

    private Object value() {
      space();
      if (i >= s.length()) throw error("unexpected end");
      char c = s.charAt(i);
      switch (c) {
        case '{' -> {
          i++;
          var m = new LinkedHashMap<String, Object>();
          space();
          if (peek('}')) return m;
          do {
            space();
            String key = string();
            space();
            expect(':');
            m.put(key, value());
            space();
          } while (peek(','));
          expect('}');
          return m;
        }
        case '[' -> {
          i++;
          var l = new ArrayList<Object>();
          space();
          if (peek(']')) return l;
          do {
            l.add(value());
            space();
          } while (peek(','));
          expect(']');
          return l;
        }
        case '"' -> {
          return string();
        }
        default -> {
          if (s.startsWith("true", i)) return literal(4, Boolean.TRUE);
          if (s.startsWith("false", i)) return literal(5, Boolean.FALSE);
          if (s.startsWith("null", i)) return literal(4, null);
          int start = i;
          while (i < s.length() && "+-.0123456789eE".indexOf(s.charAt(i)) >= 0) i++;
          if (start == i) throw error("unexpected " + c);
          String number = s.substring(start, i);
          return number.matches("-?\\d+") ? (Object) Long.parseLong(number) : (Object) Double.parseDouble(number);
        }
      }
    }

    private Object literal(int length, Object value) {
      i += length;
      return value;
    }

    private String string() {
      expect('"');
      var out = new StringBuilder();
      while (true) {
        if (i >= s.length()) throw error("unterminated string");
        char c = s.charAt(i++);
        if (c == '"') return out.toString();
        if (c != '\\') {
          out.append(c);
          continue;
        }
        char e = s.charAt(i++);
        switch (e) {
          case '"', '\\', '/' -> out.append(e);
          case 'b' -> out.append('\b');
          case 'f' -> out.append('\f');
          case 'n' -> out.append('\n');
          case 'r' -> out.append('\r');
          case 't' -> out.append('\t');
          case 'u' -> {
            out.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
            i += 4;
          }
          default -> throw error("bad escape \\" + e);
        }
      }
    }

    private void space() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) i++;
    }

    private boolean peek(char c) {
      if (i < s.length() && s.charAt(i) == c) {
        i++;
        return true;
      }
      return false;
    }

    private void expect(char c) {
      if (!peek(c)) throw error("expected " + c);
    }

    private IllegalArgumentException error(String what) {
      return new IllegalArgumentException("JSON: " + what + " at " + i);
    }

    /** Writes maps, lists, strings, numbers, booleans and null; non-ASCII as \\u escapes. */
    static String write(Object v) {
      var out = new StringBuilder();
      write(out, v);
      return out.toString();
    }

    private static void write(StringBuilder out, Object v) {
      switch (v) {
        case null -> out.append("null");
        case Map<?, ?> m -> {
          out.append('{');
          boolean first = true;
          for (var e : m.entrySet()) {
            if (!first) out.append(", ");
            first = false;
            write(out, e.getKey().toString());
            out.append(": ");
            write(out, e.getValue());
          }
          out.append('}');
        }
        case List<?> l -> {
          out.append('[');
          for (int k = 0; k < l.size(); k++) {
            if (k > 0) out.append(", ");
            write(out, l.get(k));
          }
          out.append(']');
        }
        case String str -> {
          out.append('"');
          for (int k = 0; k < str.length(); k++) {
            char c = str.charAt(k);
            if (c == '"' || c == '\\') out.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) out.append("\\u%04x".formatted((int) c));
            else out.append(c);
          }
          out.append('"');
        }
        case Boolean b -> out.append(b);
        case Number n -> out.append(n);
        default -> throw new IllegalArgumentException("cannot write " + v.getClass());
      }
    }
  }
}
