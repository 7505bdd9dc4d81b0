package dev.posta.config;

import static dev.posta.config.ConfigValues.domainName;

import dev.posta.config.PostaConfig.Capture.RecordType;
import dev.posta.config.PostaConfig.Capture.ZoneKey;
import dev.posta.config.PostaConfig.Capture.ZoneRecord;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The {@code [capture.dns]} section of {@code posta dev --config}: the developer's own records
 * in capture mode's test DNS zone, so that their real SPF, DKIM and DMARC records are checked
 * against what their application sends.
 *
 * <pre>
 * [capture.dns]
 * records = [
 *   "example.com TXT v=spf1 ip4:127.0.0.1 -all",
 *   "_dmarc.example.com TXT v=DMARC1; p=reject",
 *   "s1._domainkey.example.com TXT \"v=DKIM1; k=rsa; p=MIIB...\" \"...\"",
 * ]
 * dkim-keys = ["example.com s2 keys/s2.pem"]
 * </pre>
 *
 * <p>Guarantees: each record is {@code NAME TYPE VALUE} with a valid name (letters, digits,
 * hyphens and underscores in labels, RFC 2181 §11; for PTR an IP address), a type of TXT, A,
 * AAAA, MX or PTR, and a value that fits it (an address of the right family, a host name); a
 * TXT value may be written bare or as zone-file quoted strings, which are joined (RFC 7208 §3.3).
 * A DKIM key is {@code DOMAIN SELECTOR KEY-FILE}, the file relative to the configuration file's
 * folder, read when the server starts (not here): its public half is published. Every problem is reported at its line;
 * unknown keys are refused.
 */
final class CaptureSection {
  /** faults, tarpit and rate-limit script SMTP faults: dev.posta.CaptureFile reads them, since their types are the SMTP sessions'. */
  static final List<String> KEYS = List.of("dns", "faults", "tarpit", "rate-limit");
  static final List<String> DNS_KEYS = List.of("records", "dkim-keys");

  /** A DNS label as records name them: letters, digits, hyphens, and the underscore of _dmarc and _domainkey. */
  private static final Pattern LABEL = Pattern.compile("[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?");
  private static final Pattern SELECTOR =
      Pattern.compile("[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*");

  private final TableReader reader;
  private final String file;

  CaptureSection(TableReader reader, String file) {
    this.reader = reader;
    this.file = file;
  }

  PostaConfig.Capture.Zone read(Table root) {
    Table capture = reader.get(root, "", "capture", Table.class).orElse(null);
    if (capture == null) return PostaConfig.Capture.Zone.EMPTY;
    reader.unknownKeys(capture, "in [capture]", KEYS);
    Table dns = reader.get(capture, "capture", "dns", Table.class).orElse(null);
    if (dns == null) return PostaConfig.Capture.Zone.EMPTY;
    reader.unknownKeys(dns, "in [capture.dns]", DNS_KEYS);
    List<ZoneRecord> records = new ArrayList<>();
    for (Str s : reader.strings(dns, "capture.dns", "records")) {
      record(s).ifPresent(records::add);
    }
    List<ZoneKey> keys = new ArrayList<>();
    for (Str s : reader.strings(dns, "capture.dns", "dkim-keys")) {
      key(s).ifPresent(keys::add);
    }
    return new PostaConfig.Capture.Zone(records, keys);
  }

  /** One {@code DOMAIN SELECTOR KEY-FILE} entry, or empty with its problem reported. */
  private Optional<ZoneKey> key(Str s) {
    String path = "capture.dns.dkim-keys";
    String[] parts = s.value().strip().split("[ \t]+", 3);
    if (parts.length < 3) {
      reader.problem(s.line(), path + ": '" + s.value() + "': expected DOMAIN SELECTOR KEY-FILE, like \"example.com s1 keys/s1.pem\"");
      return Optional.empty();
    }
    Optional<String> domain = reader.valid(s.line(), path, () -> domainName(parts[0], "domain name"));
    String selector = parts[1].toLowerCase(Locale.ROOT);
    if (!SELECTOR.matcher(selector).matches() || selector.length() > 253) {
      reader.problem(s.line(), path + ": '" + parts[1] + "' is not a selector (letters, digits and hyphens, labels separated by dots)");
      return Optional.empty();
    }
    Optional<java.nio.file.Path> file = reader.path(new Str(parts[2], s.line()), path);
    if (domain.isEmpty() || file.isEmpty()) return Optional.empty();
    return Optional.of(new ZoneKey(domain.get(), selector, file.get(), this.file + ":" + s.line()));
  }

