package dev.posta.client;

import dev.posta.client.SmtpException.Stage;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;

/**
 * One SMTP client session (RFC 5321) with one server: greeting, EHLO, STARTTLS, AUTH, then
 * any number of mail transactions, then QUIT. Not thread-safe: one caller at a time.
 *
 * <p>What it guarantees:
 * <ul>
 *   <li>Every reply is read whole and strictly ({@link ReplyReader}); a malformed one, a
 *       timeout or a lost connection is an {@link SmtpException} naming the stage, and the
 *       connection is closed, because client and server no longer agree where they are.
 *   <li>Message data never carries a bare CR or LF, and is dot-stuffed for DATA (RFC 5321
 *       §4.5.2, §2.3.8); BDAT (RFC 3030) sends it as is. It is streamed, never held in memory.
 *       A message the writer could not finish is never ended: the connection is closed instead,
 *       so the server throws the partial message away.
 *   <li>With PIPELINING (RFC 2920) MAIL, the RCPTs and DATA go in one write; without it, one
 *       command waits for its reply. SIZE (RFC 1870) is declared when offered.
 *   <li>STARTTLS (RFC 3207) refuses to go on when the server sent anything after its 220 and
 *       before the handshake (response injection, CVE-2011-0411), and forgets the extensions
 *       learnt in plaintext. Credentials are sent only under TLS (RFC 4954 §4, RFC 8314).
 *   <li>Each stage waits as long as {@link Timeouts} says (RFC 5321 §4.5.3.2); a write the server
 *       does not take within the stage's time (it stopped reading) is cut off by closing the
 *       socket, since Java sockets have no write timeout.
 *   <li>A 421 reply (RFC 5321 §3.8) closes the connection: the server is going away.
 *   <li>After {@link #send} returns, the connection is ready for the next transaction, or closed
 *       ({@link #isOpen()} false) when the server sent 421 or the RSET after a failed
 *       transaction did not succeed.
 * </ul>
 *
 * <p>Limits: the recipients of one pipelined transaction are written at once, so the caller
 * keeps them to a sane number (RFC 5321 §4.5.3.1.8 requires servers to take 100); AUTH does PLAIN
 * and LOGIN only.
 */
public final class SmtpClient implements Closeable {

  /** Cuts off writes that do not finish in time, for every client; one daemon thread. */
  private static final ScheduledExecutorService WRITE_WATCHDOG = writeWatchdog();

  private final Timeouts timeouts;
  /** The TCP connection: timeouts are set on it, and closing it ends everything at once. */
  private final Socket tcp;
  /** What the session talks over: {@code tcp}, or its TLS layer. */
  private Socket socket;
  private ReplyReader in;
  private ReadDeadline replyDeadline;
  private WriteDeadline deadline;
  private OutputStream out;
  private SmtpReply greeting;
  /** The name given in EHLO/HELO, sent again after STARTTLS; null until {@link #hello}. */
  private String clientName;
  private Extensions extensions = Extensions.NONE;
  /** Protocol and cipher once TLS is up; null in plaintext. */
  private String tls;
  /** The 421 that ended the session (RFC 5321 §3.8): the answer to whatever was still unanswered. */
  private SmtpReply closingReply;
  private boolean open = true;
  /** Where the conversation is told, line by line ({@link #transcript}); null: nowhere. */
  private java.util.function.Consumer<String> transcript;
  /** Within AUTH LOGIN's exchange: the lines sent are credentials. */
  private boolean secret;

  private SmtpClient(Socket tcp, Socket socket, Timeouts timeouts) throws IOException {
    this.tcp = tcp;
    this.timeouts = timeouts;
    use(socket);
  }

  // --- Connecting ----------------------------------------------------------------------------

  /**
   * Connects in plaintext (port 25, or 587 before STARTTLS) and reads the greeting.
   *
   * @throws SmtpException CONNECT when the connection cannot be made; GREETING with the reply
   *     unless the server greets with 220 (a 4xx/5xx greeting is answered with QUIT, RFC 5321 §3.1)
   */
  public static SmtpClient connect(InetSocketAddress address, Timeouts t) throws IOException {
    Socket tcp = tcpConnect(address, t);
    SmtpClient client;
    try {
      client = new SmtpClient(tcp, tcp, t);
    } catch (IOException e) {
      closeQuietly(tcp);
      throw new SmtpException(Stage.CONNECT, null, "cannot use the connection to " + text(address) + ": " + e.getMessage(), e);
    }
    client.readGreeting();
    return client;
  }

