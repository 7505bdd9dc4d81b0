package dev.posta.mailauth.spf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;

import dev.posta.testing.ZoneRecords;
import java.io.IOException;
import java.io.InputStream;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The RFC 7208 test suite of the SPF project (openspf.org, release 2014.04), as Debian's
 * python3-spf ships it, run against {@link SpfCheck}: every case a test of its own, named by its
 * scenario and case. The suite's zone data (timeouts, malformed records, CNAME loops) is served
 * by a {@link ZoneRecords}, read the way the suite's own driver (pyspf's testspf.py) reads it:
 * "SPF" records are served as TXT unless the name has a TXT entry of its own (even "NONE"), and a
 * TIMEOUT entry fails every question of a type with no record before it.
 *
 * <p>A case passes when the result is one of those the suite accepts and, where it gives an
 * explanation, the explanation is exactly that ("DEFAULT": the default explanation). Without the
 * suite file the test fails, saying what to install; it never skips.
 */
class SpfSuiteTest {
  static final Path SUITE = Path.of("/usr/share/doc/python3-spf/rfc7208-tests.yml.gz");

  @TestFactory
  Stream<DynamicNode> rfc7208Suite() throws IOException {
    if (!Files.isRegularFile(SUITE)) {
      fail("The RFC 7208 test suite is not at " + SUITE + ": install Debian's python3-spf (apt-get install python3-spf)");
    }
    List<DynamicNode> scenarios = new ArrayList<>();
    try (InputStream in = new GZIPInputStream(Files.newInputStream(SUITE))) {
      for (Object document : new Load(LoadSettings.builder().build()).loadAllFromInputStream(in)) {
        scenarios.add(scenario(map(document)));
      }
    }
    assertThat(scenarios).as("scenarios in " + SUITE).hasSizeGreaterThan(10);
    return scenarios.stream();
  }

  private static DynamicContainer scenario(Map<String, Object> document) {
    String description = (String) document.get("description");
    ZoneRecords zone = zone(map(document.get("zonedata")));
    List<DynamicTest> cases = new ArrayList<>();
    for (Map.Entry<String, Object> t : map(document.get("tests")).entrySet()) {
      String name = t.getKey();
      Map<String, Object> c = map(t.getValue());
      cases.add(DynamicTest.dynamicTest(description + ": " + name, () -> run(zone, c)));
    }
    assertThat(cases).as(description).isNotEmpty();
    return DynamicContainer.dynamicContainer(description, cases);
  }

  private static void run(ZoneRecords zone, Map<String, Object> c) {
    String host = (String) c.get("host");
    String mailFrom = (String) c.get("mailfrom");
    String helo = (String) c.get("helo");
    Set<String> accepted = new HashSet<>();
    if (c.get("result") instanceof List<?> results) results.forEach(r -> accepted.add((String) r));
    else accepted.add((String) c.get("result"));

    SpfCheck check = new SpfCheck(zone, Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC), "mx.posta.test");
    SpfVerdict verdict = check.checkMailFrom(InetAddress.ofLiteral(host), mailFrom, helo);

    assertThat(verdict.result().keyword()).as("result (%s)", verdict.reason()).isIn(accepted);
    if (c.get("explanation") instanceof String explanation && verdict.result() == SpfResult.FAIL) {
      String expected = explanation.equals("DEFAULT") ? defaultExplanation(host, mailFrom, helo) : explanation;
      assertThat(verdict.explanation()).as("explanation").isEqualTo(expected);
    }
  }

  /** The default explanation, "%{o} does not designate %{c} as a permitted sender", for the suite's IPv4 hosts. */
  private static String defaultExplanation(String host, String mailFrom, String helo) {
    InetAddress client = InetAddress.ofLiteral(host);
    if (!(client instanceof Inet4Address)) fail("a DEFAULT explanation for an IPv6 host: write its %{c} here");
    String domain = mailFrom.isEmpty() ? helo : mailFrom.substring(mailFrom.lastIndexOf('@') + 1);
    return domain + " does not designate " + client.getHostAddress() + " as a permitted sender";
  }

  /** The zone data as testspf.py reads it: SPF entries become TXT records unless the name lists a TXT entry. */
  private static ZoneRecords zone(Map<String, Object> zonedata) {
    ZoneRecords zone = new ZoneRecords();
    for (Map.Entry<String, Object> name : zonedata.entrySet()) {
      String owner = name.getKey();
      List<?> entries = (List<?>) name.getValue();
      boolean ownTxt = entries.stream().anyMatch(e -> e instanceof Map<?, ?> m && m.containsKey("TXT"));
      zone.exists(owner);
      List<Object> spf = new ArrayList<>();
      for (Object entry : entries) {
        if ("TIMEOUT".equals(entry)) {
          zone.timeout(owner);
          continue;
        }
        Map<String, Object> record = map(entry);
        if (record.size() != 1) fail("zone entry of " + owner + " with " + record.size() + " types: " + record);
        Map.Entry<String, Object> only = record.entrySet().iterator().next();
        Object value = only.getValue();
        switch (only.getKey().toUpperCase(Locale.ROOT)) {
          case "SPF" -> spf.add(value); // type 99 is asked no more (RFC 7208 §3.1): only as TXT
          case "TXT" -> {
            if (!"NONE".equals(value)) zone.txt(owner, strings(value));
          }
          case "A" -> zone.a(owner, (String) value);
          case "AAAA" -> zone.aaaa(owner, (String) value);
          case "MX" -> zone.mx(owner, (String) ((List<?>) value).get(1));
          case "PTR" -> zone.ptrAt(owner, (String) value);
          case "CNAME" -> zone.cname(owner, (String) value);
          default -> fail("zone entry type " + only.getKey() + " of " + owner + " is new to this test");
        }
      }
      if (!ownTxt) for (Object value : spf) zone.txt(owner, strings(value));
    }
    return zone;
  }

  /** A TXT value: one string, or a list of character-strings (possibly none). */
  private static String[] strings(Object value) {
    if (value instanceof String s) return new String[] {s};
    return ((List<?>) value).stream().map(String.class::cast).toArray(String[]::new);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o) {
    return (Map<String, Object>) o;
  }
}
