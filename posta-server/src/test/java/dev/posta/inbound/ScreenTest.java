package dev.posta.inbound;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.posta.config.PostaConfig;
import dev.posta.config.PostaConfig.Protocol;
import dev.posta.config.PostaConfig.Screen.Code;
import dev.posta.config.PostaConfig.Screen.DnsList;
import dev.posta.testing.Dnsmasq;
import dev.posta.testing.TestServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * {@code [screen]} with real parts: dnsmasq serving a test DNS blocklist and allowlist (RFC 5782
 * §5's test point 127.0.0.2 listed, with a TXT), Python's smtplib, swaks, and Python bots that
 * talk early or pipeline before the EHLO reply. The clients connect from addresses of 127.0.0.0/8
 * other than 127.0.0.1 (Linux answers the whole block), one per case, so each is its own client
 * for the lists and for the early-talker memory; the servers screen loopback ({@code
 * skip-networks = []}).
 */
class ScreenTest {
  @TempDir static Path dir;
  static Dnsmasq dns;
  /** DNS lists on, no greet wait. */
  static TestServer lists;
  /** The same lists asked of a DNS server that is not there. */
  static TestServer listsDown;
  /** A greet wait of 1 s, no lists. */
  static TestServer waits;
  static final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  static final List<Logger> loggers = List.of((Logger) LoggerFactory.getLogger("dev.posta.smtp.SmtpSession"),
      (Logger) LoggerFactory.getLogger("dev.posta.screen.Screening"));

  static final String TXT = "Listed by bl.test; see http://bl.test/q?ip=127.0.0.2";

  @BeforeAll
  static void start() throws Exception {
    dns = Dnsmasq.start(dir, z -> z
        .a("2.0.0.127.bl.test", "127.0.0.2").txt("2.0.0.127.bl.test", TXT)
        .a("4.0.0.127.weak.test", "127.0.0.2")
        .a("5.0.0.127.bl.test", "127.0.0.9") // an answer bl.test's codes leave out
        .a("6.0.0.127.bl.test", "127.0.0.2").a("6.0.0.127.wl.test", "127.0.10.2"));
    PostaConfig.Screen screen = new PostaConfig.Screen(Set.of(Protocol.SMTP),
        List.of(new DnsList("bl.test", 2, List.of(Code.parse("127.0.0.2-3"))), new DnsList("weak.test", 1, List.of())),
        List.of(new DnsList("wl.test", -3, List.of())), 2, -1, Duration.ZERO, List.of());
    lists = TestServer.start(dir.resolve("lists"), c -> c.toBuilder()
        .delivery(c.delivery().toBuilder().dns(List.of(dns.address()), 25).build()).screen(screen).build());
    listsDown = TestServer.start(dir.resolve("down"), c -> c.toBuilder().screen(screen).build()); // TestServer.NO_DNS
    waits = TestServer.start(dir.resolve("waits"), c -> c.toBuilder()
        .screen(new PostaConfig.Screen(Set.of(Protocol.SMTP), List.of(), List.of(), 1, -1, Duration.ofSeconds(1), List.of())).build());
    for (TestServer s : List.of(lists, listsDown, waits)) s.addUser("bob@localhost", "secret");
    logs.start();
    loggers.forEach(l -> l.addAppender(logs));
  }

  @AfterAll
  static void stop() {
    loggers.forEach(l -> l.detachAppender(logs));
    for (TestServer s : new TestServer[] {lists, listsDown, waits}) if (s != null) s.close();
    if (dns != null) dns.close();
  }

  /** Python's smtplib from {@code source} sends one message: "sent" or "refused CODE TEXT" (at connect) or the error. */
  private static String smtplib(TestServer server, String source) throws Exception {
    return python("""
        import smtplib, sys
        try:
            s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), source_address=(sys.argv[2], 0), timeout=30)
        except smtplib.SMTPConnectError as e:
            print("refused", e.smtp_code, e.smtp_error.decode())
            sys.exit(0)
        s.sendmail("alice@sender.test", ["bob@localhost"], "From: alice@sender.test\\r\\nSubject: hi\\r\\n\\r\\nHello.\\r\\n")
        s.quit()
        print("sent")
        """, Integer.toString(server.smtpPort()), source);
  }

  /** A bot: sends {@code first} (with \\r\\n escapes) right after connecting or after the greeting, then QUIT; prints every reply line. */
  private static String bot(TestServer server, String source, boolean waitForGreeting, String first) throws Exception {
    return python("""
        import socket, sys, time
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30, source_address=(sys.argv[2], 0))
        f = s.makefile("rb")
        if sys.argv[3] == "wait":
            print(f.readline().decode().rstrip())
        s.sendall(sys.argv[4].encode().decode("unicode_escape").encode())
        n = sys.argv[4].count("\\\\r\\\\n")
        for i in range(n + (0 if sys.argv[3] == "wait" else 1)):
            print(f.readline().decode().rstrip())
        s.sendall(b"QUIT\\r\\n")
        print(f.readline().decode().rstrip())
        """, Integer.toString(server.smtpPort()), source, waitForGreeting ? "wait" : "early", first);
  }

  private static String python(String script, String... args) throws Exception {
    List<String> command = new java.util.ArrayList<>(List.of("/usr/bin/python3", "-c", script));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) throw new AssertionError("python3 did not end:\n" + out);
    assertThat(p.exitValue()).as(out).isZero();
    return out.strip();
  }

  private static List<String> logLines(String containing) {
    synchronized (logs) {
      return logs.list.stream().map(ILoggingEvent::getFormattedMessage).filter(m -> m.contains(containing)).toList();
    }
  }

  @Test
  void aListedClientIsRefusedInPlaceOfTheGreetingWithTheListsText() throws Exception {
    assertThat(smtplib(lists, "127.0.0.2"))
        .isEqualTo("refused 554 5.7.1 Service unavailable; client [127.0.0.2] blocked using bl.test; " + TXT);
    assertThat(logLines("smtp[127.0.0.2]")).anySatisfy(line -> assertThat(line).endsWith(
        ": screen: refused: client [127.0.0.2] blocked using bl.test (score 2, threshold 2; listed by bl.test(2)): " + TXT));
    assertThat(lists.server().metrics().scrape()).contains("posta_smtp_screened_total{listener=\"smtp\",reason=\"dnsbl\"}");
  }

  @Test
  void aRefusedClientGets503ToEveryCommandUntilQuit() throws Exception {
    // RFC 5321 §3.1: after a 554 greeting, wait for QUIT and answer intervening commands 503.
    String refusal = "554 5.7.1 Service unavailable; client [127.0.0.2] blocked using bl.test; " + TXT;
    String outOfSequence = "503 5.5.1 Bad sequence of commands: refused at the greeting; send QUIT";
    assertThat(bot(lists, "127.0.0.2", true, "EHLO bot.test\\r\\nMAIL FROM:<a@bot.test>\\r\\n").lines())
        .containsExactly(refusal, outOfSequence, outOfSequence, "221 2.0.0 Bye");
    assertThat(bot(waits, "127.0.0.28", false, "EHLO bot.test\\r\\n").lines())
        .containsExactly("554 5.5.1 Protocol error: you talked before the greeting", outOfSequence, "221 2.0.0 Bye");
  }

  @Test
  void aClientListedBelowTheThresholdOrWithAnAnswerThatDoesNotCountIsServed() throws Exception {
    assertThat(smtplib(lists, "127.0.0.4")).isEqualTo("sent");
    assertThat(logLines("smtp[127.0.0.4]")).anySatisfy(line -> assertThat(line).endsWith(
        ": screen: passed below the threshold (score 1; listed by weak.test(1))"));
    assertThat(smtplib(lists, "127.0.0.5")).isEqualTo("sent");
    assertThat(logLines("smtp[127.0.0.5]")).noneMatch(line -> line.contains("screen:"));
  }

  @Test
  void anAllowlistTakesAListingBackAndIsLogged() throws Exception {
    assertThat(smtplib(lists, "127.0.0.6")).isEqualTo("sent");
    assertThat(logLines("smtp[127.0.0.6]")).anySatisfy(line -> assertThat(line).endsWith(
        ": screen: allowlisted (score -1; listed by bl.test(2) wl.test(-3))"));
  }

  @Test
  void withoutDnsTheListsFailOpen() throws Exception {
    long start = System.nanoTime();
    assertThat(smtplib(listsDown, "127.0.0.2")).isEqualTo("sent");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(15));
    assertThat(logLines("smtp[127.0.0.2]")).anySatisfy(line -> assertThat(line)
        .contains(": screen: DNS lookup of A for 2.0.0.127.bl.test failed: ").endsWith("; not counted (fail open)"));
  }

  @Test
  void aBotThatTalksBeforeTheGreetingIsRefused() throws Exception {
    String refusal = "554 5.5.1 Protocol error: you talked before the greeting";
    assertThat(bot(waits, "127.0.0.20", false, "EHLO bot.test\\r\\n").lines())
        .containsExactly(refusal, "503 5.5.1 Bad sequence of commands: refused at the greeting; send QUIT", "221 2.0.0 Bye");
    assertThat(logLines("smtp[127.0.0.20]")).anySatisfy(line -> assertThat(line)
        .matches(".*: screen: refused: pregreet: 15 octets after [0-9]+ ms: \"EHLO bot.test\""));
    assertThat(waits.server().metrics().scrape()).contains("posta_smtp_screened_total{listener=\"smtp\",reason=\"pregreet\"}");
  }

  @Test
  void aBotThatPipelinesBeforeTheEhloReplyIsRefused() throws Exception {
    String refusal = "550 5.5.1 Protocol error: command sent before the EHLO reply";
    assertThat(bot(waits, "127.0.0.21", true, "EHLO bot.test\\r\\nMAIL FROM:<a@bot.test>\\r\\n").lines())
        .containsExactly("220 localhost ESMTP Posta", refusal, refusal, "221 2.0.0 Bye");
    assertThat(logLines("smtp[127.0.0.21]")).anySatisfy(line -> assertThat(line)
        .endsWith(": screen: refused: command pipelined before the EHLO reply: \"MAIL FROM:<a@bot.test>\""));
    String helo = "550 5.5.1 Protocol error: command sent before the HELO reply";
    assertThat(bot(waits, "127.0.0.24", true, "HELO bot.test\\r\\nNOOP\\r\\n").lines())
        .containsExactly("220 localhost ESMTP Posta", helo, helo, "221 2.0.0 Bye");
  }

  /**
   * A dialogue from {@code source}: after the greeting, each step "N|TEXT" sends TEXT (\\r\\n
   * escapes) in one write and reads N replies; "TLS" starts TLS (after STARTTLS's 220). Prints
   * each reply's code.
   */
  private static String dialogue(TestServer server, String source, String... steps) throws Exception {
    List<String> args = new java.util.ArrayList<>(List.of(Integer.toString(server.smtpPort()), source));
    args.addAll(List.of(steps));
    return python("""
        import socket, ssl, sys
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30, source_address=(sys.argv[2], 0))
        f = s.makefile("rb")
        def reply():
            while True:
                line = f.readline().decode().rstrip()
                if len(line) < 4 or line[3] != "-":
                    print(line[:3])
                    return
        reply()
        for step in sys.argv[3:]:
            if step == "TLS":
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                s = context.wrap_socket(s, server_hostname="localhost")
                f = s.makefile("rb")
                continue
            count, text = step.split("|", 1)
            s.sendall(text.encode().decode("unicode_escape").encode())
            for i in range(int(count)):
                reply()
        """, args.toArray(String[]::new));
  }

  @Test
  void aClientThatPipelinesAfterTheEhloReplyIsServed() throws Exception {
    // RFC 2920 §3.1: MAIL, RCPT and DATA may go in one write once EHLO's reply is read.
    String transaction = "3|MAIL FROM:<a@good.test>\\r\\nRCPT TO:<bob@localhost>\\r\\nDATA\\r\\n";
    String message = "1|Subject: hi\\r\\n\\r\\nHello.\\r\\n.\\r\\n";
    assertThat(dialogue(waits, "127.0.0.26", "1|EHLO good.test\\r\\n", transaction, message, "1|QUIT\\r\\n").lines())
        .containsExactly("220", "250", "250", "250", "354", "250", "221");
    // And after STARTTLS and the new EHLO (RFC 3207 §4.2: the session starts over).
    assertThat(dialogue(waits, "127.0.0.27", "1|EHLO good.test\\r\\n", "1|STARTTLS\\r\\n", "TLS", "1|EHLO good.test\\r\\n",
        transaction, message, "1|QUIT\\r\\n").lines())
        .containsExactly("220", "250", "220", "250", "250", "250", "354", "250", "221");
    assertThat(logLines("screen: refused")).noneMatch(line -> line.contains("[127.0.0.26]") || line.contains("[127.0.0.27]"));
  }

  @Test
  void aClientOnADnsAllowlistSkipsThePipeliningTest() throws Exception {
    // lists has no greet wait; 127.0.0.6 is allowlisted (score -1), 127.0.0.7 not listed at all.
    assertThat(bot(lists, "127.0.0.6", true, "HELO friend.test\\r\\nNOOP\\r\\n").lines())
        .containsExactly("220 localhost ESMTP Posta", "250 localhost", "250 2.0.0 OK", "221 2.0.0 Bye");
    assertThat(bot(lists, "127.0.0.7", true, "HELO stranger.test\\r\\nNOOP\\r\\n").lines())
        .containsExactly("220 localhost ESMTP Posta", "550 5.5.1 Protocol error: command sent before the HELO reply",
            "550 5.5.1 Protocol error: command sent before the HELO reply", "221 2.0.0 Bye");
  }

  @Test
  void thePipeliningTestCanBeTurnedOff() throws Exception {
    PostaConfig.Screen w = waits.server().config().screen();
    try (TestServer off = TestServer.start(dir.resolve("pipelining-off"), c -> c.toBuilder()
        .screen(new PostaConfig.Screen(w.listeners(), w.dnsbl(), w.dnswl(), w.dnsblThreshold(), w.dnswlThreshold(), Duration.ZERO,
            w.skipNetworks(), false)).build())) {
      assertThat(bot(off, "127.0.0.29", true, "HELO bot.test\\r\\nNOOP\\r\\n").lines())
          .containsExactly("220 localhost ESMTP Posta", "250 localhost", "250 2.0.0 OK", "221 2.0.0 Bye");
    }
  }

  @Test
  void aReloadKeepsTheClientsThatPassedTheGreetWait() throws Exception {
    try (TestServer server = TestServer.start(dir.resolve("reload"), c -> c.toBuilder()
        .screen(waits.server().config().screen()).build())) {
      server.addUser("bob@localhost", "secret");
      long start = System.nanoTime();
      assertThat(smtplib(server, "127.0.0.31")).isEqualTo("sent");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
      server.server().reload(server.server().config().toBuilder().hostname("reloaded.test").build());
      start = System.nanoTime();
      assertThat(smtplib(server, "127.0.0.31")).isEqualTo("sent");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(900));
      assertThat(smtplib(server, "127.0.0.32")).isEqualTo("sent"); // the reloaded settings screen a new client: it waited
    }
  }

  @Test
  void clientsThatWaitAreServedAndWaitOnlyOnce() throws Exception {
    long start = System.nanoTime();
    assertThat(smtplib(waits, "127.0.0.22")).isEqualTo("sent");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
    start = System.nanoTime();
    assertThat(smtplib(waits, "127.0.0.22")).isEqualTo("sent");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofMillis(900));
    // swaks, which waits for each reply as Postfix's smtp client does
    Process swaks = new ProcessBuilder("swaks", "--server", "127.0.0.1", "--port", Integer.toString(waits.smtpPort()),
        "--local-interface", "127.0.0.23", "--from", "carol@sender.test", "--to", "bob@localhost", "--timeout", "30")
        .redirectErrorStream(true).start();
    String out = new String(swaks.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(swaks.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(swaks.exitValue()).as(out).isZero();
    assertThat(out).contains("<-  250 2.0.0 Ok: queued as ");
    assertThat(logLines("screen: refused")).noneMatch(line -> line.contains("[127.0.0.22]") || line.contains("[127.0.0.23]"));
  }

  @Test
  void aClientThatHangsUpBeforeTheGreetingIsNotSparedTheWait() throws Exception {
    try (var scanner = new java.net.Socket()) {
      scanner.bind(new java.net.InetSocketAddress("127.0.0.25", 0));
      scanner.connect(new java.net.InetSocketAddress("127.0.0.1", waits.smtpPort()));
    }
    Thread.sleep(1500); // past the greet wait the scanner did not stay for
    long start = System.nanoTime();
    assertThat(smtplib(waits, "127.0.0.25")).isEqualTo("sent");
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isGreaterThanOrEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void greylistingSparesAClientOnADnsAllowlist() throws Exception {
    var g = PostaConfig.Greylisting.DEFAULTS;
    try (TestServer grey = TestServer.start(dir.resolve("grey"), c -> c.toBuilder()
        .delivery(c.delivery().toBuilder().dns(List.of(dns.address()), 25).build())
        .screen(lists.server().config().screen())
        .greylisting(new PostaConfig.Greylisting(true, g.delay(), g.retryWindow(), g.expire(), g.autoAllowlistAfter(), g.maxEntries(),
            List.of(), List.of(), g.listeners()))
        .build())) {
      grey.addUser("bob@localhost", "secret");
      assertThat(smtplib(grey, "127.0.0.6")).isEqualTo("sent"); // allowlisted: score -1
      assertThat(python("""
          import smtplib, sys
          s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), source_address=("127.0.0.4", 0), timeout=30)
          try:
              s.sendmail("alice@sender.test", ["bob@localhost"], "Subject: hi\\r\\n\\r\\nHello.\\r\\n")
              print("sent")
          except smtplib.SMTPRecipientsRefused as e:
              code, text = e.recipients["bob@localhost"]
              print(code, text.decode().split(":")[0])
          """, Integer.toString(grey.smtpPort()))).isEqualTo("451 4.7.1 Greylisted"); // listed below the threshold: not allowlisted
    }
  }

  @Test
  void loopbackIsNotScreenedByDefault() throws Exception {
    // The embedded defaults screen smtp with a 6 s wait, but not the loopback: tests and benchmarks are greeted at once.
    try (TestServer plain = TestServer.start(dir.resolve("plain"))) {
      plain.addUser("bob@localhost", "secret");
      long start = System.nanoTime();
      assertThat(smtplib(plain, "127.0.0.30")).isEqualTo("sent");
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(3));
    }
  }
}