  /**
   * Connects to an implicit-TLS port (RFC 8314 §3, port 465): the TLS handshake first, then
   * the greeting. SNI is {@code serverName} when it is a DNS name; with {@code verifyHostname}
   * the certificate must name {@code serverName}.
   *
   * @throws SmtpException CONNECT when the connection or the handshake fails; GREETING as {@link #connect}
   */
  public static SmtpClient connectImplicitTls(
      InetSocketAddress address, SSLContext tls, String serverName, boolean verifyHostname, Timeouts t) throws IOException {
    Socket tcp = tcpConnect(address, t);
    SmtpClient client;
    try {
      SSLSocket ssl = layerTls(tls, tcp, serverName, verifyHostname);
      tcp.setSoTimeout(millis(t.greeting()));
      ssl.startHandshake();
      client = new SmtpClient(tcp, ssl, t);
      client.tls = describe(ssl);
    } catch (SocketTimeoutException e) {
      closeQuietly(tcp);
      throw new SmtpException(Stage.CONNECT, null, "timed out in the TLS handshake with " + text(address) + " after " + seconds(t.greeting()), e);
    } catch (IOException e) {
      closeQuietly(tcp);
      throw new SmtpException(Stage.CONNECT, null, "TLS handshake with " + text(address) + " failed: " + e.getMessage(), e);
    }
    client.readGreeting();
    return client;
  }

  private static Socket tcpConnect(InetSocketAddress address, Timeouts t) throws SmtpException {
    Socket tcp = new Socket();
    try {
      tcp.connect(address, millis(t.connect()));
      tcp.setTcpNoDelay(true); // we flush whole commands or batches ourselves
      return tcp;
    } catch (SocketTimeoutException e) {
      closeQuietly(tcp);
      throw new SmtpException(Stage.CONNECT, null, "timed out connecting to " + text(address) + " after " + seconds(t.connect()), e);
    } catch (IOException e) {
      closeQuietly(tcp);
      throw new SmtpException(Stage.CONNECT, null, "cannot connect to " + text(address) + ": " + e.getMessage(), e);
    }
  }

  private void readGreeting() throws IOException {
    greeting = read(Stage.GREETING, timeouts.greeting(), "the greeting");
    if (greeting.code() == 220) return;
    if (greeting.code() >= 400) {
      quit(); // RFC 5321 §3.1: a client refused with 554 sends QUIT and waits for the reply
      throw new SmtpException(Stage.GREETING, greeting, "the server refused the session: " + greeting);
    }
    throw broken(Stage.GREETING, greeting, "unexpected greeting: " + greeting, null);
  }

  /**
   * Tells the conversation from now on to {@code sink}, one line each, as swaks shows it:
   * {@code "-> EHLO me"} for what is sent, {@code "<- 250 ..."} and {@code "<-  250-..."} for
   * what comes back, {@code "=== ..."} for TLS. Credentials are never shown ({@code AUTH PLAIN
   * ****}); message data shows as its size only. Null stops it.
   */
  public void transcript(java.util.function.Consumer<String> sink) {
    this.transcript = sink;
  }

  private void tell(String line) {
    if (transcript != null) transcript.accept(line);
  }

  private void tell(SmtpReply reply) {
    if (transcript == null) return;
    List<String> lines = reply.lines();
    for (int i = 0; i < lines.size(); i++) {
      String text = lines.get(i);
      transcript.accept("<- " + reply.code() + (i < lines.size() - 1 ? "-" : " ") + text);
    }
  }

  /** The server's 220 greeting. */
  public SmtpReply greeting() {
    return greeting;
  }

  // --- EHLO / HELO (RFC 5321 §4.1.1.1) -------------------------------------------------------

