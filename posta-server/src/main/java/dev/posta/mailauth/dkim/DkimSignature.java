package dev.posta.mailauth.dkim;

import dev.posta.mailauth.dkim.DkimResult.Outcome;
import java.net.IDN;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;
import java.util.regex.Pattern;

/**
 * A DKIM-Signature field read and checked on its own (RFC 6376 §3.5, §6.1.1), before any key
 * is fetched or any hash computed.
 *
 * <p>A pure function of the field: {@link #parse} never throws. A field that cannot be used is
 * {@link Unusable}, with the outcome and reason it gets: permerror for a malformed tag list
 * (§3.2: bad syntax, a duplicate tag), a missing required tag (v, a, b, bh, d, h, s), v= other
 * than 1, bad base64 in b= or bh=, a d= or s= that is no domain name, an h= without From
 * (§5.4), an i= outside d= (§3.5), l= or t= or x= that are no numbers, x= before t=; neutral
 * for an algorithm, canonicalization or query method this verifier does not know (RFC 8601
 * §2.7.1: "not otherwise able to be processed"). Unknown tags are ignored (§3.2).
 *
 * <p>Limits: numbers (l=, t=, x=) beyond a long are taken as the largest long. At most {@value
 * #MAX_SIGNED_FIELDS} names in h=.
 *
 * @param field the field as it is in the message
 * @param tagText the field's value (everything after the colon), which the tags' offsets index
 * @param identity i=, or "" when absent
 * @param bodyLength l=, or -1 when absent
 * @param timestamp t=, or -1
 * @param expiration x=, or -1
 * @param signedFields h=, the names as written, in order
 * @param b b= without its whitespace (base64)
 */
