package dev.posta.queue;

import dev.posta.delivery.Router;
import dev.posta.mail.AddressParser;
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
      if (toDomain == null && sender == null && olderThan == null) return true; // ALL: no envelope to read back
      Envelope env = m.peekEnvelope();
      List<String> pending = m.pending().stream().map(i -> env.recipients().get(i).address().toString()).toList();
      return matches(m.received(), env.sender() == null ? "" : env.sender().toString(), pending, now);
    }

    /** Whether a listed message meets every selector at {@code now} (the queue's clock, {@link QueueControl#now}). */
    public boolean matches(QueueControl.Listing listing, Instant now) {
      return matches(listing.arrival(), listing.sender(), listing.recipients().stream().map(QueueControl.PendingRecipient::address).toList(), now);
    }

    private boolean matches(Instant received, String from, List<String> pending, Instant now) {
      if (olderThan != null && !received.isBefore(now.minus(olderThan))) return false;
      if (sender != null && !sender.equals(from.isEmpty() ? "" : comparableAddress(from))) return false;
      if (toDomain != null) return pending.stream().anyMatch(a -> Router.domainOf(a).equals(toDomain));
      return true;
    }

    /**
     * Selectors as an administrator types them ({@code posta queue --to-domain --from
     * --older-than}, the API's {@code toDomain}, {@code from}, {@code olderThan}); null for one not
     * given.
     *
     * @param from an address, or {@code ""} or {@code <>} for the null sender; angle brackets allowed
     * @param olderThan an age as postconf(5) writes times: {@code 30m}, {@code 2h}, {@code 7d}
     * @throws Refused naming the selector that is wrong, by {@link Refused#selector}
     */
    public static Matching typed(String toDomain, String from, String olderThan) throws Refused {
      String sender = null;
      if (from != null) {
        String bare = from.strip();
        if (bare.startsWith("<") && bare.endsWith(">")) bare = bare.substring(1, bare.length() - 1);
        if (!bare.isEmpty()) {
          try {
            AddressParser.parseMailbox(bare);
          } catch (AddressParser.SyntaxException e) {
            throw new Refused("from", "not an address: " + from + " (" + e.getMessage() + "; \"<>\" for the null sender)");
          }
        }
        sender = bare;
      }
      if (toDomain != null && (toDomain.isBlank() || toDomain.contains("@") || toDomain.chars().anyMatch(Character::isWhitespace))) {
        throw new Refused("to-domain", "not a domain: " + toDomain);
      }
      return new Matching(toDomain, sender, olderThan == null ? null : age(olderThan));
    }
  }

  /** A selector that is not one: which ({@code to-domain}, {@code from}, {@code older-than}) and why. */
  final class Refused extends Exception {
    private final String selector;

    Refused(String selector, String why) {
      super(why, null, false, false);
      this.selector = selector;
    }

    /** The selector as the command line names it, without its dashes: {@code to-domain}, {@code from}, {@code older-than}. */
    public String selector() {
      return selector;
    }
  }

  /** An age as postconf(5) writes times: a number and its unit, s, m, h, d or w. */
  private static Duration age(String typed) throws Refused {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("(\\d{1,9})([smhdw])").matcher(typed);
    if (!m.matches()) throw new Refused("older-than", "not an age: " + typed + " (a number and s, m, h, d or w: 30m, 2h, 7d)");
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      case "d" -> Duration.ofDays(n);
      default -> Duration.ofDays(7 * n);
    };
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
