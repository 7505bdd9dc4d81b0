package dev.posta.queue;

import dev.posta.mail.Envelope;
import dev.posta.mail.QueueId;
import dev.posta.mail.Recipient;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

/**
 * The {@code posta queue} commands, as text in and text out, so they work the same against a
 * running server (through its control socket) and a stopped one's data folder.
 *
 * <pre>
 * list                  every message: ID, size, arrival, sender, pending recipients with their
 *                       last error and next attempt (like postqueue -p); * = being delivered, ! = held
 * show ID               envelope, recipient status and the message itself (like postcat -q)
 * flush                 every waiting message due now (like postqueue -f)
 * retry ID              one message due now
 * hold ID / release ID  stop delivering a message / go on (like postsuper -h / -H)
 * delete ID             remove it, telling nobody (like postsuper -d)
 * bounce ID             return it to its sender now, with a notice
 * </pre>
 */
public final class QueueControl {
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("EEE MMM dd HH:mm:ss", Locale.ROOT).withZone(ZoneId.systemDefault());

  /** What a command printed, and its exit code (0 ok, 1 refused, 2 bad usage). */
  public record Result(int exitCode, String output) {}

  private final QueueManager queue;

  public QueueControl(QueueManager queue) {
    this.queue = queue;
  }

  public Result execute(List<String> args) {
    if (args.isEmpty()) return list(queue.list());
    String command = args.getFirst();
    try {
      return switch (command) {
        case "list" -> args.size() == 1 ? list(queue.list()) : usage();
        case "flush" -> args.size() == 1 ? ok(queue.flush() + " message(s) due now") : usage();
        case "show" -> show(id(args));
        case "retry" -> {
          queue.retry(id(args));
          yield ok(args.get(1) + ": due now");
        }
        case "hold" -> {
          queue.hold(id(args));
          yield ok(args.get(1) + ": held");
        }
        case "release" -> {
          queue.release(id(args));
          yield ok(args.get(1) + ": released, due now");
        }
        case "delete" -> {
          queue.delete(id(args));
          yield ok(args.get(1) + ": deleted");
        }
        case "bounce" -> {
          queue.bounce(id(args));
          yield ok(args.get(1) + ": returned to the sender");
        }
        default -> usage();
      };
    } catch (IllegalArgumentException | IllegalStateException e) {
      return new Result(1, e.getMessage() + "\n");
    } catch (IOException e) {
      return new Result(1, "spool error: " + e.getMessage() + "\n");
    }
  }

  private static QueueId id(List<String> args) {
    if (args.size() != 2) throw new IllegalArgumentException("usage: posta queue " + args.getFirst() + " QUEUE-ID");
    try {
      return new QueueId(args.get(1).toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not a queue ID: " + args.get(1) + " (16 hex digits, as in the log)");
    }
  }

  private static Result ok(String line) {
    return new Result(0, line + "\n");
  }

  private static Result usage() {
    return new Result(2, "usage: posta queue [list | show ID | flush | retry ID | hold ID | release ID | delete ID | bounce ID]\n");
  }

  /** The listing, in the shape of postqueue -p. */
  public static Result list(List<QueueManager.Listing> listings) {
    if (listings.isEmpty()) return ok("queue is empty");
    var s = new StringBuilder("-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------\n");
    long octets = 0;
    for (var l : listings) {
      String mark = switch (l.state()) {
        case "active" -> "*";
        case "held" -> "!";
        default -> " ";
      };
      s.append("%s%s %8d %-20s %s%n".formatted(l.id(), mark, l.size(), TIME.format(l.arrival()), l.sender().isEmpty() ? "MAILER-DAEMON" : l.sender()));
      for (var r : l.recipients()) {
        if (r.lastError() != null) {
          s.append(" ".repeat(44)).append("(").append(r.lastError()).append(")\n");
          s.append(" ".repeat(44)).append("(attempt ").append(r.attempts()).append(", next ")
              .append(TIME.format(r.nextAttempt())).append(")\n");
        }
        s.append(" ".repeat(44)).append(r.address()).append("\n");
      }
      s.append("\n");
      octets += l.size();
    }
    s.append("-- ").append((octets + 1023) / 1024).append(" Kbytes in ").append(listings.size())
        .append(listings.size() == 1 ? " Request.\n" : " Requests.\n");
    return new Result(0, s.toString());
  }

  private Result show(QueueId id) throws IOException {
    SpooledMessage m = queue.find(id).orElseThrow(() -> new IllegalArgumentException("no message " + id + " in the queue"));
    return new Result(0, show(m));
  }

  /** The envelope, each recipient's status, and the message as stored. */
  public static String show(SpooledMessage m) throws IOException {
    Envelope env = m.envelope();
    var s = new StringBuilder();
    s.append("*** ENVELOPE RECORDS ").append(m.id()).append(" ***\n");
    s.append("message_size: ").append(m.contentLength()).append("\n");
    s.append("message_arrival_time: ").append(TIME.format(env.received())).append(" (").append(env.received()).append(")\n");
    s.append("client: ").append(env.heloName()).append(" [").append(env.clientAddress()).append("]\n");
    s.append("sender: ").append(env.sender() == null ? "" : env.sender()).append("\n");
    if (env.parameters().ret() != null) s.append("ret: ").append(env.parameters().ret()).append("\n");
    if (env.parameters().envelopeId() != null) s.append("envid: ").append(env.parameters().envelopeId()).append("\n");
    if (m.isHeld()) s.append("held: yes\n");
    for (int i = 0; i < env.recipients().size(); i++) {
      Recipient r = env.recipients().get(i);
      s.append(m.isDone(i) ? "done_recipient: " : "recipient: ").append(r.address());
      SpooledMessage.Deferral d = m.deferral(i);
      if (d != null) {
        s.append(" (attempt ").append(d.attempts()).append(", next ").append(d.nextAttempt()).append(": ").append(d.lastError()).append(")");
      }
      s.append("\n");
    }
    s.append("*** MESSAGE CONTENTS ").append(m.id()).append(" ***\n");
    var content = new ByteArrayOutputStream();
    m.writeContentTo(Channels.newChannel(content));
    s.append(content.toString(StandardCharsets.UTF_8).replace("\r\n", "\n"));
    s.append("*** END OF MESSAGE ").append(m.id()).append(" ***\n");
    return s.toString();
  }
}
