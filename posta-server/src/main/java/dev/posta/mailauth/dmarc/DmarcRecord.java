package dev.posta.mailauth.dmarc;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A domain's DMARC policy record (RFC 7489 §6.3), parsed from its TXT string by a pure function.
 *
 * <p>Only the tags that decide what happens to a message are kept: {@code p}, {@code sp},
 * {@code adkim}, {@code aspf}, {@code pct}; {@code rua} is kept as written because a record
 * with an invalid {@code p} still counts as {@code p=none} when it asks for reports (§6.6.3).
 * Posta sends no aggregate or failure reports, so {@code ruf}, {@code fo}, {@code rf} and
 * {@code ri} are read past, like unknown tags (§6.3: "unknown tags MUST be ignored"). A tag
 * with a bad value falls back to its default (§6.6.3: syntax errors are discarded in favour of
 * default values); a repeated tag keeps its first value.
 */
public record DmarcRecord(Policy policy, Policy subdomainPolicy, Alignment dkimAlignment, Alignment spfAlignment, int percent) {

  /** What the domain owner asks a receiver to do with mail that fails DMARC (§6.3 "p"). */
  public enum Policy {
    NONE, QUARANTINE, REJECT;

    /** The policy one step milder, applied to the messages a {@code pct} below 100 leaves out (§6.6.4). */
    Policy milder() {
      return this == REJECT ? QUARANTINE : NONE;
    }

    @Override
    public String toString() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** How closely an authenticated domain must match the From domain (§3.1): the same organizational domain, or the same name. */
  public enum Alignment { RELAXED, STRICT }

  /** What a TXT string at {@code _dmarc.} is. */
  public sealed interface Parsed {}

  /** A usable record. */
  public record Valid(DmarcRecord record) implements Parsed {}

  /** Not a DMARC record: it does not start with {@code v=DMARC1} (§6.6.3 step 3: such records are discarded). */
  public record NotDmarc() implements Parsed {}

  /** A DMARC record that cannot be applied: no valid {@code p} (or a bad {@code sp}) and no report address (§6.6.3). */
  public record Invalid(String reason) implements Parsed {}

  /** Parses one TXT string (its character-strings joined). Never throws. */
  public static Parsed parse(String txt) {
    List<String[]> tags = tags(txt);
    // §6.4: the record starts with v=DMARC1, its value compared exactly.
    if (tags.isEmpty() || !tags.getFirst()[0].equals("v") || !tags.getFirst()[1].equals("DMARC1")) return new NotDmarc();
    Map<String, String> values = new HashMap<>();
    for (String[] tag : tags.subList(1, tags.size())) values.putIfAbsent(tag[0].toLowerCase(Locale.ROOT), tag[1]);

    Policy p = policy(values.get("p"));
    String sp = values.get("sp");
    Policy subdomain = sp == null ? p : policy(sp);
    if (p == null || subdomain == null) {
      String bad = p == null ? (values.containsKey("p") ? "p=" + shown(values.get("p")) + " is not none, quarantine or reject" : "no p= tag")
          : "sp=" + shown(sp) + " is not none, quarantine or reject";
      if (!hasReportAddress(values.get("rua"))) return new Invalid(bad);
      // §6.6.3: with a valid rua, act as if the record said p=none.
      p = Policy.NONE;
      subdomain = Policy.NONE;
    }
    return new Valid(new DmarcRecord(p, subdomain, alignment(values.get("adkim")), alignment(values.get("aspf")), percent(values.get("pct"))));
  }

  /**
   * The policy that applies: {@code p} when the record was found at the From domain itself;
   * {@code sp} (or {@code p} when there is no sp) when it was the organizational domain's record,
   * found for a subdomain (§6.3 "sp").
   */
  public Policy policyFor(boolean recordIsForTheFromDomain) {
    return recordIsForTheFromDomain ? policy : subdomainPolicy;
  }

  /** §6.4's tag-value list: "name = value" pairs separated by semicolons, whitespace around each part ignored; a pair without "=" ends the list. */
  private static List<String[]> tags(String txt) {
    List<String[]> tags = new ArrayList<>();
    for (String part : txt.split(";", -1)) {
      String tag = part.strip();
      if (tag.isEmpty()) continue;
      int eq = tag.indexOf('=');
      if (eq <= 0) break;
      tags.add(new String[] {tag.substring(0, eq).strip(), tag.substring(eq + 1).strip()});
    }
    return tags;
  }

  /** A value from DNS as a reason may show it: printable ASCII, at most 40 characters, anything else as '?'. */
  private static String shown(String value) {
    StringBuilder b = new StringBuilder();
    value.chars().limit(40).forEach(c -> b.append(c >= 0x20 && c < 0x7f ? (char) c : '?'));
    return value.length() > 40 ? b + "..." : b.toString();
  }

  private static Policy policy(String value) {
    if (value == null) return null;
    return switch (value.toLowerCase(Locale.ROOT)) {
      case "none" -> Policy.NONE;
      case "quarantine" -> Policy.QUARANTINE;
      case "reject" -> Policy.REJECT;
      default -> null;
    };
  }

  private static Alignment alignment(String value) {
    return value != null && value.equalsIgnoreCase("s") ? Alignment.STRICT : Alignment.RELAXED;
  }

  private static int percent(String value) {
    if (value == null || value.isEmpty() || value.length() > 3 || !value.chars().allMatch(c -> c >= '0' && c <= '9')) return 100;
    int pct = Integer.parseInt(value);
    return pct <= 100 ? pct : 100;
  }

  /** §6.3 "rua": a comma-separated list of URIs; one with a scheme ("mailto:...") is enough to count. */
  private static boolean hasReportAddress(String rua) {
    if (rua == null) return false;
    for (String uri : rua.split(",")) {
      String u = uri.strip();
      int colon = u.indexOf(':');
      if (colon > 0 && colon < u.length() - 1 && u.substring(0, colon).chars().allMatch(c -> (c | 0x20) >= 'a' && (c | 0x20) <= 'z')) return true;
    }
    return false;
  }
}
