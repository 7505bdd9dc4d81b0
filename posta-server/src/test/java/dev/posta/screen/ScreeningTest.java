package dev.posta.screen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.Network;
import dev.posta.config.PostaConfig;
import dev.posta.config.PostaConfig.Protocol;
import dev.posta.config.PostaConfig.Screen.Code;
import dev.posta.config.PostaConfig.Screen.DnsList;
import dev.posta.dns.MemoryZone;
import dev.posta.testing.MutableClock;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The pure parts of screening: query names, answer codes, TXT text, the verdict's sums, the early-talker memory. */
class ScreeningTest {

  @ParameterizedTest(name = "{0} in {1} is asked at {2}")
  @CsvSource({
      // RFC 5782 §5 test points, IPv4 and IPv6 (§2.4: 32 nibbles, reversed).
      "127.0.0.2, bl.example, 2.0.0.127.bl.example",
      "192.0.2.99, zen.example.org, 99.2.0.192.zen.example.org",
      "::FFFF:7F00:2, bl.example, 2.0.0.127.bl.example", // IPv4-mapped: asked as the IPv4 address
      "::1, bl.example, 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.bl.example",
      "2001:DB8:1:2::AB, bl.example, b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example",
  })
  void theQueryNameIsTheReversedAddressUnderTheZone(String address, String zone, String name) throws Exception {
    assertThat(DnsListName.of(InetAddress.getByName(address), zone)).isEqualTo(name);
  }

  @ParameterizedTest(name = "{1} answered, codes {0}: counts {2}")
  @CsvSource(delimiter = '|', value = {
      "                        | 127.0.0.2       | true",
      "                        | 127.0.0.10      | true",
      "                        | 127.255.255.254 | false", // a list's error code (a query through a public resolver)
      "                        | 10.0.0.2        | false", // RFC 5782 §2.1: not in 127/8, not an answer
      "                        | 127.0.0.255     | false", // dnswl.org's "query limit reached": it would allowlist everyone
      "                        | 127.0.10.255    | false",
      "                        | 127.0.10.3      | true",  // dnswl.org: category 10, trust 3
      "127.0.0.2               | 127.0.0.2       | true",
      "127.0.0.2               | 127.0.0.3       | false",
      "127.0.0.2;127.0.0.4-11  | 127.0.0.4       | true",
      "127.0.0.2;127.0.0.4-11  | 127.0.0.11      | true",
      "127.0.0.2;127.0.0.4-11  | 127.0.0.12      | false",
      "127.0.0-255.1-3         | 127.0.15.3      | true",
      "127.0.0-255.1-3         | 127.0.15.0      | false",
      "127.0.0-255.1-3         | 127.1.15.1      | false",
  })
  void anAnswerCountsWhenACodeMatchesIt(String codes, String answer, boolean counts) throws Exception {
    List<Code> parsed = codes == null ? List.of() : java.util.Arrays.stream(codes.split(";")).map(Code::parse).toList();
    assertThat(new DnsList("bl.example", 1, parsed).counts(InetAddress.getByName(answer))).isEqualTo(counts);
  }

