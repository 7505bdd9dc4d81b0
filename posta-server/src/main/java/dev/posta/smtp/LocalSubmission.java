package dev.posta.smtp;

import dev.posta.config.PostaConfig;
import dev.posta.delivery.Router;
import dev.posta.local.LocalRequest;
import dev.posta.mail.AddressParser;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailAddress;
import dev.posta.mail.MailDate;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.RcptParameters;
import dev.posta.mail.Recipient;
import dev.posta.mailauth.dkim.DkimSigner;
import dev.posta.queue.MessageContent;
import dev.posta.queue.MailQueue;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.james.mime4j.codec.EncoderUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mail from a local user ({@code posta sendmail}), over the server's socket or from the drop
 * folder: the same checks and treatment as mail submitted on port 587, with the local user in
 * place of the SMTP login. Reused, not copied: the {@link Policy} (recipients that must exist,
 * the sender a user may use, the hop count), the {@link Transaction} (size limit, Date: and
 * Message-ID: added when missing, DKIM signing before the message is stored), the spool's
 * durable store before the answer, and a {@code status=queued} log line like the SMTP one.
 *
 * <p>The caller is known by its user name: from the socket's peer credentials (SO_PEERCRED), or
 * the owner of the drop file, never from what it says. Its own address is
 * {@code user@origin}, the origin being the postmaster's domain (always a local domain, as
 * Postfix's {@code myorigin}); an address without {@code @} is qualified with it. The envelope
 * sender is that address unless {@code -f} names another: {@code root} and the server's own user
 * (who runs the service) may name any, as sendmail's trusted users; anyone else only an address
 * they would own as the account {@code user@origin} ({@link Policy#owns}: the address itself,
 * its {@code +tag} forms, aliases to that mailbox), or {@code <>}, or any when
 * {@code [submission] sender-must-be-owned = false}. A message without From: gets one with that
 * address (and the {@code -F} name); one without a header section at all gets From:, Date: and
 * Message-ID: above it.
 *
 * <p>Refused, with the reply that {@code posta sendmail} turns into an exit status: a bad
 * address (501), no recipient or too many (503/552 5.5.x), a local recipient that does not exist
 * (550 5.1.1), a sender not the caller's (553 5.7.1), a message over {@code max-message-size}
 * (552 5.3.4), a malformed one (550 5.6.0: a NUL octet, a bare CR, a line over
 * {@code max-line-length}), a storage failure (451). Lines end in LF or CRLF; both are stored as
 * CRLF.
 */
public final class LocalSubmission {
  private static final Logger log = LoggerFactory.getLogger(LocalSubmission.class);
  static final Reply NO_RECIPIENTS = new Reply(503, "5.5.1", "No recipients: name them, or use -t with To:, Cc: or Bcc: in the message");
  static final Reply TOO_MANY = new Reply(552, "5.5.3", "Too many recipients: at most %d");
  static final Reply MALFORMED = new Reply(550, "5.6.0", "Malformed message: %s");
  static final Reply GO_AHEAD = new Reply(354, "", "Send the message, then end the stream");
  /** A header section is read whole (to see whether From: is there): at most this long. */
  private static final int MAX_HEADER_SECTION = 1024 * 1024;

  private final SmtpServer.Context context;
  private final Policy policy;
  private final Router router;
  private final String origin;
  private final String serverUser;

  public LocalSubmission(SmtpServer.Context context) {
    this.context = context;
    this.router = context.router();
    this.policy = new Policy(context.config(), router);
    String pm = router.postmaster();
    this.origin = pm.substring(pm.lastIndexOf('@') + 1);
    this.serverUser = System.getProperty("user.name");
  }

  /** Where the answers go: one reply line each, the 354 and the last. */
  public interface Answers {
    void reply(int code, String status, String text) throws IOException;
  }

  /** A message taken: its queue ID. */
  public record Taken(QueueId id) {}

  /**
   * Serves one local submission: checks the head, answers 354 (or the refusal), reads the
   * message from {@code body} to its end, checks and stores it, and answers with the last reply.
   *
   * @param user the caller's user name, as the system says it
   * @param via "local" (the socket) or "maildrop", for the log and Received:
   * @param partial the drop folder's case: a refused recipient is logged and left out, and only a
   *     message with no recipient left is refused (its sender was told "taken" long ago)
   * @return the queue ID when the message was stored, else null (the refusal was answered)
   */
  public Taken serve(LocalRequest request, String user, String via, boolean partial, InputStream body, Answers answers) throws IOException {
    String prefix = via + "[" + printable(user) + "]";
    String account = user + "@" + origin;
    Policy.Client client = new Policy.Client(InetAddress.getLoopbackAddress(), PostaConfig.Protocol.SUBMISSION, account);
    MailAddress sender;
    try {
      sender = request.sender() == null ? AddressParser.parseMailbox(account)
          : request.sender().isEmpty() ? null : AddressParser.parseMailbox(qualified(request.sender()));
    } catch (AddressParser.SyntaxException e) {
      return refuse(answers, prefix, "sender " + (request.sender() == null ? account : request.sender()) + ": " + e.getMessage(),
          Replies.BAD_SENDER_SYNTAX.format(request.sender() == null ? account : request.sender()));
    }
    boolean trusted = user.equals("root") || user.equals(serverUser);
    return take(client, user, via, prefix, trusted, sender, request.recipients(), partial,
        fromField(sender != null ? sender.toString() : account, request.fullName()), body, answers);
  }

  /**
   * A message from the HTTP API, sent by {@code account} (the API token's user) from {@code
   * address}: checked and treated as if that account had submitted it over SMTP on port 587 (the
   * sender must be one it owns unless {@code sender-must-be-owned = false}, every recipient
   * checked, size and line limits, Date: and Message-ID: when missing, DKIM signed, spooled
   * durably before the answer), logged as {@code api[account]}.
   *
   * @param sender the envelope sender, as the message's From: names it
   * @param recipients the envelope recipients (To:, Cc: and Bcc:)
   * @param message the whole message, header section first, lines ended by CRLF
   * @return the queue ID, or null when refused (the refusal was answered)
   */
  public Taken submit(String account, InetAddress address, MailAddress sender, List<String> recipients, InputStream message, Answers answers)
      throws IOException {
    return submit("api", account, address, sender, recipients, message, answers);
  }

  /**
   * {@link #submit(String, InetAddress, MailAddress, List, InputStream, Answers)} from another
   * face of the server: {@code via} names it in the log ({@code web[account]}) and in Received:.
   */
  public Taken submit(String via, String account, InetAddress address, MailAddress sender, List<String> recipients, InputStream message,
      Answers answers) throws IOException {
    Policy.Client client = new Policy.Client(address, PostaConfig.Protocol.SUBMISSION, account);
    return take(client, account, via, via + "[" + printable(account) + "]", false, sender, recipients, false,
        fromField(sender.toString(), null), message, answers);
  }

  /** The checks and the transaction after the caller is known: sender, recipients, message, spool. */
  private Taken take(Policy.Client client, String user, String via, String prefix, boolean trusted, MailAddress sender,
      List<String> typedRecipients, boolean partial, String fromField, InputStream body, Answers answers) throws IOException {
    PostaConfig config = context.config();
    PostaConfig.Limits limits = config.limits();
    if (!trusted) {
      Policy.Refusal refused = policy.mail(client, sender);
      if (refused != null) return refuse(answers, prefix, "from=<" + orEmpty(sender) + ">: " + refused.reason(), refused.reply());
    }
    if (typedRecipients.isEmpty()) return refuse(answers, prefix, "no recipients", NO_RECIPIENTS);
    if (typedRecipients.size() > limits.maxRecipients()) {
      return refuse(answers, prefix, typedRecipients.size() + " recipients, over " + limits.maxRecipients(), TOO_MANY.format(limits.maxRecipients()));
    }
    boolean utf8 = sender != null && sender.isUtf8();
    List<Recipient> recipients = new ArrayList<>();
    for (String typed : typedRecipients) {
      MailAddress rcpt;
      try {
        rcpt = AddressParser.parseMailbox(qualified(typed));
      } catch (AddressParser.SyntaxException e) {
        if (partial) {
          log.info("{}: to=<{}>: left out: bad address: {}", prefix, printable(typed), e.getMessage());
          continue;
        }
        return refuse(answers, prefix, "to=<" + printable(typed) + ">: " + e.getMessage(), Replies.BAD_RECIPIENT_SYNTAX.format(printable(typed)));
      }
      Policy.Refusal refused = policy.rcpt(client, rcpt);
      if (refused != null) {
        if (partial) {
          log.info("{}: from=<{}>, to=<{}>: left out: {}", prefix, orEmpty(sender), rcpt, refused.reason());
          continue;
        }
        return refuse(answers, prefix, "from=<" + orEmpty(sender) + ">, to=<" + rcpt + ">: " + refused.reason(), refused.reply());
      }
      utf8 |= rcpt.isUtf8();
      boolean duplicate = recipients.stream().anyMatch(r -> r.address().localPart().equals(rcpt.localPart())
          && r.address().domain().equalsIgnoreCase(rcpt.domain()));
      if (!duplicate) recipients.add(new Recipient(rcpt, RcptParameters.NONE));
    }
    if (recipients.isEmpty()) return refuse(answers, prefix, "no recipient left", NO_RECIPIENTS);

    answers.reply(GO_AHEAD.code(), GO_AHEAD.status(), GO_AHEAD.text());
    MailParameters parameters = new MailParameters(-1, MailParameters.BodyType.EIGHT_BIT_MIME, utf8, null, null);
    Transaction tx = new Transaction(sender, parameters, limits.maxMessageSize());
    tx.recipients.addAll(recipients);
    DkimSigner signer = context.signer();
    DkimSigner.Signing signing = signer.hasKeys() ? signer.start() : null;
    String hostname = config.hostname();
    tx.startContent(context.queue().newContent(), received(hostname, user, via, tx), hostname, signing, null, hostname);
    tx.reencodeLongLines(context.queue()::newContent, signer); // Posta is the first server: long lines are re-encoded
    String problem;
    try {
      problem = copy(body, tx, limits.maxLineLength(), fromField);
    } catch (IOException | RuntimeException e) {
      tx.discard();
      throw e;
    }
    if (tx.tooBig()) {
      tx.discard();
      return refuse(answers, prefix, tx.id + ": message of " + tx.size() + " octets over the limit " + limits.maxMessageSize(),
          Replies.MESSAGE_TOO_BIG.format(limits.maxMessageSize()));
    }
    if (problem != null) {
      tx.discard();
      return refuse(answers, prefix, tx.id + ": malformed message: " + problem, MALFORMED.format(problem));
    }
    MessageContent content;
    try {
      content = tx.finish();
    } catch (IOException | RuntimeException e) {
      tx.discard();
      throw e;
    }
    Policy.Refusal refused = policy.endOfData(client, content);
    if (refused != null) {
      tx.discard();
      return refuse(answers, prefix, tx.id + ": " + refused.reason(), refused.reply());
    }
    Envelope envelope = new Envelope(tx.id, Instant.now(), via, user, sender, parameters, tx.recipients);
    MailQueue.Accepted stored;
    try {
      stored = context.queue().accept(envelope, content, false);
    } catch (IOException e) {
      tx.discard();
      log.error("{}: {}: not stored, answered 451: {}", prefix, tx.id, e.toString());
      answers.reply(Replies.STORAGE_FAILED.code(), Replies.STORAGE_FAILED.status(), Replies.STORAGE_FAILED.text());
      return null;
    }
    log.info("{}: {}: from=<{}>, size={}, nrcpt={}, user={}{}{}{}, status=queued", prefix, tx.id, orEmpty(sender), tx.size(),
        tx.recipients.size(), printable(user), tx.messageId() == null ? "" : ", msgid=" + tx.messageId(), tx.reencodedLogged(),
        dkim(tx.signed()));
    context.metrics().submitter(via).messageAccepted(tx.size()); // listener="local", "maildrop" or "api"
    Reply queued = Replies.QUEUED.format(tx.id);
    answers.reply(queued.code(), queued.status(), queued.text());
    stored.deliver();
    return new Taken(tx.id);
  }

  private String qualified(String address) {
    return address.indexOf('@') < 0 ? address + "@" + origin : address;
  }

  private static Taken refuse(Answers answers, String prefix, String why, Reply reply) throws IOException {
    log.info("{}: refused: {}", prefix, why);
    answers.reply(reply.code(), reply.status(), reply.text());
    return null;
  }

  /** The From: field a message without one gets: the sender, with the -F name. */
  private static String fromField(String address, String fullName) {
    if (fullName == null || fullName.isBlank()) return "From: " + address + "\r\n";
    return "From: " + EncoderUtil.encodeAddressDisplayName(fullName.strip()) + " <" + address + ">\r\n";
  }

  /** Our trace field: who handed the message in, as the system named them (Postfix: "from userid 1000"). */
  private static byte[] received(String hostname, String user, String via, Transaction tx) {
    String forClause = tx.recipients.size() == 1 ? "\r\n\tfor <" + tx.recipients.getFirst().address() + ">" : "";
    String header = "Received: by " + hostname + " (Posta, from user " + printable(user).replace('(', '?').replace(')', '?') + " via " + via + ")\r\n"
        + "\tid " + tx.id + forClause + ";\r\n\t" + MailDate.format(Instant.now()) + "\r\n";
    return header.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Copies the message into the transaction, each line ended with CRLF: the header section is
   * read first and gets {@code from} when it has no From: (a message that starts with no header
   * field gets it, and an empty line, above it). Returns what is malformed, or null.
   */
  static String copy(InputStream in, Transaction tx, int maxLineLength, String from) throws IOException {
    LineReader lines = new LineReader(in, maxLineLength);
    List<byte[]> header = new ArrayList<>();
    int headerOctets = 0;
    boolean sawFrom = false;
    boolean headers = true;
    byte[] first = null; // the line that ended the header section, or the stream's end (null)
    boolean ended = false;
    while (true) {
      byte[] line = lines.next();
      if (line == null) {
        ended = true;
        break;
      }
      if (lines.problem != null) return lines.problem;
      boolean field = isField(line);
      boolean continuation = !header.isEmpty() && line.length > 0 && (line[0] == ' ' || line[0] == '\t');
      if (!field && !continuation) {
        first = line;
        if (header.isEmpty() && line.length > 0) headers = false; // an empty first line is an empty header section
        break;
      }
      if (field && startsWithIgnoreCase(line, "from:")) sawFrom = true;
      header.add(line);
      headerOctets += line.length + 2;
      if (headerOctets > MAX_HEADER_SECTION) return "a header section over " + MAX_HEADER_SECTION + " octets";
    }
    if (lines.problem != null) return lines.problem;
    byte[] fromBytes = from.getBytes(StandardCharsets.UTF_8);
    if (!sawFrom) tx.append(fromBytes, 0, fromBytes.length);
    for (byte[] h : header) appendLine(tx, h);
    if (!headers) appendLine(tx, new byte[0]); // the body had no header section: ours ends here
    if (first != null) appendLine(tx, first);
    if (ended) return null;
    while (true) {
      byte[] line = lines.next();
      if (lines.problem != null) return lines.problem;
      if (line == null) return null;
      appendLine(tx, line);
    }
  }

  private static final byte[] CRLF = {'\r', '\n'};

  private static void appendLine(Transaction tx, byte[] line) throws IOException {
    tx.append(line, 0, line.length);
    tx.append(CRLF, 0, 2);
  }

  private static boolean isField(byte[] line) {
    int colon = -1;
    for (int i = 0; i < line.length; i++) {
      if (line[i] == ':') {
        colon = i;
        break;
      }
      if (line[i] <= 32 || line[i] >= 127) return false;
    }
    return colon > 0;
  }

  private static boolean startsWithIgnoreCase(byte[] line, String prefix) {
    if (line.length < prefix.length()) return false;
    for (int i = 0; i < prefix.length(); i++) {
      if (Character.toLowerCase((char) line[i]) != prefix.charAt(i)) return false;
    }
    return true;
  }

  /**
   * Lines ended by LF or CRLF (the CR dropped); a NUL, a bare CR or an over-long line is a
   * problem, after which no more lines come. The last line may lack its LF.
   */
  private static final class LineReader {
    private final InputStream in;
    private final int maxText;
    private final byte[] buffer = new byte[8192];
    private int pos;
    private int limit;
    String problem;

    LineReader(InputStream in, int maxLineLength) {
      this.in = in;
      this.maxText = maxLineLength - 2;
    }

    /** The next line without its end; null at the end of the stream (or after a problem). */
    byte[] next() throws IOException {
      if (problem != null) return null;
      ByteArrayOutputStream line = new ByteArrayOutputStream(128);
      boolean cr = false;
      boolean any = false;
      while (true) {
        if (pos == limit) {
          limit = in.read(buffer);
          pos = 0;
          if (limit < 0) {
            limit = 0;
            if (cr) return bad("a bare CR at the end");
            return any ? line.toByteArray() : null;
          }
        }
        byte b = buffer[pos++];
        any = true;
        if (b == '\n') return line.toByteArray();
        if (cr) return bad("a bare CR (lines end in LF or CRLF)");
        if (b == '\r') {
          cr = true;
          continue;
        }
        if (b == 0) return bad("a NUL octet");
        line.write(b);
        if (line.size() > maxText) return bad("a line longer than " + (maxText + 2) + " octets");
      }
    }

    private byte[] bad(String what) {
      problem = what;
      return null;
    }
  }

  private static String dkim(DkimSigner.Outcome signed) {
    return switch (signed) {
      case null -> "";
      case DkimSigner.Signed s -> ", dkim=signed (" + String.join(", ", s.signatures()) + ")";
      case DkimSigner.NotSigned n -> ", dkim=unsigned (" + n.reason() + ")";
      case DkimSigner.NoKey n -> "";
    };
  }

  private static String printable(String s) {
    var b = new StringBuilder(Math.min(s.length(), 255));
    for (int i = 0; i < s.length() && b.length() < 255; i++) {
      char c = s.charAt(i);
      b.append(c < 32 || c == 127 ? '?' : c);
    }
    return b.toString();
  }

  private static String orEmpty(MailAddress a) {
    return a == null ? "" : a.toString();
  }
}
