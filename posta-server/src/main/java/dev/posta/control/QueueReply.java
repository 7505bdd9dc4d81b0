package dev.posta.control;

import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import java.util.List;

/**
 * How a {@link QueueRequest} went, as records: what the control socket carries back and the
 * CLI renders. Every outcome of a command is one of these, so the CLI needs no other channel
 * (no text, no exit code) from the server.
 */
public sealed interface QueueReply {
  /**
   * {@code list}: every message, in the order to show them. A server answering a listing writes
   * {@link QueueControl#listings} as it goes instead (see {@link ControlSocket#open}); a client
   * may take the messages as they are read ({@link ControlSocket#send(java.nio.file.Path, QueueRequest,
   * java.util.function.Consumer)}), this list then empty.
   */
  record Listed(List<QueueControl.Listing> messages) implements QueueReply {
    public Listed {
      messages = List.copyOf(messages);
    }
  }

  /** {@code show}: the message. */
  record Shown(QueueControl.MessageView message) implements QueueReply {}

  /** {@code flush}: how many messages became due. */
  record Flushed(int messages) implements QueueReply {}

  /** {@code retry}, {@code hold}, {@code release}, {@code delete}, {@code bounce}: done. */
  record Done() implements QueueReply {}

  /** A bulk {@code retry}, {@code hold}, {@code release}, {@code delete} or {@code bounce}: which messages it acted on, and which not and why. */
  record ActedOn(QueueControl.BulkResult result) implements QueueReply {}

  /** Refused, nothing changed: the reason and the message it concerns. */
  record Refused(QueueControl.Refusal reason, QueueId id) implements QueueReply {}

  /**
   * The spool could not be read or written (a full or failing disk).
   *
   * @param detail the I/O error's message; may be null, as an exception's may
   */
  record SpoolError(String detail) implements QueueReply {}

  /** The server could not carry the command out: a request it could not read, or a fault of its own (logged there). */
  record Failed(String detail) implements QueueReply {}
}
