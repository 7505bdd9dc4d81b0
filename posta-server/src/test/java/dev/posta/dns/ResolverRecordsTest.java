package dev.posta.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.dns.DnsRecords.Answer;
import dev.posta.dns.DnsRecords.Failure;
import dev.posta.dns.DnsRecords.NoRecords;
import dev.posta.dns.DnsRecords.Records;
import dev.posta.testing.Dnsmasq;
import java.net.DatagramSocket;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The sender-authentication lookups against a real DNS server (dnsmasq on loopback). */
class ResolverRecordsTest {
  static final Duration TIMEOUT = Duration.ofSeconds(2);

  @TempDir static Path sharedDir;
  /** Read-only cases share one server; each gets fresh records, so no case sees another's cache. */
  static Dnsmasq dns;

  @BeforeAll
  static void startDns() {
    dns = Dnsmasq.start(sharedDir, z -> z
        .txt("example.test", "v=spf1 -all")
        .txt("split.test", "v=spf1 ip4:192.0.2.1", " ip4:192.0.2.2", " -all")
        .txt("two.test", "first").txt("two.test", "second")
        .cname("alias.test", "example.test")
        .a("host.example.test", "192.0.2.1").a("host.example.test", "192.0.2.2")
        .aaaa("host.example.test", "2001:db8::1")
        .mx("example.test", "mx1.example.test", 10).mx("example.test", "mx2.example.test", 20)
        .ptr("192.0.2.1", "host.example.test")
        .ptr("2001:db8::1", "host6.example.test")
        .servfail("broken.test"));
  }

  @AfterAll
  static void stopDns() {
    if (dns != null) dns.close();
  }

  static ResolverRecords records() {
    return new ResolverRecords(List.of(dns.address()), TIMEOUT);
  }

  static InetAddress ip(String literal) {
    return InetAddress.ofLiteral(literal);
  }

