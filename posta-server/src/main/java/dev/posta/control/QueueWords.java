package dev.posta.control;

import dev.posta.mail.QueueId;
import dev.posta.queue.QueueControl;
import java.util.Locale;

/**
 * {@code posta queue}'s words for the queue's records, in one place, so that the command line
 * ({@code cli/QueueOutput}), the operators' API ({@code web/api/QueueApi}) and the operators'
 * pages ({@code web/page/QueuePages}) say the same thing about the same answer: why a command
 * was refused, what a message's state is called, what a command did.
 */
public final class QueueWords {
  private QueueWords() {}

  /** Why a command was refused on {@code id}: {@code 1A225B91F2A00000 is held; release it first}. */
  public static String why(QueueControl.Refusal reason, QueueId id) {
    return switch (reason) {
      case NO_SUCH_MESSAGE -> "no message " + id + " in the queue";
      case HELD -> id + " is held; release it first";
      case BEING_DELIVERED -> id + " is being delivered right now; try again in a moment";
    };
  }

  /** An enum's word in answers and URLs: {@code deferred}, {@code being-delivered}. */
  public static String word(Enum<?> value) {
    return value.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** The refusal with that {@link #word}, or null for none. */
  public static QueueControl.Refusal refusal(String word) {
    for (QueueControl.Refusal r : QueueControl.Refusal.values()) if (word(r).equals(word)) return r;
    return null;
  }

  /** The state with that {@link #word} ({@code incoming}, {@code deferred}, {@code active}, {@code held}), or null for none. */
  public static QueueControl.State state(String word) {
    for (QueueControl.State s : QueueControl.State.values()) if (word(s).equals(word)) return s;
    return null;
  }

  /** What a command on one message did, after its queue ID: {@code 1A225B91F2A00000: held}. */
  public static String done(QueueRequest.Command command) {
    return switch (command) {
      case RETRY -> "due now";
      case HOLD -> "held";
      case RELEASE -> "released, due now";
      case DELETE -> "deleted";
      case BOUNCE -> "returned to the sender";
      case LIST, SHOW, FLUSH -> throw new IllegalArgumentException(command + " answers with records of its own");
    };
  }

  /** What a bulk command did, in postsuper(1)'s words where it has them: {@code Placed on hold: 3 messages}. */
  public static String actedOn(QueueRequest.Command command, int messages) {
    return switch (command) {
      case RETRY -> "Due now";
      case HOLD -> "Placed on hold";
      case RELEASE -> "Released from hold";
      case DELETE -> "Deleted";
      case BOUNCE -> "Returned to the sender";
      case LIST, SHOW, FLUSH -> throw new IllegalArgumentException(command + " acts on no messages in bulk");
    } + ": " + messages + (messages == 1 ? " message" : " messages");
  }

  /** What a flush did: {@code 3 message(s) due now}. */
  public static String flushed(int messages) {
    return messages + " message(s) due now";
  }
}
