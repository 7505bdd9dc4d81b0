package dev.posta.smtp;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One scripted SMTP fault (issue 21): at which stage of the session (RFC 5321 §4.1, STARTTLS of
 * RFC 3207, AUTH of RFC 4954), when it fires (an address pattern, the first {@code times}
 * attempts, a probability with a seed) and what the client gets instead of the reply it would
 * have got (a reply, the connection refused or dropped, a delay before the usual reply).
 *
 * <p>Guarantees: a fault is valid when built (a stage's impossible action or trigger is refused
 * with the key to blame, {@link Invalid}); it is pure data, made from plain fields ({@link
 * #fromFields}: what TOML and JSON give) and described back ({@link #toString}); its counting
 * and draws live in {@link Faults.Scripted}. A reply fault sends exactly the configured reply
 * ({@link Reply#parse}); a {@code 421} one also closes the connection, as RFC 5321 §3.8 says a
 * 421 does.
 *
 * <p>What each stage's fault replaces: {@code connect} the greeting (a reply, then the
 * connection closes; {@code refuse}: closed at once, no greeting); {@code ehlo}, {@code
 * starttls} (no TLS follows), {@code auth} (not logged in; the exchange does not start),
 * {@code mail}, {@code rcpt} (that recipient only), {@code data} (no 354; BDAT has no such
 * reply, so a BDAT client meets the data faults at end-of-data) the reply to that command; {@code end-of-data} the reply after the final dot (or the last BDAT chunk): nothing
 * is delivered; {@code mid-data} drops the connection after {@code after-octets} octets of the
 * message (or at its end, when it is shorter), without any reply: nothing is delivered.
 *
 * @param stage where it fires
 * @param match a glob ({@code *} any characters, {@code ?} one; case-insensitive) on the MAIL
 *     FROM address ({@code mail}, {@code <>} is the empty string), on the recipient ({@code
 *     rcpt}), on the sender or any recipient (the data stages); null: every attempt matches
 * @param times fire on the first {@code times} matching attempts only, then never again (0:
 *     every time): "fail the first two tries, then accept" is {@code times = 2}
 * @param probability the chance that a matching attempt fires, 0 < p <= 1
 * @param seed the seed of the draws, so that a run can be repeated; null: a random one (logged)
 * @param action what the client gets
 */
public record Fault(Stage stage, String match, int times, double probability, Long seed, Action action) {

  /** The points of an SMTP session where a fault can fire. */
  public enum Stage {
    CONNECT, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA, MID_DATA, END_OF_DATA;

    /** As written in a configuration: {@code end-of-data}. */
    public String key() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The stage named {@code key} ({@code rcpt}, {@code end-of-data}; case and {@code _}/{@code -} as you like). */
    public static Stage of(String key) {
      for (Stage s : values()) {
        if (s.key().equalsIgnoreCase(key.strip().replace('_', '-'))) return s;
      }
      throw new IllegalArgumentException("unknown stage '" + key + "' (one of " + String.join(", ", keys()) + ")");
    }

    static List<String> keys() {
      List<String> keys = new ArrayList<>();
      for (Stage s : values()) keys.add(s.key());
      return keys;
    }

    /** The stages whose attempt has addresses to match. */
    boolean hasAddresses() {
      return this == MAIL || this == RCPT || this == DATA || this == MID_DATA || this == END_OF_DATA;
    }
  }

  /** What the client gets. */
  public sealed interface Action {
    /** This reply instead of the usual one. */
    record Answer(Reply reply) implements Action {}

    /**
     * The connection is closed without a reply: at {@code connect} before the greeting (the
     * connection refused), at {@code mid-data} after {@code afterOctets} octets of the message.
     */
    record Disconnect(long afterOctets) implements Action {}

    /** The usual reply, after this long (a tarpit at one stage). */
    record Delay(Duration delay) implements Action {}
  }

  /** A fault that cannot be: {@code key} is the field to blame (null: the fault as a whole). */
  public static final class Invalid extends IllegalArgumentException {
    private final String key;

    public Invalid(String key, String message) {
      super(message);
      this.key = key;
    }

    /** The field to blame, as {@link #fromFields} names it, or null. */
    public String key() {
      return key;
    }
  }

  public Fault {
    if (stage == null) throw new Invalid("stage", "a fault needs a stage (one of " + String.join(", ", Stage.keys()) + ")");
    if (action == null) throw new Invalid(null, "a fault needs an action: reply, action = \"refuse\" or \"disconnect\", or delay");
    if (match != null && match.isBlank()) match = null;
    if (match != null && !stage.hasAddresses()) {
      throw new Invalid("match", "a fault at " + stage.key() + " has no address to match (match is for mail, rcpt, data, mid-data, end-of-data)");
    }
    if (times < 0) throw new Invalid("times", "times must be 0 (every time) or more, not " + times);
    if (!(probability > 0 && probability <= 1)) throw new Invalid("probability", "probability must be over 0 and at most 1, not " + probability);
    switch (action) {
      case Action.Answer a -> {
        if (stage == Stage.MID_DATA) throw new Invalid("reply", "a mid-data fault drops the connection (action = \"disconnect\"); it has no reply");
        if (a.reply().code() < 400) throw new Invalid("reply", "a fault's reply is a 4xx or 5xx, not " + a.reply());
      }
      case Action.Disconnect d -> {
        if (d.afterOctets() < 0) throw new Invalid("after-octets", "after-octets must be 0 or more, not " + d.afterOctets());
        if (d.afterOctets() > 0 && stage != Stage.MID_DATA) throw new Invalid("after-octets", "after-octets is for mid-data faults only");
      }
      case Action.Delay d -> {
        if (stage == Stage.MID_DATA) throw new Invalid("delay", "a mid-data fault drops the connection; it has no reply to delay");
        if (d.delay().isNegative() || d.delay().isZero()) throw new Invalid("delay", "a delay must be positive, not " + d.delay());
      }
    }
  }

  /** A fault at {@code stage} answering {@code reply} every time. */
  public static Fault reply(Stage stage, String reply) {
    return new Fault(stage, null, 0, 1, null, new Action.Answer(Reply.parse(reply)));
  }

  public Fault withMatch(String pattern) {
    return new Fault(stage, pattern, times, probability, seed, action);
  }

  public Fault withTimes(int n) {
    return new Fault(stage, match, n, probability, seed, action);
  }

  public Fault withProbability(double p, Long drawSeed) {
    return new Fault(stage, match, times, p, drawSeed, action);
  }

  public Fault withAction(Action a) {
    return new Fault(stage, match, times, probability, seed, a);
  }

  /** Whether {@code address} ({@code local@domain}, "" for {@code <>}) fits {@link #match}; true without a pattern. */
  public boolean matches(String address) {
    return match == null || glob(match).matcher(address).matches();
  }

  /** A glob as a regex: {@code *} any run of characters, {@code ?} one, the rest literal; case-insensitive. */
  static Pattern glob(String glob) {
    StringBuilder re = new StringBuilder();
    StringBuilder literal = new StringBuilder();
    for (int i = 0; i < glob.length(); i++) {
      char c = glob.charAt(i);
      if (c == '*' || c == '?') {
        if (!literal.isEmpty()) re.append(Pattern.quote(literal.toString()));
        literal.setLength(0);
        re.append(c == '*' ? ".*" : ".");
      } else {
        literal.append(c);
      }
    }
    if (!literal.isEmpty()) re.append(Pattern.quote(literal.toString()));
    return Pattern.compile(re.toString(), Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.DOTALL);
  }

  /** The keys {@link #fromFields} takes. */
  public static final Set<String> KEYS = Set.of("stage", "match", "reply", "action", "delay", "after-octets", "times", "probability", "seed");

  /**
   * A fault from plain fields, as a TOML table or a JSON object gives them: {@code stage}
   * (required), {@code match}, one of {@code reply} ("550 5.1.1 No such user"), {@code action}
   * ("refuse" at connect, "disconnect") or {@code delay} ("2s", "500ms"), {@code after-octets}
   * (mid-data), {@code times}, {@code probability}, {@code seed}. Values are strings, numbers
   * ({@link Number}) and nothing else.
   *
   * @throws Invalid naming the key to blame
   */
  public static Fault fromFields(Map<String, ?> fields) {
    for (String key : fields.keySet()) {
      if (!KEYS.contains(key)) throw new Invalid(key, "unknown key '" + key + "' in a fault (known: " + String.join(", ", sorted(KEYS)) + ")");
    }
    Stage stage;
    try {
      stage = Stage.of(string(fields, "stage", true));
    } catch (IllegalArgumentException e) {
      throw new Invalid("stage", e.getMessage());
    }
    List<String> actions = new ArrayList<>();
    for (String key : List.of("reply", "action", "delay")) if (fields.containsKey(key)) actions.add(key);
    if (actions.size() != 1) {
      throw new Invalid(actions.isEmpty() ? null : actions.get(1), actions.isEmpty()
          ? "a fault needs one of reply (\"451 4.3.0 Try again later\"), action (\"refuse\", \"disconnect\") or delay (\"2s\")"
          : "a fault has one of reply, action or delay, not " + String.join(" and ", actions));
    }
    long afterOctets = fields.containsKey("after-octets") ? number(fields, "after-octets").longValue() : 0;
    if (fields.containsKey("after-octets") && !"disconnect".equals(fields.get("action"))) {
      throw new Invalid("after-octets", "after-octets goes with action = \"disconnect\" at mid-data");
    }
    Action action = switch (actions.get(0)) {
      case "reply" -> {
        try {
          yield new Action.Answer(Reply.parse(string(fields, "reply", true)));
        } catch (Invalid e) {
          throw e;
        } catch (IllegalArgumentException e) {
          throw new Invalid("reply", e.getMessage());
        }
      }
      case "delay" -> new Action.Delay(duration(string(fields, "delay", true)));
      default -> switch (string(fields, "action", true)) {
        case "refuse" -> {
          if (stage != Stage.CONNECT) throw new Invalid("action", "\"refuse\" is for connect (close at once, no greeting); elsewhere \"disconnect\"");
          yield new Action.Disconnect(0);
        }
        case "disconnect" -> new Action.Disconnect(afterOctets);
        default -> throw new Invalid("action", "unknown action '" + fields.get("action") + "' (\"refuse\" or \"disconnect\"; or a reply or delay key)");
      };
    };
    String match = fields.containsKey("match") ? string(fields, "match", true) : null;
    int times = fields.containsKey("times") ? (int) Math.min(Integer.MAX_VALUE, number(fields, "times").longValue()) : 0;
    if (fields.containsKey("times") && number(fields, "times").doubleValue() != number(fields, "times").longValue()) {
      throw new Invalid("times", "times is a whole number, not " + fields.get("times"));
    }
    double probability = fields.containsKey("probability") ? number(fields, "probability").doubleValue() : 1;
    Long seed = fields.containsKey("seed") ? number(fields, "seed").longValue() : null;
    return new Fault(stage, match, times, probability, seed, action);
  }

  private static List<String> sorted(Set<String> keys) {
    return keys.stream().sorted().toList();
  }

  private static String string(Map<String, ?> fields, String key, boolean required) {
    Object v = fields.get(key);
    if (v == null && required) throw new Invalid(key, key + " is missing");
    if (!(v instanceof String s)) throw new Invalid(key, key + " must be a string, not " + v);
    return s;
  }

  private static Number number(Map<String, ?> fields, String key) {
    Object v = fields.get(key);
    if (!(v instanceof Number n)) throw new Invalid(key, key + " must be a number, not " + (v instanceof String ? "\"" + v + "\"" : v));
    return n;
  }

  private static final Pattern DURATION = Pattern.compile("([0-9]{1,9})(ms|s|m)");

  /** {@code 500ms}, {@code 2s}, {@code 1m}. */
  public static Duration duration(String text) {
    Matcher m = DURATION.matcher(text.strip());
    if (!m.matches()) throw new Invalid("delay", "'" + text + "' is not a duration like \"500ms\", \"2s\" or \"1m\"");
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      default -> Duration.ofMinutes(n);
    };
  }

  /** As a configuration would say it: {@code rcpt match=*@bounce.example times=2 reply="550 5.1.1 No such user"}. */
  @Override
  public String toString() {
    StringBuilder s = new StringBuilder(stage.key());
    if (match != null) s.append(" match=").append(match);
    if (times > 0) s.append(" times=").append(times);
    if (probability < 1) s.append(" probability=").append(probability).append(seed != null ? " seed=" + seed : "");
    switch (action) {
      case Action.Answer a -> s.append(" reply=\"").append(a.reply()).append('"');
      case Action.Disconnect d -> s.append(stage == Stage.CONNECT ? " refuse" : " disconnect")
          .append(d.afterOctets() > 0 ? " after-octets=" + d.afterOctets() : "");
      case Action.Delay d -> s.append(" delay=").append(d.delay().toMillis()).append("ms");
    }
    return s.toString();
  }
}
