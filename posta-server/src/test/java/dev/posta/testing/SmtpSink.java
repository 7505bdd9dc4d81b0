package dev.posta.testing;

import static java.nio.charset.StandardCharsets.US_ASCII;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A receiving SMTP server in the test's JVM that only counts: each message it accepts is counted
 * once per accepted recipient under the value of its {@code X-Token:} header field, the moment it
 * decides to answer {@code 250} after the final dot (as a real server commits before it answers:
 * a copy whose {@code 250} never reached the sender, killed meanwhile, is counted too). Plain
 * RFC 5321 without extensions, no TLS; recipients in {@link #refused} get {@code 550 5.1.1} at
 * RCPT. The {@code 250} after the data can be delayed, to widen the window in which a sender
 * killed has the message delivered here but not yet recorded.
 *
 * <p>Binds 127.0.0.1 on a port the OS picks; one virtual thread per connection.
 */
public final class SmtpSink implements AutoCloseable {
  private static final Pattern TOKEN = Pattern.compile("(?m)^X-Token: (\\S+)\r?$");

  private final ServerSocket server;
  private final Set<String> refused;
  private final Duration delay;
  private final Map<String, AtomicInteger> copies = new ConcurrentHashMap<>();
  private final AtomicInteger refusals = new AtomicInteger();
  private final AtomicInteger connections = new AtomicInteger();
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final Thread acceptor;

  private SmtpSink(ServerSocket server, Set<String> refused, Duration delay) {
    this.server = server;
    this.refused = refused;
    this.delay = delay;
    this.acceptor = Thread.ofPlatform().name("smtp-sink").daemon().start(this::acceptLoop);
  }

  /**
   * @param refused addresses (lower case) refused at RCPT with {@code 550 5.1.1}
   * @param delay how long the {@code 250} after the final dot waits
   */
  public static SmtpSink start(Set<String> refused, Duration delay) throws IOException {
    ServerSocket s = new ServerSocket();
    s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 100);
    return new SmtpSink(s, Set.copyOf(refused), delay);
  }

  public int port() {
    return server.getLocalPort();
  }

  /** Copies accepted so far: "token recipient" to how many times. */
  public Map<String, Integer> copies() {
    Map<String, Integer> out = new TreeMap<>();
    copies.forEach((k, v) -> out.put(k, v.get()));
    return out;
  }

  /** RCPT commands refused with 550 so far. */
  public int refusals() {
    return refusals.get();
  }

  /** Connections taken so far. */
  public int connections() {
    return connections.get();
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket s = server.accept();
        connections.incrementAndGet();
        open.add(s);
        Thread.ofVirtual().name("smtp-sink-session").start(() -> {
          try (s) {
            session(s);
          } catch (IOException e) {
            // the sender went away (killed, or done): nothing to count
          } finally {
            open.remove(s);
          }
        });
      } catch (IOException e) {
        if (server.isClosed()) return;
      }
    }
  }

  private void session(Socket socket) throws IOException {
    socket.setSoTimeout(60_000);
    InputStream in = new BufferedInputStream(socket.getInputStream());
    OutputStream out = socket.getOutputStream();
    reply(out, "220 sink.remote.test ESMTP counting sink");
    List<String> recipients = new ArrayList<>();
    boolean mail = false;
    while (true) {
      String line = line(in);
      if (line == null) return;
      String verb = (line.length() < 4 ? line : line.substring(0, 4)).toUpperCase(Locale.ROOT);
      switch (verb) {
        case "EHLO", "HELO" -> {
          mail = false;
          recipients.clear();
          reply(out, "250 sink.remote.test");
        }
        case "MAIL" -> {
          mail = true;
          recipients.clear();
          reply(out, "250 2.1.0 Ok");
        }
        case "RCPT" -> {
          int lt = line.indexOf('<');
          int gt = line.indexOf('>', lt + 1);
          String address = lt < 0 || gt < 0 ? "" : line.substring(lt + 1, gt).toLowerCase(Locale.ROOT);
          if (!mail) {
            reply(out, "503 5.5.1 MAIL first");
          } else if (refused.contains(address)) {
            refusals.incrementAndGet();
            reply(out, "550 5.1.1 <" + address + ">: no such user here");
          } else {
            recipients.add(address);
            reply(out, "250 2.1.5 Ok");
          }
        }
        case "DATA" -> {
          if (recipients.isEmpty()) {
            reply(out, "503 5.5.1 no valid recipients");
            continue;
          }
          reply(out, "354 End data with <CR><LF>.<CR><LF>");
          String content = data(in);
          if (content == null) return;
          sleep();
          Matcher token = TOKEN.matcher(content);
          String t = token.find() ? token.group(1) : "(none)";
          for (String r : recipients) copies.computeIfAbsent(t + " " + r, k -> new AtomicInteger()).incrementAndGet();
          reply(out, "250 2.0.0 Ok: counted");
          mail = false;
          recipients.clear();
        }
        case "RSET" -> {
          mail = false;
          recipients.clear();
          reply(out, "250 2.0.0 Ok");
        }
        case "NOOP" -> reply(out, "250 2.0.0 Ok");
        case "QUIT" -> {
          reply(out, "221 2.0.0 Bye");
          return;
        }
        default -> reply(out, "502 5.5.2 not implemented");
      }
    }
  }

  private void sleep() {
    if (delay.isZero()) return;
    try {
      Thread.sleep(delay);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void reply(OutputStream out, String line) throws IOException {
    out.write((line + "\r\n").getBytes(US_ASCII));
    out.flush();
  }

  /** One line without its CRLF; null at the end of the stream. */
  private static String line(InputStream in) throws IOException {
    var b = new ByteArrayOutputStream();
    int c;
    while ((c = in.read()) != '\n') {
      if (c < 0) return null;
      if (c != '\r') b.write(c);
    }
    return b.toString(US_ASCII);
  }

  /** The data up to the final dot, dot-stuffing undone, lines CRLF-ended; null when the stream ends first. */
  private static String data(InputStream in) throws IOException {
    StringBuilder content = new StringBuilder();
    while (true) {
      String line = line(in);
      if (line == null) return null;
      if (line.equals(".")) return content.toString();
      content.append(line.startsWith(".") ? line.substring(1) : line).append("\r\n");
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket s : open) {
      try {
        s.close();
      } catch (SocketException ignored) {
        // closing anyway
      }
    }
    try {
      acceptor.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
