package dev.posta.smtp;

import dev.posta.config.PostaConfig;
import dev.posta.mail.LongLines;
import dev.posta.mail.MailAddress;
import dev.posta.mail.MailDate;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.Recipient;
import dev.posta.mailauth.SenderAuthentication;
import dev.posta.mailauth.dkim.DkimSigner;
import dev.posta.net.LineInput;
import dev.posta.queue.MessageContent;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * One mail transaction (RFC 5321 §3.3): the sender, the recipients accepted so far, and the
 * message content as it streams in, after our Received: header: DATA's text up to the lone dot,
 * or BDAT's chunks (RFC 3030). Octets past the size limit are counted, not stored, so the client
 * can be answered 552 at the end (RFC 1870 §6.3). A submitted message gets Date: and Message-ID:
 * when it has none (RFC 6409 §8), and is signed with DKIM as it streams in, when its From domain
 * has keys: the DKIM-Signature fields go at its top once it is whole, before it is stored, so
 * every delivery attempt sends the same signed octets.
 *
 * <p>Lines longer than RFC 5322's 998 octets are taken (up to {@code max-line-length}). The
 * longest line is noted as the octets pass; when a submitted message has one, its parts with long
 * lines are re-encoded ({@link LongLines}) once it is whole, into new content, and that is what is
 * signed and stored: mail from other servers keeps its octets.
 *
 * <p>Only CRLF ends a line of DATA: a bare LF or CR stops the reading at once
 * (CVE-2023-51764/51766: it could hide a second message behind a different end of data).
 */
final class Transaction {
  final QueueId id = QueueId.next();
  /** The reverse-path; a milter may change it at the end of the message (SMFIR_CHGFROM). */
  MailAddress sender;
  final MailParameters parameters;
  final List<Recipient> recipients = new ArrayList<>();
  /**
   * How the sender of mail from another server is checked, as its first recipient's domain wants
   * ({@code [sender-checks]}); every recipient has the same. Unchecked for submitted mail.
   */
  PostaConfig.SenderChecks.Rules senderRules;
  private final long maxSize;
  private MessageContent content;
  /** Where the client's octets go: {@code content}, through {@link MissingHeaders} on submission. */
  private OutputStream sink;
  /** Completes the header section of a submitted message; null for mail from servers. */
  private MissingHeaders headers;
  /** Finds the Message-ID field the client sent, for the log. */
  private MessageIdField messageIdField;
  /** The Message-ID {@code headers} added to a submitted message that had none; null otherwise. */
  private String addedMessageId;
  /** Signs a submitted message (it sees the octets after {@code headers}); null when nothing signs. */
  private DkimSigner.Signing signing;
  /** Checks a message from another server (SPF, DKIM, DMARC) as it streams in; null for submitted mail. */
  private SenderAuthentication.Message checking;
  /** Drops incoming Authentication-Results fields in our name (RFC 8601 §5); null for submitted mail. */
  private ForeignAuthResults foreignResults;
  /** What signing gave, once the message is whole; null when it was not signed. */
  private DkimSigner.Outcome signed;
  /** The longest line of what the client sent (DATA and BDAT alike). */
  private final LongLines.Watch lines = new LongLines.Watch();
  /** Our Received: field, the content's first octets, which re-encoding and signing leave alone. */
  private byte[] received;
  /** Where re-encoded content goes; null unless the message is submitted ({@link #reencodeLongLines}). */
  private Supplier<MessageContent> reencodeInto;
  /** Signs the re-encoded content instead; null when nothing signs. */
  private DkimSigner resigner;
  /** What re-encoding did, once the message is whole; null when it had no long line or was not submitted. */
  private LongLines.Result reencoded;
  private long size;
  private boolean tooBig;
  /** DATA's line buffer: made at DATA, grown for long lines, and gone with the transaction. */
  private byte[] line;

  /** How reading DATA's text ended. */
  enum TextEnd {
    /** At the lone dot, every line within the limit. */
    COMPLETE,
    /** At the lone dot, but a line was over the limit: the message is refused, the session goes on. */
    LINE_TOO_LONG,
    /** At a bare LF or CR: nothing after it can be trusted. */
    BARE_NEWLINE,
    /** The connection ended first. */
    CONNECTION_LOST
  }

