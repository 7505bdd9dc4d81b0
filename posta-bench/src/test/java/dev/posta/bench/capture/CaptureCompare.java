package dev.posta.bench.capture;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import com.icegreen.greenmail.util.ServerSetupTest;
import dev.posta.junit.PostaExtension;
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * One side of posta-bench's capture-tools comparison (capture-compare.sh): starts GreenMail or
 * Posta's JUnit extension in this fresh JVM, runs the same probes against it over the wire and
 * through its Java API, and prints one {@code probe<TAB>result} line per probe. The script runs
 * each tool in its own JVM (a cold start is part of what is compared) and joins the lines into
 * a table.
 *
 * <p>Each probe does something and reports what happened; where a tool has no way to do a thing
 * at all (no API for it), the probe says so rather than guessing.
 */
public final class CaptureCompare {
  private static final String TO = "ada@example.com";

  public static void main(String[] args) throws Exception {
    org.slf4j.LoggerFactory.getLogger(CaptureCompare.class).debug("logging up");
    Map<String, String> results = new LinkedHashMap<>();
    Tool tool = switch (args[0]) {
      case "greenmail" -> new GreenMailTool();
      case "posta" -> new PostaTool();
      default -> throw new IllegalArgumentException("greenmail or posta, not " + args[0]);
    };
    try (tool) {
      results.put("version", tool.version());
      results.put("cold start to SMTP listening (ms)", Long.toString(tool.startMillis));
      results.put("EHLO extensions", ehlo(tool.smtpPort()));
      results.put("STARTTLS", tool.startTls());
      results.put("implicit TLS (465-style)", tool.implicitTls());
      results.put("SMTP smuggling (<LF>.<LF> inside DATA)", smuggling(tool));
      results.put("bare LF line endings", replyToData(tool, "Subject: bare\nline feeds\nonly"));
      results.put("line of 2,000 octets", replyToData(tool, "Subject: long\r\n\r\n" + "x".repeat(2000) + "\r\n"));
      results.put("wait API: from the 250 to its return (ms)", waitLatency(tool));
      results.put("2,000 messages, 10 clients (msgs/s)", throughput(tool, 10, 200));
      results.put("200 messages, 1 client (ms each)", perMessage(tool));
      results.put("scripted fault: 450 at RCPT twice, then accept", tool.fault());
      results.put("Authentication-Results on captured mail", tool.authenticationResults());
      results.put("IMAP read-back", tool.imapReadBack());
    }
    results.forEach((probe, result) -> System.out.println(probe + "\t" + result));
  }

  // --- Probes over the wire ------------------------------------------------------------------

  private static String ehlo(int port) throws IOException {
    try (Smtp smtp = new Smtp(port)) {
      smtp.read();
      String reply = smtp.command("EHLO probe.example");
      List<String> keywords = new ArrayList<>();
      String[] lines = reply.split("\r\n");
      for (int i = 1; i < lines.length; i++) keywords.add(lines[i].substring(4).split(" ")[0]);
      return String.join(" ", keywords);
    }
  }

  /** A message whose body hides a second one behind {@code <LF>.<LF>}: how many arrive? */
  private static String smuggling(Tool tool) throws Exception {
    int before = tool.count();
    try (Smtp smtp = new Smtp(tool.smtpPort())) {
      smtp.read();
      smtp.command("EHLO probe.example");
      smtp.command("MAIL FROM:<a@probe.example>");
      smtp.command("RCPT TO:<" + TO + ">");
      smtp.command("DATA");
      String end = smtp.command("Subject: outer\r\n\r\nouter\n.\nMAIL FROM:<evil@probe.example>\nRCPT TO:<" + TO
          + ">\nDATA\nSubject: smuggled\n\ninner\n.\n\r\n.");
      smtp.command("QUIT");
      Thread.sleep(300);
      int arrived = tool.count() - before;
      return "end of DATA: " + firstLine(end) + "; messages captured: " + arrived;
    }
  }

