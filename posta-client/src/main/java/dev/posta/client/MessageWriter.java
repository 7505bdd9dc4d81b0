package dev.posta.client;

import java.io.IOException;
import java.nio.channels.WritableByteChannel;

/**
 * Writes a message's content: exactly as stored, lines ending in CRLF, <em>not</em>
 * dot-stuffed (the client does that for DATA, RFC 5321 §4.5.2). It may be called once per
 * {@link SmtpClient#send}; it must write {@link Transaction#contentLength()} octets.
 *
 * <p>An IOException thrown here (the stored copy could not be read) reaches the caller of
 * {@code send} as is, after the connection was closed without ending the message: the server
 * must never take a truncated message as complete.
 */
@FunctionalInterface
public interface MessageWriter {
  void writeTo(WritableByteChannel out) throws IOException;
}
