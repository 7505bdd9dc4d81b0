package dev.posta.imap;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.database.Database;
import dev.posta.database.DatabaseBlobs;
import dev.posta.net.AuthThrottle;
import dev.posta.pop3.Pop3Server;
import dev.posta.store.DatabaseStore;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.testing.Postgres;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * IMAP and POP3 on two nodes sharing one PostgreSQL mailbox store: Posta's own protocol code
 * over a {@link DatabaseStore} each, driven by Python's imaplib and poplib as a mail client
 * would. What one node's client changes, the other node's client sees; a client in IDLE on one
 * node hears of a delivery made on the other within a second.
 */
class ClusteredImapTest {
  private static final MailboxId BOB = new MailboxId("localhost", "bob");

  @TempDir Path data;
  private final List<AutoCloseable> closing = new ArrayList<>();

  @AfterEach
  void close() throws Exception {
    for (AutoCloseable c : closing.reversed()) c.close();
  }

  private record Node(DatabaseStore store, int imap, int pop3) {}

  private Node node(String url, String name, UserStore users) throws Exception {
    Database db = Database.open(url, name, 6);
    closing.add(db);
    DatabaseStore store = new DatabaseStore(db, new DatabaseBlobs(db), data.resolve(name));
    closing.add(store);
    var defaults = PostaConfig.embeddedDefaults(data);
    var s = defaults.submission();
    var config = defaults.toBuilder().submission(new PostaConfig.Submission(s.trustedNetworks(), true, s.senderMustBeOwned(),
        s.authFailuresBeforeLockout(), s.authLockout())).build();
    var throttle = new AuthThrottle(10, Duration.ofMinutes(1), Clock.systemUTC());
    ImapServer imap = new ImapServer(new ImapServer.Context(config, store, null, users, throttle));
    closing.add(imap);
    Pop3Server pop3 = new Pop3Server(new Pop3Server.Context(config, store, null, users, throttle));
    closing.add(pop3);
    int imapPort = imap.listen(new PostaConfig.Listener(PostaConfig.Protocol.IMAP, new InetSocketAddress("127.0.0.1", 0))).getPort();
    int pop3Port = pop3.listen(new PostaConfig.Listener(PostaConfig.Protocol.POP3, new InetSocketAddress("127.0.0.1", 0))).getPort();
    return new Node(store, imapPort, pop3Port);
  }

  private static void deliver(MailboxStore store, String id, String subject) throws Exception {
    assertThat(store.deliver(BOB, "INBOX", id, Instant.parse("2026-12-07T12:00:00Z"), "Delivered-To: bob@localhost\r\n".getBytes(UTF_8),
        out -> out.write(ByteBuffer.wrap(("Subject: " + subject + "\r\n\r\nHello.\r\n").getBytes(UTF_8))), false)).isTrue();
  }

