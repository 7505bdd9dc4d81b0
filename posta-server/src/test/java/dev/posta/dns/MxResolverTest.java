package dev.posta.dns;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.dns.MxResolver.Destination;
import dev.posta.dns.MxResolver.Hosts;
import dev.posta.dns.MxResolver.MxHost;
import dev.posta.dns.MxResolver.NoSuchDomain;
import dev.posta.dns.MxResolver.NullMx;
import dev.posta.dns.MxResolver.TemporaryFailure;
import dev.posta.testing.Dnsmasq;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** MX resolution against a real DNS server (dnsmasq on loopback) serving the records each case needs. */
class MxResolverTest {
  static final Duration TIMEOUT = Duration.ofSeconds(2);

  @TempDir static Path sharedDir;
  /** Read-only cases share one server; each gets a fresh resolver, so no case sees another's cache. */
  static Dnsmasq dns;

  @BeforeAll
  static void startDns() {
    dns = Dnsmasq.start(sharedDir, z -> z
        // Given worst first: the order must come from the preferences, not from the server.
        .mx("example.test", "mx2.example.test", 20).mx("example.test", "mx1.example.test", 10)
        .a("mx1.example.test", "192.0.2.1").a("mx2.example.test", "192.0.2.2")
        .mx("equal.test", "a.equal.test", 10).mx("equal.test", "b.equal.test", 10).mx("equal.test", "c.equal.test", 20)
        .a("a.equal.test", "192.0.2.11").a("b.equal.test", "192.0.2.12").a("c.equal.test", "192.0.2.13")
        .a("implicit.test", "192.0.2.3")
        .aaaa("implicit6.test", "2001:db8::3")
        .mx("dual.test", "mx.dual.test", 5).a("mx.dual.test", "192.0.2.4").aaaa("mx.dual.test", "2001:db8::4")
        .a("implicitdual.test", "192.0.2.5").aaaa("implicitdual.test", "2001:db8::5")
        .nullMx("nullmx.test")
        .nullMx("mixed.test").mx("mixed.test", "mx.mixed.test", 10).a("mx.mixed.test", "192.0.2.6")
        .mx("skip.test", "gone.skip.test", 10).mx("skip.test", "mx.skip.test", 20).a("mx.skip.test", "192.0.2.7")
        .mx("nowhere.test", "gone1.nowhere.test", 10).mx("nowhere.test", "gone2.nowhere.test", 20)
        .txt("txtonly.test", "v=spf1 -all")
        .mx("twice.test", "mx.twice.test", 30).mx("twice.test", "mx.twice.test", 10).a("mx.twice.test", "192.0.2.8")
        .servfail("broken.test")
        .mx("halfbroken.test", "mx.broken.test", 10).mx("halfbroken.test", "mx.halfbroken.test", 20).a("mx.halfbroken.test", "192.0.2.9")
        .mx("allbroken.test", "mx.broken.test", 10)
        .mx("brokenandgone.test", "mx.broken.test", 10).mx("brokenandgone.test", "gone.brokenandgone.test", 20));
  }

  @AfterAll
  static void stopDns() {
    if (dns != null) dns.close();
  }

  static MxResolver resolver() {
    return new MxResolver(List.of(dns.address()), TIMEOUT);
  }

