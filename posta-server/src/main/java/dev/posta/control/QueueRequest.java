package dev.posta.control;

import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import dev.posta.queue.QueueSelection;
import java.io.IOException;
import java.util.Locale;

/**
 * One {@code posta queue} command, parsed: what the CLI sends through the control socket, or
 * carries out itself on a stopped server's data folder. {@link #applyTo} is the one place a
 * command meets the queue, so both ways answer alike.
 *
 * @param id the message it names; null for {@code list} and {@code flush}, and for a bulk command
 * @param selection the messages a bulk command acts on (several IDs, {@code ALL}, selectors),
 *     in one request and one answer; null for a command on one message or on none
 */
public record QueueRequest(Command command, QueueId id, QueueSelection selection) {
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

    /** What it does to each message of a bulk command; null for a command that takes no bulk. */
    public QueueControl.Action action() {
      return switch (this) {
        case RETRY -> QueueControl.Action.RETRY;
        case HOLD -> QueueControl.Action.HOLD;
        case RELEASE -> QueueControl.Action.RELEASE;
        case DELETE -> QueueControl.Action.DELETE;
        case BOUNCE -> QueueControl.Action.BOUNCE;
        case LIST, SHOW, FLUSH -> null;
      };
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
    if (selection != null) {
      if (command.action() == null) throw new IllegalArgumentException(command.word() + " acts on no messages in bulk");
      if (id != null) throw new IllegalArgumentException("a queue ID and a bulk selection");
    } else if (command.namesMessage() != (id != null)) {
      throw new IllegalArgumentException(command.word() + (id == null ? " needs a queue ID" : " takes no queue ID"));
    }
  }

  /** A command on one message ({@code id}), or on none (null). */
  public QueueRequest(Command command, QueueId id) {
    this(command, id, null);
  }

  /** A bulk command: {@code command} on every message {@code selection} picks. */
  public static QueueRequest bulk(Command command, QueueSelection selection) {
    return new QueueRequest(command, null, java.util.Objects.requireNonNull(selection));
  }

  /**
   * Carries the command out and says how it went; a refusal or a spool error is an answer too,
   * never an exception.
   */
  public QueueReply applyTo(dev.posta.queue.QueueCommands queue) {
    try {
      if (selection != null) return new QueueReply.ActedOn(queue.act(command.action(), selection));
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

  /** As the server's log shows the request: a bulk one by its selection, not by every ID in it. */
  @Override
  public String toString() {
    if (selection instanceof QueueSelection.Named n) return command.word() + " " + n.ids().size() + " message(s) by ID";
    if (selection instanceof QueueSelection.Matching m) return command.word() + " " + m;
    return id == null ? command.word() : command.word() + " " + id;
  }
}