  Transaction(MailAddress sender, MailParameters parameters, long maxSize) {
    this.sender = sender;
    this.parameters = parameters;
    this.maxSize = maxSize;
  }

  /**
   * Starts the content with our trace header.
   *
   * @param submittedFrom the domain for a Message-ID of a submitted message, null for mail from servers
   * @param signing signs the message (all of it but our Received:), or null
   * @param checking checks the sender of mail from another server (it sees the message as the
   *     client sent it), or null
   * @param authservId this server's name in Authentication-Results: incoming fields claiming it go
   */
  void startContent(MessageContent content, byte[] received, String submittedFrom, DkimSigner.Signing signing,
      SenderAuthentication.Message checking, String authservId) {
    this.content = content;
    this.received = received;
    content.write(received, 0, received.length);
    this.signing = signing;
    this.checking = checking;
    OutputStream stored = signing == null ? content : new Both(content, signing);
    if (checking != null) {
      // Both only in capture mode, where a submitted message is checked too.
      foreignResults = new ForeignAuthResults(stored, authservId);
      stored = new Both(foreignResults, checking);
    }
    headers = submittedFrom == null ? null
        : new MissingHeaders(stored, () -> MailDate.format(Instant.now()), () -> addedMessageId = "<" + id + "@" + submittedFrom + ">");
    messageIdField = new MessageIdField(headers == null ? stored : headers);
    sink = new Watched(messageIdField, lines);
  }

  /**
   * A submitted message (RFC 6409: Posta is the first server to handle it) with a line over 998
   * octets gets those parts re-encoded before it is signed and stored.
   *
   * @param into makes the content the re-encoded message goes to
   * @param signer signs the re-encoded message when the original was being signed; null when nothing signs
   */
  void reencodeLongLines(Supplier<MessageContent> into, DkimSigner signer) {
    this.reencodeInto = into;
    this.resigner = signer;
  }

  /** Notes the longest line of the octets on their way to the content. */
  private static final class Watched extends OutputStream {
    private final OutputStream out;
    private final LongLines.Watch lines;

