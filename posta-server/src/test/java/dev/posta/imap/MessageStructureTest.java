package dev.posta.imap;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.DovecotImap;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ENVELOPE, BODYSTRUCTURE, sections and the SEARCH helpers over the messages in
 * {@code resources/dev/posta/imap/mime}: exact strings for the representative ones, and every
 * one answered octet for octet as Debian's Dovecot answers it.
 */
class MessageStructureTest {
  @TempDir Path temp;

  /** The test messages, LF line ends as they sit on disk (and in a Maildir), by file name. */
  private static Map<String, byte[]> messages() throws IOException {
    Map<String, byte[]> all = new TreeMap<>();
    for (String name : List.of("01-plain", "02-no-content-type", "03-alternative-encoded-words", "04-mixed-attachments",
        "05-forwarded-message", "06-missing-headers", "07-malformed", "08-header-only", "09-message-alone",
        "10-folded-and-defaults", "11-8bit-header", "12-quotes-and-folded-name", "13-address-forms", "14-empty-fields",
        "15-repeated-fields", "16-parameters", "17-empty-group", "18-missing-address-parts", "19-type-alone",
        "20-broken-type", "21-multipart-without-boundary", "22-digest", "23-encoded-message",
        "24-comments-and-odd-fields", "25-nested-boundaries", "26-boundary-prefixes", "27-rfc2231-pieces",
        "28-only-close-delimiter", "29-two-content-types")) {
      try (InputStream in = MessageStructureTest.class.getResourceAsStream("mime/" + name + ".eml")) {
        all.put(name, in.readAllBytes());
      }
    }
    return all;
  }

  /** The octets IMAP serves: every bare LF made CRLF, as the store does before parsing. */
  private static byte[] crlf(byte[] lf) {
    var out = new java.io.ByteArrayOutputStream();
    for (int i = 0; i < lf.length; i++) {
      if (lf[i] == '\n' && (i == 0 || lf[i - 1] != '\r')) out.write('\r');
      out.write(lf[i]);
    }
    return out.toByteArray();
  }

  private static MessageStructure parse(String name) throws IOException {
    return MessageStructure.parse(crlf(messages().get(name)));
  }

  private static MessageStructure parse(byte[] crlfMessage) {
    return MessageStructure.parse(crlfMessage);
  }

  private static String envelope(MessageStructure m) {
    ResponseWriter w = new ResponseWriter(false);
    m.writeEnvelope(w);
    return new String(w.toByteArray(), UTF_8);
  }

  private static String structure(MessageStructure m, boolean extensible) {
    ResponseWriter w = new ResponseWriter(false);
    m.writeStructure(w, extensible);
    return new String(w.toByteArray(), UTF_8);
  }

  /** "2.1.MIME", "TEXT", "HEADER.FIELDS (FROM SUBJECT)" as the parser would give them. */
  private static FetchItem.Section section(String spec) {
    List<Integer> part = new ArrayList<>();
    String rest = spec;
    while (!rest.isEmpty() && Character.isDigit(rest.charAt(0))) {
      int dot = rest.indexOf('.');
      part.add(Integer.parseInt(dot < 0 ? rest : rest.substring(0, dot)));
      rest = dot < 0 ? "" : rest.substring(dot + 1);
    }
    List<String> fields = List.of();
    int paren = rest.indexOf(" (");
    if (paren >= 0) {
      fields = Arrays.asList(rest.substring(paren + 2, rest.length() - 1).split(" "));
      rest = rest.substring(0, paren);
    }
    FetchItem.Section.Text text = rest.isEmpty() ? FetchItem.Section.Text.ALL : FetchItem.Section.Text.valueOf(rest.replace('.', '_'));
    return new FetchItem.Section(part, text, fields);
  }

  private static String section(MessageStructure m, String spec) {
    return new String(m.section(section(spec)), UTF_8);
  }