  @Test
  void clientsOnTwoNodesSeeOneMailboxAndIdleHearsTheOtherNodesDelivery() throws Exception {
    String url = Postgres.shared().newDatabase();
    var users = new UserStore(data);
    users.add("bob@localhost", "secret".toCharArray());
    Node a = node(url, "a", users);
    Node b = node(url, "b", users);
    deliver(a.store(), "Q1", "first");
    deliver(b.store(), "Q2", "second");

    String script = """
        import imaplib, sys, time
        a = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
        b = imaplib.IMAP4("127.0.0.1", int(sys.argv[2]))
        for c in (a, b):
            c.login("bob@localhost", "secret")
        print("select", a.select("INBOX")[1][0].decode(), b.select("INBOX")[1][0].decode())
        print("body", a.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT DELIVERED-TO)])")[1][0][1].decode().strip().replace("\\r\\n", "|"))
        a.store("1", "+FLAGS", "(\\\\Seen)")
        b.store("1", "+FLAGS", "(\\\\Flagged)")
        b.noop()
        print("flags on b", b.fetch("1", "(FLAGS)")[1][0].decode())
        a.noop()
        print("flags on a", a.fetch("1", "(FLAGS)")[1][0].decode())
        print("append", a.append("INBOX", "(\\\\Seen $Work)", None, b"Subject: appended\\r\\n\\r\\nbody\\r\\n")[0])
        b.noop()  # told of it first: a search gives only messages the client was told of
        print("search on b", b.uid("SEARCH", None, "KEYWORD", "$Work")[1][0].decode())
        # IDLE by hand: imaplib has none before Python 3.14
        tag = b._new_tag()
        b.send(tag + b" IDLE\\r\\n")
        print("idle", b.readline().decode().strip(), flush=True)
        sys.stdin.readline()  # the test delivers on node a now
        start = time.monotonic()
        while True:
            line = b.readline().decode().strip()
            if line.endswith("EXISTS"):
                break
        print("heard", line, "within a second" if time.monotonic() - start < 1.0 else "late: %.2f s" % (time.monotonic() - start))
        b.send(b"DONE\\r\\n")
        while not b.readline().startswith(tag):
            pass
        a.store("2", "+FLAGS", "(\\\\Deleted)")
        a.expunge()
        b.noop()
        print("after expunge on a", b.uid("SEARCH", None, "ALL")[1][0].decode())
        for c in (a, b):
            c.logout()
        """;
    Process p = new ProcessBuilder("/usr/bin/python3", "-c", script, Integer.toString(a.imap()), Integer.toString(b.imap()))
        .redirectErrorStream(true).start();
    List<String> lines = new ArrayList<>();
    try (var out = new BufferedReader(new InputStreamReader(p.getInputStream(), UTF_8)); Writer in = new OutputStreamWriter(p.getOutputStream(), UTF_8)) {
      for (String line; (line = out.readLine()) != null; ) {
        lines.add(line);
        if (line.startsWith("idle ")) {
          Thread.sleep(100); // the IDLE under way on node b
          deliver(a.store(), "Q3", "third");
          in.write("go\n");
          in.flush();
        }
      }
    }
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(lines).containsExactly(
        "select 2 2",
        "body Delivered-To: bob@localhost|Subject: first",
        "flags on b 1 (FLAGS (\\Flagged \\Seen))",
        "flags on a 1 (FLAGS (\\Flagged \\Seen \\Recent))", // a's session selected first: \\Recent was its claim
        "append OK",
        "search on b 3",
        "idle + idling",
        "heard * 4 EXISTS within a second",
        "after expunge on a 1 3 4");
  }

  @Test
  void pop3OnOneNodeLocksTheMaildropForTheClusterTakesMailDeliveredOnTheOtherAndImapThereSeesItGone() throws Exception {
    String url = Postgres.shared().newDatabase();
    var users = new UserStore(data);
    users.add("bob@localhost", "secret".toCharArray());
    Node a = node(url, "a", users);
    Node b = node(url, "b", users);
    deliver(a.store(), "P1", "first");
    deliver(a.store(), "P2", "second");
    String script = """
        import imaplib, poplib, sys
        p = poplib.POP3("127.0.0.1", int(sys.argv[2]))
        p.user("bob@localhost")
        p.pass_("secret")
        other = poplib.POP3("127.0.0.1", int(sys.argv[3]))
        other.user("bob@localhost")
        try:
            other.pass_("secret")
        except poplib.error_proto as e:
            print("on a meanwhile", e.args[0].decode())
        other.quit()
        print("stat", p.stat())
        print("retr", b"|".join(p.retr(1)[1]).decode())
        p.dele(2)
        p.quit()
        a = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
        a.login("bob@localhost", "secret")
        a.select("INBOX")
        print("imap on a", a.fetch("1:*", "(UID FLAGS)")[1])
        a.logout()
        """;
    Process p = new ProcessBuilder("/usr/bin/python3", "-c", script, Integer.toString(a.imap()), Integer.toString(b.pop3()),
        Integer.toString(a.pop3()))
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    int size = "Delivered-To: bob@localhost\r\nSubject: first\r\n\r\nHello.\r\n".length();
    assertThat(out).as(out).isEqualTo("on a meanwhile -ERR [IN-USE] Mailbox is in use by another POP3 session\n"
        + "stat (2, " + (2 * size + 1) + ")\n"
        + "retr Delivered-To: bob@localhost|Subject: first||Hello.\n"
        // \\Recent is IMAP sessions' claim only (RFC 3501 §2.3.2): POP3 takes none, unlike a Maildir's move out of new/
        + "imap on a [b'1 (UID 1 FLAGS (\\\\Seen \\\\Recent))']\n");
  }
}