  /** One {@code NAME TYPE VALUE} line, or empty with its problem reported. */
  private Optional<ZoneRecord> record(Str s) {
    String path = "capture.dns.records";
    String[] parts = s.value().strip().split("[ \t]+", 3);
    if (parts.length < 3) {
      reader.problem(s.line(), path + ": '" + s.value() + "': expected NAME TYPE VALUE, like \"example.com TXT v=spf1 ip4:127.0.0.1 -all\"");
      return Optional.empty();
    }
    try {
      return Optional.of(zoneRecord(parts[0], parts[1], parts[2], file + ":" + s.line()));
    } catch (IllegalArgumentException e) {
      reader.problem(s.line(), path + ": " + e.getMessage());
      return Optional.empty();
    }
  }

  /**
   * A record of the test zone from its three parts, checked and normalised as the class comment
   * says ({@link PostaConfig.Capture.ZoneRecord#of} for code).
   *
   * @throws IllegalArgumentException saying what is wrong with it
   */
  static ZoneRecord zoneRecord(String rawName, String rawType, String rawValue, String origin) {
    RecordType type;
    try {
      type = RecordType.valueOf(rawType.strip().toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("'" + rawType + "' is not a record type the test zone holds (TXT, A, AAAA, MX, PTR)");
    }
    String name = stripDot(rawName.strip()).toLowerCase(Locale.ROOT);
    String value = rawValue.strip();
    if (type == RecordType.PTR) {
      InetAddress address = literal(name);
      if (address == null) throw new IllegalArgumentException("a PTR record is named by its address (127.0.0.1, ::1), got '" + rawName + "'");
      name = address.getHostAddress();
    } else if (!isDnsName(name)) {
      throw new IllegalArgumentException("'" + rawName + "' is not a DNS name");
    }
    switch (type) {
      case TXT -> {
        String joined = txt(value);
        if (joined == null) throw new IllegalArgumentException(rawName + " TXT: unbalanced quotes in " + value);
        value = joined;
      }
      case A, AAAA -> {
        InetAddress address = literal(value);
        if (address == null || (address instanceof Inet4Address) != (type == RecordType.A)) {
          throw new IllegalArgumentException(rawName + " " + type + ": '" + value + "' is not an " + (type == RecordType.A ? "IPv4" : "IPv6") + " address");
        }
        value = address.getHostAddress();
      }
      case MX, PTR -> {
        // An MX record as a zone file writes it has the preference first: "10 mail.example.com".
        String host = type == RecordType.MX ? value.replaceFirst("^[0-9]+[ \t]+", "") : value;
        host = stripDot(host).toLowerCase(Locale.ROOT);
        if (!isDnsName(host)) throw new IllegalArgumentException(rawName + " " + type + ": '" + value + "' is not a host name");
        value = host;
      }
    }
    return new ZoneRecord(name, type, value, origin);
  }

  /** A TXT value: bare text as it is, or zone-file quoted strings ({@code "a" "b"}) joined; null for unbalanced quotes. */
  static String txt(String value) {
    if (!value.startsWith("\"")) return value;
    StringBuilder joined = new StringBuilder();
    int i = 0;
    while (i < value.length()) {
      char c = value.charAt(i);
      if (c == ' ' || c == '\t') {
        i++;
        continue;
      }
      if (c != '"') return null;
      int j = i + 1;
      while (j < value.length() && value.charAt(j) != '"') {
        if (value.charAt(j) == '\\' && j + 1 < value.length()) j++;
        joined.append(value.charAt(j));
        j++;
      }
      if (j >= value.length()) return null;
      i = j + 1;
    }
    return joined.toString();
  }

  private static boolean isDnsName(String name) {
    if (name.isEmpty() || name.length() > 253) return false;
    for (String label : name.split("\\.", -1)) {
      if (!LABEL.matcher(label).matches()) return false;
    }
    return true;
  }

  private static InetAddress literal(String text) {
    try {
      return InetAddress.ofLiteral(text.startsWith("[") && text.endsWith("]") ? text.substring(1, text.length() - 1) : text);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static String stripDot(String name) {
    return name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
  }
}