  @Test
  void aCodeIsFourOctetsOrRangesIn127() {
    assertThat(Code.parse("127.0.0.4-11")).isEqualTo(new Code("127.0.0.4-11", 0x7f000004, 0x7f00000b));
    for (String bad : List.of("127.0.0", "127.0.0.2.1", "127.0.0.x", "127.0.0.256", "127.0.0.5-4", "10.0.0.2", "127.0.0.-1", "127.0.0.2 ")) {
      assertThatThrownBy(() -> Code.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'" + bad + "'");
    }
  }

  @Test
  void listTextIsPrintableAscii() {
    String[][] rows = {
        {"Listed; see https://bl.example/q?ip=192.0.2.1", "Listed; see https://bl.example/q?ip=192.0.2.1"},
        {"  two   spaces\tand a tab  ", "two spaces and a tab"},
        {"a\r\n554 injected", "a 554 injected"}, // CR LF can't start a reply line of the list's making
        {"caf\u00e9\u0000\u007fbar", "caf bar"}, // non-ASCII and controls: one space
        {"\u00e9\u00e9", ""},
    };
    for (String[] row : rows) assertThat(ListText.sanitize(row[0])).as(row[0]).isEqualTo(row[1]);
  }

  @Test
  void listTextIsBounded() {
    assertThat(ListText.sanitize("x".repeat(1000))).hasSize(ListText.MAX);
    assertThat(ListText.sanitize("a ".repeat(1000))).hasSize(ListText.MAX - 1).endsWith("a a"); // no space where the next word would not fit
  }

  private static PostaConfig.Screen screen(Duration greetWait, List<DnsList> bl, List<DnsList> wl, int threshold) {
    return new PostaConfig.Screen(Set.of(Protocol.SMTP), bl, wl, threshold, -1, greetWait, PostaConfig.Screen.LOOPBACK);
  }

  @Test
  void onlyTheNamedListenerKindsAndClientsOutsideTheSkippedNetworksAreScreened() throws Exception {
    var screening = new Screening(screen(Duration.ofSeconds(6), List.of(), List.of(), 1), null, java.time.Clock.systemUTC());
    assertThat(screening.screens(Protocol.SMTP, InetAddress.getByName("192.0.2.1"))).isTrue();
    assertThat(screening.screens(Protocol.SUBMISSION, InetAddress.getByName("192.0.2.1"))).isFalse();
    assertThat(screening.screens(Protocol.SMTP, InetAddress.getByName("127.0.0.2"))).isFalse();
    assertThat(screening.screens(Protocol.SMTP, InetAddress.getByName("::1"))).isFalse();
    assertThat(screening.screens(Protocol.SMTP, InetAddress.getByName("::ffff:127.0.0.1"))).isFalse();
    var none = new Screening(new PostaConfig.Screen(Set.of(Protocol.SMTP), List.of(), List.of(), 1, -1, Duration.ZERO, List.of()), null,
        java.time.Clock.systemUTC());
    assertThat(none.screens(Protocol.SMTP, InetAddress.getByName("127.0.0.1"))).isTrue();
  }

  @Test
  void theVerdictSumsTheWeightsOfTheListsThatListTheClient() throws Exception {
    InetAddress v4 = InetAddress.getByName("127.0.0.2");
    MemoryZone zone = MemoryZone.builder()
        .address("2.0.0.127.heavy.example", InetAddress.getByName("127.0.0.2")).txt("2.0.0.127.heavy.example", "Listed:\r\nsee heavy")
        .address("2.0.0.127.light.example", InetAddress.getByName("127.0.0.2"))
        .address("2.0.0.127.coded.example", InetAddress.getByName("127.0.0.9")) // not among its codes
        .address("2.0.0.127.wl.example", InetAddress.getByName("127.0.10.2"))
        .failing("2.0.0.127.down.example")
        .build();
    DnsList heavy = new DnsList("heavy.example", 2, List.of());
    DnsList light = new DnsList("light.example", 1, List.of());
    DnsList coded = new DnsList("coded.example", 5, List.of(Code.parse("127.0.0.2-3")));
    DnsList down = new DnsList("down.example", 5, List.of());
    DnsList wl = new DnsList("wl.example", -3, List.of());
    var clock = java.time.Clock.systemUTC();

    var blocked = new Screening(screen(Duration.ZERO, List.of(light, coded, down, heavy), List.of(), 3), zone, clock).lookUp(v4, "t").join();
    // light is listed first, but heavy's weight is what... both count; the first listing blocklist in order is named.
    assertThat(blocked).isEqualTo(new Screening.Verdict(3, List.of("light.example(1)", "heavy.example(2)"), "light.example", "", false));

    var named = new Screening(screen(Duration.ZERO, List.of(heavy, light), List.of(), 3), zone, clock).lookUp(v4, "t").join();
    assertThat(named.blockedBy()).isEqualTo("heavy.example");
    assertThat(named.text()).isEqualTo("Listed: see heavy");

    var below = new Screening(screen(Duration.ZERO, List.of(light, coded, down), List.of(), 2), zone, clock).lookUp(v4, "t").join();
    assertThat(below).isEqualTo(new Screening.Verdict(1, List.of("light.example(1)"), null, "", false));
    assertThat(below.blocked()).isFalse();

    var allowed = new Screening(screen(Duration.ZERO, List.of(heavy), List.of(wl), 1), zone, clock).lookUp(v4, "t").join();
    assertThat(allowed).isEqualTo(new Screening.Verdict(-1, List.of("heavy.example(2)", "wl.example(-3)"), null, "", true));

    var unlisted = new Screening(screen(Duration.ZERO, List.of(heavy), List.of(wl), 1), zone, clock)
        .lookUp(InetAddress.getByName("192.0.2.1"), "t").join();
    assertThat(unlisted).isEqualTo(Screening.Verdict.NONE);
  }

  @Test
  void aClientThatWaitedIsSparedTheWaitForADay() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-12-07T12:00:00Z"));
    var screening = new Screening(screen(Duration.ofSeconds(6), List.of(), List.of(), 1), null, clock);
    InetAddress client = InetAddress.getByName("192.0.2.7");
    assertThat(screening.greetWait(client)).isEqualTo(Duration.ofSeconds(6));
    screening.passedGreeting(client);
    assertThat(screening.greetWait(client)).isZero();
    assertThat(screening.greetWait(InetAddress.getByName("192.0.2.8"))).isEqualTo(Duration.ofSeconds(6));
    clock.advance(Screening.PASS_TTL.minusSeconds(1));
    assertThat(screening.greetWait(client)).isZero();
    clock.advance(Duration.ofSeconds(1));
    assertThat(screening.greetWait(client)).isEqualTo(Duration.ofSeconds(6));
    var off = new Screening(screen(Duration.ZERO, List.of(), List.of(), 1), null, clock);
    assertThat(off.greetWait(client)).isZero();
  }

