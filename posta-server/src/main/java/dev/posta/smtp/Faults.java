package dev.posta.smtp;

import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Faults an SMTP server makes on purpose, so that an application's retry path can be tested
 * (capture mode: {@code posta dev --config}, the JUnit extension): every session asks them at
 * each stage ({@link Fault.Stage}); a real server's are {@link #NONE}, which the session tells
 * apart by identity, so a real server pays one comparison per stage and nothing more.
 *
 * <p>Besides the {@link Fault}s: a tarpit (every reply after the greeting held a while) and a
 * rate limit, which answers MAIL FROM with {@code 421 4.7.0} and closes the connection once
 * {@code messages} messages were accepted (250 after the data) in the last {@code window}, a
 * sliding window over all the server's clients.
 */
public interface Faults {
  /** No faults: what a real server has. */
  Faults NONE = new Faults() {
    @Override
    public Fired at(Fault.Stage stage, List<String> addresses) {
      return null;
    }

    @Override
    public Duration replyDelay() {
      return Duration.ZERO;
    }

    @Override
    public Fired rateLimited() {
      return null;
    }

    @Override
    public void accepted() {}
  };

  /**
   * Whose mail a session carries, as far as it knows at a stage: the SMTP AUTH login (RFC 4954;
   * null before or without one), and the recipients: at RCPT the transaction's so far and the
   * one being tried, last; at the data stages the transaction's; none before RCPT. Faults that
   * are one party's, such as a test's among tests sharing a server, are told apart by it: a
   * stage before AUTH and RCPT (connect, EHLO, STARTTLS, AUTH itself) knows no one.
   */
  record Party(String login, List<String> recipients) {
    /** What a session knows before AUTH and RCPT: nothing. */
    public static final Party UNKNOWN = new Party(null, List.of());

    public Party {
      recipients = List.copyOf(recipients);
    }
  }

  /**
   * A fault that fired: what to do and why, for the log line.
   *
   * @param rule the fault's number in the script, from 1 (0: the rate limit)
   * @param why which attempt, which address, which draw
   */
  record Fired(int rule, Fault.Stage stage, Fault.Action action, String why) {}

  /**
   * The fault that fires now at {@code stage}, or null to go on as usual. Counts the attempt for
   * every fault it matches, until the first that fires (first match wins).
   *
   * @param addresses what {@link Fault#match} is tried on: the sender at MAIL ("" for {@code <>}),
   *     the recipient at RCPT, the sender and recipients at the data stages; empty elsewhere
   */
  Fired at(Fault.Stage stage, List<String> addresses);

  /** How long each reply (after the greeting) is held before it is sent: the tarpit. */
  Duration replyDelay();

  /** The 421 of the rate limit when MAIL FROM must be refused now, else null. */
  Fired rateLimited();

  /** A message was accepted (its 250 after the data), for the rate limit. */
  void accepted();

  /**
   * The faults of the whole server that capture mode's HTTP API lists and changes: these faults
   * themselves when they are {@link Scripted}; the ones set for every party when they are shared
   * by several; null when there are none to change (a real server's).
   */
  default Scripted serverWide() {
    return null;
  }

  /**
   * {@link #at(Fault.Stage, List)} for {@code party}'s session: what the SMTP session asks.
   * Faults of one server answer all parties alike; faults shared by several parties (tests)
   * answer with those of the party the attempt is for.
   */
  default Fired at(Fault.Stage stage, List<String> addresses, Party party) {
    return at(stage, addresses);
  }

  /** {@link #replyDelay()} for a reply to {@code party}'s session. */
  default Duration replyDelay(Party party) {
    return replyDelay();
  }

  /** {@link #rateLimited()} at {@code party}'s MAIL FROM. */
  default Fired rateLimited(Party party) {
    return rateLimited();
  }

  /** {@link #accepted()} of {@code party}'s message. */
  default void accepted(Party party) {
    accepted();
  }

