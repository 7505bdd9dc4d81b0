package dev.posta.smtp;

import dev.posta.mail.MailAddress;
import dev.posta.mail.MailDate;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.Recipient;
import dev.posta.queue.MessageContent;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * One mail transaction (RFC 5321 §3.3): the sender, the recipients accepted so far, and the
 * message content as it streams in, after our Received: header. Octets past the size limit are
 * counted, not stored, so the client can be answered 552 at the end (RFC 1870 §6.3). A submitted
 * message gets Date: and Message-ID: when it has none (RFC 6409 §8).
 */
final class Transaction {
  final QueueId id = QueueId.next();
  final MailAddress sender;
  final MailParameters parameters;
  final List<Recipient> recipients = new ArrayList<>();
  private final long maxSize;
  private MessageContent content;
  /** Where the client's octets go: {@code content}, through {@link MissingHeaders} on submission. */
  private OutputStream sink;
  /** Completes the header section of a submitted message; null for mail from servers. */
  private MissingHeaders headers;
  private long size;
  private boolean tooBig;

  Transaction(MailAddress sender, MailParameters parameters, long maxSize) {
    this.sender = sender;
    this.parameters = parameters;
    this.maxSize = maxSize;
  }

  /**
   * Starts the content with our trace header.
   *
   * @param submittedFrom the domain for a Message-ID of a submitted message, null for mail from servers
   */
  void startContent(MessageContent content, byte[] received, String submittedFrom) {
    this.content = content;
    content.write(received, 0, received.length);
    headers = submittedFrom == null ? null
        : new MissingHeaders(content, () -> MailDate.format(Instant.now()), () -> "<" + id + "@" + submittedFrom + ">");
    sink = headers == null ? content : headers;
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

  /** A BDAT chunk (RFC 3030): copied from {@code in} as it comes; false when the connection ended first. */
  boolean appendChunk(SmtpInput in, long count) throws IOException {
    long room = Math.max(0, maxSize - size);
    size += count;
    if (count > room) tooBig = true;
    return in.transfer(count, tooBig ? null : sink);
  }

  boolean tooBig() {
    return tooBig;
  }

  /** The message's size as the client sent it, octets past the limit included. */
  long size() {
    return size;
  }

  /** The content, once the message is whole and not too big: a submission's missing headers added. */
  MessageContent finish() throws IOException {
    if (headers != null) headers.finish();
    return content;
  }

  /** Drops the content (a refused or abandoned message): a spilled file is deleted. */
  void discard() {
    if (content != null) content.discard();
  }
}