  /** The reply to a message sent as given; when it is taken, returns once it is captured too. */
  private static String replyToData(Tool tool, String message) throws Exception {
    int before = tool.count();
    try (Smtp smtp = new Smtp(tool.smtpPort())) {
      smtp.read();
      smtp.command("EHLO probe.example");
      smtp.command("MAIL FROM:<a@probe.example>");
      smtp.command("RCPT TO:<" + TO + ">");
      smtp.command("DATA");
      String reply = firstLine(smtp.command(message + "\r\n."));
      if (reply.startsWith("250") && !tool.await(before + 1, Duration.ofSeconds(10))) return reply + ", but never captured";
      return reply;
    }
  }

  private static String waitLatency(Tool tool) throws Exception {
    tool.reset();
    List<Long> millis = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      int expected = tool.count() + 1;
      Session session = Session.getInstance(tool.mailProperties());
      MimeMessage m = message(session, "wait " + i);
      Transport.send(m);
      long sent = System.nanoTime();
      if (!tool.await(expected, Duration.ofSeconds(10))) return "timed out";
      millis.add((System.nanoTime() - sent) / 1_000_000);
    }
    millis.sort(null);
    return "median " + millis.get(millis.size() / 2) + ", max " + millis.getLast();
  }

  private static String perMessage(Tool tool) throws Exception {
    tool.reset();
    long began = System.nanoTime();
    String done = throughput(tool, 1, 200);
    if (!done.matches("\\d+")) return done; // not all captured: no figure
    return String.format(Locale.ROOT, "%.1f", (System.nanoTime() - began) / 1e6 / 200);
  }

  private static String throughput(Tool tool, int clients, int each) throws Exception {
    tool.reset();
    long began = System.nanoTime();
    try (ExecutorService pool = Executors.newFixedThreadPool(clients)) {
      List<Future<?>> done = new ArrayList<>();
      for (int c = 0; c < clients; c++) {
        int client = c;
        done.add(pool.submit(() -> {
          Session session = Session.getInstance(tool.mailProperties());
          try (Transport transport = session.getTransport("smtp")) {
            transport.connect();
            for (int i = 0; i < each; i++) {
              MimeMessage m = message(session, "load " + client + "." + i);
              transport.sendMessage(m, m.getAllRecipients());
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) f.get();
    }
    if (!tool.await(clients * each, Duration.ofSeconds(60))) return "not all captured: " + tool.count();
    double seconds = (System.nanoTime() - began) / 1e9;
    return String.format(Locale.ROOT, "%.0f", clients * each / seconds);
  }

  static MimeMessage message(Session session, String subject) throws Exception {
    MimeMessage m = new MimeMessage(session);
    m.setFrom(new InternetAddress("app@shop.example"));
    m.setRecipient(Message.RecipientType.TO, new InternetAddress(TO));
    m.setSubject(subject);
    m.setText("Hello Ada,\r\nyour order has shipped.\r\n");
    return m;
  }

  static String firstLine(String reply) {
    int eol = reply.indexOf("\r\n");
    return eol < 0 ? reply : reply.substring(0, eol);
  }

  /** Does a TLS handshake verify against {@code trust} and the host name? Says what was seen. */
  static String handshake(SSLSocket socket) throws IOException {
    socket.startHandshake();
    X509Certificate cert = (X509Certificate) socket.getSession().getPeerCertificates()[0];
    return "certificate " + cert.getSubjectX500Principal().getName() + ", valid until " + cert.getNotAfter().toInstant();
  }

  static SSLContext trustAll() throws Exception {
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, new TrustManager[] {new X509TrustManager() {
      @Override public void checkClientTrusted(X509Certificate[] chain, String type) {}
      @Override public void checkServerTrusted(X509Certificate[] chain, String type) {}
      @Override public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
    }}, null);
    return context;
  }

  /** A line-at-a-time SMTP client for the probes: each command returns the whole reply. */
  static final class Smtp implements AutoCloseable {
    final Socket socket;
    final InputStream in;
    final OutputStream out;

    Smtp(int port) throws IOException {
      this(new Socket("127.0.0.1", port));
    }

    Smtp(Socket socket) throws IOException {
      this.socket = socket;
      socket.setSoTimeout(10_000);
      in = socket.getInputStream();
      out = socket.getOutputStream();
    }

    String command(String line) throws IOException {
      out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      return read();
    }

    String read() throws IOException {
      StringBuilder reply = new StringBuilder();
      StringBuilder line = new StringBuilder();
      int c;
      while (true) {
        try {
          c = in.read();
        } catch (java.net.SocketTimeoutException e) {
          return reply.append(line).append("(no reply within 10 s)").toString();
        }
        if (c < 0) break;
        line.append((char) c);
        if (c == '\n') {
          reply.append(line);
          if (line.length() < 4 || line.charAt(3) != '-') return reply.toString();
          line.setLength(0);
        }
      }
      return reply.append(line).append("(connection closed)").toString();
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }

  // --- The tools -------------------------------------------------------------------------------

  abstract static class Tool implements AutoCloseable {
    long startMillis;

    abstract String version();
    abstract int smtpPort();
    abstract Properties mailProperties();
    abstract int count() throws Exception;
    abstract boolean await(int count, Duration timeout) throws Exception;
    abstract void reset() throws Exception;
    abstract String startTls() throws Exception;
    abstract String implicitTls() throws Exception;
    abstract String fault() throws Exception;
    abstract String authenticationResults() throws Exception;
    abstract String imapReadBack() throws Exception;

    @Override
    public abstract void close();
  }

  static final class GreenMailTool extends Tool {
    final GreenMail greenMail;

    GreenMailTool() {
      long began = System.nanoTime();
      greenMail = new GreenMail(ServerSetup.dynamicPort(new ServerSetup[] {ServerSetupTest.SMTP, ServerSetupTest.SMTPS, ServerSetupTest.IMAP}));
      greenMail.start();
      startMillis = (System.nanoTime() - began) / 1_000_000;
    }

    @Override String version() {
      try (InputStream in = GreenMail.class.getResourceAsStream("/META-INF/maven/com.icegreen/greenmail/pom.properties")) {
        Properties pom = new Properties();
        pom.load(in);
        return "GreenMail " + pom.getProperty("version");
      } catch (IOException | NullPointerException e) {
        return "GreenMail";
      }
    }

    @Override int smtpPort() {
      return greenMail.getSmtp().getPort();
    }

    @Override Properties mailProperties() {
      Properties p = new Properties();
      p.setProperty("mail.smtp.host", "127.0.0.1");
      p.setProperty("mail.smtp.port", Integer.toString(smtpPort()));
      return p;
    }

    @Override int count() {
      return greenMail.getReceivedMessages().length;
    }

    @Override boolean await(int count, Duration timeout) {
      return greenMail.waitForIncomingEmail(timeout.toMillis(), count);
    }

    @Override void reset() throws Exception {
      greenMail.purgeEmailFromAllMailboxes();
    }

    @Override String startTls() throws Exception {
      return ehlo(smtpPort()).contains("STARTTLS") ? "offered" : "not offered";
    }

    @Override String implicitTls() throws Exception {
      int port = greenMail.getSmtps().getPort();
      try (SSLSocket socket = (SSLSocket) trustAll().getSocketFactory().createSocket("127.0.0.1", port)) {
        String seen = handshake(socket);
        String verified;
        try (SSLSocket strict = (SSLSocket) SSLContext.getDefault().getSocketFactory().createSocket("127.0.0.1", port)) {
          strict.startHandshake();
          verified = "verifies";
        } catch (IOException e) {
          verified = "fails verification (no trust material handed to the test; bundled greenmail.p12)";
        }
        return "yes; " + seen + "; " + verified;
      }
    }

    @Override String fault() {
      return "no API";
    }

    @Override String authenticationResults() throws Exception {
      reset();
      Transport.send(message(Session.getInstance(mailProperties()), "auth"));
      await(1, Duration.ofSeconds(5));
      String[] values = greenMail.getReceivedMessages()[0].getHeader("Authentication-Results");
      return values == null ? "none" : values[0];
    }

    @Override String imapReadBack() throws Exception {
      reset();
      greenMail.setUser(TO, TO, "secret");
      Transport.send(message(Session.getInstance(mailProperties()), "read back"));
      await(1, Duration.ofSeconds(5));
      Properties p = new Properties();
      try (var store = Session.getInstance(p).getStore("imap")) {
        store.connect("127.0.0.1", greenMail.getImap().getPort(), TO, "secret");
        var inbox = store.getFolder("INBOX");
        inbox.open(jakarta.mail.Folder.READ_ONLY);
        return inbox.getMessageCount() + " message(s), subject \"" + inbox.getMessage(1).getSubject() + "\"";
      }
    }

    @Override public void close() {
      greenMail.stop();
    }
  }

  static final class PostaTool extends Tool {
    final PostaExtension posta;

    PostaTool() throws IOException {
      long began = System.nanoTime(); // as GreenMail's: from before the first of its classes is used
      posta = PostaExtension.withDefaults().withSubmission().withImplicitTls().withReaders();
      posta.start();
      startMillis = (System.nanoTime() - began) / 1_000_000;
    }

    @Override String version() {
      return "Posta " + System.getProperty("posta.revision", "(this tree)");
    }

    @Override int smtpPort() {
      return posta.smtpPort();
    }

    /** Plain SMTP, as GreenMail's: the extension's own properties would use STARTTLS here. */
    @Override Properties mailProperties() {
      Properties p = new Properties();
      p.setProperty("mail.smtp.host", "127.0.0.1");
      p.setProperty("mail.smtp.port", Integer.toString(smtpPort()));
      return p;
    }

    @Override int count() {
      return posta.messages().size();
    }

    @Override boolean await(int count, Duration timeout) {
      try {
        posta.awaitMessages(count, timeout);
        return true;
      } catch (AssertionError e) {
        return false;
      }
    }

    @Override void reset() {
      posta.reset();
    }

    @Override String startTls() throws Exception {
      try (Smtp smtp = new Smtp(posta.submissionPort())) {
        smtp.read();
        smtp.command("EHLO probe.example");
        String go = smtp.command("STARTTLS");
        SSLContext context = posta.sslContext();
        SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(smtp.socket, "localhost", smtp.socket.getPort(), true);
        var params = tls.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        tls.setSSLParameters(params);
        return firstLine(go) + "; " + handshake(tls) + "; verifies (chain and name) with the CA the extension hands over";
      }
    }

    @Override String implicitTls() throws Exception {
      try (SSLSocket socket = (SSLSocket) posta.sslContext().getSocketFactory().createSocket("localhost", posta.smtpsPort())) {
        var params = socket.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        socket.setSSLParameters(params);
        return "yes; " + handshake(socket) + "; verifies (chain and name) with the CA the extension hands over";
      }
    }

    @Override String fault() throws Exception {
      reset();
      posta.fault().atRcpt("*@example.com").times(2).reply("450 4.2.1 Mailbox busy, try later");
      Session session = Session.getInstance(mailProperties());
      List<String> tries = new ArrayList<>();
      for (int i = 1; i <= 3; i++) {
        try {
          Transport.send(message(session, "fault " + i));
          tries.add("accepted");
        } catch (jakarta.mail.MessagingException e) {
          Exception cause = e.getNextException() != null ? e.getNextException() : e;
          tries.add(cause.getMessage().strip());
        }
      }
      posta.awaitMessage(); // delivered before the next probe resets
      return String.join("; ", tries);
    }

    @Override String authenticationResults() throws Exception {
      reset();
      Transport.send(message(Session.getInstance(mailProperties()), "auth"));
      var m = posta.awaitMessage();
      List<String> values = m.headerValues("Authentication-Results");
      return values.isEmpty() ? "none" : values.getFirst().replaceAll("\\s+", " ");
    }

    @Override String imapReadBack() throws Exception {
      reset();
      Transport.send(message(Session.getInstance(mailProperties()), "read back"));
      posta.awaitMessage();
      Properties p = new Properties();
      try (var store = Session.getInstance(p).getStore("imap")) {
        store.connect("127.0.0.1", posta.imapPort(), TO, "any");
        var inbox = store.getFolder("INBOX");
        inbox.open(jakarta.mail.Folder.READ_ONLY);
        return inbox.getMessageCount() + " message(s), subject \"" + inbox.getMessage(1).getSubject() + "\"";
      }
    }

    @Override public void close() {
      posta.stop();
    }
  }
}
