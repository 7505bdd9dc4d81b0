package dev.posta.web.message;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.Charset;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.IntFunction;
import org.apache.james.mime4j.MimeException;
import org.apache.james.mime4j.codec.DecodeMonitor;
import org.apache.james.mime4j.codec.DecoderUtil;
import org.apache.james.mime4j.dom.address.Address;
import org.apache.james.mime4j.dom.address.AddressList;
import org.apache.james.mime4j.dom.address.Group;
import org.apache.james.mime4j.dom.address.Mailbox;
import org.apache.james.mime4j.field.DateTimeFieldLenientImpl;
import org.apache.james.mime4j.field.address.LenientAddressParser;
import org.apache.james.mime4j.message.DefaultBodyDescriptorBuilder;
import org.apache.james.mime4j.message.MaximalBodyDescriptor;
import org.apache.james.mime4j.parser.AbstractContentHandler;
import org.apache.james.mime4j.parser.MimeStreamParser;
import org.apache.james.mime4j.stream.BodyDescriptor;
import org.apache.james.mime4j.stream.Field;
import org.apache.james.mime4j.stream.MimeConfig;
import org.apache.james.mime4j.util.CharsetUtil;
import org.apache.james.mime4j.util.MimeUtil;

/**
 * A stored message as the web view shows it: the header summary (From, To, Cc, Reply-To, Date,
 * Subject, Message-ID), the addresses of From, To and Cc, every header field, the text part, the
 * HTML part (sanitized for the pages, {@link #safeHtml}; as written for the API, {@link
 * #html}) and the attachments. Read in one pass by mime4j's streaming
 * parser, leniently (mail as received is not always well formed, and reading it must not fail
 * for that); header values are unfolded and their encoded words decoded (RFC 2047), file names
 * too (RFC 2231), bodies decoded from base64 and quoted-printable, then from their charset.
 *
 * <p>Which parts are the body: the first text/plain and the first text/html leaf that is not an
 * attachment (no {@code Content-Disposition: attachment}, no file name), wherever they sit
 * (multipart/alternative, related, mixed); every other leaf is an {@link Attachment}. A
 * message/rfc822 part is one attachment (the forwarded message as a file), not opened. A
 * multipart without a boundary is read as text, as mime4j reads it (RFC 2046 §5.1.1 makes the
 * boundary required). A text/plain part with {@code format=flowed} is unwrapped (RFC 3676).
 *
 * <p>Bounded ({@link Limits}): only the first {@code maxBytes} of a message are read, only its
 * first {@code maxParts} leaf parts kept, only the first {@code maxBodyBytes} of a text or HTML
 * body decoded; attachments are counted as they stream past, never held. A message over any
 * bound still shows what was read, and {@link #notes} says what was left out. An unknown charset
 * reads as UTF-8 (windows-1252 when not valid UTF-8), with a note.
 */
public final class MessageView {
  /**
   * How much of one message is read: its first {@code maxBytes} octets, its first {@code
   * maxParts} leaf parts, the first {@code maxBodyBytes} decoded octets of its text and HTML parts.
   */
  public record Limits(long maxBytes, int maxParts, int maxBodyBytes) {
    /** 64 MiB (above any max-message-size worth setting), 500 parts, 4 MiB of text or HTML. */
    public static final Limits DEFAULT = new Limits(64L << 20, 500, 4 << 20);

    public Limits {
      if (maxBytes < 1 || maxParts < 1 || maxBodyBytes < 1) throw new IllegalArgumentException("limits must be positive");
    }
  }

  /** A header field as a person reads it: its name as written, its value unfolded and decoded. */
  public record HeaderField(String name, String value) {}

  /**
   * The fields a reader looks at first, decoded; each null when the message has none. {@code
   * sent} is the Date field as an instant, null when absent or unreadable (then {@code date}
   * still holds the text).
   */
  public record Summary(String from, String to, String cc, String replyTo, String date, Instant sent, String subject, String messageId) {}

  /**
   * The addresses alone (RFC 5322 §3.4): From's first mailbox, and every mailbox of To and Cc
   * (groups opened); null and empty when a field is absent or unreadable.
   */
  public record Addresses(String from, List<String> to, List<String> cc) {}

  /** Most header fields kept for the headers view; a message with more shows these and a note. */
  static final int MAX_FIELDS = 1_000;

  private final Summary summary;
  private final Addresses addresses;
  private final List<HeaderField> headers;
  private final String text;
  private final String html;
  private final List<Attachment> attachments;
  private final List<String> notes;