    Watched(OutputStream out, LongLines.Watch lines) {
      this.out = out;
      this.lines = lines;
    }

    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      lines.update(b, off, len);
      out.write(b, off, len);
    }
  }

  /** The octets go to the content and to the signature, in one pass. */
  private static final class Both extends OutputStream {
    private final OutputStream first;
    private final OutputStream second;

    Both(OutputStream first, OutputStream second) {
      this.first = first;
      this.second = second;
    }

    @Override
    public void write(int b) throws IOException {
      first.write(b);
      second.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
      first.write(b, off, len);
      second.write(b, off, len);
    }
  }

  /** Message octets as they arrive (a DATA line without its dot-stuffing, or its CRLF). */
  void append(byte[] octets, int offset, int length) throws IOException {
    size += length;
    if (size > maxSize) {
      tooBig = true; // keep reading to the end, but stop storing
      return;
    }
    sink.write(octets, offset, length);
  }

  /**
   * DATA's text (RFC 5321 §4.1.1.4), read from {@code in} under its current deadline, line by
   * line up to the lone dot, without the dot-stuffing (§4.5.2).
   *
   * @param maxLineLength octets of a text line including its CRLF (§4.5.3.1.6)
   */
  TextEnd readText(LineInput in, int maxLineLength) throws IOException {
    if (line == null) line = new byte[256];
    boolean longLine = false;
    int maxText = maxLineLength - 2;
    while (true) {
      // +1: §4.5.3.1.6 does not count the dot added for transparency.
      LineInput.Line l = in.readLine(maxText + 1, line);
      line = l.bytes();
      switch (l.ending()) {
        case EOF -> {
          return TextEnd.CONNECTION_LOST;
        }
        case TOO_LONG -> {
          longLine = true;
          continue;
        }
        default -> {}
      }
      if (!l.isClean()) return TextEnd.BARE_NEWLINE;
      if (l.isEndOfData()) return longLine ? TextEnd.LINE_TOO_LONG : TextEnd.COMPLETE;
      int skip = l.length() > 0 && line[0] == '.' ? 1 : 0; // dot-unstuffing
      if (l.length() - skip > maxText) {
        longLine = true;
        continue;
      }
      append(line, skip, l.length() - skip);
      append(CRLF, 0, 2);
    }
  }

  private static final byte[] CRLF = {'\r', '\n'};

  /** A BDAT chunk (RFC 3030): copied from {@code in} as it comes; false when the connection ended first. */
  boolean appendChunk(LineInput in, long count) throws IOException {
    long room = Math.max(0, maxSize - size);
    size += count;
    if (count > room) tooBig = true;
    return in.transfer(count, tooBig ? null : sink);
  }

  /**
   * Whether {@code address} is a recipient already: the same mailbox (the local part as written,
   * the domain in any case: RFC 5321 §2.4), which gets one copy however often it is named.
   */
  boolean hasRecipient(MailAddress address) {
    for (Recipient r : recipients) {
      if (r.address().localPart().equals(address.localPart()) && r.address().domain().equalsIgnoreCase(address.domain())) return true;
    }
    return false;
  }

  /** The message's Message-ID as sent, or as added to a submitted message, for the log; null when it has none. */
  String messageId() {
    if (messageIdField == null) return null;
    String sent = messageIdField.value();
    return sent != null ? sent : addedMessageId;
  }

  boolean tooBig() {
    return tooBig;
  }

  /** The message's size as the client sent it, octets past the limit included. */
  long size() {
    return size;
  }

  /**
   * The content, once the message is whole and not too big: a submission's missing headers
   * added, and its DKIM signatures at its top.
   */
  MessageContent finish() throws IOException {
    if (headers != null) headers.finish();
    if (reencodeInto != null && lines.longest() > LongLines.MAX_LINE) reencode();
    if (foreignResults != null) foreignResults.finish();
    if (signing != null) {
      signed = signing.finish();
      if (signed instanceof DkimSigner.Signed s) content.prepend(s.fields());
    }
    return content;
  }

  /**
   * Writes the message again with its long-line parts re-encoded, into new content (our Received:
   * first, as it was), signed anew when it was being signed; the first content is dropped. When
   * no part could be re-encoded, the message stays as it came.
   */
  private void reencode() throws IOException {
    MessageContent original = content;
    MessageContent replaced = reencodeInto.get();
    replaced.write(received, 0, received.length);
    DkimSigner.Signing resigning = signing == null ? null : resigner.start();
    OutputStream to = resigning == null ? replaced : new Both(replaced, resigning);
    LongLines.Result result;
    try {
      result = LongLines.reencode(() -> {
        InputStream in = original.read();
        in.skipNBytes(received.length);
        return in;
      }, to);
    } catch (IOException | RuntimeException e) {
      replaced.discard();
      throw e;
    }
    reencoded = result;
    if (!result.changed()) {
      replaced.discard();
      return;
    }
    original.discard();
    content = replaced;
    signing = resigning;
  }

  /** What re-encoding did, after {@link #finish}; null when there was nothing to do. */
  LongLines.Result reencoded() {
    return reencoded;
  }

  /**
   * What the queued line says of re-encoding: {@code , reencoded=quoted-printable (1 part)}, or
   * {@code , reencoded=none (...)} when the long lines could not be re-encoded; empty when there
   * was nothing to do.
   */
  String reencodedLogged() {
    if (reencoded == null) return "";
    return ", reencoded=" + (reencoded.changed() ? reencoded.summary() : "none (" + reencoded.summary() + ")");
  }

  /** The longest line the client sent, in octets without CRLF. */
  long longestLine() {
    return lines.longest();
  }

  /** The sender checks of a message from another server, to finish after {@link #finish}; null for submitted mail. */
  SenderAuthentication.Message checking() {
    return checking;
  }

  /** How many incoming Authentication-Results fields in our name were removed. */
  int foreignResultsRemoved() {
    return foreignResults == null ? 0 : foreignResults.removed();
  }

  /** What DKIM signing gave, after {@link #finish}; null when nothing was to sign it. */
  DkimSigner.Outcome signed() {
    return signed;
  }

  /** Drops the content (a refused or abandoned message): a spilled file is deleted. */
  void discard() {
    if (content != null) content.discard();
  }

  /** The content the milters changed; the size (as logged and metered) grows or shrinks by what they changed. */
  void replaceContent(MessageContent edited, long sizeChange) {
    content = edited;
    size = Math.max(0, size + sizeChange);
  }
}
