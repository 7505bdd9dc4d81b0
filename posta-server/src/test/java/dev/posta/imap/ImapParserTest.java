package dev.posta.imap;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.imap.FetchItem.Section;
import dev.posta.imap.ImapCommand.StoreMode;
import dev.posta.imap.SequenceSet.Range;
import java.time.LocalDate;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Commands as RFC 9051's examples and real clients send them, and each one's parse, exactly. */
class ImapParserTest {
  private static ImapCommand parse(String command) {
    return ImapParser.parse((command + "\r\n").getBytes(UTF_8));
  }

  private static SequenceSet set(long... fromTo) {
    List<Range> ranges = new java.util.ArrayList<>();
    for (int i = 0; i < fromTo.length; i += 2) ranges.add(new Range(fromTo[i], fromTo[i + 1]));
    return new SequenceSet(ranges, false);
  }

  @Test
  void theSimpleCommands() {
    assertThat(parse("a001 CAPABILITY")).isEqualTo(new ImapCommand.Capability("a001"));
    assertThat(parse("a]1 NOOP")).as("']' is a tag character").isEqualTo(new ImapCommand.Noop("a]1"));
    assertThat(parse("a002 noop")).isEqualTo(new ImapCommand.Noop("a002"));
    assertThat(parse("A023 LOGOUT")).isEqualTo(new ImapCommand.Logout("A023"));
    assertThat(parse("a002 STARTTLS")).isEqualTo(new ImapCommand.StartTls("a002"));
    assertThat(parse("A341 CLOSE")).isEqualTo(new ImapCommand.Close("A341"));
    assertThat(parse("a UNSELECT")).isEqualTo(new ImapCommand.Unselect("a"));
    assertThat(parse("FXXZ CHECK")).isEqualTo(new ImapCommand.Check("FXXZ"));
    assertThat(parse("A202 EXPUNGE")).isEqualTo(new ImapCommand.Expunge("A202", null));
    assertThat(parse("a IDLE")).isEqualTo(new ImapCommand.Idle("a"));
    assertThat(parse("ns1 NAMESPACE")).isEqualTo(new ImapCommand.Namespace("ns1"));
    assertThat(parse("c COMPRESS deflate")).isEqualTo(new ImapCommand.Compress("c", "DEFLATE"));
  }

  @Test
  void loginTakesAtomsQuotedStringsAndLiterals() {
    assertThat(parse("a001 LOGIN SMITH SESAME")).isEqualTo(new ImapCommand.Login("a001", "SMITH", "SESAME"));
    assertThat(parse("a LOGIN \"me@localhost\" \"s3cret \\\"pass\\\\\"")).isEqualTo(new ImapCommand.Login("a", "me@localhost", "s3cret \"pass\\"));
    assertThat(parse("a LOGIN {12}\r\nme@localhost {11+}\r\ns3cret pass")).isEqualTo(new ImapCommand.Login("a", "me@localhost", "s3cret pass"));
    assertThat(parse("a LOGIN \"jürgen@localhost\" x")).isEqualTo(new ImapCommand.Login("a", "jürgen@localhost", "x"));
  }

  @Test
  void authenticateWithAndWithoutAnInitialResponse() {
    assertThat(parse("a AUTHENTICATE plain")).isEqualTo(new ImapCommand.Authenticate("a", "PLAIN", null));
    assertThat(parse("a AUTHENTICATE PLAIN AGZvbwBiYXI=")).isEqualTo(new ImapCommand.Authenticate("a", "PLAIN", "AGZvbwBiYXI="));
    assertThat(parse("a AUTHENTICATE SCRAM-SHA-256 =")).isEqualTo(new ImapCommand.Authenticate("a", "SCRAM-SHA-256", "="));
  }

  @Test
  void mailboxCommands() {
    assertThat(parse("A142 SELECT INBOX")).isEqualTo(new ImapCommand.Select("A142", "INBOX", false, false, null));
    assertThat(parse("A932 EXAMINE blurdybloop")).isEqualTo(new ImapCommand.Select("A932", "blurdybloop", true, false, null));
    assertThat(parse("a SELECT \"Sent Items\" (CONDSTORE)")).isEqualTo(new ImapCommand.Select("a", "Sent Items", false, true, null));
    assertThat(parse("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))"))
        .isEqualTo(new ImapCommand.Select("A02", "INBOX", false, false,
            new ImapCommand.Qresync(67890007, 20050715194045000L, set(41, 41, 43, 211, 214, 541))));
    assertThat(parse("A003 CREATE owatagusiam/")).isEqualTo(new ImapCommand.Create("A003", "owatagusiam/", List.of()));
    assertThat(parse("t1 CREATE \"Important Messages\" (USE (\\Important))"))
        .isEqualTo(new ImapCommand.Create("t1", "Important Messages", List.of("\\Important")));
    assertThat(parse("A683 DELETE blurdybloop")).isEqualTo(new ImapCommand.Delete("A683", "blurdybloop"));
    assertThat(parse("A683 RENAME blurdybloop sarasoop")).isEqualTo(new ImapCommand.Rename("A683", "blurdybloop", "sarasoop"));
    assertThat(parse("A002 SUBSCRIBE #news.comp.mail.mime")).isEqualTo(new ImapCommand.Subscribe("A002", "#news.comp.mail.mime"));
    assertThat(parse("A042 STATUS blurdybloop (UIDNEXT MESSAGES size)"))
        .isEqualTo(new ImapCommand.Status("A042", "blurdybloop", List.of("UIDNEXT", "MESSAGES", "SIZE")));
  }