  @Test
  void plainTextMessage() throws IOException {
    MessageStructure m = parse("01-plain");
    assertThat(envelope(m)).isEqualTo("(\"Mon, 3 Feb 2025 04:05:06 +0100\" \"Hello there\" ((\"Alice Example\" NIL \"alice\" \"example.org\"))"
        + " ((\"Alice Example\" NIL \"alice\" \"example.org\")) ((\"Alice Example\" NIL \"alice\" \"example.org\"))"
        + " ((\"Bob\" NIL \"bob\" \"example.com\")(NIL NIL \"carol\" \"example.net\")) ((\"Dan, the Man\" NIL \"dan\" \"example.com\"))"
        + " NIL \"<0@example.org>\" \"<1@example.org>\")");
    assertThat(structure(m, true)).isEqualTo("(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 35 2 NIL NIL NIL NIL)");
    assertThat(structure(m, false)).isEqualTo("(\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 35 2)");
    assertThat(m.sentDate()).isEqualTo(LocalDate.of(2025, 2, 3));
  }

  @Test
  void withoutContentTypeTheBodyIsUsAsciiText() throws IOException {
    MessageStructure m = parse("02-no-content-type");
    assertThat(structure(m, true)).isEqualTo("(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 20 2 NIL NIL NIL NIL)");
    assertThat(m.sentDate()).isNull();
  }

  @Test
  void alternativeWithEncodedWordsSentAsWritten() throws IOException {
    MessageStructure m = parse("03-alternative-encoded-words");
    assertThat(envelope(m)).isEqualTo("(\"Tue, 4 Feb 2025 10:00:00 -0500\" \"=?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\""
        + " ((\"=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=\" NIL \"jorg\" \"example.de\")) ((\"=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=\" NIL \"jorg\" \"example.de\"))"
        + " ((\"=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=\" NIL \"jorg\" \"example.de\")) ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))"
        + " NIL NIL NIL NIL)");
    assertThat(structure(m, true)).isEqualTo("((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"quoted-printable\" 15 0 NIL NIL NIL NIL)"
        + "(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 12 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"b1\") NIL NIL NIL)");
    assertThat(structure(m, false)).isEqualTo("((\"text\" \"plain\" (\"charset\" \"UTF-8\") NIL NIL \"quoted-printable\" 15 0)"
        + "(\"text\" \"html\" (\"charset\" \"UTF-8\") NIL NIL \"7bit\" 12 0) \"alternative\")");
    assertThat(m.headerValues("subject")).containsExactly("Grüße aus Köln");
    assertThat(m.headerValues("FROM")).containsExactly("Jörg Müller <jorg@example.de>");
    assertThat(m.headerValues("Cc")).isEmpty();
    assertThat(m.bodyContains("GRÜSSE")).as("simple case folding does not make ß SS").isFalse();
    assertThat(m.bodyContains("grÜße")).isTrue();
    assertThat(m.bodyContains("<P>hello")).isTrue();
    assertThat(m.bodyContains("preamble")).isFalse();
    assertThat(m.textContains("köln")).isTrue();
    assertThat(m.textContains("undisclosed")).isTrue();
    assertThat(new String(m.binary(List.of(1)), UTF_8)).isEqualTo("Grüße");
  }

  @Test
  void mixedWithAttachments() throws IOException {
    MessageStructure m = parse("04-mixed-attachments");
    assertThat(envelope(m)).isEqualTo("(NIL \"Report\" ((\"Alice\" NIL \"alice\" \"example.org\")) ((\"Alice\" NIL \"alice\" \"example.org\"))"
        + " ((\"Alice\" NIL \"alice\" \"example.org\")) ((NIL NIL \"friends\" NIL)(NIL NIL \"bob\" \"example.com\")"
        + "(\"Carol\" NIL \"carol\" \"example.net\")(NIL NIL NIL NIL)(NIL NIL \"dave\" \"example.com\")) NIL NIL NIL \"<mixed@example.org>\")");
    assertThat(structure(m, true)).isEqualTo("((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 0 NIL NIL NIL NIL)"
        + "(\"application\" \"pdf\" (\"name\" \"report.pdf\") \"<att1@example.org>\" \"The report\" \"base64\" 16 \"Q2hlY2sgSW50ZWdyaXR5IQ==\""
        + " (\"attachment\" (\"filename\" \"report.pdf\" \"size\" \"12\")) (\"en\" \"de\") NIL)"
        + "(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted-printable\" 7 0 NIL (\"attachment\" (\"filename*\" \"iso-8859-1''%E9t%E9.txt\")) NIL NIL)"
        + " \"mixed\" (\"boundary\" \"outer\" \"foo\" \"bar\") NIL (\"en\") \"http://example.org/x\")");
    assertThat(new String(m.binary(List.of(2)), UTF_8)).isEqualTo("Hello World!");
    assertThat(m.binary(List.of(3))).isEqualTo(new byte[] {(byte) 0xe9, 't', (byte) 0xe9});
    assertThat(m.binary(List.of(9))).isEmpty();
    assertThat(m.bodyContains("été")).as("quoted-printable Latin-1 decoded").isTrue();
    assertThat(m.bodyContains("Hello World")).as("an application/pdf part is not text").isFalse();
    assertThat(section(m, "2.MIME")).startsWith("Content-Type: application/pdf;").endsWith("Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n\r\n");
    assertThat(section(m, "1")).isEqualTo("See attached.");
    assertThat(section(m, "HEADER.FIELDS (SUBJECT MESSAGE-ID)")).isEqualTo("Subject: Report\r\nMessage-ID: <mixed@example.org>\r\n\r\n");
    assertThat(section(m, "HEADER.FIELDS.NOT (FROM TO SUBJECT MESSAGE-ID MIME-VERSION CONTENT-TYPE)"))
        .isEqualTo("Content-Language: en\r\nContent-Location: http://example.org/x\r\n\r\n");
  }

