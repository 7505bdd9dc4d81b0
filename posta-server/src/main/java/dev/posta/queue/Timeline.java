package dev.posta.queue;

import dev.posta.mail.QueueId;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What happened to a queued message since it arrived, oldest first, for {@code posta queue show}
 * and the operators' API: each delivery attempt's outcome per recipient (with the host that
 * answered and its reply verbatim), the notices sent to the sender, and what the administrator
 * did (hold, release, retry). Its arrival is the envelope's, not an event here.
 *
 * <p><b>Where it is kept.</b> As lines of the spool segment's progress log ({@link Segment}),
 * beside the lines that say how far each recipient came, so it shares their guarantees and their
 * cost: appended with one {@code write} per attempt (the events of one attempt in one call),
 * forced to disk with the rest of the log (lazily, or at once for the administrator's acts),
 * deleted with the segment once its last message is finished. Nothing of it is held in memory:
 * {@link #read} scans the log when someone asks. A crash can tear only the last line, which is
 * ignored, as every progress line is; an event written just before a crash whose progress line
 * was not is honest too (the attempt did happen, and is repeated).
 *
 * <p><b>Line format</b>, fields separated by TAB, after {@code QUEUEID event}: epoch millis, kind,
 * status, host, reply, detail, then the recipients, an empty field for none. Texts are one line
 * already ({@link dev.posta.delivery.DeliveryResult#shortened}, at most 1000 characters); any
 * control character left is written as a space. Versions that do not know these lines skip them
 * as they skip every line they do not know.
 *
 * <p><b>Bounds.</b> On disk, a message's events grow with its attempts, which its lifetime
 * ({@code queue.lifetime}) and backoff bound (with the defaults, about 125 attempts in five days,
 * one line each for all recipients with the same outcome). What is shown is bounded at {@value
 * #SHOWN}: the first {@value #FIRST} events and the latest others, with the number left out.
 *
 * @param events the events shown, oldest first
 * @param omitted how many events between the first ones and the latest were left out
 */
public record Timeline(List<Event> events, int omitted) {
  /** The most events shown. */
  static final int SHOWN = 100;
  /** Of those, the first ones kept (the first attempts say how it started); the rest are the latest. */
  public static final int FIRST = 20;

  public static final Timeline EMPTY = new Timeline(List.of(), 0);

  public Timeline {
    events = List.copyOf(events);
  }

  /** What an event is. */
  public enum Kind {
    /** Put into a local mailbox. */
    DELIVERED,
    /** Accepted by another server, which delivers it further. */
    RELAYED,
    /** Refused for now by the remote server (or not reachable): tried again later. */
    DEFERRED,
    /** Refused for good: reported to the sender. */
    FAILED,
    /** Still deferred when its lifetime ran out: failed, and reported to the sender. */
    EXPIRED,
    /** A delivery status notice went to the sender ({@code status} its action, {@code detail} its queue ID). */
    NOTICE,
    /** The administrator held it. */
    HELD,
    /** The administrator released it. */
    RELEASED,
    /** The administrator made it due now (retry, flush). */
    RETRIED;

    /** Its word on disk and in answers: {@code deferred}, {@code notice}, ... */
    public String word() {
      return name().toLowerCase(Locale.ROOT);
    }

    static Kind of(String word) {
      for (Kind k : values()) if (k.word().equals(word)) return k;
      return null;
    }
  }

  /**
   * One event.
   *
   * @param recipients the final addresses it concerns (an alias's targets, not the alias), in
   *     envelope order; empty for an act on the whole message
   * @param status an attempt's RFC 3463 status code; a notice's action ({@code failed}, {@code
   *     delayed}, {@code delivered}, {@code relayed}); else null
   * @param host the server that answered an attempt; null for local delivery, a DNS failure, and
   *     the rest
   * @param reply that server's reply verbatim (one line); null when there was none
   * @param detail an attempt's outcome in Posta's words; a notice's queue ID; else null
   */
  public record Event(Instant at, Kind kind, List<String> recipients, String status, String host, String reply, String detail) {
    public Event {
      recipients = List.copyOf(recipients);
    }

    /** An act of the administrator's on the whole message. */
    public static Event act(Instant at, Kind kind) {
      return new Event(at, kind, List.of(), null, null, null, null);
    }
  }

  /** The progress-log line for {@code event}, without its newline. */
  static String line(QueueId id, Event e) {
    var s = new StringBuilder(128).append(id.value()).append(" event\t").append(e.at().toEpochMilli()).append('\t').append(e.kind().word());
    for (String field : new String[] {e.status(), e.host(), e.reply(), e.detail()}) field(s.append('\t'), field);
    if (e.recipients().isEmpty()) s.append('\t');
    for (String r : e.recipients()) field(s.append('\t'), r);
    return s.toString();
  }

  private static void field(StringBuilder s, String text) {
    if (text == null) return;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      s.append(Character.isISOControl(c) ? ' ' : c);
    }
  }

  /** The event on a line {@link #line} wrote (after {@code QUEUEID event\t}), or null for one that is not. */
  static Event parse(String fieldsText) {
    String[] f = fieldsText.split("\t", -1);
    if (f.length < 7) return null;
    Kind kind = Kind.of(f[1]);
    if (kind == null) return null;
    Instant at;
    try {
      at = Instant.ofEpochMilli(Long.parseLong(f[0]));
    } catch (NumberFormatException e) {
      return null;
    }
    List<String> recipients = new ArrayList<>();
    for (int i = 6; i < f.length; i++) if (!f[i].isEmpty()) recipients.add(f[i]);
    return new Event(at, kind, recipients, orNull(f[2]), orNull(f[3]), orNull(f[4]), orNull(f[5]));
  }

  private static String orNull(String s) {
    return s.isEmpty() ? null : s;
  }

  /**
   * The timeline of message {@code id} in the progress log {@code log}: empty when the log does
   * not exist (nothing happened yet, or the segment is gone). Only whole lines count.
   */
  static Timeline read(Path log, QueueId id) throws IOException {
    byte[] prefix = (id.value() + " event\t").getBytes(StandardCharsets.US_ASCII);
    List<Event> first = new ArrayList<>();
    ArrayDeque<Event> latest = new ArrayDeque<>();
    int omitted = 0;
    try (InputStream in = Files.newInputStream(log)) {
      byte[] block = new byte[64 * 1024];
      var line = new ByteArrayOutputStream(); // this message's event line being read, across blocks
      int at = 0; // where in the current line we are
      boolean matching = true; // the line so far begins as the prefix does
      for (int n; (n = in.read(block)) > 0; ) {
        for (int i = 0; i < n; i++) {
          byte b = block[i];
          if (b == '\n') {
            if (matching && at > prefix.length) {
              Event e = parse(line.toString(StandardCharsets.UTF_8));
              if (e != null && first.size() < FIRST) {
                first.add(e);
              } else if (e != null) {
                latest.addLast(e);
                if (latest.size() > SHOWN - FIRST) {
                  latest.removeFirst();
                  omitted++;
                }
              }
            }
            line.reset();
            at = 0;
            matching = true;
            continue;
          }
          if (!matching) continue; // another message's line, or no event: skipped to its end
          if (at < prefix.length) matching = b == prefix[at];
          else line.write(b);
          at++;
        }
      }
    } catch (NoSuchFileException e) {
      return EMPTY;
    }
    first.addAll(latest);
    return new Timeline(first, omitted);
  }
}