  @Test
  void listInAllItsForms() {
    assertThat(parse("A101 LIST \"\" \"\"")).isEqualTo(new ImapCommand.ListMailboxes("A101", false, List.of(), "", List.of(""), List.of(), List.of()));
    assertThat(parse("A202 LIST ~/Mail/ %")).isEqualTo(new ImapCommand.ListMailboxes("A202", false, List.of(), "~/Mail/", List.of("%"), List.of(), List.of()));
    assertThat(parse("A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"*\" INBOX) RETURN (CHILDREN special-use STATUS (MESSAGES UNSEEN))"))
        .isEqualTo(new ImapCommand.ListMailboxes("A02", false, List.of("SUBSCRIBED", "RECURSIVEMATCH"), "", List.of("*", "INBOX"),
            List.of("CHILDREN", "SPECIAL-USE", "STATUS"), List.of("MESSAGES", "UNSEEN")));
    assertThat(parse("A002 LSUB \"#news.\" \"comp.mail.*\""))
        .isEqualTo(new ImapCommand.ListMailboxes("A002", true, List.of(), "#news.", List.of("comp.mail.*"), List.of(), List.of()));
  }

  @Test
  void appendWithFlagsDateAndAnyKindOfLiteral() {
    String message = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nSubject: afternoon meeting\r\n\r\nHello Joe\r\n";
    var a = (ImapCommand.Append) parse("A003 APPEND saved-messages (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {" + message.length() + "}\r\n" + message);
    assertThat(a.mailbox()).isEqualTo("saved-messages");
    assertThat(a.flags()).containsExactly("\\Seen");
    assertThat(a.internalDate()).isEqualTo(ZonedDateTime.parse("1994-02-07T21:52:25-08:00"));
    assertThat(new String(a.message(), UTF_8)).isEqualTo(message);
    var plus = (ImapCommand.Append) parse("b APPEND INBOX {3+}\r\nx\r\n");
    assertThat(plus.flags()).isEmpty();
    assertThat(plus.internalDate()).isNull();
    assertThat(plus.message()).containsExactly('x', '\r', '\n');
    var binary = (ImapCommand.Append) parse("c APPEND INBOX ~{3}\r\na\0b");
    assertThat(binary.message()).containsExactly('a', 0, 'b');
  }

  @Test
  void fetchItemsMacrosSectionsAndPartials() {
    assertThat(parse("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])")).isEqualTo(new ImapCommand.Fetch("A654", false, set(2, 4),
        List.of(new FetchItem.Flags(), new FetchItem.Body(new Section(List.of(), Section.Text.HEADER_FIELDS, List.of("DATE", "FROM")), null, false)),
        0, false));
    assertThat(parse("a FETCH 1:* fast")).isEqualTo(new ImapCommand.Fetch("a", false, set(1, SequenceSet.STAR),
        List.of(new FetchItem.Flags(), new FetchItem.InternalDate(), new FetchItem.Rfc822Size()), 0, false));
    assertThat(parse("a UID FETCH 4827313:4828442 (UID FLAGS BODY.PEEK[1.2.MIME] BODY[]<0.2048> BINARY.SIZE[1] BINARY.PEEK[2]<0.10>)"))
        .isEqualTo(new ImapCommand.Fetch("a", true, set(4827313, 4828442), List.of(new FetchItem.Uid(), new FetchItem.Flags(),
            new FetchItem.Body(new Section(List.of(1, 2), Section.Text.MIME, List.of()), null, true),
            new FetchItem.Body(new Section(List.of(), Section.Text.ALL, List.of()), new FetchItem.Partial(0, 2048), false),
            new FetchItem.Binary(List.of(1), null, true, true),
            new FetchItem.Binary(List.of(2), new FetchItem.Partial(0, 10), true, false)), 0, false));
    assertThat(parse("a FETCH 3 (BODY BODYSTRUCTURE ENVELOPE RFC822.HEADER BODY[3.TEXT] BODY[2])")).isEqualTo(new ImapCommand.Fetch("a", false,
        set(3, 3), List.of(new FetchItem.Structure(false), new FetchItem.Structure(true), new FetchItem.Envelope(),
            new FetchItem.Rfc822(Section.Text.HEADER), new FetchItem.Body(new Section(List.of(3), Section.Text.TEXT, List.of()), null, false),
            new FetchItem.Body(new Section(List.of(2), Section.Text.ALL, List.of()), null, false)), 0, false));
    assertThat(parse("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)"))
        .isEqualTo(new ImapCommand.Fetch("s100", true, set(300, 500), List.of(new FetchItem.Flags()), 12345, true));
  }