public record DkimSignature(
    HeaderField field,
    String tagText,
    TagList.Tags tags,
    DkimAlgorithm algorithm,
    Canonicalization headerCanonicalization,
    Canonicalization bodyCanonicalization,
    String domain,
    String selector,
    List<String> signedFields,
    String identity,
    long bodyLength,
    long timestamp,
    long expiration,
    byte[] bodyHash,
    byte[] signature,
    String b) implements ParsedSignature {

  /** More than any signer lists (each header field of a message at most a few times). */
  static final int MAX_SIGNED_FIELDS = 512;

  private static final Pattern DIGITS = Pattern.compile("[0-9]{1,76}");
  /** FWS inside a colon-separated tag value: compiled once, not by a replaceAll per part. */
  private static final Pattern FWS = Pattern.compile("[ \\t\\r\\n]+");
  /** A field name (RFC 5322 §3.6.8 ftext). */
  private static final Pattern FIELD_NAME = Pattern.compile("[\\x21-\\x39\\x3b-\\x7e]+");
  /** Labels of letters, digits, hyphens and (in a selector, as some publish) underscores. */
  private static final Pattern DNS_NAME = Pattern.compile("(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\\.)*[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?");

  /**
   * A field that cannot be verified; its result is already known. The tags that could be read
   * are kept for the report ("" when not).
   */
  public record Unusable(Outcome outcome, String domain, String selector, String algorithm, String identity, String b, String reason)
      implements ParsedSignature {
    DkimResult result(String headerB) {
      return new DkimResult(outcome, domain, selector, algorithm, identity, headerB, OptionalLong.empty(), false, reason);
    }
  }

  /** Checks one DKIM-Signature field. */
  public static ParsedSignature parse(HeaderField field) {
    String text = field.value();
    // Drop the final line end: it ends the field, it is not FWS inside the last tag.
    if (text.endsWith("\n")) text = text.substring(0, text.length() - (text.endsWith("\r\n") ? 2 : 1));
    TagList.Parsed parsed = TagList.parse(text);
    if (parsed instanceof TagList.Malformed m) {
      return new Unusable(Outcome.PERMERROR, "", "", "", "", "", "malformed signature: " + m.reason());
    }
    TagList.Tags tags = (TagList.Tags) parsed;
    String d = lower(orEmpty(tags.value("d")));
    String s = orEmpty(tags.value("s"));
    String a = orEmpty(tags.value("a"));
    String i = orEmpty(tags.value("i"));
    String b = tags.get("b") == null ? "" : tags.get("b").compact();
    var report = new Report(d, s, a, i, b);

    for (String required : List.of("v", "a", "b", "bh", "d", "h", "s")) {
      if (tags.get(required) == null) return report.permerror("signature has no " + required + "= tag");
    }
    if (!tags.value("v").equals("1")) return report.permerror("signature version v= is not 1");
    DkimAlgorithm algorithm = DkimAlgorithm.byTag(a);
    if (algorithm == null) return report.neutral("unknown algorithm a=" + printable(a));

    Canonicalization headerCanon = Canonicalization.SIMPLE;
    Canonicalization bodyCanon = Canonicalization.SIMPLE;
    String c = tags.value("c");
    if (c != null) {
      int slash = c.indexOf('/');
      headerCanon = Canonicalization.byTag(slash < 0 ? c : c.substring(0, slash));
      bodyCanon = slash < 0 ? Canonicalization.SIMPLE : Canonicalization.byTag(c.substring(slash + 1));
      if (headerCanon == null || bodyCanon == null) return report.neutral("unknown canonicalization c=" + printable(c));
    }
    String q = tags.value("q");
    if (q != null && splitColons(q).stream().noneMatch(m -> m.equalsIgnoreCase("dns/txt"))) {
      return report.neutral("no known query method in q=" + printable(q));
    }

    byte[] signature = base64(b);
    if (signature == null || signature.length == 0) return report.permerror("b= is not base64");
    byte[] bodyHash = base64(tags.get("bh").compact());
    if (bodyHash == null || bodyHash.length == 0) return report.permerror("bh= is not base64");

    String domain = asciiDomain(utf8(d));
    if (domain == null) return report.permerror("d= is not a domain name");
    if (!DNS_NAME.matcher(s).matches() || s.length() > 253) return report.permerror("s= is not a selector, a domain name");

    List<String> signed = splitColons(tags.value("h"));
    if (signed.size() > MAX_SIGNED_FIELDS) return report.permerror("h= names more than " + MAX_SIGNED_FIELDS + " fields");
    for (String name : signed) {
      if (!FIELD_NAME.matcher(name).matches()) return report.permerror("h= holds something that is no field name");
    }
    // §5.4: "The From header field MUST be signed"; §6.1.1: a verifier MUST check.
    if (signed.stream().noneMatch(n -> n.equalsIgnoreCase("from"))) return report.permerror("h= does not include From");

    if (!i.isEmpty()) {
      int at = i.lastIndexOf('@');
      String iDomain = at < 0 ? null : asciiDomain(utf8(i.substring(at + 1)));
      if (iDomain == null) return report.permerror("i= is no address or @domain");
      if (!iDomain.equals(domain) && !iDomain.endsWith("." + domain)) return report.permerror("i= is not in the domain of d=");
    }

    long l = number(tags.value("l"));
    long t = number(tags.value("t"));
    long x = number(tags.value("x"));
    if (l == -2) return report.permerror("l= is not a number");
    if (t == -2) return report.permerror("t= is not a number");
    if (x == -2) return report.permerror("x= is not a number");
    if (t >= 0 && x >= 0 && x < t) return report.permerror("x= is before t=");

    return new DkimSignature(field, text, tags, algorithm, headerCanon, bodyCanon, domain, s, signed, i, l, t, x, bodyHash, signature, b);
  }

  /** The tags of a field that could not be used, and how to say so. */
  private record Report(String d, String s, String a, String i, String b) {
    Unusable permerror(String reason) {
      return new Unusable(Outcome.PERMERROR, printable(d), printable(s), printable(a), printable(i), b, reason);
    }

    Unusable neutral(String reason) {
      return new Unusable(Outcome.NEUTRAL, printable(d), printable(s), printable(a), printable(i), b, reason);
    }
  }

  /** The result of this signature once checked. */
  DkimResult result(Outcome outcome, String headerB, boolean testing, String reason) {
    return new DkimResult(outcome, domain, selector, algorithm.tag, identity, headerB,
        bodyLength >= 0 ? OptionalLong.of(bodyLength) : OptionalLong.empty(), testing, reason);
  }

  /** Where the key record is: {@code s._domainkey.d} (§3.6.2.1). */
  public String keyName() {
    return selector + "._domainkey." + domain;
  }

  /**
   * This field with b='s value emptied, "including all surrounding whitespace" (§3.7), as it
   * goes into the header hash before canonicalization.
   */
  String withoutSignatureValue() {
    TagList.Tag tag = tags.get("b");
    String raw = field.raw();
    int valueOffset = raw.length() - field.value().length(); // where tagText starts in raw
    return raw.substring(0, valueOffset + tag.valueStart()) + raw.substring(valueOffset + tag.end());
  }

  /** The colon-separated parts of a tag value, each without the FWS around it. */
  static List<String> splitColons(String value) {
    List<String> parts = new ArrayList<>();
    for (String p : value.split(":", -1)) {
      String part = FWS.matcher(p).replaceAll("");
      parts.add(part);
    }
    return parts;
  }

  /** Base64 as b=, bh= and p= hold it (whitespace already removed), or null when it is not. */
  static byte[] base64(String text) {
    try {
      return Base64.getDecoder().decode(text);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /**
   * {@code name} (text, not octets) as an ASCII domain name, lower case, IDNs as A-labels (RFC
   * 8616 lets d= carry U-labels), or null when it is none.
   */
  static String asciiDomain(String name) {
    if (name.isEmpty() || name.length() > 253) return null;
    String ascii;
    try {
      ascii = IDN.toASCII(name, IDN.USE_STD3_ASCII_RULES).toLowerCase(Locale.ROOT);
    } catch (IllegalArgumentException e) {
      return null;
    }
    return ascii.length() <= 253 && !ascii.contains("_") && DNS_NAME.matcher(ascii).matches() ? ascii : null;
  }

  /** Octets held as ISO-8859-1 chars (as header fields are here), read as UTF-8 text. */
  static String utf8(String octets) {
    return new String(octets.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), java.nio.charset.StandardCharsets.UTF_8);
  }

  /** A decimal number; -1 for null (absent), -2 for anything else; larger than a long is the largest long. */
  private static long number(String value) {
    if (value == null) return -1;
    if (!DIGITS.matcher(value).matches()) return -2;
    try {
      return Long.parseLong(value);
    } catch (NumberFormatException e) {
      return Long.MAX_VALUE; // up to 76 digits are allowed (§3.5 l=); none of them matter past a long
    }
  }

  private static String orEmpty(String s) {
    return s == null ? "" : s;
  }

  /** ASCII letters lower-cased, other chars (octets of UTF-8) left as they are. */
  static String lower(String s) {
    char[] c = s.toCharArray();
    for (int k = 0; k < c.length; k++) {
      if (c[k] >= 'A' && c[k] <= 'Z') c[k] = (char) (c[k] + 32);
    }
    return new String(c);
  }

  /** A tag value as a report may show it: printable ASCII (else "?"), cut at 253 characters (a domain name's longest). */
  static String printable(String value) {
    var s = new StringBuilder();
    for (int k = 0; k < value.length() && s.length() < 253; k++) {
      char ch = value.charAt(k);
      s.append(ch > 32 && ch < 127 ? ch : '?');
    }
    return s.toString();
  }

  // A signature is its field: everything else here is read from it (and arrays compare by identity).
  @Override
  public boolean equals(Object o) {
    return o instanceof DkimSignature other && field.equals(other.field);
  }

  @Override
  public int hashCode() {
    return field.hashCode();
  }

  @Override
  public String toString() {
    return "DkimSignature[d=" + domain + ", s=" + selector + ", a=" + algorithm.tag + "]";
  }
}