  @Test
  void forwardedMessageSections() throws IOException {
    MessageStructure m = parse("05-forwarded-message");
    assertThat(structure(m, false)).isEqualTo("((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 16 0)"
        + "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 276 (\"Sun, 2 Feb 2025 12:00:00 +0000\" \"inner\" ((\"Bob\" NIL \"bob\" \"example.com\"))"
        + " ((\"Bob\" NIL \"bob\" \"example.com\")) ((\"Bob\" NIL \"bob\" \"example.com\")) ((NIL NIL \"alice\" \"example.org\")) NIL NIL NIL NIL)"
        + " ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 10 0)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 12 0)"
        + " \"alternative\") 16) \"mixed\")");
    assertThat(section(m, "2.HEADER")).startsWith("Date: Sun, 2 Feb 2025").endsWith("boundary=\"y\"\r\n\r\n");
    assertThat(section(m, "2.TEXT")).startsWith("--y\r\n").endsWith("--y--\r\n");
    assertThat(section(m, "2.1")).isEqualTo("inner text");
    assertThat(section(m, "2.2.MIME")).isEqualTo("Content-Type: text/html\r\n\r\n");
    assertThat(section(m, "2.MIME")).isEqualTo("Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n");
    assertThat(section(m, "1.1")).as("1 of a single part is itself, as Dovecot answers").isEqualTo("Forwarded below.");
    assertThat(section(m, "1.HEADER")).isEmpty();
    assertThat(section(m, "3")).isEmpty();
    assertThat(section(m, "2.3.1")).isEmpty();
    assertThat(m.bodyContains("inner text")).isTrue();
  }

  @Test
  void theOnlyPartOfASinglePartMessageIsItsBody() throws IOException {
    MessageStructure m = parse("09-message-alone");
    assertThat(section(m, "1")).isEqualTo("From: inner@x.y\r\nSubject: inner only\r\n\r\ninner body\r\n");
    assertThat(section(m, "1.MIME")).as("the message's own header").startsWith("From: a@b.c\r\n");
    assertThat(section(m, "1.HEADER")).isEqualTo("From: inner@x.y\r\nSubject: inner only\r\n\r\n");
    assertThat(section(m, "1.1")).isEqualTo("inner body\r\n");
    assertThat(section(m, "TEXT")).isEqualTo(section(m, "1"));
    assertThat(section(m, "")).isEqualTo(new String(crlf(messages().get("09-message-alone")), UTF_8));
  }

