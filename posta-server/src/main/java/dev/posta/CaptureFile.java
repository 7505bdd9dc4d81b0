package dev.posta;

import dev.posta.config.ConfigException;
import dev.posta.config.ConfigLoader;
import dev.posta.config.Toml;
import dev.posta.smtp.Fault;
import dev.posta.smtp.Faults;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The configuration file of {@code posta dev --config FILE}: its {@code [capture]} table, which
 * scripts the SMTP faults of capture mode (issue 21), and nothing else.
 *
 * <pre>{@code
 * [capture]
 * tarpit = "500ms"          # every reply held this long
 * rate-limit = 30           # messages accepted per minute (sliding); MAIL FROM beyond gets 421 4.7.0
 *
 * [[capture.faults]]        # evaluated in file order; the first that matches an attempt fires
 * stage = "rcpt"
 * match = "*@bounce.example"
 * reply = "550 5.1.1 No such user"
 * times = 2
 * }</pre>
 *
 * <p>Guarantees: the faults come back valid, in file order, or a {@link ConfigException} lists
 * every problem as {@code file:line: message}, as the server's own configuration loader does.
 * Only {@code [capture]} is read: any other key is refused, since a real server's settings (its
 * data folder, its listeners) must never mix into capture mode. A fault's keys are {@link
 * Fault#fromFields}'s. It lives with the server's assembly, since the SMTP sessions' types are
 * no command's business; {@link PostaServer#faults(CaptureFile)} installs it.
 */
public final class CaptureFile {
  private final Path file;
  private final Faults.Scripted faults;

  private CaptureFile(Path file, Faults.Scripted faults) {
    this.file = file;
    this.faults = faults;
  }

  /** The file it was read from. */
  public Path file() {
    return file;
  }

  Faults faults() {
    return faults;
  }

  /** What it scripts, one line each, as the server's log describes them: the faults in order, then the tarpit and the rate limit. */
  public List<String> describe() {
    List<String> lines = new ArrayList<>();
    for (Fault f : faults.faults()) lines.add(f.toString());
    if (!faults.replyDelay().isZero()) lines.add("tarpit: every reply held " + faults.replyDelay().toMillis() + " ms");
    if (rateLimit > 0) lines.add("rate limit: " + rateLimit + " messages accepted per minute, then 421 4.7.0");
    return lines;
  }

  /** The number of faults (the tarpit and the rate limit aside). */
  public int faultCount() {
    return faults.faults().size();
  }

  private int rateLimit;

  /** dns is the test DNS zone's, read by ConfigLoader.loadCapture. */
  static final List<String> CAPTURE_KEYS = List.of("dns", "faults", "tarpit", "rate-limit");

  /** The file's faults, tarpit and rate limit, ready for a server ({@link PostaServer#faults(CaptureFile)}). */
  public static CaptureFile read(Path file) throws ConfigException {
    Toml.Table root = ConfigLoader.parse(file);
    List<Problem> problems = new ArrayList<>();
    for (var e : root.entries().entrySet()) {
      if (!e.getKey().equals("capture")) {
        problems.add(new Problem(e.getValue().line(), "posta dev reads only [capture] from its file, not '" + e.getKey()
            + "' (a real server's settings never mix into capture mode)"));
      }
    }
    var scripted = new Faults.Scripted();
    int rateLimit = 0;
    if (!(root.entries().get("capture") instanceof Toml.Table capture)) {
      if (root.entries().containsKey("capture")) problems.add(new Problem(root.entries().get("capture").line(), "capture must be a table"));
      if (!problems.isEmpty()) throw inFileOrder(file, problems);
      return new CaptureFile(file, scripted); // no [capture] table: nothing scripted
    }
    for (var e : capture.entries().entrySet()) {
      if (!CAPTURE_KEYS.contains(e.getKey())) {
        problems.add(new Problem(e.getValue().line(), "unknown key capture." + Toml.quoteKey(e.getKey()) + " (known: "
            + String.join(", ", CAPTURE_KEYS) + ")"));
      }
    }
    List<Fault> faults = new ArrayList<>();
    Toml.Value list = capture.entries().get("faults");
    if (list != null && !(list instanceof Toml.Array)) {
      problems.add(new Problem(list.line(), "capture.faults must be written as [[capture.faults]] tables"));
    } else if (list instanceof Toml.Array array) {
      int n = 0;
      for (Toml.Value item : array.items()) {
        n++;
        if (!(item instanceof Toml.Table table)) {
          problems.add(new Problem(item.line(), "capture.faults must be written as [[capture.faults]] tables"));
          continue;
        }
        Map<String, Object> fields = new LinkedHashMap<>();
        for (var f : table.entries().entrySet()) fields.put(f.getKey(), plain(f.getValue()));
        try {
          faults.add(Fault.fromFields(fields));
        } catch (Fault.Invalid invalid) {
          Toml.Value blamed = invalid.key() == null ? null : table.entries().get(invalid.key());
          problems.add(new Problem((blamed != null ? blamed.line() : table.line()), "[[capture.faults]] #" + n + ": " + invalid.getMessage()));
        }
      }
    }
    Toml.Value tarpit = capture.entries().get("tarpit");
    if (tarpit != null) {
      try {
        if (!(tarpit instanceof Toml.Str s)) throw new Fault.Invalid("tarpit", "must be a duration like \"500ms\" or \"2s\"");
        scripted.tarpit(Fault.duration(s.value()));
      } catch (Fault.Invalid invalid) {
        problems.add(new Problem(tarpit.line(), "capture.tarpit: " + invalid.getMessage()));
      }
    }
    Toml.Value rate = capture.entries().get("rate-limit");
    if (rate != null) {
      if (rate instanceof Toml.Int i && i.value() >= 1 && i.value() <= 1_000_000) {
        rateLimit = (int) i.value();
        scripted.rateLimit(rateLimit, Duration.ofMinutes(1));
      } else {
        problems.add(new Problem(rate.line(), "capture.rate-limit is the messages accepted per minute, a whole number from 1 to 1000000"));
      }
    }
    if (!problems.isEmpty()) throw inFileOrder(file, problems);
    scripted.set(faults);
    CaptureFile read = new CaptureFile(file, scripted);
    read.rateLimit = rateLimit;
    return read;
  }

  private record Problem(int line, String text) {}

  /** The problems as {@code file:line: message}, in file order, as the server's configuration loader gives them. */
  private static ConfigException inFileOrder(Path file, List<Problem> problems) {
    return new ConfigException(problems.stream().sorted(java.util.Comparator.comparingInt(Problem::line))
        .map(p -> file + ":" + p.line() + ": " + p.text()).toList());
  }

  /** A TOML value as {@link Fault#fromFields} takes it: strings and numbers (tables and arrays as they are, to be refused there). */
  private static Object plain(Toml.Value v) {
    return switch (v) {
      case Toml.Str s -> s.value();
      case Toml.Int i -> i.value();
      case Toml.Decimal d -> d.value();
      case Toml.Bool b -> b.value();
      case Toml.Array a -> "an array";
      case Toml.Table t -> "a table";
    };
  }
}
