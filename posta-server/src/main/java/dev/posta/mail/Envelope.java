package dev.posta.mail;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The envelope of one accepted message: who sent it, to whom, from where, with which ESMTP
 * parameters. Everything a later delivery or bounce (DSN, RFC 3461) needs besides the content.
 *
 * <p>Stored in the spool as UTF-8 text, one {@code key value} per line; values never hold CR
 * or LF because the SMTP parser refused those.
 *
 * @param sender null for the null reverse-path {@code <>}
 * @param folder the folder local recipients get the message in: null for their inbox, "Junk" for
 *     mail a DMARC policy of quarantine sent there (RFC 7489 §6.3 "p")
 * @param login the account the client authenticated as with SMTP AUTH (RFC 4954) before sending
 *     it, null when it did not: capture mode files the message under that login's namespace
 * @param listener the listener it came in on, as its protocol and local address ({@code
 *     submission 192.0.2.1:587}), for the queue's timeline; null for mail submitted on this
 *     machine, and for notices
 * @param spam why a milter marked it as spam ({@code X-Spam: Yes by rspamd}), null when none did:
 *     each local recipient's domain says which folder such mail goes to ({@code spam-folder})
 */
public record Envelope(
    QueueId id,
    Instant received,
    String clientAddress,
    String heloName,
    MailAddress sender,
    MailParameters parameters,
    List<Recipient> recipients,
    String folder,
    String login,
    String listener,
    String spam) {

  public Envelope {
    recipients = List.copyOf(recipients);
  }

  /** An envelope no milter marked as spam. */
  public Envelope(QueueId id, Instant received, String clientAddress, String heloName, MailAddress sender, MailParameters parameters,
      List<Recipient> recipients, String folder, String login, String listener) {
    this(id, received, clientAddress, heloName, sender, parameters, recipients, folder, login, listener, null);
  }

  /** An envelope without its listener. */
  public Envelope(QueueId id, Instant received, String clientAddress, String heloName, MailAddress sender, MailParameters parameters,
      List<Recipient> recipients, String folder, String login) {
    this(id, received, clientAddress, heloName, sender, parameters, recipients, folder, login, null);
  }

  /** An envelope of mail that came without SMTP AUTH. */
  public Envelope(QueueId id, Instant received, String clientAddress, String heloName, MailAddress sender, MailParameters parameters,
      List<Recipient> recipients, String folder) {
    this(id, received, clientAddress, heloName, sender, parameters, recipients, folder, null);
  }

  /** An envelope for the recipients' inboxes. */
  public Envelope(QueueId id, Instant received, String clientAddress, String heloName, MailAddress sender, MailParameters parameters,
      List<Recipient> recipients) {
    this(id, received, clientAddress, heloName, sender, parameters, recipients, null);
  }

  /** The reverse-path as written in Return-Path: and MAIL FROM, {@code <>} for null. */
  public String reversePath() {
    return sender == null ? "<>" : "<" + sender + ">";
  }

  public byte[] encode() {
    var s = new StringBuilder(256);
    line(s, "id", id.value());
    line(s, "received", Long.toString(received.toEpochMilli()));
    line(s, "client", clientAddress);
    line(s, "helo", heloName);
    line(s, "from", sender == null ? "" : sender.toString());
    line(s, "size", Long.toString(parameters.size()));
    line(s, "body", parameters.body().keyword);
    if (parameters.smtpUtf8()) line(s, "smtputf8", "yes");
    if (parameters.ret() != null) line(s, "ret", parameters.ret());
    if (parameters.envelopeId() != null) line(s, "envid", parameters.envelopeId());
    for (Recipient r : recipients) {
      line(s, "rcpt", r.address().toString());
      if (r.parameters().notifyOn() != null) line(s, "notify", r.parameters().notifyOn());
      if (r.parameters().originalRecipient() != null) line(s, "orcpt", r.parameters().originalRecipient());
    }
    if (folder != null) line(s, "folder", folder);
    if (login != null) line(s, "login", login);
    if (listener != null) line(s, "listener", listener);
    if (spam != null) line(s, "spam", spam);
    return s.toString().getBytes(StandardCharsets.UTF_8);
  }

  private static void line(StringBuilder s, String key, String value) {
    s.append(key).append(' ').append(value).append('\n');
  }

  /** Decodes what {@link #encode} wrote; throws IllegalArgumentException on anything else. */
  public static Envelope decode(byte[] bytes) {
    QueueId id = null;
    Instant received = null;
    String client = "", helo = "";
    MailAddress sender = null;
    long size = -1;
    MailParameters.BodyType body = MailParameters.BodyType.SEVEN_BIT;
    boolean utf8 = false;
    String ret = null, envid = null, folder = null, login = null, listener = null, spam = null;
    List<MailAddress> rcpts = new ArrayList<>();
    List<String> notifies = new ArrayList<>();
    List<String> orcpts = new ArrayList<>();
    for (String line : new String(bytes, StandardCharsets.UTF_8).split("\n")) {
      int sp = line.indexOf(' ');
      if (sp < 0) throw new IllegalArgumentException("envelope line without value: " + line);
      String key = line.substring(0, sp);
      String value = line.substring(sp + 1);
      switch (key) {
        case "id" -> id = new QueueId(value);
        case "received" -> received = Instant.ofEpochMilli(Long.parseLong(value));
        case "client" -> client = value;
        case "helo" -> helo = value;
        case "from" -> sender = value.isEmpty() ? null : address(value);
        case "size" -> size = Long.parseLong(value);
        case "body" -> body = MailParameters.BodyType.of(value);
        case "smtputf8" -> utf8 = true;
        case "ret" -> ret = value;
        case "envid" -> envid = value;
        case "folder" -> folder = value;
        case "login" -> login = value;
        case "listener" -> listener = value;
        case "spam" -> spam = value;
        case "rcpt" -> {
          rcpts.add(address(value));
          notifies.add(null);
          orcpts.add(null);
        }
        case "notify" -> notifies.set(lastRecipient(rcpts, key), value);
        case "orcpt" -> orcpts.set(lastRecipient(rcpts, key), value);
        default -> throw new IllegalArgumentException("unknown envelope key " + key);
      }
    }
    if (id == null || received == null || rcpts.isEmpty() || body == null) {
      throw new IllegalArgumentException("incomplete envelope");
    }
    List<Recipient> recipients = new ArrayList<>();
    for (int i = 0; i < rcpts.size(); i++) {
      recipients.add(new Recipient(rcpts.get(i), new RcptParameters(notifies.get(i), orcpts.get(i))));
    }
    return new Envelope(id, received, client, helo, sender, new MailParameters(size, body, utf8, ret, envid), recipients, folder, login, listener, spam);
  }

  /** Where a recipient's parameter line belongs: the recipient before it, which there must be. */
  private static int lastRecipient(List<MailAddress> rcpts, String key) {
    if (rcpts.isEmpty()) throw new IllegalArgumentException("envelope " + key + " before any rcpt");
    return rcpts.size() - 1;
  }

  private static MailAddress address(String s) {
    try {
      return AddressParser.parseMailbox(s);
    } catch (AddressParser.SyntaxException e) {
      throw new IllegalArgumentException("bad address in envelope: " + e.getMessage());
    }
  }
}