  /**
   * Says EHLO, and HELO when the server refuses EHLO with 5xx (an old server, RFC 5321 §3.2).
   * Returns the positive reply; {@link #extensions()} then holds what EHLO offered.
   *
   * @param clientName our host name or address literal, as the server will write it in Received:
   * @throws SmtpException HELLO with the reply, when EHLO gets 4xx or both EHLO and HELO fail
   */
  public SmtpReply hello(String clientName) throws IOException {
    if (clientName.isEmpty() || !clientName.chars().allMatch(c -> c > ' ' && c != 127)) {
      throw new IllegalArgumentException("client name must be one word without controls: " + clientName.replaceAll("[\\x00-\\x20\\x7f]", "?"));
    }
    requireOpen(Stage.HELLO);
    SmtpReply ehlo = command(Stage.HELLO, timeouts.command(), "EHLO " + clientName, "EHLO");
    if (ehlo.code() / 100 == 3) throw broken(Stage.HELLO, ehlo, "unexpected reply to EHLO: " + ehlo, null);
    if (ehlo.code() / 100 == 2) {
      this.clientName = clientName;
      extensions = Extensions.parse(ehlo);
      return ehlo;
    }
    if (!ehlo.isPermanent() || !open) throw new SmtpException(Stage.HELLO, ehlo, "EHLO refused: " + ehlo);
    SmtpReply helo = command(Stage.HELLO, timeouts.command(), "HELO " + clientName, "HELO");
    if (helo.code() / 100 != 2) throw new SmtpException(Stage.HELLO, helo, "EHLO and HELO refused: " + ehlo + "; " + helo);
    this.clientName = clientName;
    extensions = Extensions.NONE;
    return helo;
  }

  /** What the last EHLO offered; empty after HELO, before {@link #hello}, and right after STARTTLS. */
  public Extensions extensions() {
    return extensions;
  }

  // --- STARTTLS (RFC 3207) -------------------------------------------------------------------

  /**
   * Upgrades the connection to TLS and says EHLO again with the same name (RFC 3207 §4.2),
   * since what the server offered in plaintext may have been tampered with.
   *
   * @param serverName the name SNI carries (when it is a DNS name) and, with
   *     {@code verifyHostname}, the name the certificate must hold (as HTTPS checks it, RFC 6125)
   * @throws SmtpException STARTTLS: with the reply when the server refuses (the connection stays
   *     usable in plaintext); without one when it does not offer STARTTLS (still usable), or the
   *     server sent data before the handshake, or the handshake failed (closed)
   */
  public void startTls(SSLContext context, String serverName, boolean verifyHostname) throws IOException {
    if (tls != null) throw new IllegalStateException("TLS is already active");
    requireHello(Stage.STARTTLS);
    if (!extensions.startTls()) throw new SmtpException(Stage.STARTTLS, null, "the server does not offer STARTTLS");
    SmtpReply reply = command(Stage.STARTTLS, timeouts.command(), "STARTTLS", "STARTTLS");
    if (reply.code() != 220) {
      if (reply.code() < 400) throw broken(Stage.STARTTLS, reply, "unexpected reply to STARTTLS: " + reply, null);
      throw new SmtpException(Stage.STARTTLS, reply, "STARTTLS refused: " + reply);
    }
    // CVE-2011-0411: whatever arrived after the 220 was sent in plaintext by someone, and would
    // be read as the first answers inside TLS. Nothing may follow the 220 until the handshake.
    int injected;
    try {
      injected = in.available();
    } catch (IOException e) {
      throw broken(Stage.STARTTLS, null, "connection lost after STARTTLS: " + e.getMessage(), e);
    }
    if (injected > 0) {
      throw broken(Stage.STARTTLS, null, "the server sent " + injected
          + " octet(s) after its 220 reply to STARTTLS, before the TLS handshake (response injection?)", null);
    }
    SSLSocket ssl;
    try {
      ssl = layerTls(context, tcp, serverName, verifyHostname);
      tcp.setSoTimeout(millis(timeouts.command()));
      ssl.startHandshake();
      use(ssl);
      tell("=== TLS started: " + describe(ssl));
    } catch (SocketTimeoutException e) {
      throw broken(Stage.STARTTLS, null, "timed out in the TLS handshake after " + seconds(timeouts.command()), e);
    } catch (IOException e) {
      throw broken(Stage.STARTTLS, null, "TLS handshake failed: " + e.getMessage(), e);
    }
    tls = describe(ssl);
    extensions = Extensions.NONE;
    hello(clientName);
  }

  /** Whether the session is under TLS, implicit or by STARTTLS. */
  public boolean isTls() {
    return tls != null;
  }

  /** E.g. "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384"; null in plaintext. */
  public String tlsDescription() {
    return tls;
  }

