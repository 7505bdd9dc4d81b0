package dev.posta.capture;

import dev.posta.mail.Envelope;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.dom.Header;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.dom.address.Address;
import org.apache.james.mime4j.dom.address.AddressList;
import org.apache.james.mime4j.dom.address.Group;
import org.apache.james.mime4j.dom.address.Mailbox;
import org.apache.james.mime4j.dom.address.MailboxList;
import org.apache.james.mime4j.message.DefaultMessageBuilder;
import org.apache.james.mime4j.stream.MimeConfig;

/**
 * One captured message as the index keeps it: its stable ID (the queue ID, which its 250 reply
 * and every log line gave), its namespace, its envelope, the header fields a query looks at
 * (From, To, Cc, Subject, Date, Message-ID; RFC 5322 §3.6, decoded as RFC 2047 says), when it was
 * received, and its octets as stored. Only the header section is parsed here, leniently (Apache
 * mime4j): a malformed field leaves its value null, never refuses the message. A face that wants
 * the whole message parsed its own way asks {@link #parsed}, which parses once per message.
 */
public final class CapturedMessage {
  private final String id;
  private final String namespace;
  private final String envelopeSender;
  private final List<String> envelopeRecipients;
  private final String login;
  private final Instant receivedAt;
  private final Instant capturedAt;
  private final String from;
  private final List<String> to;
  private final List<String> cc;
  private final String subject;
  private final Instant date;
  private final String messageId;
  private final byte[] content;
  /** A face's parsed form, one per kind, made on first use and gone with the message. */
  private final Map<Class<?>, Object> parsed = new ConcurrentHashMap<>(2);

  CapturedMessage(Envelope envelope, String namespace, byte[] content, Instant capturedAt) {
    this.id = envelope.id().value();
    this.namespace = namespace;
    this.envelopeSender = envelope.sender() == null ? "" : envelope.sender().toString();
    this.envelopeRecipients = envelope.recipients().stream().map(r -> r.address().toString()).toList();
    this.login = envelope.login();
    this.receivedAt = envelope.received();
    this.capturedAt = capturedAt;
    this.content = content;
    Message header = header(content);
    MailboxList fromList = header == null ? null : safe(header::getFrom);
    this.from = fromList == null || fromList.isEmpty() ? null : fromList.get(0).getAddress();
    this.to = header == null ? List.of() : addresses(safe(header::getTo));
    this.cc = header == null ? List.of() : addresses(safe(header::getCc));
    this.subject = header == null ? null : safe(header::getSubject);
    java.util.Date d = header == null ? null : safe(header::getDate);
    this.date = d == null ? null : d.toInstant();
    this.messageId = header == null ? null : safe(header::getMessageId);
  }

  /** The header section only: the body is never read here. */
  private static Message header(byte[] content) {
    try {
      DefaultMessageBuilder builder = new DefaultMessageBuilder();
      builder.setMimeEntityConfig(MimeConfig.PERMISSIVE);
      builder.setDecodeMonitor(DecodeMonitor.SILENT);
      Header h = builder.parseHeader(new ByteArrayInputStream(content));
      Message m = builder.newMessage();
      m.setHeader(h);
      return m;
    } catch (IOException | RuntimeException e) {
      return null; // a header mime4j cannot read at all: the envelope still files and finds it
    }
  }

  /** A field mime4j cannot parse reads as absent. */
  private static <T> T safe(java.util.function.Supplier<T> field) {
    try {
      return field.get();
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static List<String> addresses(AddressList list) {
    if (list == null) return List.of();
    List<String> out = new ArrayList<>();
    for (Address a : list) {
      if (a instanceof Mailbox mb) out.add(mb.getAddress());
      else if (a instanceof Group g) g.getMailboxes().forEach(mb -> out.add(mb.getAddress()));
    }
    return List.copyOf(out);
  }

  /** The stable ID: the queue ID the server gave it. */
  public String id() {
    return id;
  }

  /** The namespace the rules filed it under ({@link Namespaces}), lower case. */
  public String namespace() {
    return namespace;
  }

  /** MAIL FROM's address, or "" for the null sender {@code <>}. */
  public String envelopeSender() {
    return envelopeSender;
  }

  /** RCPT TO's addresses, in the client's order. */
  public List<String> envelopeRecipients() {
    return envelopeRecipients;
  }

  /** The SMTP AUTH login it was sent with, or null. */
  public String login() {
    return login;
  }

  /** When the server took it (its 250 reply). */
  public Instant receivedAt() {
    return receivedAt;
  }

  /** When it was delivered to its mailboxes and indexed: what a waiter is woken by. */
  public Instant capturedAt() {
    return capturedAt;
  }

  /** The first From: address, or null. */
  public String from() {
    return from;
  }

  /** The To: addresses. */
  public List<String> to() {
    return to;
  }

  /** The Cc: addresses. */
  public List<String> cc() {
    return cc;
  }

  /** The Subject:, decoded; null when there is none. */
  public String subject() {
    return subject;
  }

  /** The Date:, or null when there is none or it cannot be read. */
  public Instant date() {
    return date;
  }

  /** The Message-ID: as written, with its angle brackets; null when there is none. */
  public String messageId() {
    return messageId;
  }

  /** The octets as delivered (the server's Received: first; without the Return-Path: and Delivered-To: of each mailbox copy). */
  public byte[] content() {
    return content.clone();
  }

  /** How many octets {@link #content()} has. */
  public int size() {
    return content.length;
  }

  /**
   * The message in a face's own parsed form ({@code type}), made by {@code parser} on the first
   * call for that type and kept with the message, so that every later query and waiter shares it.
   */
  public <T> T parsed(Class<T> type, Function<CapturedMessage, T> parser) {
    return type.cast(parsed.computeIfAbsent(type, t -> parser.apply(this)));
  }

  /** One line for a list of what arrived: {@code 1A2B3C [t1] <a@app> -> [b+t1@x] "Subject"}. */
  @Override
  public String toString() {
    return id + " [" + namespace + "] <" + envelopeSender + "> -> " + envelopeRecipients + " \"" + subject + "\"";
  }
}