  private MessageView(Summary summary, Addresses addresses, List<HeaderField> headers, String text, String html, List<Attachment> attachments,
      List<String> notes) {
    this.summary = summary;
    this.addresses = addresses;
    this.headers = List.copyOf(headers);
    this.text = text;
    this.html = html;
    this.attachments = List.copyOf(attachments);
    this.notes = List.copyOf(notes);
  }

  /** Reads a message (LF or CRLF line ends), bounded by {@code limits}; never fails on malformed mail. */
  public static MessageView read(InputStream message, Limits limits) throws IOException {
    Reading r = new Reading(limits, 0);
    r.parse(message);
    return new MessageView(r.summary(), r.addresses(), r.headers, r.text, r.html, r.attachments, r.notes);
  }

  /**
   * Streams one leaf part's decoded content (base64 or quoted-printable undone, no charset
   * conversion) into the stream {@code sink} gives for it once its header is read (the
   * attachment it is given has size 0: the size is known only at the end), and closes that
   * stream when the part is written whole; after an IOException it is left open, for its owner
   * to abort rather than end as if complete. Empty when the message has no such part within
   * {@code limits}, and then {@code sink} is not called.
   */
  public static Optional<Attachment> extract(InputStream message, int index, Limits limits, Function<Attachment, OutputStream> sink)
      throws IOException {
    Reading r = new Reading(limits, index);
    r.sink = sink;
    r.parse(message);
    return Optional.ofNullable(r.extracted);
  }

  public Summary summary() {
    return summary;
  }

  public Addresses addresses() {
    return addresses;
  }

  /** Every header field of the message itself, in order (at most {@link #MAX_FIELDS}). */
  public List<HeaderField> headers() {
    return headers;
  }

  /** The text part, decoded, LF line ends; null when the message has none. */
  public String text() {
    return text;
  }

  /**
   * The text a reply quotes: the text part, else the HTML part's text ({@link HtmlSanitizer#text}:
   * a line break for each block and br, nothing of script or style), else null.
   */
  public String quotableText() {
    if (text != null) return text;
    return html == null ? null : HtmlSanitizer.text(html);
  }

  /**
   * The HTML part as the message has it, decoded to text, or null: for the API, whose caller
   * chose to read it; never for a page, which shows only {@link #safeHtml}.
   */
  public String html() {
    return html;
  }

  /** Whether the message has an HTML part ({@link #safeHtml} shows it). */
  public boolean hasHtml() {
    return html != null;
  }

  /** The attachments, in message order. */
  public List<Attachment> attachments() {
    return attachments;
  }

  /** What was left out or guessed while reading, one sentence each; empty for a well-formed message within the limits. */
  public List<String> notes() {
    return notes;
  }

  /**
   * The HTML part sanitized ({@link HtmlSanitizer}), or null when there is none. A {@code cid:}
   * image becomes {@code partUrl} of the part with that Content-ID (RFC 2392), or is dropped when
   * no image part of this message has it.
   *
   * @param remoteImages whether http and https images load (the reader asked), else they are blocked and counted
   * @param partUrl the URL of a part by its {@link Attachment#index}
   */
  public HtmlSanitizer.SafeHtml safeHtml(boolean remoteImages, IntFunction<String> partUrl) {
    if (html == null) return null;
    return HtmlSanitizer.sanitize(html, remoteImages, cid -> {
      for (Attachment a : attachments) {
        if (a.isImage() && a.contentId() != null && a.contentId().equalsIgnoreCase(cid)) return partUrl.apply(a.index());
      }
      return null;
    });
  }

  // ---- reading

  /** One pass over a message: the handler mime4j calls, and what it has gathered. */
  private static final class Reading extends AbstractContentHandler {
    private final Limits limits;
    /** The leaf to extract, or 0 when reading the whole view. */
    private final int wanted;
    private MimeStreamParser parser;
    private Function<Attachment, OutputStream> sink;
    private Attachment extracted;

    final List<HeaderField> headers = new ArrayList<>();
    final List<Attachment> attachments = new ArrayList<>();
    final List<String> notes = new ArrayList<>();
    String text;
    String html;
    private int bodyParts;
    private int leaves;
    private boolean fieldsCut;
    private String from, to, cc, replyTo, date, subject, messageId;
    private Instant sent;
    private String fromAddress;
    private List<String> toAddresses, ccAddresses;

    Reading(Limits limits, int wanted) {
      this.limits = limits;
      this.wanted = wanted;
    }

