package dev.posta.control;

import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import java.io.IOException;
import java.util.Locale;

/**
 * One {@code posta queue} command, parsed: what the CLI sends through the control socket, or
 * carries out itself on a stopped server's data folder. {@link #applyTo} is the one place a
 * command meets the queue, so both ways answer alike.
 *
 * @param id the message it names; null for {@code list} and {@code flush}
 */
public record QueueRequest(Command command, QueueId id) {
  /** The commands, each under its word on the command line and on the socket. */
  public enum Command {
    LIST(false),
    SHOW(true),
    FLUSH(false),
    RETRY(true),
    HOLD(true),
    RELEASE(true),
    DELETE(true),
    BOUNCE(true);

    private final boolean namesMessage;

    Command(boolean namesMessage) {
      this.namesMessage = namesMessage;
    }

    /** Whether it takes a queue ID. */
    public boolean namesMessage() {
      return namesMessage;
    }

    /** The word for it: {@code list}, {@code show}, ... */
    public String word() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** The command with that word, exactly as written (lower case); null for none. */
    public static Command of(String word) {
      for (Command c : values()) if (c.word().equals(word)) return c;
      return null;
    }
  }

  public QueueRequest {
    if (command.namesMessage() != (id != null)) {
      throw new IllegalArgumentException(command.word() + (id == null ? " needs a queue ID" : " takes no queue ID"));
    }
  }

  /**
   * Carries the command out and says how it went; a refusal or a spool error is an answer too,
   * never an exception.
   */
  public QueueReply applyTo(QueueControl queue) {
    try {
      return switch (command) {
        case LIST -> new QueueReply.Listed(queue.list());
        case SHOW -> queue.show(id).<QueueReply>map(QueueReply.Shown::new)
            .orElseGet(() -> new QueueReply.Refused(QueueControl.Refusal.NO_SUCH_MESSAGE, id));
        case FLUSH -> new QueueReply.Flushed(queue.flush());
        case RETRY -> done(() -> queue.retry(id));
        case HOLD -> done(() -> queue.hold(id));
        case RELEASE -> done(() -> queue.release(id));
        case DELETE -> done(() -> queue.delete(id));
        case BOUNCE -> done(() -> queue.bounce(id));
      };
    } catch (QueueControl.Refused e) {
      return new QueueReply.Refused(e.reason(), e.id());
    } catch (IOException e) {
      return new QueueReply.SpoolError(e.getMessage());
    }
  }

  private interface Act {
    void run() throws QueueControl.Refused, IOException;
  }

  private static QueueReply done(Act act) throws QueueControl.Refused, IOException {
    act.run();
    return new QueueReply.Done();
  }

  @Override
  public String toString() {
    return id == null ? command.word() : command.word() + " " + id;
  }
}