  /** An IPv4-mapped IPv6 address as an Inet6Address (the JDK's parser would make it an Inet4Address). */
  static InetAddress mapped(String ipv4) {
    byte[] v4 = ip(ipv4).getAddress();
    byte[] v6 = new byte[16];
    v6[10] = (byte) 0xff;
    v6[11] = (byte) 0xff;
    System.arraycopy(v4, 0, v6, 12, 4);
    try {
      return Inet6Address.getByAddress(null, v6, -1);
    } catch (java.net.UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  static Stream<Arguments> answers() {
    return Stream.of(
        Arguments.of("TXT example.test", (Function<DnsRecords, Answer<?>>) r -> r.txt("example.test"), new Records<>(List.of("v=spf1 -all"))),
        // RFC 7208 §3.3: the character-strings of one record are joined without spaces.
        Arguments.of("TXT split.test", (Function<DnsRecords, Answer<?>>) r -> r.txt("split.test"),
            new Records<>(List.of("v=spf1 ip4:192.0.2.1 ip4:192.0.2.2 -all"))),
        Arguments.of("TXT alias.test (CNAME)", (Function<DnsRecords, Answer<?>>) r -> r.txt("alias.test"), new Records<>(List.of("v=spf1 -all"))),
        Arguments.of("TXT trailing dot", (Function<DnsRecords, Answer<?>>) r -> r.txt("example.test."), new Records<>(List.of("v=spf1 -all"))),
        Arguments.of("A", (Function<DnsRecords, Answer<?>>) r -> r.a("host.example.test"), new Records<>(List.of(ip("192.0.2.1"), ip("192.0.2.2")))),
        Arguments.of("AAAA", (Function<DnsRecords, Answer<?>>) r -> r.aaaa("host.example.test"), new Records<>(List.of(ip("2001:db8::1")))),
        Arguments.of("PTR v4", (Function<DnsRecords, Answer<?>>) r -> r.ptr(ip("192.0.2.1")), new Records<>(List.of("host.example.test"))),
        Arguments.of("PTR v6", (Function<DnsRecords, Answer<?>>) r -> r.ptr(ip("2001:db8::1")), new Records<>(List.of("host6.example.test"))),
        Arguments.of("PTR v4-mapped v6", (Function<DnsRecords, Answer<?>>) r -> r.ptr(mapped("192.0.2.1")), new Records<>(List.of("host.example.test"))),
        Arguments.of("NXDOMAIN", (Function<DnsRecords, Answer<?>>) r -> r.txt("nope.test"), new NoRecords<>(true)),
        Arguments.of("NXDOMAIN under an existing name", (Function<DnsRecords, Answer<?>>) r -> r.a("nope.example.test"), new NoRecords<>(true)),
        Arguments.of("NODATA TXT", (Function<DnsRecords, Answer<?>>) r -> r.txt("host.example.test"), new NoRecords<>(false)),
        Arguments.of("NODATA AAAA", (Function<DnsRecords, Answer<?>>) r -> r.aaaa("example.test"), new NoRecords<>(false)),
        Arguments.of("NODATA MX", (Function<DnsRecords, Answer<?>>) r -> r.mx("host.example.test"), new NoRecords<>(false)),
        Arguments.of("no PTR", (Function<DnsRecords, Answer<?>>) r -> r.ptr(ip("192.0.2.99")), new NoRecords<>(true)),
        Arguments.of("SERVFAIL", (Function<DnsRecords, Answer<?>>) r -> r.txt("broken.test"), new Failure<>("DNS lookup of TXT for broken.test failed: SERVFAIL")),
        // Names DNS cannot carry: nothing is there, and nothing is asked.
        Arguments.of("empty label", (Function<DnsRecords, Answer<?>>) r -> r.a("a..example.test"), new NoRecords<>(true)),
        Arguments.of("label of 64", (Function<DnsRecords, Answer<?>>) r -> r.a("a".repeat(64) + ".test"), new NoRecords<>(true)),
        Arguments.of("empty name", (Function<DnsRecords, Answer<?>>) r -> r.txt(""), new NoRecords<>(true)));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("answers")
  void answers(String question, Function<DnsRecords, Answer<?>> ask, Answer<?> expected) {
    assertThat(ask.apply(records())).isEqualTo(expected);
  }

  /** Several TXT records (and MX records) come in the server's order, which is not the zone's: only the set is fixed. */
  @Test
  void everyRecordOfASetIsGiven() {
    ResolverRecords records = records();
    assertThat(((Records<String>) records.txt("two.test")).records()).containsExactlyInAnyOrder("first", "second");
    assertThat(((Records<String>) records.mx("example.test")).records()).containsExactlyInAnyOrder("mx1.example.test", "mx2.example.test");
  }

  @Test
  void aServerThatNeverAnswersIsAFailureWithinTheTimeout() throws Exception {
    try (DatagramSocket silent = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
      Duration timeout = Duration.ofSeconds(1);
      ResolverRecords records = new ResolverRecords(List.of("127.0.0.1:" + silent.getLocalPort()), timeout);
      long start = System.nanoTime();
      Answer<String> answer = records.txt("example.test");
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      assertThat(answer).isEqualTo(new Failure<>("DNS lookup of TXT for example.test failed: timed out"));
      assertThat(took).isBetween(timeout.minusMillis(100), timeout.plusMillis(500));
    }
  }

  @Test
  void positiveAndNegativeAnswersComeFromTheCacheFailuresNever(@TempDir Path dir) throws Exception {
    try (Dnsmasq own = Dnsmasq.start(dir, z -> z.ttl(300).txt("example.test", "v=spf1 -all").a("host.example.test", "192.0.2.1")
        .ptr("192.0.2.1", "host.example.test").servfail("broken.test"))) {
      ResolverRecords records = new ResolverRecords(List.of(own.address()), TIMEOUT);
      List<Function<ResolverRecords, Answer<?>>> questions = List.of(
          r -> r.txt("example.test"), r -> r.a("host.example.test"), r -> r.ptr(ip("192.0.2.1")),
          r -> r.txt("nope.test"), r -> r.aaaa("host.example.test"));
      List<Answer<?>> before = questions.stream().<Answer<?>>map(q -> q.apply(records)).toList();
      assertThat(before).containsExactly(
          new Records<>(List.of("v=spf1 -all")), new Records<>(List.of(ip("192.0.2.1"))), new Records<>(List.of("host.example.test")),
          new NoRecords<>(true), new NoRecords<>(false));
      assertThat(records.txt("broken.test")).isEqualTo(new Failure<>("DNS lookup of TXT for broken.test failed: SERVFAIL"));
      assertThat(records.txt("broken.test")).isEqualTo(new Failure<>("DNS lookup of TXT for broken.test failed: SERVFAIL"));
      // Two SERVFAILs asked twice: the first was not cached.
      assertThat(MxResolverTest.linesLogged(dir, "query[TXT] broken.test", 2)).isEqualTo(2);

      own.stop();

      assertThat(questions.stream().<Answer<?>>map(q -> q.apply(records)).toList()).isEqualTo(before);
      assertThat(records.txt("other.test")).isInstanceOf(Failure.class);
    }
  }

  /**
   * The cache-only view answers what the cache holds, as the records themselves would, and
   * throws NotCached for the rest at once, asking no server: before any question, for a failure
   * (never cached), and for a name never asked.
   */
  @Test
  void theCacheOnlyViewAnswersFromTheCacheAndAsksNothing(@TempDir Path dir) throws Exception {
    try (Dnsmasq own = Dnsmasq.start(dir, z -> z.ttl(300).txt("example.test", "v=spf1 -all").a("host.example.test", "192.0.2.1")
        .servfail("broken.test"))) {
      ResolverRecords records = new ResolverRecords(List.of(own.address()), TIMEOUT);
      DnsRecords cached = records.cachedOnly();
      assertThat(cached).isNotNull().isNotSameAs(records);
      assertThat(cached.cachedOnly()).isSameAs(cached);
      List<Function<DnsRecords, Answer<?>>> questions = List.of(
          r -> r.txt("example.test"), r -> r.a("host.example.test"), r -> r.txt("nope.test"), r -> r.aaaa("host.example.test"),
          r -> r.txt("broken.test"));
      long queries = MxResolverTest.linesLogged(dir, "query[", 0);
      for (var q : questions) assertThatThrownBy(() -> q.apply(cached)).isInstanceOf(DnsRecords.NotCached.class);
      Thread.sleep(100);
      assertThat(MxResolverTest.linesLogged(dir, "query[", 0)).isEqualTo(queries);
      List<Answer<?>> asked = questions.stream().<Answer<?>>map(q -> q.apply(records)).toList();
      assertThat(asked.getLast()).isInstanceOf(Failure.class);
      for (int i = 0; i < questions.size() - 1; i++) assertThat(questions.get(i).apply(cached)).isEqualTo(asked.get(i));
      assertThatThrownBy(() -> cached.txt("broken.test")).isInstanceOf(DnsRecords.NotCached.class);
      assertThatThrownBy(() -> cached.a("other.example.test")).isInstanceOf(DnsRecords.NotCached.class);
      // Names DNS cannot carry have nothing, cached or not.
      assertThat(cached.txt("a..b")).isEqualTo(new NoRecords<>(true));
    }
  }

  /** One DnsResolver for delivery and the checks: what one asked, the other finds in the shared cache. */
  @Test
  void mxResolverAndRecordsShareOneCache(@TempDir Path dir) {
    try (Dnsmasq own = Dnsmasq.start(dir, z -> z.ttl(300).mx("example.test", "mx1.example.test", 10).a("mx1.example.test", "192.0.2.1"))) {
      DnsResolver resolver = new DnsResolver(List.of(own.address()), TIMEOUT);
      MxResolver mx = new MxResolver(resolver);
      ResolverRecords records = new ResolverRecords(resolver);
      assertThat(mx.resolve("example.test")).isInstanceOf(MxResolver.Hosts.class);
      own.stop();
      assertThat(records.mx("example.test")).isEqualTo(new Records<>(List.of("mx1.example.test")));
      assertThat(records.a("mx1.example.test")).isEqualTo(new Records<>(List.of(ip("192.0.2.1"))));
    }
  }
}