    void parse(InputStream message) throws IOException {
      MimeConfig config = new MimeConfig.Builder()
          .setMaxLineLen(-1)
          .setMaxHeaderLen(1 << 20) // one field: a megabyte of header is an attack, not mail
          .setMaxHeaderCount(10_000)
          .setMaxNestingDepth(50)
          .build();
      parser = new MimeStreamParser(config, DecodeMonitor.SILENT, new DefaultBodyDescriptorBuilder(null, null, DecodeMonitor.SILENT));
      parser.setContentDecoding(true);
      parser.setNoRecurse(); // a message/rfc822 part is one attachment
      parser.setContentHandler(this);
      Capped in = new Capped(message, limits.maxBytes());
      try {
        parser.parse(in);
      } catch (MimeException e) {
        notes.add("The message's structure could not be read to its end (" + e.getMessage() + "): only what came before is shown.");
      }
      if (in.cut) notes.add("The message is larger than " + (limits.maxBytes() >> 20) + " MiB: only its beginning is shown.");
      if (fieldsCut) notes.add("The message has more than " + MAX_FIELDS + " header fields: only the first " + MAX_FIELDS + " are shown.");
    }

    Summary summary() {
      return new Summary(from, to, cc, replyTo, date, sent, subject, messageId);
    }

    Addresses addresses() {
      return new Addresses(fromAddress, toAddresses == null ? List.of() : toAddresses, ccAddresses == null ? List.of() : ccAddresses);
    }

    @Override
    public void startBodyPart() {
      bodyParts++;
    }

    @Override
    public void field(Field field) {
      if (bodyParts > 0 || wanted > 0) return; // a part's own header is read through its descriptor
      if (headers.size() == MAX_FIELDS) {
        fieldsCut = true;
        return;
      }
      String value = decode(field.getBody());
      headers.add(new HeaderField(field.getName(), value));
      switch (field.getName().toLowerCase(Locale.ROOT)) {
        case "from" -> {
          if (from == null) {
            from = value;
            List<String> mailboxes = mailboxes(field.getBody());
            fromAddress = mailboxes.isEmpty() ? null : mailboxes.getFirst();
          }
        }
        case "to" -> {
          if (to == null) {
            to = value;
            toAddresses = mailboxes(field.getBody());
          }
        }
        case "cc" -> {
          if (cc == null) {
            cc = value;
            ccAddresses = mailboxes(field.getBody());
          }
        }
        case "reply-to" -> replyTo = first(replyTo, value);
        case "subject" -> subject = first(subject, value);
        case "message-id" -> messageId = first(messageId, value);
        case "date" -> {
          if (date == null) {
            date = value;
            sent = parseDate(field);
          }
        }
        default -> {}
      }
    }

    /** The mailboxes' addresses of an address list as written (RFC 5322 §3.4), groups opened; none when it cannot be read. */
    private static List<String> mailboxes(String raw) {
      List<String> out = new ArrayList<>();
      AddressList list;
      try {
        list = LenientAddressParser.DEFAULT.parseAddressList(MimeUtil.unfold(raw == null ? "" : raw));
      } catch (RuntimeException e) {
        return out;
      }
      for (Address a : list) {
        List<Mailbox> mailboxes = a instanceof Group g ? g.getMailboxes() : a instanceof Mailbox mb ? List.of(mb) : List.of();
        for (Mailbox mb : mailboxes) {
          if (!out.contains(mb.getAddress())) out.add(mb.getAddress());
        }
      }
      return out;
    }

    private static String first(String had, String value) {
      return had != null ? had : value;
    }

    private static Instant parseDate(Field field) {
      try {
        var parsed = DateTimeFieldLenientImpl.PARSER.parse(field, DecodeMonitor.SILENT);
        return parsed.getDate() == null ? null : parsed.getDate().toInstant();
      } catch (RuntimeException e) {
        return null;
      }
    }