  /**
   * Faults set and changed while the server runs: thread-safe, each change seen by the next
   * command of every session. Setting the faults starts their counts afresh.
   */
  final class Scripted implements Faults {
    /** What is in force, replaced whole on each change: sessions read it once per question. */
    private volatile Script script = Script.EMPTY;
    private final InstantSource clock;

    public Scripted() {
      this(InstantSource.system());
    }

    /** With a clock for the rate limit's window (tests move it instead of sleeping). */
    public Scripted(InstantSource clock) {
      this.clock = clock;
    }

    /** One fault with its counts: attempts matched, times fired, and its own draws. */
    private static final class Armed {
      final Fault fault;
      final Random draws;
      final long seed;
      int attempts;
      int fired;

      Armed(Fault fault) {
        this.fault = fault;
        this.seed = fault.seed() != null ? fault.seed() : ThreadLocalRandom.current().nextLong();
        this.draws = new Random(seed);
      }
    }

    private record RateLimit(int messages, Duration window) {}

    private record Script(List<Armed> rules, Duration tarpit, RateLimit rateLimit) {
      static final Script EMPTY = new Script(List.of(), Duration.ZERO, null);
    }

    @Override
    public Scripted serverWide() {
      return this;
    }

    /** Accept times in the rate limit's window, oldest first. */
    private final ArrayDeque<java.time.Instant> acceptedTimes = new ArrayDeque<>();

    /** Replaces the faults with these, evaluated in this order; the tarpit and rate limit stay. */
    public synchronized void set(List<Fault> faults) {
      List<Armed> armed = new ArrayList<>();
      for (Fault f : faults) armed.add(new Armed(f));
      script = new Script(List.copyOf(armed), script.tarpit(), script.rateLimit());
    }

    /** Adds a fault after the others; returns its number (from 1), for {@link #replace}. */
    public synchronized int add(Fault fault) {
      List<Armed> armed = new ArrayList<>(script.rules());
      armed.add(new Armed(fault));
      script = new Script(List.copyOf(armed), script.tarpit(), script.rateLimit());
      return armed.size();
    }

    /** The faults in force, in order. */
    public List<Fault> faults() {
      return script.rules().stream().map(a -> a.fault).toList();
    }

    /** Each reply (after the greeting) is held this long (zero: none). */
    public synchronized void tarpit(Duration delay) {
      if (delay.isNegative()) throw new IllegalArgumentException("negative delay " + delay);
      script = new Script(script.rules(), delay, script.rateLimit());
    }

    /** At most {@code messages} accepted in any {@code window}; MAIL FROM beyond gets 421. {@code messages} 0: no limit. */
    public synchronized void rateLimit(int messages, Duration window) {
      if (messages < 0) throw new IllegalArgumentException("messages " + messages + " < 0");
      if (!window.isPositive()) throw new IllegalArgumentException("the rate limit's window must be positive, not " + window);
      acceptedTimes.clear();
      script = new Script(script.rules(), script.tarpit(), messages == 0 ? null : new RateLimit(messages, window));
    }

    /** The next {@code count} transactions (of any session) are refused at MAIL FROM with {@code reply}. */
    public void refuseNext(int count, Reply reply) {
      if (count < 0) throw new IllegalArgumentException("count " + count + " < 0");
      if (count > 0) add(new Fault(Fault.Stage.MAIL, null, count, 1, null, new Fault.Action.Answer(reply)));
    }

    /** The tarpit: each reply is held this long (zero: none). */
    public void delayReplies(Duration delay) {
      tarpit(delay);
    }

    /** No more faults, no tarpit, no rate limit. */
    public synchronized void clear() {
      acceptedTimes.clear();
      script = Script.EMPTY;
    }