  @Test
  void storeCopyMoveAndUidExpunge() {
    assertThat(parse("A003 STORE 2:4 +FLAGS (\\Deleted)"))
        .isEqualTo(new ImapCommand.Store("A003", false, set(2, 4), -1, StoreMode.ADD, false, List.of("\\Deleted")));
    assertThat(parse("d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) -FLAGS.SILENT (\\Seen $Important)"))
        .isEqualTo(new ImapCommand.Store("d105", false, set(7, 7, 5, 5, 9, 9), 320162338, StoreMode.REMOVE, true, List.of("\\Seen", "$Important")));
    assertThat(parse("a UID STORE 1 FLAGS \\Seen \\Answered"))
        .isEqualTo(new ImapCommand.Store("a", true, set(1, 1), -1, StoreMode.REPLACE, false, List.of("\\Seen", "\\Answered")));
    assertThat(parse("A003 COPY 2:4 MEETING")).isEqualTo(new ImapCommand.Copy("A003", false, set(2, 4), "MEETING"));
    assertThat(parse("a UID MOVE 42:69 foo")).isEqualTo(new ImapCommand.Move("a", true, set(42, 69), "foo"));
    assertThat(parse("A003 UID EXPUNGE 3000:3002")).isEqualTo(new ImapCommand.Expunge("A003", set(3000, 3002)));
    assertThat(parse("a UID COPY $ Trash")).isEqualTo(new ImapCommand.Copy("a", true, SequenceSet.savedResult(), "Trash"));
  }

  @Test
  void searchKeysFormATree() {
    assertThat(parse("a SEARCH SINCE 1-FEB-1994")).as("months in any case")
        .isEqualTo(new ImapCommand.Search("a", false, null, null, new SearchKey.Date(SearchKey.DateWhen.SINCE, LocalDate.of(1994, 2, 1), false)));
    assertThat(parse("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"")).isEqualTo(new ImapCommand.Search("A282", false,
        List.of("MIN", "COUNT"), null, new SearchKey.And(List.of(new SearchKey.Flag("FLAGGED", true),
            new SearchKey.Date(SearchKey.DateWhen.SINCE, LocalDate.of(1994, 2, 1), false), new SearchKey.Not(new SearchKey.Header("FROM", "Smith"))))));
    assertThat(parse("A284 SEARCH CHARSET UTF-8 TEXT {12+}\r\nXXXXXXXXXXXX")).isEqualTo(new ImapCommand.Search("A284", false, null, "UTF-8",
        new SearchKey.Text(true, "XXXXXXXXXXXX")));
    assertThat(parse("a UID SEARCH OR (UNSEEN LARGER 1000) HEADER Message-ID <x@y> 1:5,*")).isEqualTo(new ImapCommand.Search("a", true, null, null,
        new SearchKey.And(List.of(new SearchKey.Or(new SearchKey.And(List.of(new SearchKey.Flag("SEEN", false), new SearchKey.Size(true, 1000))),
            new SearchKey.Header("MESSAGE-ID", "<x@y>")), new SearchKey.Messages(set(1, 5, SequenceSet.STAR, SequenceSet.STAR), false)))));
    assertThat(parse("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338 UID 2:4 keyword $Junk"))
        .isEqualTo(new ImapCommand.Search("a", false, null, null, new SearchKey.And(List.of(new SearchKey.ModSeq(620162338),
            new SearchKey.Messages(set(2, 4), true), new SearchKey.Keyword("$Junk", true)))));
  }