  static InetAddress ip(String literal) {
    try {
      return InetAddress.getByName(literal);
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }

  static MxHost host(String name, int preference, String... addresses) {
    return new MxHost(name, preference, Stream.of(addresses).map(MxResolverTest::ip).toList());
  }

  static Stream<Arguments> destinations() {
    return Stream.of(
        Arguments.of("example.test", new Hosts(List.of(host("mx1.example.test", 10, "192.0.2.1"), host("mx2.example.test", 20, "192.0.2.2")), false)),
        Arguments.of("implicit.test", new Hosts(List.of(host("implicit.test", 0, "192.0.2.3")), true)),
        Arguments.of("implicit6.test", new Hosts(List.of(host("implicit6.test", 0, "2001:db8::3")), true)),
        Arguments.of("dual.test", new Hosts(List.of(host("mx.dual.test", 5, "2001:db8::4", "192.0.2.4")), false)),
        Arguments.of("implicitdual.test", new Hosts(List.of(host("implicitdual.test", 0, "2001:db8::5", "192.0.2.5")), true)),
        Arguments.of("nullmx.test", new NullMx()),
        // A null MX among real ones (forbidden by RFC 7505 §3) is ignored, the real ones used.
        Arguments.of("mixed.test", new Hosts(List.of(host("mx.mixed.test", 10, "192.0.2.6")), false)),
        Arguments.of("nope.test", new NoSuchDomain("no such domain (NXDOMAIN)")),
        Arguments.of("nope.example.test", new NoSuchDomain("no such domain (NXDOMAIN)")),
        Arguments.of("txtonly.test", new NoSuchDomain("no MX, A or AAAA records")),
        Arguments.of("skip.test", new Hosts(List.of(host("mx.skip.test", 20, "192.0.2.7")), false)),
        Arguments.of("nowhere.test", new NoSuchDomain("MX hosts have no addresses")),
        // A host listed twice is tried once, at its best preference.
        Arguments.of("twice.test", new Hosts(List.of(host("mx.twice.test", 10, "192.0.2.8")), false)),
        Arguments.of("broken.test", new TemporaryFailure("DNS lookup of MX for broken.test failed: SERVFAIL")),
        Arguments.of("halfbroken.test", new Hosts(List.of(host("mx.halfbroken.test", 20, "192.0.2.9")), false)),
        Arguments.of("allbroken.test", new TemporaryFailure("no MX host of allbroken.test has addresses; DNS lookup of AAAA for mx.broken.test failed: SERVFAIL")),
        // One host failed temporarily, the other has no addresses: it may work later, so try again.
        Arguments.of("brokenandgone.test", new TemporaryFailure("no MX host of brokenandgone.test has addresses; DNS lookup of AAAA for mx.broken.test failed: SERVFAIL")),
        // A trailing dot changes nothing: every name is absolute anyway.
        Arguments.of("implicit.test.", new Hosts(List.of(host("implicit.test", 0, "192.0.2.3")), true)),
        Arguments.of("not..valid", new NoSuchDomain("not a valid domain name: not..valid")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("destinations")
  void resolves(String domain, Destination expected) {
    assertThat(resolver().resolve(domain)).isEqualTo(expected);
  }

  @Test
  void equalPreferencesAreShuffledWorseStayLast() {
    MxResolver resolver = resolver(); // answers come from its cache after the first: the shuffle is per resolve
    Set<List<String>> orders = new HashSet<>();
    for (int i = 0; i < 64; i++) {
      Hosts hosts = (Hosts) resolver.resolve("equal.test");
      orders.add(hosts.hosts().stream().map(MxHost::name).toList());
      assertThat(hosts.hosts()).extracting(MxHost::preference).containsExactly(10, 10, 20);
    }
    // 64 fair coin flips all alike: 2^-63.
    assertThat(orders).containsExactlyInAnyOrder(
        List.of("a.equal.test", "b.equal.test", "c.equal.test"),
        List.of("b.equal.test", "a.equal.test", "c.equal.test"));
  }

  @Test
  void answersComeFromTheCacheAfterTheServerStops(@TempDir Path dir) {
    try (Dnsmasq own = Dnsmasq.start(dir, z -> z.ttl(300)
        .mx("example.test", "mx1.example.test", 10).a("mx1.example.test", "192.0.2.1").aaaa("mx1.example.test", "2001:db8::1")
        .a("implicit.test", "192.0.2.3")
        .mx("skip.test", "gone.skip.test", 10).mx("skip.test", "mx.skip.test", 20).a("mx.skip.test", "192.0.2.7"))) {
      MxResolver resolver = new MxResolver(List.of(own.address()), TIMEOUT);
      List<String> domains = List.of("example.test", "implicit.test", "skip.test", "nope.test");
      List<Destination> before = domains.stream().map(resolver::resolve).toList();
      assertThat(before).containsExactly(
          new Hosts(List.of(host("mx1.example.test", 10, "2001:db8::1", "192.0.2.1")), false),
          new Hosts(List.of(host("implicit.test", 0, "192.0.2.3")), true),
          new Hosts(List.of(host("mx.skip.test", 20, "192.0.2.7")), false),
          new NoSuchDomain("no such domain (NXDOMAIN)"));

      own.stop();

      // Positive and negative answers (NODATA for implicit.test's MX, NXDOMAIN for gone.skip.test
      // and nope.test) all come from the cache...
      assertThat(domains.stream().map(resolver::resolve).toList()).isEqualTo(before);
      // ...and only from it: a question not asked before finds no server.
      assertThat(resolver.resolve("other.test")).isInstanceOf(TemporaryFailure.class);
    }
  }

  @Test
  void answersWithTtlZeroAreNotCached(@TempDir Path dir) {
    try (Dnsmasq own = Dnsmasq.start(dir, z -> z.ttl(0).a("implicit.test", "192.0.2.3"))) {
      MxResolver resolver = new MxResolver(List.of(own.address()), TIMEOUT);
      assertThat(resolver.resolve("implicit.test")).isEqualTo(new Hosts(List.of(host("implicit.test", 0, "192.0.2.3")), true));
      assertThat(resolver.resolve("nope.test")).isEqualTo(new NoSuchDomain("no such domain (NXDOMAIN)"));
      own.stop();
      assertThat(resolver.resolve("implicit.test")).isInstanceOf(TemporaryFailure.class);
      assertThat(resolver.resolve("nope.test")).isInstanceOf(TemporaryFailure.class);
    }
  }

  @Test
  void serverFailureIsNotCached(@TempDir Path dir) throws Exception {
    // The same resolver asks twice; had it cached the SERVFAIL it would never ask again. The
    // second answer must be a fresh one: shown by dnsmasq's log counting two forwarded queries.
    try (Dnsmasq own = Dnsmasq.start(dir, z -> z.servfail("broken.test"))) {
      MxResolver resolver = new MxResolver(List.of(own.address()), TIMEOUT);
      assertThat(resolver.resolve("broken.test")).isEqualTo(new TemporaryFailure("DNS lookup of MX for broken.test failed: SERVFAIL"));
      assertThat(resolver.resolve("broken.test")).isEqualTo(new TemporaryFailure("DNS lookup of MX for broken.test failed: SERVFAIL"));
      assertThat(linesLogged(dir, "query[MX] broken.test", 2)).isEqualTo(2);
    }
  }

  /** How many lines of the front dnsmasq's log contain {@code what}, waiting up to a second for {@code expected} of them (dnsmasq may write a line after its answer). */
  static long linesLogged(Path dir, String what, long expected) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(1).toNanos();
    while (true) {
      long n = Files.readAllLines(dir.resolve("dnsmasq-front.log")).stream().filter(l -> l.contains(what)).count();
      if (n >= expected || System.nanoTime() > deadline) return n;
      Thread.sleep(20);
    }
  }

  @Test
  void nothingListeningIsATemporaryFailureWithinTheTimeout() throws Exception {
    int closedPort;
    try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
      closedPort = s.getLocalPort();
    }
    MxResolver resolver = new MxResolver(List.of("127.0.0.1:" + closedPort), TIMEOUT);
    long start = System.nanoTime();
    Destination d = resolver.resolve("example.test");
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    assertThat(d).isInstanceOf(TemporaryFailure.class);
    assertThat(((TemporaryFailure) d).reason()).startsWith("DNS lookup of MX for example.test failed: ");
    assertThat(took).isLessThan(TIMEOUT.plusMillis(500));
  }

  @Test
  void aServerThatNeverAnswersIsATemporaryFailureWithinTheTimeout() throws Exception {
    try (DatagramSocket silent = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
      Duration timeout = Duration.ofSeconds(1);
      MxResolver resolver = new MxResolver(List.of("127.0.0.1:" + silent.getLocalPort()), timeout);
      long start = System.nanoTime();
      Destination d = resolver.resolve("example.test");
      Duration took = Duration.ofNanos(System.nanoTime() - start);
      assertThat(d).isEqualTo(new TemporaryFailure("DNS lookup of MX for example.test failed: timed out"));
      assertThat(took).isBetween(timeout.minusMillis(100), timeout.plusMillis(500));
    }
  }

  @Test
  void aServerWithNothingListeningIsSkippedForOneThatAnswers() {
    int closedPort;
    try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
      closedPort = s.getLocalPort();
    } catch (SocketException e) {
      throw new AssertionError(e);
    }
    // dnsjava asks the servers in random order: a few fresh resolvers meet the dead one first.
    for (int i = 0; i < 5; i++) {
      MxResolver resolver = new MxResolver(List.of("127.0.0.1:" + closedPort, dns.address()), TIMEOUT);
      assertThat(resolver.resolve("implicit.test")).isEqualTo(new Hosts(List.of(host("implicit.test", 0, "192.0.2.3")), true));
    }
  }
}