    @Override
    public Fired at(Fault.Stage stage, List<String> addresses) {
      Script s = script;
      if (s.rules().isEmpty()) return null;
      for (int i = 0; i < s.rules().size(); i++) {
        Armed a = s.rules().get(i);
        Fault f = a.fault;
        if (f.stage() != stage) continue;
        String matched = null;
        if (f.match() != null) {
          for (String address : addresses) {
            if (f.matches(address)) {
              matched = address;
              break;
            }
          }
          if (matched == null) continue;
        }
        String why;
        synchronized (a) {
          if (f.times() > 0 && a.fired >= f.times()) continue; // its times are used up: as if it were not there
          int attempt = ++a.attempts;
          String draw = "";
          if (f.probability() < 1) {
            double d = a.draws.nextDouble();
            draw = String.format(java.util.Locale.ROOT, ", drew %.4f < %s (seed %d)", d, f.probability(), a.seed);
            if (d >= f.probability()) continue;
          }
          int fired = ++a.fired;
          why = "attempt " + attempt + (f.times() > 0 ? ", fired " + fired + " of " + f.times() : "")
              + (matched != null ? ", <" + matched + "> matches " + f.match() : "") + draw;
        }
        return new Fired(i + 1, stage, f.action(), "fault " + (i + 1) + " (" + f + "): " + why);
      }
      return null;
    }

    /**
     * The first fault that would be asked at {@code stage} for these addresses and has firings
     * left, without counting an attempt or drawing: null when none. For telling that an attempt
     * passed over by a shared server's routing would have met one of these faults.
     */
    public Fault pending(Fault.Stage stage, List<String> addresses) {
      for (Armed a : script.rules()) {
        Fault f = a.fault;
        if (f.stage() != stage) continue;
        if (f.match() != null && addresses.stream().noneMatch(f::matches)) continue;
        synchronized (a) {
          if (f.times() > 0 && a.fired >= f.times()) continue;
        }
        return f;
      }
      return null;
    }

    /** The rate limit in force: messages in the window, or 0 without one. */
    public int rateLimitMessages() {
      RateLimit limit = script.rateLimit();
      return limit == null ? 0 : limit.messages();
    }

    /** The rate limit's window, or null without one. */
    public Duration rateLimitWindow() {
      RateLimit limit = script.rateLimit();
      return limit == null ? null : limit.window();
    }

    /** Whether nothing is in force: no fault, no tarpit, no rate limit. */
    public boolean isEmpty() {
      Script s = script;
      return s.rules().isEmpty() && s.tarpit().isZero() && s.rateLimit() == null;
    }

    @Override
    public Duration replyDelay() {
      return script.tarpit();
    }

    /** {@code 421}: RFC 5321 §4.2.2's "closing transmission channel", with RFC 3463's 4.7.0 (a policy refusal). */
    static final Reply RATE_LIMITED = new Reply(421, "4.7.0", "Too many messages (%d in %d seconds), closing connection");

    @Override
    public Fired rateLimited() {
      RateLimit limit = script.rateLimit();
      if (limit == null) return null;
      synchronized (this) {
        int inWindow = prune(limit.window());
        if (inWindow < limit.messages()) return null;
        return new Fired(0, Fault.Stage.MAIL, new Fault.Action.Answer(RATE_LIMITED.format(limit.messages(), limit.window().toSeconds())),
            "rate limit: " + inWindow + " message(s) accepted in the last " + limit.window().toSeconds() + " s, limit " + limit.messages());
      }
    }

    @Override
    public void accepted() {
      RateLimit limit = script.rateLimit();
      if (limit == null) return;
      synchronized (this) {
        prune(limit.window());
        acceptedTimes.addLast(clock.instant());
      }
    }

    /** Forgets the accept times that left the window; returns how many remain. */
    private int prune(Duration window) {
      java.time.Instant since = clock.instant().minus(window);
      while (!acceptedTimes.isEmpty() && !acceptedTimes.peekFirst().isAfter(since)) acceptedTimes.removeFirst();
      return acceptedTimes.size();
    }
  }
}
