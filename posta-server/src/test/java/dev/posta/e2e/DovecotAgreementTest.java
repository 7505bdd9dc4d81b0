package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.DovecotImap;
import dev.posta.testing.ImapWire;
import dev.posta.testing.TestServer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Posta and Dovecot (Debian's {@code imap}, the reference server) answer the same script of
 * IMAP commands on copies of the same Maildir files, and must answer alike: SELECT, FETCH of
 * every kind of item, SEARCH with many keys, STORE with keywords, COPY, EXPUNGE, STATUS, LIST.
 *
 * <p>Only what must differ is normalized, each with its reason next to it ({@link #normalize}).
 * Where Posta answers differently on purpose, the expectation says so in a comment where the
 * script has the command.
 */
class DovecotAgreementTest {
  @TempDir Path temp;

  /**
   * Dovecot told which folders have which special use, as Posta knows them by name; its other
   * defaults (Maildir++ with "." as separator, INBOX as the root) are Posta's layout already.
   */
  private static final String DOVECOT_NAMESPACE = """
      namespace inbox {
        inbox = yes
        separator = .
        mailbox INBOX {
          auto = subscribe
        }
        mailbox Drafts {
          special_use = \\Drafts
        }
        mailbox Sent {
          special_use = \\Sent
        }
        mailbox Trash {
          special_use = \\Trash
        }
        mailbox Junk {
          special_use = \\Junk
        }
        mailbox Archive {
          special_use = \\Archive
        }
      }
      """;

  private static final String SIMPLE = """
      Return-Path: <alice@example.org>
      From: Alice Example <alice@example.org>
      To: Bob <bob@example.net>, carol@example.net
      Cc: "Dave, the reviewer" <dave@example.net>
      Subject: Quarterly report
      Date: Fri, 01 Mar 2024 09:30:00 +0100
      Message-ID: <report-1@example.org>
      MIME-Version: 1.0
      Content-Type: text/plain; charset=us-ascii

      Hello Bob,

      the quarterly report is ready. Numbers are up.

      Alice
      """;

  private static final String ALTERNATIVE = """
      From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.de>
      To: me@localhost
      Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus Berlin
      Date: Sun, 14 Apr 2024 18:00:00 +0200
      Message-ID: <berlin@example.de>
      MIME-Version: 1.0
      Content-Type: multipart/alternative; boundary="alt-boundary"

      This is a multi-part message in MIME format.

      --alt-boundary
      Content-Type: text/plain; charset=utf-8
      Content-Transfer-Encoding: quoted-printable

      Viele Gr=C3=BC=C3=9Fe aus Berlin, wo die Sonne scheint.
      --alt-boundary
      Content-Type: text/html; charset=utf-8
      Content-Transfer-Encoding: 8bit

      <p>Viele Grüße aus <b>Berlin</b></p>
      --alt-boundary--
      """;

  private static final String ATTACHMENT = """
      From: Billing <billing@shop.example>
      To: me@localhost
      Subject: Invoice 42
      Date: Tue, 07 May 2024 08:15:00 +0000
      Message-ID: <invoice-42@shop.example>
      MIME-Version: 1.0
      Content-Type: multipart/mixed; boundary="mixed"

      --mixed
      Content-Type: text/plain; charset=us-ascii

      Please find invoice 42 attached.
      --mixed
      Content-Type: application/pdf; name="invoice-42.pdf"
      Content-Disposition: attachment; filename="invoice-42.pdf"
      Content-Transfer-Encoding: base64
      Content-Description: The invoice

      JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0KeJwr
      VAhUKFQwNDBQMLA0MgBSRmYWpoZGphaWRmaGZsZWxgA=
      --mixed--
      """;

  private static final String FORWARDED = """
      From: Carol <carol@example.net>
      To: me@localhost
      Subject: Fwd: lunch
      Date: Wed, 12 Jun 2024 12:00:00 -0400
      Message-ID: <fwd-lunch@example.net>
      MIME-Version: 1.0
      Content-Type: multipart/mixed; boundary="outer"

      --outer
      Content-Type: text/plain

      See below.
      --outer
      Content-Type: message/rfc822

      From: Erin <erin@example.com>
      To: Carol <carol@example.net>
      Subject: lunch
      Date: Tue, 11 Jun 2024 11:00:00 -0400
      Message-ID: <lunch@example.com>

      Lunch at noon tomorrow?
      --outer--
      """;

  private static final String NEWSLETTER = """
      From: News <news@lists.example>
      To: me@localhost
      Subject: Newsletter
      Date: Mon, 01 Jul 2024 06:00:00 +0000
      Message-ID: <news-7@lists.example>
      List-Id: <news.lists.example>
      MIME-Version: 1.0
      Content-Type: text/plain; charset=utf-8
      Content-Transfer-Encoding: quoted-printable

      """ + "This week in news: a very long line that goes on and on =\n".repeat(60) + "the end.\n";

  private static final String REPLY = """
      From: Bob <bob@example.net>
      Sender: Bob's assistant <assistant@example.net>
      Reply-To: bob+reports@example.net
      To: Alice Example <alice@example.org>
      Bcc: archive@example.net
      Subject: Re: Quarterly report
      In-Reply-To: <report-1@example.org>
      Message-ID: <reply-1@example.net>
      X-Priority: 1

      Thanks, looks good.
      """;

  private static final String WORK = """
      From: Boss <boss@example.org>
      To: me@localhost
      Subject: Project plan
      Date: Thu, 01 Aug 2024 10:00:00 +0000
      Message-ID: <plan@example.org>

      The plan is attached in spirit.
      """;

  /** One message file: its folder ("" for INBOX), name (with flags), arrival time and content. */
  private record Seed(String folder, String sub, String name, Instant arrived, String content) {}

  private static final List<Seed> SEED = List.of(
      new Seed("", "cur", "1709281800.M1P1.seed,S=0:2,Sa", Instant.parse("2024-03-01T08:30:05Z"), SIMPLE),
      new Seed("", "new", "1713110400.M2P1.seed", Instant.parse("2024-04-14T16:00:05Z"), ALTERNATIVE),
      new Seed("", "cur", "1715069700.M3P1.seed:2,Fb", Instant.parse("2024-05-07T08:15:05Z"), ATTACHMENT),
      new Seed("", "cur", "1718208000.M4P1.seed:2,", Instant.parse("2024-06-12T16:00:05Z"), FORWARDED),
      new Seed("", "cur", "1719813600.M5P1.seed:2,S", Instant.parse("2024-07-01T06:00:05Z"), NEWSLETTER),
      new Seed("", "cur", "1719900000.M6P1.seed:2,RS", Instant.parse("2024-07-02T06:00:00Z"), REPLY),
      new Seed(".Work", "cur", "1722506400.M7P1.seed:2,S", Instant.parse("2024-08-01T10:00:05Z"), WORK));

  /** Writes the Maildir both servers start from: messages, keywords, folders, subscriptions. */
  private static void seed(Path maildir) throws IOException {
    for (String folder : List.of("", ".Work", ".Sent", ".Drafts", ".Trash", ".Junk", ".Archive")) {
      for (String sub : List.of("cur", "new", "tmp")) Files.createDirectories(maildir.resolve(folder).resolve(sub));
      if (!folder.isEmpty()) Files.writeString(maildir.resolve(folder).resolve("maildirfolder"), "");
    }
    Files.writeString(maildir.resolve("dovecot-keywords"), "0 $Forwarded\n1 Work\n");
    Files.writeString(maildir.resolve("subscriptions"), "Work\nSent\nDrafts\nTrash\nJunk\nArchive\n");
    for (Seed s : SEED) {
      byte[] content = s.content().getBytes(StandardCharsets.UTF_8);
      String name = s.name().replace(",S=0", ",S=" + content.length);
      Path file = maildir.resolve(s.folder()).resolve(s.sub()).resolve(name);
      Files.write(file, content);
      Files.setLastModifiedTime(file, FileTime.from(s.arrived()));
    }
  }

  /** The script, each line one command with its tag. */
  private static final List<String> SCRIPT = List.of(
      "l1 LIST \"\" *",
      "l2 LSUB \"\" *",
      "l3 LIST \"\" %",
      "l4 LIST (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN)",
      "t1 STATUS INBOX (MESSAGES UIDNEXT UNSEEN)",
      "t2 STATUS Work (MESSAGES UIDNEXT UNSEEN)",
      "t3 STATUS Nowhere (MESSAGES)",
      "s0 SELECT INBOX",
      "f1 FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE)",
      "f2 FETCH 1:* ENVELOPE",
      "f3 FETCH 1:* BODYSTRUCTURE",
      "f4 FETCH 1:* BODY",
      "f5 UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])",
      "f6 FETCH 3 (BODY.PEEK[1] BODY.PEEK[2.MIME] BINARY.SIZE[2] BODY.PEEK[TEXT]<0.100>)",
      "f7 FETCH 2 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.SIZE[2] BODY.PEEK[1.MIME])",
      "f8 FETCH 4 (BODY.PEEK[2] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1])",
      "f9 FETCH 6 (BODY.PEEK[HEADER.FIELDS.NOT (BCC X-PRIORITY)] RFC822.SIZE)",
      "f10 FETCH 5 (BODY.PEEK[]<100.40> BINARY.SIZE[1] FAST)",
      "f11 FETCH 1,3 (RFC822.HEADER)",
      "f12 UID FETCH 2:4 (UID FLAGS)",
      "s1 SEARCH FROM alice",
      "s2 SEARCH SUBJECT report",
      "s3 SEARCH TEXT berlin",
      "s4 SEARCH BODY invoice",
      "s5 SEARCH HEADER Message-ID example.org",
      "s6 SEARCH SINCE 1-Jun-2024",
      "s7 SEARCH LARGER 2000",
      "s8 SEARCH NOT SEEN",
      "s9 SEARCH OR FLAGGED ANSWERED",
      "s10 UID SEARCH UID 2:4",
      "s11 SEARCH KEYWORD Work",
      "s12 SEARCH UNKEYWORD Work",
      "s13 SEARCH SENTBEFORE 1-May-2024",
      "s14 SEARCH 2:* NOT DELETED",
      "s15 SEARCH CC dave TO bob",
      "s16 SEARCH BEFORE 1-May-2024 SMALLER 1000",
      "s17 SEARCH HEADER X-Priority \"\"",
      "s18 SEARCH OR (FROM bob) (SUBJECT lunch) NOT KEYWORD $Forwarded",
      "s19 SEARCH BODY grüße",
      "s20 SEARCH CHARSET UTF-8 SUBJECT \"grüße\"",
      "s24 SEARCH CHARSET UTF-8 BODY {7+}\r\ngrüße",
      "s25 SEARCH CHARSET UTF-8 FROM {7+}\r\nmüller",
      "s21 SEARCH TEXT \"quarterly report\" SENTON 1-Mar-2024",
      "s22 UID SEARCH 1:3 UID 2:*",
      "w1 STORE 1 +FLAGS (Urgent)",
      "w2 STORE 2 +FLAGS ($Important \\Flagged)",
      "w3 STORE 3 -FLAGS (Work)",
      "w4 STORE 1:2 +FLAGS.SILENT (\\Seen)",
      "w5 FETCH 1:* FLAGS",
      "w6 SEARCH KEYWORD Urgent",
      "w7 UID STORE 4 FLAGS ($Forwarded Work)",
      "c1 COPY 1:2 Work",
      "c2 UID COPY 3 Nowhere",
      "c3 COPY 9 Work",
      "e1 STORE 5 +FLAGS (\\Deleted)",
      "e2 EXPUNGE",
      "e3 FETCH 1:* (UID FLAGS)",
      "e4 STATUS Work (MESSAGES UIDNEXT UNSEEN)",
      "l5 LIST \"\" W*",
      "s23 SELECT Work",
      "f13 FETCH 1:* (UID FLAGS ENVELOPE)",
      "x1 CLOSE");

  /**
   * Where Posta answers otherwise than Dovecot on purpose: why, and Dovecot's answer (normalized)
   * turned into Posta's. So each difference is pinned both ways: a change on either side shows.
   */
  private record Difference(String why, UnaryOperator<String> postaAnswers) {}

  private static final Map<String, Difference> DIFFERENCES = Map.of(
      "l2", new Difference("""
          RFC 6154 defines the special-use attributes for LIST; Posta's LSUB (deprecated by RFC 9051)
          answers only what RFC 3501 §6.3.9 gives it. Dovecot adds them to LSUB too.""",
          s -> s.replaceAll(" ?\\\\(Sent|Drafts|Trash|Junk|Archive)\\)", ")")),
      "t3", new Difference("""
          Posta gives the RFC 5530 response code NONEXISTENT with the NO; Dovecot 2.3 gives it for
          SELECT but not for STATUS.""",
          s -> s.replace("t3 NO <text>", "t3 NO [NONEXISTENT] <text>")),
      "f7", new Difference("""
          BINARY content with 8-bit octets but no NUL: Posta sends a plain literal, Dovecot a literal8
          (~{n}); RFC 3516 §4.2 allows both (a literal holds any octet but NUL).""",
          s -> s.replace("BINARY[1] ~{", "BINARY[1] {")),
      "f9", new Difference("""
          Posta answers FETCH items in the order asked; Dovecot puts RFC822.SIZE first. RFC 9051 §7.5.2
          leaves the order to the server.""",
          s -> s.replace("(RFC822.SIZE 319 BODY[", "(BODY[").replace("\n\n)\n", "\n\n RFC822.SIZE 319)\n")),
      "s13", new Difference("""
          Message 6 has no Date: field. Dovecot takes its sent date as 1970-01-01 (its time 0), so it
          is SENTBEFORE any date; RFC 9051 §6.4.4 defines SENT* on the Date: field, and Posta matches
          no SENT* key for a message without one.""",
          s -> s.replace("* SEARCH 1 2 6\n", "* SEARCH 1 2\n")),
      "s19", new Difference("""
          UTF-8 in an atom: Posta takes it, as it takes UTF-8 in quoted strings (RFC 9051 §4.3 for
          IMAP4rev2 and UTF8=ACCEPT clients, and harmless from others); Dovecot 2.3, a rev1 server,
          wants a literal (s24 and s25 send one, and both servers agree there).""",
          s -> s.replace("s19 BAD <text>", "* SEARCH 2\ns19 OK <text>")),
      "s20", new Difference("The same in a quoted string.", s -> s.replace("s20 BAD <text>", "* SEARCH 2\ns20 OK <text>")));

  @Test
  void postaAnswersTheScriptAsDovecotDoes() throws Exception {
    Path seed = temp.resolve("seed");
    seed(seed);

    Path dovecotMaildir = temp.resolve("dovecot/Maildir");
    copyTree(seed, dovecotMaildir);
    List<String> dovecot = DovecotImap.answers(temp, dovecotMaildir, temp.resolve("dovecot-work"), DOVECOT_NAMESPACE, SCRIPT);
    Map<String, String> dovecotAnswers = new LinkedHashMap<>();
    for (int i = 0; i < SCRIPT.size(); i++) dovecotAnswers.put(tag(SCRIPT.get(i)), dovecot.get(i));

    Path data = temp.resolve("posta");
    copyTree(seed, data.resolve("mail/localhost/me/Maildir"));
    Map<String, String> postaAnswers = new LinkedHashMap<>();
    try (var server = TestServer.start(data).addUser("me@localhost", "secret");
        var imap = ImapWire.tls(server.imapsPort(), server.clientTls())) {
      imap.line();
      assertThat(imap.command("a LOGIN me@localhost secret")).startsWith("a OK ");
      for (String command : SCRIPT) postaAnswers.put(tag(command), imap.command(command));
    }

    var report = new StringBuilder();
    for (String command : SCRIPT) {
      String want = normalize(dovecotAnswers.get(tag(command)));
      Difference difference = DIFFERENCES.get(tag(command));
      if (difference != null) want = sortList(difference.postaAnswers().apply(want));
      String got = normalize(postaAnswers.get(tag(command)));
      if (!want.equals(got)) report.append("=== ").append(command).append("\n--- dovecot\n").append(want).append("--- posta\n").append(got);
    }
    assertThat(report.toString()).as("where Posta and Dovecot differ").isEmpty();
  }

  private static String tag(String command) {
    return command.substring(0, command.indexOf(' '));
  }

  /** What may differ between two servers of the same mail, replaced by a placeholder. */
  static String normalize(String answer) {
    if (answer == null) return "<no answer>\n";
    return sortList(answer.replace("\r\n", "\n"))
        // A mailbox name is an astring: Dovecot sends an atom where it can, Posta always a quoted
        // string (RFC 9051 §9: both are the same name).
        .replaceAll("(?m)^(\\* (?:LIST|LSUB) \\([^)]*\\) \"\\.\" |\\* STATUS )\"([A-Za-z0-9.]+)\"", "$1$2")
        // A folder's UIDVALIDITY is each server's own choice (RFC 9051 §2.3.1.1): a timestamp.
        .replaceAll("UIDVALIDITY \\d+", "UIDVALIDITY <v>")
        .replaceAll("\\[(COPYUID|APPENDUID) \\d+ ", "[$1 <v> ")
        // \Recent is each server's own bookkeeping of which session saw a message first (RFC 3501
        // §2.3.2): Dovecot counts every seeded file, Posta only those still in new/.
        .replaceAll(" ?\\\\Recent", "").replaceAll("\\( ", "(")
        .replaceAll("\\* \\d+ RECENT\n", "")
        // Capabilities differ (Posta has IMAP4rev2, Dovecot more extensions).
        .replaceAll("\\[CAPABILITY [^\\]]*]", "[CAPABILITY <c>]")
        // The human-readable text after a tagged OK, NO or BAD, and Dovecot's timings in it, is free text
        // (RFC 9051 §7.1); the response code in brackets before it is kept.
        .replaceAll("(?m)^([A-Za-z0-9]+ (?:OK|NO|BAD)(?: \\[[^\\]]*])?).*$", "$1 <text>")
        // The same for an untagged OK's text after its code.
        .replaceAll("(?m)^(\\* OK \\[[^\\]]*]).*$", "$1 <text>")
        ;
  }

  /**
   * LIST and LSUB responses sorted, and the attributes in each: RFC 9051 §6.3.9 orders neither
   * (Posta lists INBOX first and the others by name; Dovecot in directory order).
   */
  private static String sortList(String answer) {
    List<String> lines = new ArrayList<>(answer.lines().toList());
    List<String> listed = new ArrayList<>();
    for (String line : lines) {
      if (!line.startsWith("* LIST (") && !line.startsWith("* LSUB (")) continue;
      int close = line.indexOf(')');
      String attributes = line.substring(line.indexOf('(') + 1, close);
      List<String> sorted = new ArrayList<>(List.of(attributes.isEmpty() ? new String[0] : attributes.split(" ")));
      sorted.sort(null);
      listed.add(line.substring(0, line.indexOf('(') + 1) + String.join(" ", sorted) + line.substring(close));
    }
    if (listed.isEmpty()) return answer;
    listed.sort(null);
    var out = new StringBuilder();
    for (String line : listed) out.append(line).append('\n');
    for (String line : lines) {
      if (!line.startsWith("* LIST (") && !line.startsWith("* LSUB (")) out.append(line).append('\n');
    }
    return out.toString();
  }

  private static void copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> tree = Files.walk(from)) {
      for (Path p : tree.toList()) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) Files.createDirectories(target);
        else Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
      }
    }
  }
}
