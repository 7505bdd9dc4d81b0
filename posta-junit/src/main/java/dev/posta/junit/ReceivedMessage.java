package dev.posta.junit;

import dev.posta.capture.AuthenticationResults;
import dev.posta.capture.CapturedMessage;
import dev.posta.capture.MessageText;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.codec.DecoderUtil;
import org.apache.james.mime4j.dom.BinaryBody;
import org.apache.james.mime4j.dom.Body;
import org.apache.james.mime4j.dom.Entity;
import org.apache.james.mime4j.dom.Message;
import org.apache.james.mime4j.dom.Multipart;
import org.apache.james.mime4j.dom.SingleBody;
import org.apache.james.mime4j.dom.TextBody;
import org.apache.james.mime4j.dom.address.Address;
import org.apache.james.mime4j.dom.address.AddressList;
import org.apache.james.mime4j.dom.address.Group;
import org.apache.james.mime4j.dom.address.Mailbox;
import org.apache.james.mime4j.dom.address.MailboxList;
import org.apache.james.mime4j.message.DefaultMessageBuilder;
import org.apache.james.mime4j.stream.Field;
import org.apache.james.mime4j.stream.MimeConfig;

/**
 * One message the server received: its envelope (what the client said in MAIL FROM and RCPT
 * TO), its header fields and its parts, parsed once when it arrived (Apache mime4j, leniently:
 * a malformed message is parsed as far as it goes, never refused).
 *
 * <p>Plain getters, so that AssertJ's {@code assertThat} (or any other assertion library) works
 * on each: {@code assertThat(m.subject()).isEqualTo("Welcome")}, {@code
 * assertThat(m.envelopeRecipients()).containsExactly("ada@example.com")}, {@code
 * assertThat(m.attachments()).extracting(Attachment::filename).containsExactly("invoice.pdf")}.
 * Addresses are bare ({@code ada@example.com}); header values and names of attachments are
 * decoded (RFC 2047, RFC 2231), bodies decoded from their transfer encoding and charset.
 *
 * <p>What a test usually wants out of a message it waited for: its {@link #links()} (from the
 * text part and the HTML part's anchors, the HTML parsed by jsoup as a browser would, entities
 * decoded), one link by what it contains ({@link #link(String)}), and a one-time code ({@link
 * #code()}: 4 to 8 digits; {@link #code(Pattern)} for any other shape). Each of these fails with
 * an AssertionError that shows what the message had, rather than returning null.
 */
public final class ReceivedMessage {
  /**
   * A part that is not the message's text: an attachment, or an inline image.
   *
   * @param filename its file name, or null when it has none
   * @param contentType the MIME type in lower case, such as {@code application/pdf}
   * @param inline whether its Content-Disposition is inline rather than attachment
   * @param content its octets, decoded from base64 or quoted-printable
   */
  public record Attachment(String filename, String contentType, boolean inline, byte[] content) {
    /** The content as UTF-8 text. */
    public String contentAsString() {
      return new String(content, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
      return "Attachment[" + filename + ", " + contentType + ", " + content.length + " octets]";
    }
  }

  /**
   * A header field.
   *
   * @param name as written
   * @param value unfolded and decoded (RFC 2047)
   */
  public record Header(String name, String value) {}

  private final String queueId;
  private final String namespace;
  private final Instant receivedAt;
  private final Instant capturedAt;
  private final String envelopeSender;
  private final List<String> envelopeRecipients;
  private final byte[] raw;
  private final List<Header> headers;
  private final String subject;
  private final String from;
  private final List<String> to;
  private final List<String> cc;
  private final String messageId;
  private final String text;
  private final String html;
  private final List<Attachment> attachments;
  private final AuthenticationResults authenticationResults;