  @Test
  void aResolverThatThrowsFailsOpenAndTheOtherListsStillCount() throws Exception {
    InetAddress v4 = InetAddress.getByName("127.0.0.2");
    MemoryZone zone = MemoryZone.builder().address("2.0.0.127.bl.example", InetAddress.getByName("127.0.0.2")).build();
    dev.posta.dns.DnsRecords throwing = new dev.posta.dns.DnsRecords() {
      @Override public Answer<String> txt(String name) { return zone.txt(name); }
      @Override public Answer<InetAddress> a(String name) {
        if (name.endsWith(".broken.example")) throw new IllegalStateException("resolver fault");
        return zone.a(name);
      }
      @Override public Answer<InetAddress> aaaa(String name) { return zone.aaaa(name); }
      @Override public Answer<String> mx(String name) { return zone.mx(name); }
      @Override public Answer<String> ptr(InetAddress address) { return zone.ptr(address); }
    };
    var verdict = new Screening(screen(Duration.ZERO, List.of(new DnsList("broken.example", 5, List.of()), new DnsList("bl.example", 1, List.of())),
        List.of(), 1), throwing, java.time.Clock.systemUTC()).lookUp(v4, "t").get(5, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(verdict).isEqualTo(new Screening.Verdict(1, List.of("bl.example(1)"), "bl.example", "", false));
    var allBroken = new Screening(screen(Duration.ZERO, List.of(new DnsList("broken.example", 5, List.of())), List.of(), 1), throwing,
        java.time.Clock.systemUTC()).lookUp(v4, "t").get(5, java.util.concurrent.TimeUnit.SECONDS);
    assertThat(allBroken).isEqualTo(Screening.Verdict.NONE);
  }

  @Test
  void aReloadKeepsTheClientsThatPassedAndAppliesTheNewSettings() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-12-07T12:00:00Z"));
    var screening = new Screening(screen(Duration.ofSeconds(6), List.of(), List.of(), 1), null, clock);
    InetAddress client = InetAddress.getByName("192.0.2.7");
    screening.passedGreeting(client);
    screening.reconfigure(screen(Duration.ofSeconds(3), List.of(), List.of(), 1), null);
    assertThat(screening.greetWait(client)).isZero();
    assertThat(screening.greetWait(InetAddress.getByName("192.0.2.8"))).isEqualTo(Duration.ofSeconds(3));
  }

  @Test
  void thePipeliningTestIsOnUnlessTurnedOffOrTheClientIsAllowlisted() {
    var allowlisted = new Screening.Verdict(-1, List.of("wl.example(-1)"), null, "", true);
    var on = new Screening(screen(Duration.ZERO, List.of(), List.of(), 1), null, java.time.Clock.systemUTC());
    assertThat(on.testsPipelining(Screening.Verdict.NONE)).isTrue();
    assertThat(on.testsPipelining(allowlisted)).isFalse();
    var s = screen(Duration.ZERO, List.of(), List.of(), 1);
    var off = new Screening(new PostaConfig.Screen(s.listeners(), s.dnsbl(), s.dnswl(), 1, -1, Duration.ZERO, s.skipNetworks(), false), null,
        java.time.Clock.systemUTC());
    assertThat(off.testsPipelining(Screening.Verdict.NONE)).isFalse();
  }

  @Test
  void theRefusalCutsTheListsTextToStayWithin512Octets() {
    String zone = String.join(".", "a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61)); // 253, the longest name
    String client = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    String text = ListText.sanitize("see ".repeat(100));
    var r = dev.posta.smtp.Replies.screenDnsbl(client, zone, text);
    // 10 + 29 + 39 + 16 + 253 + 2 + CRLF leave 161 characters of the text: the line is 512 octets.
    assertThat(r.toBytes()).hasSize(512);
    assertThat(r.toString()).endsWith(zone + "; " + text.substring(0, 161));
    assertThat(dev.posta.smtp.Replies.screenDnsbl("192.0.2.1", "bl.example", "Listed; see https://bl.example").toString())
        .isEqualTo("554 5.7.1 Service unavailable; client [192.0.2.1] blocked using bl.example; Listed; see https://bl.example");
    assertThat(dev.posta.smtp.Replies.screenDnsbl("192.0.2.1", "bl.example", "").toString())
        .isEqualTo("554 5.7.1 Service unavailable; client [192.0.2.1] blocked using bl.example");
  }
}