  /** A client-mode TLS layer over {@code tcp}; the handshake is left to the caller. */
  private static SSLSocket layerTls(SSLContext context, Socket tcp, String serverName, boolean verifyHostname) throws IOException {
    // "mx.example.com." from DNS names the same host as "mx.example.com"; certificates use the latter.
    String host = serverName.endsWith(".") ? serverName.substring(0, serverName.length() - 1) : serverName;
    SSLSocket ssl = (SSLSocket) context.getSocketFactory().createSocket(tcp, host, tcp.getPort(), true);
    ssl.setUseClientMode(true);
    SSLParameters parameters = ssl.getSSLParameters();
    SNIHostName sni = sniName(host);
    // RFC 6066 §3: SNI carries DNS names only, never an address literal.
    parameters.setServerNames(sni == null ? List.of() : List.of(sni));
    if (verifyHostname) parameters.setEndpointIdentificationAlgorithm("HTTPS");
    ssl.setSSLParameters(parameters);
    return ssl;
  }

  private static SNIHostName sniName(String host) {
    if (host.isEmpty() || host.indexOf(':') >= 0 || host.matches("[0-9.]+")) return null;
    try {
      return new SNIHostName(host);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static String describe(SSLSocket ssl) {
    return ssl.getSession().getProtocol() + " with cipher " + ssl.getSession().getCipherSuite();
  }

  // --- AUTH (RFC 4954) -----------------------------------------------------------------------

  /**
   * Authenticates with AUTH PLAIN (RFC 4616) when offered, else LOGIN. Credentials go out only
   * under TLS: on a plaintext connection anyone on the path could read them.
   *
   * @throws SmtpException AUTH: without a reply when TLS is not active or neither mechanism is
   *     offered (nothing was sent); with the server's reply when it refuses (e.g. 535)
   */
  public void authenticate(String user, String password) throws IOException {
    requireHello(Stage.AUTH);
    if (tls == null) throw new SmtpException(Stage.AUTH, null, "refusing to send credentials without TLS");
    var mechanisms = extensions.authMechanisms();
    Base64.Encoder base64 = Base64.getEncoder();
    SmtpReply reply;
    if (mechanisms.contains("PLAIN")) {
      // RFC 4616 §2: [authzid] NUL authcid NUL passwd, as an initial response (RFC 4954 §4).
      byte[] plain = ("\0" + user + "\0" + password).getBytes(StandardCharsets.UTF_8);
      reply = command(Stage.AUTH, timeouts.command(), "AUTH PLAIN " + base64.encodeToString(plain), "AUTH");
    } else if (mechanisms.contains("LOGIN")) {
      reply = command(Stage.AUTH, timeouts.command(), "AUTH LOGIN", "AUTH");
      secret = true;
      try {
        if (reply.code() == 334) {
          reply = command(Stage.AUTH, timeouts.command(), base64.encodeToString(user.getBytes(StandardCharsets.UTF_8)), "the user name");
        }
        if (reply.code() == 334) {
          reply = command(Stage.AUTH, timeouts.command(), base64.encodeToString(password.getBytes(StandardCharsets.UTF_8)), "the password");
        }
      } finally {
        secret = false;
      }
    } else {
      throw new SmtpException(Stage.AUTH, null, "the server offers neither AUTH PLAIN nor LOGIN"
          + (mechanisms.isEmpty() ? "" : " (only " + String.join(" ", mechanisms) + ")"));
    }
    if (reply.code() == 334) {
      // A challenge we have no answer for: "*" cancels the exchange (RFC 4954 §4).
      SmtpReply cancelled = command(Stage.AUTH, timeouts.command(), "*", "the cancelled AUTH");
      throw new SmtpException(Stage.AUTH, cancelled, "unexpected AUTH challenge, cancelled: " + cancelled);
    }
    if (reply.code() != 235) {
      if (reply.code() < 400) throw broken(Stage.AUTH, reply, "unexpected reply to AUTH: " + reply, null);
      throw new SmtpException(Stage.AUTH, reply, "authentication as " + user + " failed: " + reply);
    }
  }

  // --- The mail transaction (RFC 5321 §3.3) --------------------------------------------------

  /**
   * Sends one message: MAIL, the RCPTs, then DATA or BDAT when at least one recipient was
   * accepted. Refusals are results, not exceptions: see {@link TransactionResult#outcome}.
   *
   * @throws SmtpException on timeout, connection loss or a malformed or out-of-place reply; the
   *     connection is closed, and whether the server took the message is unknown
   * @throws IOException as thrown by the transaction's {@link MessageWriter}; the connection is
   *     closed without ending the message
   */
  public TransactionResult send(Transaction tx) throws IOException {
    requireHello(Stage.MAIL);
    int count = tx.recipients().size();
    boolean pipelining = extensions.pipelining();
    boolean chunking = extensions.chunking();
    SmtpReply mail;
    List<SmtpReply> recipients = new ArrayList<>(count);
    SmtpReply dataStart = null;
    if (pipelining) {
      // RFC 2920 §3.1: MAIL, RCPT and DATA may be sent together; BDAT waits for the RCPT
      // answers, so no message goes out when no recipient was accepted.
      deadline.timeout = timeouts.mail();
      write(Stage.MAIL, mailCommand(tx));
      for (Transaction.Recipient r : tx.recipients()) write(Stage.MAIL, rcptCommand(r));
      if (!chunking) write(Stage.MAIL, "DATA");
      flush(Stage.MAIL, "MAIL, RCPT" + (chunking ? "" : " and DATA"));
      mail = transactionReply(Stage.MAIL, timeouts.mail(), "MAIL");
      for (int i = 0; i < count; i++) recipients.add(transactionReply(Stage.RCPT, timeouts.rcpt(), "RCPT"));
      if (!chunking) dataStart = dataStartReply(closingReply != null ? closingReply : read(Stage.DATA, timeouts.dataInit(), "the reply to DATA"));
    } else {
      mail = transactionCommand(Stage.MAIL, timeouts.mail(), mailCommand(tx), "MAIL");
      if (mail.code() / 100 == 2) {
        for (Transaction.Recipient r : tx.recipients()) {
          recipients.add(closingReply != null ? closingReply : transactionCommand(Stage.RCPT, timeouts.rcpt(), rcptCommand(r), "RCPT"));
        }
      }
    }

    if (mail.code() / 100 != 2) {
      // A refused MAIL leaves the server as before it (RFC 5321 §4.1.1.2); the pipelined RCPT
      // answers mean nothing then, the MAIL reply is each recipient's answer.
      if (dataStart != null && dataStart.code() == 354) endEmptyData();
      return new TransactionResult(mail, Collections.nCopies(count, mail), null);
    }
    if (recipients.stream().noneMatch(r -> r.code() / 100 == 2)) {
      if (dataStart != null && dataStart.code() == 354) endEmptyData();
      resetAfterFailure(); // the server still holds our MAIL
      return new TransactionResult(mail, recipients, null);
    }
    if (closingReply != null) return new TransactionResult(mail, recipients, closingReply);
    SmtpReply data = chunking ? bdat(tx) : data(tx, dataStart);
    return new TransactionResult(mail, recipients, data);
  }

  /** MAIL FROM with the caller's parameters, and SIZE when offered and not given (RFC 1870 §6). */
  private String mailCommand(Transaction tx) {
    var command = new StringBuilder("MAIL FROM:<").append(tx.reversePath()).append('>');
    for (String p : tx.mailParameters()) command.append(' ').append(p);
    boolean sizeGiven = tx.mailParameters().stream().anyMatch(p -> p.toUpperCase(Locale.ROOT).startsWith("SIZE="));
    if (extensions.has("SIZE") && !sizeGiven) command.append(" SIZE=").append(tx.contentLength());
    return command.toString();
  }

  private static String rcptCommand(Transaction.Recipient r) {
    var command = new StringBuilder("RCPT TO:<").append(r.address()).append('>');
    for (String p : r.parameters()) command.append(' ').append(p);
    return command.toString();
  }

  /** DATA, 354, the content dot-stuffed, the final dot; returns the final reply (RFC 5321 §4.1.1.4). */
  private SmtpReply data(Transaction tx, SmtpReply dataStart) throws IOException {
    if (dataStart == null) {
      deadline.timeout = timeouts.dataInit();
      write(Stage.DATA, "DATA");
      flush(Stage.DATA, "DATA");
      dataStart = dataStartReply(read(Stage.DATA, timeouts.dataInit(), "the reply to DATA"));
    }
    if (dataStart.code() != 354) {
      resetAfterFailure(); // DATA refused: the server still holds MAIL and the RCPTs
      return dataStart;
    }
    deadline.timeout = timeouts.dataBlock();
    tell("-> (the message, " + tx.contentLength() + " octets)");
    tell("-> .");
    DotStuffer stuffer = new DotStuffer(out);
    writeContent(tx, stuffer);
    try {
      stuffer.finish();
    } catch (WireException e) {
      throw lost(Stage.DATA, "message data", e);
    }
    flush(Stage.DATA, "message data");
    // After the final dot the transaction is over whatever the answer (§4.1.1.4): no RSET.
    return notIntermediate(Stage.DATA, read(Stage.DATA, timeouts.dataEnd(), "the reply to the end of the message"), "the end of the message");
  }

  /** The reply to DATA may be 354 or a refusal; anything else is out of place. */
  private SmtpReply dataStartReply(SmtpReply reply) throws SmtpException {
    if (reply.code() != 354 && reply.code() < 400) throw broken(Stage.DATA, reply, "unexpected reply to DATA: " + reply, null);
    return reply;
  }

  /**
   * A pipelined DATA got 354 although nothing was accepted: end it with no content. The server
   * should refuse the empty message; whatever it says, no message was sent. The outcome is
   * known already, so a failure here only closes the connection.
   */
  private void endEmptyData() {
    if (!open) return;
    try {
      deadline.timeout = timeouts.dataBlock();
      write(Stage.DATA, ".");
      flush(Stage.DATA, "the end of an empty message");
      notIntermediate(Stage.DATA, read(Stage.DATA, timeouts.dataEnd(), "the reply to the end of the message"), "the end of the message");
    } catch (SmtpException e) {
      close(); // already closed by the failure; said again for the reader
    }
  }

  /** BDAT with the whole content as the last chunk (RFC 3030 §2); returns its reply. */
  private SmtpReply bdat(Transaction tx) throws IOException {
    deadline.timeout = timeouts.dataBlock();
    write(Stage.DATA, "BDAT " + tx.contentLength() + " LAST");
    tell("-> (the message, " + tx.contentLength() + " octets)");
    ExactLength content = new ExactLength(tx.contentLength());
    writeContent(tx, content);
    if (content.written != tx.contentLength()) {
      close(); // the server waits for octets that will never come
      throw new IOException("message content was " + content.written + " octets, not the declared " + tx.contentLength());
    }
    flush(Stage.DATA, "message data");
    SmtpReply reply = notIntermediate(Stage.DATA, read(Stage.DATA, timeouts.dataEnd(), "the reply to BDAT LAST"), "BDAT LAST");
    // RFC 3030 §2: after a failed BDAT the transaction is in doubt on the server; RSET ends it.
    if (reply.code() / 100 != 2) resetAfterFailure();
    return reply;
  }

  /**
   * Runs the caller's writer. A failure of the connection is ours to report; any other failure
   * is the writer's: the connection is closed so the partial message is never ended.
   */
  private void writeContent(Transaction tx, WritableByteChannel channel) throws IOException {
    try {
      tx.content().writeTo(channel);
    } catch (WireException e) {
      throw lost(Stage.DATA, "message data", e);
    } catch (IOException | RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  /** Passes the content through unchanged, refusing more than the declared length (BDAT). */
  private final class ExactLength implements WritableByteChannel {
    private final long declared;
    private final byte[] copy = new byte[16 * 1024];
    long written;
    boolean open = true;

    ExactLength(long declared) {
      this.declared = declared;
    }

    @Override
    public int write(ByteBuffer src) throws IOException {
      if (!open) throw new ClosedChannelException();
      int n = src.remaining();
      if (written + n > declared) {
        open = false;
        throw new IOException("message content longer than the declared " + declared + " octets");
      }
      if (src.hasArray()) {
        out.write(src.array(), src.arrayOffset() + src.position(), n);
        src.position(src.limit());
      } else {
        while (src.hasRemaining()) {
          int chunk = Math.min(copy.length, src.remaining());
          src.get(copy, 0, chunk);
          out.write(copy, 0, chunk);
        }
      }
      written += n;
      return n;
    }

    @Override
    public boolean isOpen() {
      return open;
    }

    @Override
    public void close() {}
  }

  /**
   * The reply to a transaction command that was pipelined: read in turn, or the 421 that
   * closed the session when one came earlier.
   */
  private SmtpReply transactionReply(Stage stage, Duration timeout, String name) throws IOException {
    if (closingReply != null) return closingReply;
    return notIntermediate(stage, read(stage, timeout, "the reply to " + name), name);
  }

  private SmtpReply transactionCommand(Stage stage, Duration timeout, String command, String name) throws IOException {
    return notIntermediate(stage, command(stage, timeout, command, name), name);
  }

  /** MAIL, RCPT, RSET and the end of data are answered 2xx, 4xx or 5xx; a 3xx is out of place. */
  private SmtpReply notIntermediate(Stage stage, SmtpReply reply, String name) throws SmtpException {
    if (reply.code() / 100 == 3) throw broken(stage, reply, "unexpected reply to " + name + ": " + reply, null);
    return reply;
  }

  /** After a failed transaction: RSET so the connection can be reused, or close it. */
  private void resetAfterFailure() {
    if (!open) return;
    try {
      reset();
    } catch (IOException e) {
      close();
    }
  }

  /** RSET (RFC 5321 §4.1.1.5): ends any transaction; expects 250. */
  public void reset() throws IOException {
    requireOpen(Stage.RSET);
    SmtpReply reply = transactionCommand(Stage.RSET, timeouts.command(), "RSET", "RSET");
    if (reply.code() != 250) throw new SmtpException(Stage.RSET, reply, "RSET refused: " + reply);
  }

  // --- Ending --------------------------------------------------------------------------------

  /** QUIT (RFC 5321 §4.1.1.10), waiting briefly for the reply, then closes. Never throws. */
  public void quit() {
    if (!isOpen()) {
      close();
      return;
    }
    Duration brief = timeouts.command().compareTo(Duration.ofSeconds(10)) < 0 ? timeouts.command() : Duration.ofSeconds(10);
    try {
      deadline.timeout = brief;
      write(Stage.QUIT, "QUIT");
      flush(Stage.QUIT, "QUIT");
      read(Stage.QUIT, brief, "the reply to QUIT");
      open = false;
      socket.close(); // under TLS this sends close_notify (RFC 8446 §6.1)
    } catch (IOException | RuntimeException e) {
      // the server is gone or slow; either way we are done with it
    } finally {
      close();
    }
  }

  /** Whether the connection can still carry commands. */
  public boolean isOpen() {
    return open && !tcp.isClosed();
  }

  /** Closes the connection at once, without QUIT. */
  @Override
  public void close() {
    open = false;
    closeQuietly(tcp); // the TCP socket, not the TLS layer: close_notify could block
  }

  // --- Reading and writing -------------------------------------------------------------------

  /**
   * Makes a timeout bound a whole reply, not each read: a server that drips one octet a minute
   * (a tarpit) would otherwise hold the connection, and a delivery slot, for hours.
   */
  private static final class ReadDeadline extends java.io.FilterInputStream {
    private final Socket tcp;
    /** System.nanoTime() by which the reply being read must be complete. */
    volatile long until = Long.MAX_VALUE;

    ReadDeadline(java.io.InputStream in, Socket tcp) {
      super(in);
      this.tcp = tcp;
    }

    private void arm() throws IOException {
      long left = until - System.nanoTime();
      if (left <= 0) throw new SocketTimeoutException("reply deadline passed");
      tcp.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(left))));
    }

    @Override
    public int read() throws IOException {
      arm();
      return super.read();
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      arm();
      return super.read(b, off, len);
    }
  }

  /** Talks over {@code s} from now on: the TCP socket, or its TLS layer after the handshake. */
  private void use(Socket s) throws IOException {
    socket = s;
    replyDeadline = new ReadDeadline(s.getInputStream(), tcp);
    in = new ReplyReader(replyDeadline);
    deadline = new WriteDeadline(s.getOutputStream(), tcp);
    out = new BufferedOutputStream(deadline, 16 * 1024);
  }

  /** Sends one command and reads its reply. */
  private SmtpReply command(Stage stage, Duration timeout, String command, String name) throws IOException {
    deadline.timeout = timeout;
    write(stage, command);
    flush(stage, name);
    return read(stage, timeout, "the reply to " + name);
  }

  /**
   * Buffers a command line; nothing is sent until {@link #flush}, unless the buffer fills. The
   * line is never repeated in a message: it may hold credentials.
   */
  private void write(Stage stage, String command) throws SmtpException {
    if (transcript != null) {
      String shown = secret ? "****" : command.regionMatches(true, 0, "AUTH ", 0, 5) && command.indexOf(' ', 5) > 0
          ? command.substring(0, command.indexOf(' ', 5)) + " ****" : command;
      tell("-> " + shown);
    }
    try {
      out.write((command + "\r\n").getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw lost(stage, name(stage), e);
    }
  }

  private void flush(Stage stage, String what) throws SmtpException {
    try {
      out.flush();
    } catch (IOException e) {
      throw lost(stage, what, e);
    }
  }

  /**
   * Reads one reply, waiting at most {@code timeout}. A 421 closes the connection (RFC 5321
   * §3.8), except as the greeting, which the caller answers with QUIT first.
   */
  private SmtpReply read(Stage stage, Duration timeout, String what) throws SmtpException {
    SmtpReply reply;
    try {
      replyDeadline.until = System.nanoTime() + timeout.toNanos();
      reply = in.read();
    } catch (SocketTimeoutException e) {
      throw broken(stage, null, "timed out waiting for " + what + " after " + seconds(timeout), e);
    } catch (EOFException e) {
      throw broken(stage, null, "connection closed by the server during " + name(stage), e);
    } catch (ReplyReader.MalformedReplyException e) {
      throw broken(stage, null, "malformed reply during " + name(stage) + ": " + e.getMessage(), e);
    } catch (IOException e) {
      throw broken(stage, null, "connection lost during " + name(stage) + ": " + e.getMessage(), e);
    }
    tell(reply);
    if (reply.code() == 421 && stage != Stage.GREETING) {
      closingReply = reply;
      close();
    }
    return reply;
  }

  private void requireOpen(Stage stage) throws SmtpException {
    if (!isOpen()) throw new SmtpException(stage, closingReply, "not connected: the connection is closed");
  }

  private void requireHello(Stage stage) throws SmtpException {
    if (clientName == null) throw new IllegalStateException("call hello() first");
    requireOpen(stage);
  }

  /** A failure that leaves client and server out of step: the connection is closed. */
  private SmtpException broken(Stage stage, SmtpReply reply, String message, Throwable cause) {
    close();
    return new SmtpException(stage, reply, message, cause);
  }

  private SmtpException lost(Stage stage, String what, IOException e) {
    if (deadline.expired) {
      return broken(stage, null, "timed out sending " + what + " after " + seconds(deadline.timeout) + " (the server stopped reading)", e);
    }
    Throwable cause = e instanceof WireException w ? w.getCause() : e;
    return broken(stage, null, "connection lost while sending " + what + ": " + cause.getMessage(), e);
  }

  private static String name(Stage stage) {
    return stage == Stage.GREETING ? "the greeting" : stage.name();
  }

  /** A write to the server failed; unlike the writer's own IOExceptions, this is the connection's fault. */
  private static final class WireException extends IOException {
    WireException(IOException cause) {
      super(cause.getMessage(), cause);
    }
  }

  /**
   * The socket's output with a deadline on every write: one that has not finished within
   * {@code timeout} gets the TCP socket closed, which makes it fail.
   */
  private static final class WriteDeadline extends OutputStream {
    private final OutputStream socketOut;
    private final Socket tcp;
    /** How long the current stage lets a write take. */
    volatile Duration timeout = Duration.ofMinutes(5);
    volatile boolean expired;

    WriteDeadline(OutputStream socketOut, Socket tcp) {
      this.socketOut = socketOut;
      this.tcp = tcp;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      ScheduledFuture<?> alarm = WRITE_WATCHDOG.schedule(this::expire, timeout.toNanos(), TimeUnit.NANOSECONDS);
      try {
        socketOut.write(b, off, len);
      } catch (IOException e) {
        throw new WireException(e);
      } finally {
        alarm.cancel(false);
      }
    }

    @Override
    public void flush() throws IOException {
      try {
        socketOut.flush();
      } catch (IOException e) {
        throw new WireException(e);
      }
    }

    private void expire() {
      expired = true;
      closeQuietly(tcp);
    }
  }

  private static ScheduledExecutorService writeWatchdog() {
    var executor = new ScheduledThreadPoolExecutor(1,
        r -> Thread.ofPlatform().name("posta-smtp-client-write-watchdog").daemon().unstarted(r));
    executor.setRemoveOnCancelPolicy(true); // a cancelled alarm per write must not pile up
    return executor;
  }

  // --- Small helpers -------------------------------------------------------------------------

  private static int millis(Duration d) {
    return (int) Math.clamp(d.toMillis(), 1, Integer.MAX_VALUE);
  }

  /** "300 s", or "500 ms" for a timeout that is not whole seconds. */
  private static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }

  private static String text(InetSocketAddress address) {
    String host = address.getHostString();
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing anyway
    }
  }
}