    @Override
    public void body(BodyDescriptor descriptor, InputStream content) throws IOException {
      int index = ++leaves;
      if (index > limits.maxParts()) {
        if (wanted == 0) notes.add("The message has more than " + limits.maxParts() + " parts: only the first " + limits.maxParts() + " are shown.");
        parser.stop();
        return;
      }
      MaximalBodyDescriptor d = (MaximalBodyDescriptor) descriptor;
      String type = d.getMimeType() == null ? "text/plain" : d.getMimeType().toLowerCase(Locale.ROOT);
      String disposition = d.getContentDispositionType() == null ? null : d.getContentDispositionType().toLowerCase(Locale.ROOT);
      String filename = filename(d);
      String contentId = contentId(d.getContentId());
      boolean attached = "attachment".equals(disposition) || filename != null;
      if (wanted > 0) {
        if (index != wanted) return;
        extracted = new Attachment(index, filename, type, 0, contentId, !attached);
        OutputStream out = sink.apply(extracted);
        long size = content.transferTo(out);
        out.close(); // only once it is whole: a failed read leaves the stream open for its owner to abort
        extracted = new Attachment(index, filename, type, size, contentId, !attached);
        parser.stop();
        return;
      }
      if (!attached && type.equals("text/plain") && text == null) {
        String t = decodeText(content, d, "text");
        text = "flowed".equalsIgnoreCase(param(d, "format")) ? FlowedText.unwrap(t, "yes".equalsIgnoreCase(param(d, "delsp"))) : t;
      } else if (!attached && type.equals("text/html") && html == null) {
        html = decodeText(content, d, "HTML");
      } else {
        long size = content.transferTo(OutputStream.nullOutputStream());
        boolean inline = !attached && ("inline".equals(disposition) || contentId != null);
        attachments.add(new Attachment(index, filename, type, size, contentId, inline));
      }
    }

    /** The part's file name: Content-Disposition's filename (RFC 2231 by mime4j), else Content-Type's name; RFC 2047 words decoded in either. */
    private static String filename(MaximalBodyDescriptor d) {
      String name = d.getContentDispositionFilename();
      if (name == null || name.isBlank()) name = Rfc2231.parameter(d.getContentTypeParameters(), "name");
      if (name == null || name.isBlank()) return null;
      return decode(name);
    }

    private static String contentId(String raw) {
      if (raw == null) return null;
      String id = raw.strip();
      if (id.startsWith("<") && id.endsWith(">")) id = id.substring(1, id.length() - 1).strip();
      return id.isEmpty() ? null : id;
    }

    private static String param(MaximalBodyDescriptor d, String name) {
      Map<String, String> params = d.getContentTypeParameters();
      return params == null ? null : params.get(name);
    }

    /** A body's text from its charset, at most {@link Limits#maxBodyBytes} octets of it. */
    private String decodeText(InputStream content, MaximalBodyDescriptor d, String what) throws IOException {
      byte[] octets = content.readNBytes(limits.maxBodyBytes());
      if (content.read() >= 0) {
        notes.add("The " + what + " part is larger than " + (limits.maxBodyBytes() >> 10) + " KiB: only its beginning is shown.");
        content.transferTo(OutputStream.nullOutputStream());
      }
      String name = param(d, "charset");
      Charset charset = null;
      if (name != null && !name.isBlank()) {
        charset = CharsetUtil.lookup(name.strip());
        if (charset == null) notes.add("The " + what + " part's charset \"" + printable(name) + "\" is unknown: it is read as UTF-8.");
      }
      // No charset, or US-ASCII: UTF-8, its superset, reads 8-bit mail that forgot to say so (RFC 6532 era).
      if (charset == null || charset.equals(StandardCharsets.US_ASCII)) charset = StandardCharsets.UTF_8;
      String s;
      if (charset.equals(StandardCharsets.UTF_8)) {
        try {
          s = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(octets)).toString();
        } catch (CharacterCodingException e) {
          s = new String(octets, Charset.forName("windows-1252")); // not UTF-8: most likely a Western 8-bit charset
        }
      } else {
        s = new String(octets, charset);
      }
      if (s.startsWith("\uFEFF")) s = s.substring(1);
      return s.replace("\r\n", "\n");
    }

    private static String printable(String s) {
      String p = s.replaceAll("[^\\x20-\\x7e]", "?");
      return p.length() > 40 ? p.substring(0, 40) + "…" : p;
    }
  }

  /** A header value as a person reads it: unfolded, RFC 2047 words decoded, ends trimmed. */
  static String decode(String raw) {
    return DecoderUtil.decodeEncodedWords(MimeUtil.unfold(raw == null ? "" : raw), DecodeMonitor.SILENT).strip();
  }

  /** The message's first {@code max} octets, then an end, remembering whether more was there. */
  private static final class Capped extends InputStream {
    private final InputStream in;
    private long left;
    boolean cut;

    Capped(InputStream in, long max) {
      this.in = in;
      this.left = max;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) return 0;
      if (left <= 0) {
        if (!cut && in.read() >= 0) cut = true;
        return -1;
      }
      int n = in.read(b, off, (int) Math.min(len, left));
      if (n > 0) left -= n;
      return n;
    }
  }
}
