package dev.posta.mailauth.spf;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.posta.dns.DnsRecords;
import dev.posta.mailauth.spf.SpfRecord.Directive;
import java.net.InetAddress;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;

/**
 * Fuzzes what a hostile domain controls: its SPF record, and the sender and address it sends
 * with. The parser never throws, a record it accepts says the same when written back from its
 * terms, and a whole check against a DNS that serves the fuzzed record at every name (so include
 * and redirect recurse into it until the limits stop them) gives a well-formed verdict: a reason
 * of printable US-ASCII, an explanation with a fail only, printable and short. Runs in the
 * "fuzz" surefire execution with the other Jazzer tests; its seed inputs are kept in
 * {@code SpfFuzzTestInputs/}.
 */
class SpfFuzzTest {
  private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC);

  @FuzzTest(maxDuration = "30s")
  void recordParserNeverThrowsAndValidRecordsReparse(FuzzedDataProvider data) {
    String text = data.consumeRemainingAsString();
    Parsed<SpfRecord> parsed = SpfRecordParser.parse(text);
    assertThat(SpfRecordParser.parse(text)).isEqualTo(parsed);
    switch (parsed) {
      case Parsed.Invalid<SpfRecord> bad -> assertThat(bad.reason()).isNotBlank().matches("[\\x20-\\x7e]*");
      case Parsed.Valid<SpfRecord> valid -> {
        SpfRecord record = valid.value();
        StringBuilder again = new StringBuilder("v=spf1");
        for (Directive d : record.directives()) again.append(' ').append(d.term());
        if (record.redirect() != null) again.append(" redirect=").append(record.redirect().text());
        if (record.explanation() != null) again.append(" exp=").append(record.explanation().text());
        assertThat(SpfRecordParser.parse(again.toString())).isEqualTo(parsed);
      }
    }
  }

  /** Input: the record, then optionally a line with the reverse-path and a line with the client address. */
  @FuzzTest(maxDuration = "30s")
  void checkNeverThrowsAndVerdictsAreWellFormed(FuzzedDataProvider data) {
    String[] lines = data.consumeRemainingAsString().split("\n", 3);
    String record = lines[0];
    String sender = lines.length > 1 ? lines[1] : "alice@example.com";
    InetAddress client = InetAddress.ofLiteral(lines.length > 2 && lines[2].contains(":") ? "2001:db8::25" : "192.0.2.25");
    SpfCheck check = new SpfCheck(new Everywhere(record, client), CLOCK, "mx.posta.test");
    wellFormed(check.checkMailFrom(client, sender, "helo.example.com"));
    wellFormed(check.checkHelo(client, sender));
  }

  private static void wellFormed(SpfVerdict v) {
    assertThat(v.reason()).isNotBlank().matches("[\\x20-\\x7e]*");
    if (v.result() == SpfResult.FAIL) {
      assertThat(v.explanation()).matches("[\\x20-\\x7e]*").hasSizeLessThanOrEqualTo(SpfCheck.MAX_EXPLANATION);
    } else {
      assertThat(v.explanation()).isNull();
    }
  }

  /**
   * A DNS where every name has the fuzzed record (but names beginning with x, which do not
   * exist, with y, which time out, and with z, which have a second SPF record), and what else a
   * name has depends on its first letter: addresses that hold the client or not, nothing, a
   * failure; MX and PTR names that lead back into it.
   */
  private record Everywhere(String record, InetAddress client) implements DnsRecords {
    @Override
    public Answer<String> txt(String name) {
      return switch (Character.toLowerCase(name.charAt(0))) {
        case 'x' -> new NoRecords<>(true);
        case 'y' -> new Failure<>("timed out");
        case 'z' -> new Records<>(List.of(record, "v=spf1 redirect=" + name));
        default -> new Records<>(List.of("site-verification=1", record));
      };
    }

    @Override
    public Answer<InetAddress> a(String name) {
      return addresses(name);
    }

    @Override
    public Answer<InetAddress> aaaa(String name) {
      return addresses(name);
    }

    private Answer<InetAddress> addresses(String name) {
      return switch (kind(name)) {
        case 0 -> new NoRecords<>(false);
        case 1 -> new Failure<>("timed out");
        case 2 -> new Records<>(List.of(client));
        default -> new Records<>(List.of(InetAddress.ofLiteral("198.51.100.1"), InetAddress.ofLiteral("2001:db8::1")));
      };
    }

    @Override
    public Answer<String> mx(String name) {
      return kind(name) == 1 ? new Failure<>("timed out") : new Records<>(List.of("", "mx." + name, name));
    }

    @Override
    public Answer<String> ptr(InetAddress address) {
      return new Records<>(List.of("host.example.com", "c.example.net", "b.example.org", "a" + "x".repeat(70) + ".example"));
    }

    private static int kind(String name) {
      return name.isEmpty() ? 0 : Character.toLowerCase(name.charAt(0)) % 4;
    }
  }
}
