package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.posta.client.SmtpClient;
import dev.posta.client.SmtpException;
import dev.posta.client.SmtpReply;
import dev.posta.client.Timeouts;
import dev.posta.client.Transaction;
import dev.posta.client.TransactionResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.dom.Multipart;
import org.apache.james.mime4j.message.BasicBodyFactory;
import org.apache.james.mime4j.message.BodyPartBuilder;
import org.apache.james.mime4j.message.DefaultMessageWriter;
import org.apache.james.mime4j.message.MultipartBuilder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code posta send}: one test message to any SMTP server, as swaks sends one: a plain text, or
 * text and HTML, with attachments, built with mime4j (the library the server reads MIME with);
 * over plaintext, STARTTLS or implicit TLS, with AUTH; {@code -v} shows the conversation
 * ({@link SmtpClient#transcript}: credentials masked, the message as its size). The password
 * comes from {@code --password-file}, the variable {@code --password-env} names, or a prompt on
 * the terminal; never from the command line, where {@code ps} would show it.
 *
 * <p>Exit status: 0 sent (the server said 250 to the message), 1 refused or failed (the reply
 * or the reason on standard error), 2 bad options.
 */
@Command(name = "send", mixinStandardHelpOptions = true, sortOptions = false,
    description = {"Send a test message to an SMTP server, as swaks does.",
        "  posta send --to friend@localhost --server localhost:2525",
        "  posta send --to a@example.org --server localhost:2587 --starttls --user me@localhost -v"})
final class SendCommand implements Callable<Integer> {
  @Option(names = "--to", required = true, paramLabel = "ADDRESS", split = ",", description = "recipient (repeatable, or comma-separated)")
  List<String> to = new ArrayList<>();

  @Option(names = "--from", paramLabel = "ADDRESS", description = "sender; default: --user, else your user name at this host")
  String from;

  @Option(names = "--subject", paramLabel = "TEXT", defaultValue = "Test from posta send", description = "default: ${DEFAULT-VALUE}")
  String subject;

  @Option(names = "--body", paramLabel = "TEXT", description = "the text; default: a line saying what sent it")
  String body;

  @Option(names = "--body-file", paramLabel = "FILE", description = "the text from a file (UTF-8); - for standard input")
  Path bodyFile;

  @Option(names = "--html", paramLabel = "FILE", description = "an HTML alternative to the text, from a file")
  Path html;

  @Option(names = "--attach", paramLabel = "FILE", description = "attach a file (repeatable)")
  List<Path> attach = new ArrayList<>();

  @Option(names = "--header", paramLabel = "NAME: VALUE", description = "an extra header field (repeatable)")
  List<String> headers = new ArrayList<>();

  @Option(names = "--server", paramLabel = "HOST:PORT", defaultValue = "localhost:25", description = "default: ${DEFAULT-VALUE}")
  String server;

  @Option(names = "--starttls", description = "STARTTLS after EHLO (and fail if not offered)")
  boolean starttls;

  @Option(names = "--tls", description = "implicit TLS from the start (port 465)")
  boolean implicitTls;

  @Option(names = "--cafile", paramLabel = "PEM", description = "trust the certificates in this file (a self-signed server's)")
  Path cafile;

  @Option(names = "--insecure", description = "accept any certificate and name (testing only)")
  boolean insecure;

  @Option(names = "--user", paramLabel = "USER", description = "AUTH as USER (needs TLS); the password is asked for unless given below")
  String user;

  @Option(names = "--password-file", paramLabel = "FILE", description = "the password: the file's first line")
  Path passwordFile;

  @Option(names = "--password-env", paramLabel = "VAR", description = "the password: the value of this environment variable")
  String passwordEnv;

  @Option(names = "--helo", paramLabel = "NAME", description = "the name for EHLO; default: this host's name")
  String helo;

  @Option(names = {"-v", "--verbose"}, description = "show the SMTP conversation")
  boolean verbose;

  /** For tests: the environment, standard input and output. */
  Map<String, String> env = System.getenv();
  InputStream stdin = System.in;
  PrintStream out = System.out;
  PrintStream err = System.err;

  @Override
  public Integer call() {
    if (body != null && bodyFile != null) return usage("--body and --body-file: give one");
    if (starttls && implicitTls) return usage("--starttls and --tls: give one");
    InetSocketAddress address;
    String host;
    try {
      int colon = server.lastIndexOf(':');
      if (colon < 0) throw new IllegalArgumentException("no port");
      host = server.substring(0, colon).replace("[", "").replace("]", "");
      address = new InetSocketAddress(host, Integer.parseInt(server.substring(colon + 1)));
      if (address.isUnresolved()) return failed("cannot resolve " + host);
    } catch (IllegalArgumentException e) {
      return usage("--server " + server + ": HOST:PORT, e.g. localhost:587");
    }
    String password = null;
    if (user != null) {
      try {
        password = password();
      } catch (IOException e) {
        return usage(e.getMessage());
      }
    }
    String sender = from != null ? from : user != null && user.contains("@") ? user : System.getProperty("user.name") + "@" + localName();
    byte[] message;
    try {
      message = message(sender);
    } catch (IOException e) {
      return failed("cannot build the message: " + e.getMessage());
    }
    Timeouts timeouts = Timeouts.all(Duration.ofSeconds(30));
    SSLContext tls = null;
    try {
      if (starttls || implicitTls) tls = tlsContext();
    } catch (IOException | GeneralSecurityException e) {
      return failed("--cafile " + cafile + ": " + e.getMessage());
    }
    boolean verify = !insecure;
    if (verbose) out.println("=== Connecting to " + address.getHostString() + ":" + address.getPort());
    try (SmtpClient client = implicitTls ? SmtpClient.connectImplicitTls(address, tls, host, verify, timeouts) : SmtpClient.connect(address, timeouts)) {
      if (verbose) {
        if (client.isTls()) out.println("=== TLS started: " + client.tlsDescription());
        show(client.greeting());
        client.transcript(out::println);
      }
      client.hello(helo != null ? helo : localName());
      if (starttls) client.startTls(tls, host, verify);
      if (user != null) client.authenticate(user, password);
      List<Transaction.Recipient> rcpts = to.stream().map(String::strip).map(Transaction.Recipient::new).toList();
      List<String> params = client.extensions().has("8BITMIME") ? List.of("BODY=8BITMIME") : List.of();
      TransactionResult result = client.send(new Transaction(sender, params, rcpts, message.length, ch -> {
        ByteBuffer b = ByteBuffer.wrap(message);
        while (b.hasRemaining()) ch.write(b);
      }));
      client.quit();
      if (result.data() == null || result.data().code() != 250) {
        for (int i = 0; i < rcpts.size(); i++) {
          SmtpReply r = result.outcome(i);
          if (r.code() != 250) err.println("posta send: <" + rcpts.get(i).address() + ">: " + r);
        }
        if (result.data() != null && result.data().code() != 250) err.println("posta send: message refused: " + result.data());
        return 1;
      }
      if (!verbose) out.println("posta send: " + result.data());
      return 0;
    } catch (SmtpException e) {
      return failed(e.getMessage());
    } catch (IOException e) {
      return failed("cannot send to " + server + ": " + e.getMessage());
    }
  }

  private void show(SmtpReply reply) {
    List<String> lines = reply.lines();
    for (int i = 0; i < lines.size(); i++) out.println("<- " + reply.code() + (i < lines.size() - 1 ? "-" : " ") + lines.get(i));
  }

  private int usage(String why) {
    err.println("posta send: " + why);
    return 2;
  }

  private int failed(String why) {
    err.println("posta send: " + why);
    return 1;
  }

  /** The password from a file, a variable, or the terminal; never an argument. */
  private String password() throws IOException {
    if (passwordFile != null) {
      List<String> lines = Files.readAllLines(passwordFile, UTF_8);
      if (lines.isEmpty()) throw new IOException("--password-file " + passwordFile + " is empty");
      return lines.getFirst();
    }
    if (passwordEnv != null) {
      String v = env.get(passwordEnv);
      if (v == null) throw new IOException("--password-env " + passwordEnv + ": the variable is not set");
      return v;
    }
    java.io.Console console = System.console();
    if (console == null) throw new IOException("--user needs a password: no terminal to ask on; give --password-file or --password-env");
    char[] typed = console.readPassword("Password for %s: ", user);
    if (typed == null) throw new IOException("no password typed");
    return new String(typed);
  }

  private static String localName() {
    try {
      String name = InetAddress.getLocalHost().getCanonicalHostName();
      return name.isEmpty() || name.contains(" ") ? "localhost" : name;
    } catch (IOException e) {
      return "localhost";
    }
  }

  /** The message: text (and HTML) with attachments, as mime4j writes it, lines ending in CRLF. */
  byte[] message(String sender) throws IOException {
    try {
      return build(sender);
    } catch (org.apache.james.mime4j.MimeException e) {
      throw new IOException(e.getMessage(), e);
    }
  }

  private byte[] build(String sender) throws IOException, org.apache.james.mime4j.MimeException {
    String text = body != null ? body
        : bodyFile == null ? "This is a test message sent by posta send.\n"
        : bodyFile.toString().equals("-") ? new String(stdin.readAllBytes(), UTF_8) : Files.readString(bodyFile, UTF_8);
    BasicBodyFactory bodies = new BasicBodyFactory();
    BodyPartBuilder textPart = BodyPartBuilder.create().setBody(text, "plain", UTF_8).setContentTransferEncoding("quoted-printable");
    Object content;
    if (html == null && attach.isEmpty()) {
      content = null;
    } else {
      content = textPart;
    }
    Message.Builder m = Message.Builder.of()
        .setFrom(sender)
        .setTo(String.join(", ", to))
        .setSubject(subject)
        .setDate(new java.util.Date())
        .generateMessageId(localName());
    for (String h : headers) {
      int colon = h.indexOf(':');
      if (colon <= 0) throw new IOException("--header " + h + ": NAME: VALUE");
      m.setField(org.apache.james.mime4j.stream.RawFieldParser.DEFAULT.parseField(
          org.apache.james.mime4j.util.ContentUtil.encode(h.substring(0, colon).strip() + ": " + h.substring(colon + 1).strip())));
    }
    if (content == null) {
      m.setBody(text, "plain", UTF_8).setContentTransferEncoding("quoted-printable");
    } else {
      Multipart alternative = null;
      if (html != null) {
        alternative = MultipartBuilder.create("alternative")
            .addBodyPart(textPart)
            .addBodyPart(BodyPartBuilder.create().setBody(Files.readString(html, UTF_8), "html", UTF_8).setContentTransferEncoding("quoted-printable"))
            .build();
      }
      if (attach.isEmpty()) {
        m.setBody(alternative);
      } else {
        MultipartBuilder mixed = MultipartBuilder.create("mixed");
        if (alternative != null) mixed.addBodyPart(BodyPartBuilder.create().setBody(alternative));
        else mixed.addBodyPart(textPart);
        for (Path file : attach) {
          String type = Files.probeContentType(file);
          mixed.addBodyPart(BodyPartBuilder.create()
              .setBody(bodies.binaryBody(Files.readAllBytes(file)))
              .setContentType(type == null ? "application/octet-stream" : type)
              .setContentTransferEncoding("base64")
              .setContentDisposition("attachment", file.getFileName().toString()));
        }
        m.setBody(mixed.build());
      }
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    new DefaultMessageWriter().writeMessage(m.build(), bytes);
    return bytes.toByteArray();
  }

  /** Trusts the system's authorities, or the certificates of --cafile, or (--insecure) anything. */
  private SSLContext tlsContext() throws IOException, GeneralSecurityException {
    SSLContext ctx = SSLContext.getInstance("TLS");
    if (insecure) {
      ctx.init(null, new TrustManager[] {new X509TrustManager() {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {}

        @Override
        public X509Certificate[] getAcceptedIssuers() {
          return new X509Certificate[0];
        }
      }}, null);
      return ctx;
    }
    if (cafile == null) return SSLContext.getDefault();
    KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
    trust.load(null, null);
    int n = 0;
    try (InputStream in = Files.newInputStream(cafile)) {
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) trust.setCertificateEntry("ca" + n++, c);
    }
    if (n == 0) throw new IOException("no certificate in it");
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }
}
