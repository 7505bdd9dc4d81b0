package dev.posta.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * A real DNS server for a test: dnsmasq on 127.0.0.1, a spare port (UDP and TCP), serving only
 * the records the test gives. Close it after use; a JVM shutdown hook kills it if a test does
 * not.
 *
 * <p>Two dnsmasq processes make one server. The <em>authoritative</em> one serves the zones
 * (the top-level domain of every name given, and {@code .test}): the given records, NXDOMAIN
 * for every other name, NODATA for other types of a given name, with the zone's SOA in negative
 * answers so resolvers cache them (RFC 2308) — a plain dnsmasq answers {@code --local} names
 * without an SOA, and such answers must not be cached. The <em>front</em> one, on
 * {@link #address()}, is a recursive server that forwards the zones to the authoritative one
 * and each {@code servfail} domain to a socket of this class that answers every query with
 * SERVFAIL, as a real recursive server does when a domain's name servers are broken. The front
 * caches nothing ({@code --cache-size=0}), so after {@link #stop()} nothing answers any more.
 * The front also serves the reverse zones (in-addr.arpa, ip6.arpa): the given PTR records,
 * NXDOMAIN (without an SOA) for other reverse names.
 *
 * <p>Every name has the same TTL ({@link Records#ttl}, default 300 s). Needs {@code dnsmasq}
 * (Debian: {@code dnsmasq-base}) at {@code /usr/sbin/dnsmasq} or on the PATH; if it cannot be
 * started the test fails, showing dnsmasq's own error, never skips.
 */
public final class Dnsmasq implements AutoCloseable {
  private static final Duration READY_WITHIN = Duration.ofSeconds(10);
  private static final int PORT_ATTEMPTS = 5;

  private final Process auth;
  private final Process front;
  private final DatagramSocket servfail;
  private final int port;

  /** Every dnsmasq started and not yet ended: killed when the JVM exits, so a test that forgets close() (or a killed build) leaves no server behind. */
  private static final Set<Process> RUNNING = ConcurrentHashMap.newKeySet();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(Process::destroyForcibly), "dnsmasq-kill"));
  }

  /** The records to serve, built by the test: {@code z -> z.mx(...).a(...)}. */
  public static final class Records {
    private final List<String> options = new ArrayList<>();
    private final Set<String> zones = new LinkedHashSet<>(List.of("test"));
    private final List<String> servfailDomains = new ArrayList<>();
    /** PTR records, for the front. */
    private final List<String> ptrOptions = new ArrayList<>();
    private int ttl = 300;

    private Records() {}

    /** {@code domain MX preference host}. */
    public Records mx(String domain, String host, int preference) {
      options.add("--mx-host=" + name(domain) + "," + name(host) + "," + preference);
      return this;
    }

    /** RFC 7505 null MX, {@code domain MX 0 .}: dnsmasq's {@code --mx-host} takes no root target, so it is written as raw RDATA (preference 0, then the root label). */
    public Records nullMx(String domain) {
      options.add("--dns-rr=" + name(domain) + ",15,000000");
      return this;
    }

    /** An A record; {@code name} may also be an MX domain (implicit MX) or an MX host. */
    public Records a(String name, String ipv4) {
      if (!(literal(ipv4) instanceof Inet4Address)) throw new IllegalArgumentException("not an IPv4 address: " + ipv4);
      options.add("--host-record=" + name(name) + "," + ipv4);
      return this;
    }

    /** An AAAA record. */
    public Records aaaa(String name, String ipv6) {
      if (!(literal(ipv6) instanceof Inet6Address)) throw new IllegalArgumentException("not an IPv6 address: " + ipv6);
      options.add("--host-record=" + name(name) + "," + ipv6);
      return this;
    }

    /**
     * A TXT record of one or more character-strings (each without commas or quotes, at most 255
     * characters): SPF, DKIM and DMARC records, or a name that exists without MX or addresses.
     */
    public Records txt(String name, String... strings) {
      if (strings.length == 0) throw new IllegalArgumentException("a TXT record needs a string");
      StringBuilder option = new StringBuilder("--txt-record=").append(name(name));
      for (String text : strings) {
        if (text.contains(",") || text.contains("\"") || text.length() > 255) throw new IllegalArgumentException("TXT text dnsmasq can't take as given: " + text);
        // Given as an argument, not in a configuration file: dnsmasq takes quotes literally here.
        option.append(',').append(text);
      }
      options.add(option.toString());
      return this;
    }

    /**
     * A PTR record: {@code address}'s reverse name (in-addr.arpa or ip6.arpa) points to
     * {@code host}. Served by the front (an authoritative dnsmasq serves PTRs only for its own
     * host records), with the same TTL as every record; other reverse names are NXDOMAIN there.
     */
    public Records ptr(String address, String host) {
      String reverse = org.xbill.DNS.ReverseMap.fromAddress(literal(address)).toString(true);
      ptrOptions.add("--ptr-record=" + reverse + "," + name(host));
      return this;
    }

    /** A CNAME: {@code alias} is another name for {@code target} (given in these records too). */
    public Records cname(String alias, String target) {
      options.add("--cname=" + name(alias) + "," + name(target));
      return this;
    }

    /** Every query for {@code domain} or a name under it answers SERVFAIL; records given for it are not served. */
    public Records servfail(String domain) {
      servfailDomains.add(name(domain));
      return this;
    }

    /** The TTL of every record, and of negative answers (the SOA's TTL and minimum). 0 = not cacheable. */
    public Records ttl(int seconds) {
      if (seconds < 0) throw new IllegalArgumentException("negative TTL");
      ttl = seconds;
      return this;
    }

    private String name(String name) {
      if (name.isEmpty() || name.endsWith(".") || name.contains(",") || name.contains("/")) {
        throw new IllegalArgumentException("not a domain name for dnsmasq: '" + name + "'");
      }
      zones.add(name.substring(name.lastIndexOf('.') + 1));
      return name;
    }

    private static InetAddress literal(String ip) {
      if (!ip.matches("[0-9a-fA-F:.]+")) throw new IllegalArgumentException("not an IP address: " + ip);
      try {
        return InetAddress.getByName(ip); // a literal: no lookup
      } catch (IOException e) {
        throw new IllegalArgumentException("not an IP address: " + ip, e);
      }
    }
  }

  private Dnsmasq(Process auth, Process front, DatagramSocket servfail, int port) {
    this.auth = auth;
    this.front = front;
    this.servfail = servfail;
    this.port = port;
  }

  /** Starts a server for the records {@code records} adds; {@code dir} holds its logs. Answers queries when this returns. */
  public static Dnsmasq start(Path dir, UnaryOperator<Records> records) {
    Records r = records.apply(new Records());
    String dnsmasq = executable();
    DatagramSocket servfail = null;
    Started auth = null;
    try {
      if (!r.servfailDomains.isEmpty()) servfail = startServfailResponder();
      auth = startWithRetries(dir, "auth", dnsmasq, port -> authOptions(r, port));
      int authPort = auth.port();
      DatagramSocket upstream = servfail;
      Started front = startWithRetries(dir, "front", dnsmasq, port -> frontOptions(r, authPort, upstream));
      return new Dnsmasq(auth.process(), front.process(), servfail, front.port());
    } catch (RuntimeException | Error e) {
      if (auth != null) destroy(auth.process());
      if (servfail != null) servfail.close();
      throw e;
    }
  }

  /** "127.0.0.1:PORT", as {@code MxResolver} takes a server. */
  public String address() {
    return "127.0.0.1:" + port;
  }

  public int port() {
    return port;
  }

  /** Stops answering (both processes end); the test can then show that answers come from a cache. */
  public void stop() {
    kill();
  }

  @Override
  public void close() {
    kill();
  }

  private void kill() {
    destroy(front);
    destroy(auth);
    if (servfail != null) servfail.close();
  }

  private static void destroy(Process p) {
    p.destroy(); // SIGTERM: dnsmasq exits at once
    try {
      if (!p.waitFor(2, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor(2, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
    }
    if (!p.isAlive()) RUNNING.remove(p);
  }

  /** Options shared by both processes: nothing from the host's configuration, loopback only, in the foreground, logging every query to a file for debugging. */
  private static List<String> common(Path dir, String role, int port) {
    return new ArrayList<>(List.of(
        "--keep-in-foreground",
        "--conf-file=/dev/null", // not /etc/dnsmasq.conf
        "--no-resolv", // not /etc/resolv.conf: never ask a real DNS server
        "--no-hosts", // not /etc/hosts
        "--pid-file=", // none
        // As root dnsmasq would switch to 'nobody', which cannot write the log in dir; not root,
        // it cannot switch at all and ignores this.
        "--user=root",
        "--listen-address=127.0.0.1",
        "--bind-interfaces", // only 127.0.0.1:port, so parallel tests and a system dnsmasq don't collide
        "--port=" + port,
        "--log-queries",
        "--log-facility=" + dir.resolve("dnsmasq-" + role + ".log")));
  }

  private static List<String> authOptions(Records r, int port) {
    List<String> o = new ArrayList<>();
    // --auth-server on the listening address makes every answer authoritative, with the SOA in
    // negative answers; queries outside the zones are REFUSED, but only the front asks.
    o.add("--auth-server=ns.dnsmasq.invalid,127.0.0.1");
    for (String zone : r.zones) o.add("--auth-zone=" + zone);
    o.add("--auth-ttl=" + r.ttl);
    o.addAll(r.options);
    return o;
  }

  private static List<String> frontOptions(Records r, int authPort, DatagramSocket servfail) {
    List<String> o = new ArrayList<>();
    o.add("--cache-size=0"); // the resolver under test caches; this server must not hide whether it does
    for (String zone : r.zones) o.add("--server=/" + zone + "/127.0.0.1#" + authPort);
    // More specific than the zone, so it wins for these names.
    for (String domain : r.servfailDomains) o.add("--server=/" + domain + "/127.0.0.1#" + servfail.getLocalPort());
    // The reverse zones are the front's own: its PTR records, NXDOMAIN for other names.
    o.add("--local=/in-addr.arpa/");
    o.add("--local=/ip6.arpa/");
    o.add("--local-ttl=" + r.ttl);
    o.addAll(r.ptrOptions);
    return o;
  }

  /** The options that differ per process; the port is given for those that need it. */
  private interface Options {
    List<String> forPort(int port);
  }

  private record Started(Process process, int port) {}

  /** Starts one dnsmasq and waits until it answers; a port taken between choosing and binding is retried with another. */
  private static Started startWithRetries(Path dir, String role, String dnsmasq, Options options) {
    String lastFailure = "";
    for (int attempt = 1; attempt <= PORT_ATTEMPTS; attempt++) {
      int port = freePort();
      List<String> command = new ArrayList<>();
      command.add(dnsmasq);
      command.addAll(common(dir, role, port));
      command.addAll(options.forPort(port));
      Path out = dir.resolve("dnsmasq-" + role + ".out");
      Process p;
      try {
        Files.writeString(dir.resolve("dnsmasq-" + role + ".cmd"), String.join("\n", command) + "\n");
        Files.deleteIfExists(dir.resolve("dnsmasq-" + role + ".log")); // dnsmasq appends: a failure must show this attempt's log only
        p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        RUNNING.add(p);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot run " + dnsmasq, e);
      }
      if (awaitAnswer(p, port)) return new Started(p, port);
      destroy(p);
      lastFailure = "dnsmasq (" + role + ") on port " + port + " exited with " + exitCode(p) + ":\n" + read(out)
          + "\nlog " + dir.resolve("dnsmasq-" + role + ".log") + ":\n" + tail(dir.resolve("dnsmasq-" + role + ".log"))
          + "\ncommand: " + String.join(" ", command);
      if (!lastFailure.contains("Address already in use")) break;
    }
    throw new IllegalStateException("dnsmasq did not start. " + lastFailure);
  }

  /** Whether dnsmasq answers a query on {@code port} (for the SOA of {@code .test}, always a zone) before it exits or time runs out. */
  private static boolean awaitAnswer(Process p, int port) {
    SimpleResolver probe = new SimpleResolver(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    probe.setTimeout(Duration.ofMillis(200));
    Message query = Message.newQuery(Record.newRecord(Name.fromConstantString("test."), Type.SOA, DClass.IN));
    long deadline = System.nanoTime() + READY_WITHIN.toNanos();
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) return false;
      try {
        probe.send(query);
        return p.isAlive(); // it did not lose the port to whatever answered instead
      } catch (IOException e) {
        // not listening yet
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return false;
  }

  /** A port free for both UDP and TCP on 127.0.0.1 just now. */
  private static int freePort() {
    InetAddress loopback = InetAddress.getLoopbackAddress();
    for (int i = 0; i < 50; i++) {
      try (ServerSocket tcp = new ServerSocket(0, 1, loopback)) {
        int port = tcp.getLocalPort();
        try (DatagramSocket udp = new DatagramSocket(new InetSocketAddress(loopback, port))) {
          return port;
        } catch (SocketException e) {
          // UDP port taken: try another
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    throw new IllegalStateException("no port free for both UDP and TCP on 127.0.0.1");
  }

  /** Answers every DNS query with SERVFAIL (RCODE 2), echoing the question: a broken upstream for the front to forward to. */
  private static DatagramSocket startServfailResponder() {
    DatagramSocket socket;
    try {
      socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    } catch (SocketException e) {
      throw new UncheckedIOException(e);
    }
    Thread.ofPlatform().daemon().name("dns-servfail").start(() -> {
      byte[] buf = new byte[4096];
      while (!socket.isClosed()) {
        try {
          DatagramPacket packet = new DatagramPacket(buf, buf.length);
          socket.receive(packet);
          if (packet.getLength() < 12) continue;
          buf[2] = (byte) (buf[2] | 0x80); // QR: this is a response
          buf[3] = (byte) ((buf[3] & 0xF0) | 2); // RCODE SERVFAIL
          socket.send(new DatagramPacket(buf, packet.getLength(), packet.getSocketAddress()));
        } catch (IOException e) {
          // closed: the loop ends
        }
      }
    });
    return socket;
  }

  private static String executable() {
    Path sbin = Path.of("/usr/sbin/dnsmasq");
    if (Files.isExecutable(sbin)) return sbin.toString();
    for (String d : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
      Path candidate = Path.of(d, "dnsmasq");
      if (Files.isExecutable(candidate)) return candidate.toString();
    }
    throw new IllegalStateException("dnsmasq not found at /usr/sbin/dnsmasq or on the PATH: install it (Debian/Ubuntu: apt-get install dnsmasq-base)");
  }

  private static String exitCode(Process p) {
    return p.isAlive() ? "(still running)" : String.valueOf(p.exitValue());
  }

  private static String read(Path file) {
    try {
      return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }

  private static String tail(Path file) {
    List<String> lines = read(file).lines().toList();
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
  }
}
