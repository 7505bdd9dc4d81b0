package dev.posta.queue;

import dev.posta.delivery.Router;
import dev.posta.mail.Envelope;
import dev.posta.mail.QueueId;
import java.net.IDN;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;

/**
 * Which messages one bulk command ({@code posta queue delete|hold|release|retry|bounce}) acts
 * on, as postsuper(1) takes them: messages named by queue ID, or every message ({@code ALL})
 * narrowed by selectors that must all hold. The queue evaluates it in one pass, on its own
 * clock, so a server and a stopped data folder pick the same messages.
 */
public sealed interface QueueSelection {
  /** Messages named by queue ID, each once, in the order given; an ID not in the queue is refused by name. */
  record Named(List<QueueId> ids) implements QueueSelection {
    public Named {
      ids = List.copyOf(new LinkedHashSet<>(ids)); // a duplicate would be acted on, then refused as gone
    }
  }

  /**
   * Every message that meets each selector given; with none given, every message ({@code ALL}).
   *
   * @param toDomain a pending recipient is in this domain (compared as a lower-case A-label); null for any
   * @param sender the envelope sender exactly, domain compared as {@code toDomain} is; empty for the
   *     null sender {@code <>}; null for any
   * @param olderThan arrived longer ago than this; null for any age
   */
  record Matching(String toDomain, String sender, Duration olderThan) implements QueueSelection {
    public Matching {
      if (toDomain != null) toDomain = asciiDomain(toDomain);
      if (sender != null) sender = comparableAddress(sender);
      if (olderThan != null && olderThan.isNegative()) throw new IllegalArgumentException("a negative age: " + olderThan);
    }

    /** {@code ALL}: every message. */
    public static final Matching ALL = new Matching(null, null, null);

    /** As a log line names it: {@code ALL}, or the selectors given, as the command line writes them. */
    @Override
    public String toString() {
      if (equals(ALL)) return "ALL";
      var s = new StringBuilder();
      if (toDomain != null) s.append(" --to-domain ").append(toDomain);
      if (sender != null) s.append(" --from <").append(sender).append('>');
      if (olderThan != null) s.append(" --older-than ").append(olderThan);
      return s.substring(1);
    }

    /** Whether the message meets every selector at {@code now}. */
    boolean matches(SpooledMessage m, Instant now) {
      Envelope env = m.envelope();
      if (olderThan != null && !env.received().isBefore(now.minus(olderThan))) return false;
      if (sender != null && !sender.equals(env.sender() == null ? "" : comparableAddress(env.sender().toString()))) return false;
      if (toDomain != null) {
        boolean any = false;
        for (int i : m.pending()) any |= Router.domainOf(env.recipients().get(i).address().toString()).equals(toDomain);
        return any;
      }
      return true;
    }
  }

  /** A domain as routes and MX lookups use it: a lower-case A-label ({@code Bücher.example} is {@code xn--bcher-kva.example}). */
  static String asciiDomain(String domain) {
    try {
      return IDN.toASCII(domain, IDN.ALLOW_UNASSIGNED).toLowerCase(Locale.ROOT);
    } catch (IllegalArgumentException e) {
      return domain.toLowerCase(Locale.ROOT); // not a name IDNA takes (an address literal): compared as written
    }
  }

  /** An address with its domain as {@link #asciiDomain}; the local part exactly as written (RFC 5321 §2.4). */
  static String comparableAddress(String address) {
    int at = address.lastIndexOf('@');
    return at < 0 ? address : address.substring(0, at + 1) + asciiDomain(address.substring(at + 1));
  }
}