  @Test
  void enableAndId() {
    assertThat(parse("t2 ENABLE IMAP4rev2 CONDSTORE")).isEqualTo(new ImapCommand.Enable("t2", List.of("IMAP4REV2", "CONDSTORE")));
    Map<String, String> fields = new java.util.LinkedHashMap<>();
    fields.put("name", "sodr");
    fields.put("version", "19.34");
    fields.put("vendor", null);
    assertThat(parse("a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" NIL)")).isEqualTo(new ImapCommand.Id("a023", fields));
    assertThat(parse("a ID NIL")).isEqualTo(new ImapCommand.Id("a", Map.of()));
  }

  @Test
  void whatDoesNotParseIsBadWithAReasonAndUnknownCommandsAreNamed() {
    assertThat(parse("a FROB x y")).isEqualTo(new ImapCommand.Unknown("a", "FROB"));
    assertThat(parse("")).isEqualTo(new ImapCommand.Invalid("*", "a command starts with a tag"));
    assertThat(parse("a")).isEqualTo(new ImapCommand.Invalid("a", "expected ' ' before the end of the line"));
    assertThat(parse("a LOGIN x")).isEqualTo(new ImapCommand.Invalid("a", "expected ' ' before the end of the line"));
    assertThat(parse("a NOOP extra")).isEqualTo(new ImapCommand.Invalid("a", "unexpected text at octet 6"));
    assertThat(parse("a FETCH 0 FLAGS")).isEqualTo(new ImapCommand.Invalid("a", "not a sequence set at octet 9"));
    assertThat(parse("a FETCH 1 (FLAGS FROB)")).isEqualTo(new ImapCommand.Invalid("a", "unknown FETCH item FROB"));
    // RFC 9051 §9: ALL, FAST and FULL stand alone; Dovecot answers such a list BAD too.
    assertThat(parse("a FETCH 1 (BODY.PEEK[] FAST)")).isEqualTo(new ImapCommand.Invalid("a", "the FETCH macro FAST stands alone, not in a list"));
    assertThat(parse("a FETCH 1 (all)")).isEqualTo(new ImapCommand.Invalid("a", "the FETCH macro ALL stands alone, not in a list"));
    assertThat(parse("a LOGIN {100}\r\nshort")).isEqualTo(new ImapCommand.Invalid("a", "a literal longer than what follows it"));
    assertThat(parse("a LOGIN \"open")).isEqualTo(new ImapCommand.Invalid("a", "a quoted string without its end"));
    assertThat(parse("a LOGIN {3}\rabc x")).as("the reason names CR and LF, never holds them")
        .isEqualTo(new ImapCommand.Invalid("a", "expected LF at octet 12"));
    assertThat(parse("a SEARCH " + "NOT ".repeat(60) + "ALL")).isEqualTo(new ImapCommand.Invalid("a", "search criteria nested too deeply"));
    assertThat(parse("a UID FETCH 1 FLAGS (VANISHED)"))
        .isEqualTo(new ImapCommand.Invalid("a", "VANISHED needs UID FETCH with CHANGEDSINCE (RFC 7162 §3.2.6)"));
    assertThat(parse("a STORE 1 +FLAGS (\\Recent)")).isEqualTo(new ImapCommand.Invalid("a", "\\Recent cannot be set"));
    assertThat(parse("a APPEND INBOX (\\*) {1}\r\nx")).isEqualTo(new ImapCommand.Invalid("a", "\\* cannot be set"));
    assertThat(parse("a APPEND INBOX \"31-Feb-2024 10:00:00 +0000\" {1}\r\nx"))
        .isEqualTo(new ImapCommand.Invalid("a", "not a date-time: 31-Feb-2024 10:00:00 +0000"));
  }

  @Test
  void aSequenceSetKnowsWhatItHolds() {
    SequenceSet s = ((ImapCommand.Fetch) parse("a FETCH 2,4:7,9:* FLAGS")).set();
    assertThat(List.of(1L, 2L, 3L, 4L, 7L, 8L, 9L, 12L).stream().filter(s.resolve(12)::contains).toList()).containsExactly(2L, 4L, 7L, 9L, 12L);
    SequenceSet reversed = ((ImapCommand.Fetch) parse("a FETCH *:4 FLAGS")).set();
    assertThat(reversed.resolve(10).contains(3)).isFalse();
    assertThat(reversed.resolve(2).contains(2)).as("*:4 with 2 messages is 2:4").isTrue();
    SequenceSet.Resolved merged = ((ImapCommand.Fetch) parse("a FETCH 9:7,1,2:3,20:*,5 FLAGS")).set().resolve(25);
    assertThat(merged.from()).containsExactly(1, 5, 7, 20);
    assertThat(merged.to()).containsExactly(3, 5, 9, 25);
    var many = new StringBuilder("a FETCH 1");
    for (int i = 3; i < 80_000; i += 2) many.append(',').append(i);
    SequenceSet.Resolved odd = ((ImapCommand.Fetch) parse(many + " FLAGS")).set().resolve(100_000);
    assertThat(java.util.stream.LongStream.rangeClosed(1, 100_000).filter(odd::contains).count()).isEqualTo(40_000);
  }
}