  @Test
  void missingAndMalformedHeaders() throws IOException {
    assertThat(envelope(parse("06-missing-headers"))).isEqualTo("(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    assertThat(envelope(parse("10-folded-and-defaults"))).isEqualTo("(\"garbage date\" {18}\r\nMulti line subject ((\"Some One\" NIL \"some\" \"one.org\"))"
        + " ((NIL NIL \"sender\" \"one.org\")) ((NIL NIL \"reply\" \"one.org\")) NIL NIL ((NIL NIL \"bcc\" \"one.org\")) NIL NIL)");
    assertThat(parse("10-folded-and-defaults").headerValues("Subject")).containsExactly("Multi  line subject");
    assertThat(envelope(parse("18-missing-address-parts"))).isEqualTo("(NIL NIL ((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))"
        + " ((NIL NIL \"a\" \"b\")(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"c\" \"d\")) ((NIL NIL \"a\" \"b\"))"
        + " ((\"x\" NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")) ((NIL NIL \"broken\" \"MISSING_DOMAIN\")) ((NIL NIL \"MISSING_MAILBOX\" \"nolocal\")) NIL NIL)");
    MessageStructure broken = parse("07-malformed");
    assertThat(structure(broken, true)).isEqualTo("((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"base64\" 15 0 NIL NIL NIL NIL)"
        + "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 16 1 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"never\") NIL NIL NIL)"
        + " \"mixed\" (\"boundary\" \"zz\") NIL NIL NIL)");
    assertThat(broken.binary(List.of(1))).as("bad base64 decodes to what it can").isNotNull();
    assertThat(broken.headerValues("Subject")).as("an unknown charset's word stays as written").singleElement().asString().startsWith("=?bogus?Q?abc?= and ");
    assertThat(structure(parse("21-multipart-without-boundary"), false))
        .isEqualTo("((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")");
  }

  @Test
  void binaryRefusesAnUnknownEncoding() {
    MessageStructure m = parse("Content-Transfer-Encoding: x-uuencode\r\nMIME-Version: 1.0\r\n\r\nbegin 644 x\r\n".getBytes(UTF_8));
    assertThat(m.binary(List.of())).isNull();
    assertThat(m.binary(List.of(1))).isNull();
    MessageStructure plain = parse("Subject: x\r\n\r\nbody\r\n".getBytes(UTF_8));
    assertThat(plain.binary(List.of())).isEqualTo("body\r\n".getBytes(UTF_8));
  }

  @Test
  void sentDateIsTheDayWrittenInTheField() {
    assertThat(parse("Date: Sun, 31 Dec 2023 23:30:00 -0800\r\n\r\n".getBytes(UTF_8)).sentDate()).isEqualTo(LocalDate.of(2023, 12, 31));
    assertThat(parse("Date: 1 jan 99 00:00 GMT\r\n\r\n".getBytes(UTF_8)).sentDate()).isEqualTo(LocalDate.of(1999, 1, 1));
    assertThat(parse("Date: 31 Feb 2024 00:00 +0000\r\n\r\n".getBytes(UTF_8)).sentDate()).isNull();
    assertThat(parse("Date: yesterday\r\n\r\n".getBytes(UTF_8)).sentDate()).isNull();
  }

  @Test
  void nestingIsBoundedAndGarbageNeverThrows() {
    StringBuilder deep = new StringBuilder();
    for (int i = 0; i < 5000; i++) deep.append("Content-Type: multipart/mixed; boundary=b").append(i).append("\r\n\r\n--b").append(i).append("\r\n");
    StringBuilder wide = new StringBuilder("Content-Type: multipart/mixed; boundary=w\r\n\r\n");
    for (int i = 0; i < 20_000; i++) wide.append("--w\r\n\r\n").append(i).append("\r\n");
    StringBuilder forwards = new StringBuilder();
    for (int i = 0; i < 5000; i++) forwards.append("Content-Type: message/rfc822\r\n\r\n");
    for (String garbage : List.of(deep.toString(), wide.toString(), forwards.toString(), "", "\r\n", ":", "\n\n\n", "--\r\n--",
        "Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n", "From: \"unclosed\r\nTo: (unclosed <a@\r\n\r\n\u0000")) {
      MessageStructure m = parse(garbage.getBytes(UTF_8));
      exerciseEverything(m);
    }
    MessageStructure wideOne = parse(wide.toString().getBytes(UTF_8));
    assertThat(wideOne.section(section("9999"))).isNotEmpty();
    assertThat(wideOne.section(section("10001"))).as("parts past Dovecot's 10,000 are not split out").isEmpty();
  }

  /** Every method over a message, as the fuzz test calls them. */
  static void exerciseEverything(MessageStructure m) {
    m.writeEnvelope(new ResponseWriter(false));
    m.writeStructure(new ResponseWriter(false), true);
    m.writeStructure(new ResponseWriter(true), false);
    for (String spec : List.of("", "1", "2", "1.1", "2.1.3", "HEADER", "TEXT", "1.MIME", "2.HEADER", "1.TEXT", "HEADER.FIELDS (FROM)", "1.HEADER.FIELDS.NOT (TO)")) {
      m.section(section(spec));
    }
    m.binary(List.of());
    m.binary(List.of(1));
    m.binary(List.of(2, 1));
    m.headerValues("Subject");
    m.bodyContains("x");
    m.textContains("y");
    m.sentDate();
  }

  /** Dovecot's answers in the order asked, so each message's FETCH line can be compared whole. */
  private static final List<String> SECTIONS = List.of("1", "2", "1.MIME", "2.MIME", "1.1", "2.1", "2.2.MIME", "2.HEADER", "2.TEXT", "1.HEADER",
      "3", "HEADER", "TEXT", "HEADER.FIELDS (FROM SUBJECT CONTENT-TYPE)", "HEADER.FIELDS.NOT (FROM SUBJECT)", "2.HEADER.FIELDS (SUBJECT)");

  @Test
  void everyMessageReadsAsDovecotReadsIt() throws Exception {
    Map<String, byte[]> messages = messages();
    Path maildir = temp.resolve("mail");
    for (String d : List.of("cur", "new", "tmp")) Files.createDirectories(maildir.resolve(d));
    int n = 0;
    for (byte[] lf : messages.values()) {
      n++;
      String file = (1700000000 + n) + ".M" + n + "P1.host,S=" + lf.length + ",W=" + crlf(lf).length + ":2,";
      Files.write(maildir.resolve("cur").resolve(file), lf);
      Files.setLastModifiedTime(maildir.resolve("cur").resolve(file), java.nio.file.attribute.FileTime.fromMillis((1700000000L + n) * 1000));
    }
    String sections = String.join(" ", SECTIONS.stream().map(s -> "BODY.PEEK[" + s + "]").toList());
    String answer = DovecotImap.run(temp, maildir, temp.resolve("dovecot"),
        List.of("a SELECT INBOX", "b FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY)", "c FETCH 1:* (" + sections + ")"));
    // Dovecot runs the two FETCHes before it sends either tagged OK: the untagged lines come b's, then c's
    List<String> lines = fetchLines(answer, "a OK", "b OK");
    assertThat(lines).hasSize(2 * messages.size());
    List<String> structures = lines.subList(0, messages.size());
    List<String> bodies = lines.subList(messages.size(), lines.size());

    List<String> ourStructures = new ArrayList<>(), ourBodies = new ArrayList<>();
    n = 0;
    for (byte[] lf : messages.values()) {
      n++;
      MessageStructure m = MessageStructure.parse(crlf(lf));
      ResponseWriter w = new ResponseWriter(false).text("* " + n + " FETCH (ENVELOPE ");
      m.writeEnvelope(w);
      w.text(" BODYSTRUCTURE ");
      m.writeStructure(w, true);
      w.text(" BODY ");
      m.writeStructure(w, false);
      ourStructures.add(new String(w.text(")").toByteArray(), UTF_8));
      w = new ResponseWriter(false).text("* " + n + " FETCH (");
      for (String s : SECTIONS) w.text((s.equals(SECTIONS.getFirst()) ? "" : " ") + "BODY[" + s + "] ").literal(m.section(section(s)));
      ourBodies.add(new String(w.text(")").toByteArray(), UTF_8));
    }
    assertThat(ourStructures).containsExactlyElementsOf(structures);
    assertThat(ourBodies).containsExactlyElementsOf(bodies);
  }

  /** The untagged FETCH responses between two tagged ones, one element per message. */
  private static List<String> fetchLines(String answer, String after, String before) {
    int from = answer.indexOf("\r\n", answer.indexOf("\r\n" + after) + 2) + 2;
    String block = answer.substring(from, answer.indexOf("\r\n" + before, from));
    return Arrays.asList(block.split("\r\n(?=\\* \\d+ FETCH )"));
  }
}