  private ReceivedMessage(CapturedMessage captured) {
    this.queueId = captured.id();
    this.namespace = captured.namespace();
    this.receivedAt = captured.receivedAt();
    this.capturedAt = captured.capturedAt();
    this.envelopeSender = captured.envelopeSender();
    this.envelopeRecipients = captured.envelopeRecipients();
    this.raw = captured.content();
    Message m;
    try {
      DefaultMessageBuilder builder = new DefaultMessageBuilder();
      builder.setMimeEntityConfig(MimeConfig.PERMISSIVE);
      builder.setDecodeMonitor(DecodeMonitor.SILENT);
      m = builder.parseMessage(new ByteArrayInputStream(raw));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    List<Header> fields = new ArrayList<>();
    for (Field f : m.getHeader().getFields()) fields.add(new Header(f.getName(), decode(f.getBody())));
    this.headers = List.copyOf(fields);
    String results = header("Authentication-Results"); // the first is capture mode's: it adds its own on top
    this.authenticationResults = results == null ? null : AuthenticationResults.parse(results);
    this.subject = m.getSubject();
    MailboxList fromList = m.getFrom();
    this.from = fromList == null || fromList.isEmpty() ? null : fromList.get(0).getAddress();
    this.to = addresses(m.getTo());
    this.cc = addresses(m.getCc());
    this.messageId = m.getMessageId();
    Parts parts = new Parts();
    parts.walk(m);
    this.text = parts.text;
    this.html = parts.html;
    this.attachments = List.copyOf(parts.attachments);
    m.dispose();
  }

  /** The message the index captured, parsed once however many tests and waiters look at it. */
  static ReceivedMessage of(CapturedMessage captured) {
    return captured.parsed(ReceivedMessage.class, ReceivedMessage::new);
  }

  /** The first text/plain and text/html parts that are not attachments, and the rest. */
  private static final class Parts {
    String text;
    String html;
    final List<Attachment> attachments = new ArrayList<>();

    void walk(Entity e) {
      Body body = e.getBody();
      if (body instanceof Multipart mp) {
        for (Entity part : mp.getBodyParts()) walk(part);
        return;
      }
      if (body instanceof Message nested && !"attachment".equalsIgnoreCase(e.getDispositionType())) {
        walk(nested);
        return;
      }
      String type = e.getMimeType() == null ? "text/plain" : e.getMimeType().toLowerCase(Locale.ROOT);
      String disposition = e.getDispositionType();
      boolean attachment = "attachment".equalsIgnoreCase(disposition) || e.getFilename() != null;
      if (!attachment && type.equals("text/plain") && text == null) {
        text = text(body);
      } else if (!attachment && type.equals("text/html") && html == null) {
        html = text(body);
      } else {
        attachments.add(new Attachment(e.getFilename(), type, "inline".equalsIgnoreCase(disposition), bytes(body)));
      }
    }

    private static String text(Body body) {
      if (!(body instanceof TextBody t)) return new String(bytes(body), StandardCharsets.UTF_8);
      try (Reader r = t.getReader()) {
        StringWriter w = new StringWriter();
        r.transferTo(w);
        return w.toString();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    private static byte[] bytes(Body body) {
      try {
        if (body instanceof SingleBody single) {
          try (InputStream in = single.getInputStream()) {
            return in.readAllBytes();
          }
        }
        return new byte[0];
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private static String decode(String value) {
    return value == null ? null : DecoderUtil.decodeEncodedWords(value.replaceAll("\r?\n[ \t]", " "), DecodeMonitor.SILENT);
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

  // --- The envelope ------------------------------------------------------------------------

  /** MAIL FROM's address, or "" for the null sender {@code <>}. */
  public String envelopeSender() {
    return envelopeSender;
  }

  /** RCPT TO's addresses, in the client's order; Bcc recipients are here and nowhere else. */
  public List<String> envelopeRecipients() {
    return envelopeRecipients;
  }

  /**
   * The namespace it was filed under: its {@link Inbox}'s, when it was sent to an inbox's address
   * or with an inbox's login; {@code default} otherwise (see {@link PostaExtension}).
   */
  public String namespace() {
    return namespace;
  }

  /** The queue ID the server gave it (in its 250 reply and its log): its ID in the index. */
  public String queueId() {
    return queueId;
  }

  /** When the server took it (its 250 reply). */
  public Instant receivedAt() {
    return receivedAt;
  }

  /** When it was delivered to its mailboxes (and any wait for it woke). */
  public Instant capturedAt() {
    return capturedAt;
  }

  // --- The header --------------------------------------------------------------------------

  /** Every header field, in order, including the server's Authentication-Results and Received: at the top. */
  public List<Header> headers() {
    return headers;
  }

  /** The first value of a header field (name in any case), or null when there is none. */
  public String header(String name) {
    return headers.stream().filter(h -> h.name().equalsIgnoreCase(name)).map(Header::value).findFirst().orElse(null);
  }

  /** Every value of a header field (name in any case), in order. */
  public List<String> headerValues(String name) {
    return headers.stream().filter(h -> h.name().equalsIgnoreCase(name)).map(Header::value).toList();
  }

  /**
   * The SPF, DKIM and DMARC results that capture mode recorded in the message's
   * Authentication-Results field (its topmost one), parsed; null when the message has none.
   * {@link PostaAssertions#assertThat(ReceivedMessage)} asserts on them.
   */
  public AuthenticationResults authenticationResults() {
    return authenticationResults;
  }

  /** The Subject, decoded; null when there is none. */
  public String subject() {
    return subject;
  }

  /** The first From address, or null. */
  public String from() {
    return from;
  }

  /** The To addresses. */
  public List<String> to() {
    return to;
  }

  /** The Cc addresses. */
  public List<String> cc() {
    return cc;
  }

  /** The Message-ID as written, with its angle brackets; null when there is none. */
  public String messageId() {
    return messageId;
  }

  // --- The body ----------------------------------------------------------------------------

  /** The first text/plain part that is not an attachment, decoded; null when there is none. */
  public String text() {
    return text;
  }

  /** The first text/html part that is not an attachment, decoded; null when there is none. */
  public String html() {
    return html;
  }

  /** The other parts: attachments and inline images, in order. */
  public List<Attachment> attachments() {
    return attachments;
  }

  // --- Links and codes ---------------------------------------------------------------------

  /**
   * Every http and https link, without repeats, in order: those of the text part first, then the
   * {@code href} of the HTML part's {@code <a>} and {@code <area>} elements not seen yet. A link
   * in text ends before white space, a quote or an angle bracket, and loses the punctuation that
   * ends a sentence ({@code .,;:!?}, and a {@code )} it did not open). The HTTP API's {@code links}
   * are the same ({@link MessageText#links}).
   */
  public List<String> links() {
    return MessageText.links(text, html);
  }

  /**
   * The first of {@link #links()} that contains {@code part}.
   *
   * @throws AssertionError when none does, listing the links there are
   */
  public String link(String part) {
    List<String> links = links();
    return links.stream().filter(l -> l.contains(part)).findFirst()
        .orElseThrow(() -> new AssertionError("no link containing \"" + part + "\" in " + this + "; its links: " + links));
  }

  /**
   * The one-time code: the first 4 to 8 digits standing alone in the text part, outside its
   * links, else in the HTML part's text (what a reader sees, without tags); the HTTP API's
   * {@code code} is the same ({@link MessageText#code(String, String)}).
   *
   * @throws AssertionError when there is none, showing the text
   */
  public String code() {
    return MessageText.code(text, html)
        .orElseThrow(() -> new AssertionError("no one-time code (4 to 8 digits) in " + this + "; its text: " + shown()));
  }

  /**
   * The first match of {@code pattern} in the text part, else in the HTML part's text: its first
   * group when it has one, else the whole match ({@code code(Pattern.compile("code: ([A-Z0-9]{6})"))}).
   *
   * @throws AssertionError when it matches nowhere, showing the text
   */
  public String code(Pattern pattern) {
    return MessageText.code(pattern, text, html)
        .orElseThrow(() -> new AssertionError("nothing matching /" + pattern.pattern() + "/ in " + this + "; its text: " + shown()));
  }

  private String shown() {
    List<String> places = MessageText.readable(text, html);
    if (places.isEmpty()) return "(no text or HTML part)";
    String all = String.join(" | ", places).replaceAll("\\s+", " ").strip();
    return "\"" + (all.length() > 400 ? all.substring(0, 400) + "…" : all) + "\"";
  }

  /** The message as received, with the server's Authentication-Results and Received: fields first. */
  public byte[] raw() {
    return raw.clone();
  }

  /** {@link #raw()} as text (UTF-8). */
  public String rawAsString() {
    return new String(raw, StandardCharsets.UTF_8);
  }

  @Override
  public String toString() {
    return "ReceivedMessage[" + queueId + " in " + namespace + " from <" + envelopeSender + "> to " + envelopeRecipients + ", subject "
        + subject + "]";
  }
}
