package dev.posta.web.message;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.web.message.MessageView.HeaderField;
import dev.posta.web.message.MessageView.Limits;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** MIME structures as the web view reads them, each with the exact summary, text, HTML and attachments expected. */
class MessageViewTest {
  private static MessageView read(String message) throws IOException {
    return MessageView.read(new ByteArrayInputStream(message.getBytes(UTF_8)), Limits.DEFAULT);
  }

  private static String html(MessageView view) {
    return view.safeHtml(false, n -> "/part/" + n).html();
  }

  @Test
  void summaryFieldsAreUnfoldedAndDecoded() throws IOException {
    MessageView v = read("""
        Received: from a.example by b.example; Mon, 7 Dec 2026 05:00:00 +0000
        From: =?UTF-8?Q?Ren=C3=A9e_Dupont?= <renee@example.org>
        To: Ann <ann@example.org>,
         Bob <bob@example.org>
        Cc: =?ISO-8859-1?Q?J=F6rg?= <jorg@example.org>
        Reply-To: list@example.org
        Subject: =?UTF-8?B?Q2Fmw6kgw6AgbWlkaQ==?= today
        Date: Mon, 7 Dec 2026 06:01:02 +0100
        Message-ID: <1234@example.org>
        X-Raw-8bit: é

        Hello.
        """);
    assertThat(v.summary()).isEqualTo(new MessageView.Summary("Renée Dupont <renee@example.org>", "Ann <ann@example.org>, Bob <bob@example.org>",
        "Jörg <jorg@example.org>", "list@example.org", "Mon, 7 Dec 2026 06:01:02 +0100", Instant.parse("2026-12-07T05:01:02Z"), "Café à midi today",
        "<1234@example.org>"));
    assertThat(v.headers()).containsExactly(
        new HeaderField("Received", "from a.example by b.example; Mon, 7 Dec 2026 05:00:00 +0000"),
        new HeaderField("From", "Renée Dupont <renee@example.org>"),
        new HeaderField("To", "Ann <ann@example.org>, Bob <bob@example.org>"),
        new HeaderField("Cc", "Jörg <jorg@example.org>"),
        new HeaderField("Reply-To", "list@example.org"),
        new HeaderField("Subject", "Café à midi today"),
        new HeaderField("Date", "Mon, 7 Dec 2026 06:01:02 +0100"),
        new HeaderField("Message-ID", "<1234@example.org>"),
        new HeaderField("X-Raw-8bit", "é"));
    assertThat(v.addresses()).isEqualTo(new MessageView.Addresses("renee@example.org", List.of("ann@example.org", "bob@example.org"),
        List.of("jorg@example.org")));
    assertThat(v.text()).isEqualTo("Hello.\n");
    assertThat(v.hasHtml()).isFalse();
    assertThat(v.attachments()).isEmpty();
    assertThat(v.notes()).isEmpty();
  }

  @Test
  void addressesOpenGroupsOnceEachAndAnEmptyGroupHasNone() throws IOException {
    MessageView v = read("""
        From: a@example.org, b@example.org
        To: Team: ann@example.org, Bob <bob@example.org>;, ann@example.org
        Cc: undisclosed-recipients:;

        x
        """);
    assertThat(v.addresses()).isEqualTo(new MessageView.Addresses("a@example.org", List.of("ann@example.org", "bob@example.org"), List.of()));
    assertThat(read("\nx\n").addresses()).isEqualTo(new MessageView.Addresses(null, List.of(), List.of()));
  }

  @Test
  void theHtmlPartAsWrittenIsThereForTheApiAndSanitizedForThePages() throws IOException {
    MessageView v = read("""
        Content-Type: text/html; charset=utf-8

        <p onclick="steal()">Hi<script>alert(1)</script></p>
        """);
    assertThat(v.html()).isEqualTo("<p onclick=\"steal()\">Hi<script>alert(1)</script></p>\n");
    assertThat(html(v)).doesNotContain("onclick", "script").contains("Hi");
  }

  @Test
  void aMessageWithoutHeaderFieldsHasAnEmptySummary() throws IOException {
    MessageView v = read("\nJust a body.\n");
    assertThat(v.summary()).isEqualTo(new MessageView.Summary(null, null, null, null, null, null, null, null));
    assertThat(v.text()).isEqualTo("Just a body.\n");
  }

  @Test
  void anUnreadableDateKeepsItsText() throws IOException {
    MessageView v = read("Date: the day after tomorrow\n\nx\n");
    assertThat(v.summary().date()).isEqualTo("the day after tomorrow");
    assertThat(v.summary().sent()).isNull();
  }

  @Test
  void multipartAlternativeGivesTextAndHtml() throws IOException {
    MessageView v = read("""
        Subject: alt
        MIME-Version: 1.0
        Content-Type: multipart/alternative; boundary="b1"

        --b1
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: quoted-printable

        Caf=C3=A9 au lait =E2=82=AC
        --b1
        Content-Type: text/html; charset=utf-8
        Content-Transfer-Encoding: base64

        PHA+Q2Fmw6kgPGI+YXU8L2I+IGxhaXQ8L3A+PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==
        --b1--
        """);
    assertThat(v.text()).isEqualTo("Café au lait €");
    assertThat(html(v)).isEqualTo("<p>Café <b>au</b> lait</p>");
    assertThat(v.attachments()).isEmpty();
    assertThat(v.notes()).isEmpty();
  }

  @Test
  void mixedWithAttachmentsListsThemWithDecodedNamesAndSizes() throws IOException {
    MessageView v = read("""
        Subject: report
        Content-Type: multipart/mixed; boundary=outer

        --outer
        Content-Type: text/plain

        See attached.
        --outer
        Content-Type: application/pdf; name="=?UTF-8?B?w6l0w6kucGRm?="
        Content-Disposition: attachment;
         filename*0*=utf-8''%C3%A9t%C3%A9;
         filename*1=" report.pdf"
        Content-Transfer-Encoding: base64

        JVBERi0xLjQK
        --outer
        Content-Type: application/octet-stream; name="=?UTF-8?B?w6l0w6kuYmlu?="
        Content-Transfer-Encoding: base64

        AAEC
        --outer
        Content-Type: text/plain; name*=iso-8859-1''r%E9sum%E9.txt

        second text
        --outer
        Content-Type: text/calendar; method=REQUEST
        Content-Disposition: attachment

        BEGIN:VCALENDAR
        END:VCALENDAR
        --outer--
        """);
    assertThat(v.text()).isEqualTo("See attached.");
    assertThat(v.attachments()).containsExactly(
        new Attachment(2, "été report.pdf", "application/pdf", 9, null, false),
        new Attachment(3, "été.bin", "application/octet-stream", 3, null, false),
        new Attachment(4, "résumé.txt", "text/plain", 11, null, false),
        new Attachment(5, null, "text/calendar", 29, null, false));
    assertThat(v.attachments().get(3).downloadName()).isEqualTo("part-5.ics");
  }

  @Test
  void relatedWithCidImagesShowsThemFromTheirParts() throws IOException {
    MessageView v = read("""
        Content-Type: multipart/related; boundary=r; type="text/html"

        --r
        Content-Type: text/html; charset=us-ascii

        <p><img src="cid:logo@x.example" alt="logo"><img src="cid:evil@x.example"><img src="https://t.example/pixel.gif"></p>
        --r
        Content-Type: image/png
        Content-ID: <logo@x.example>
        Content-Transfer-Encoding: base64

        iVBORw0KGgo=
        --r
        Content-Type: text/html
        Content-ID: <evil@x.example>
        Content-Disposition: inline; filename=evil.html

        <script>alert(1)</script>
        --r--
        """);
    assertThat(v.text()).isNull();
    HtmlSanitizer.SafeHtml blocked = v.safeHtml(false, n -> "/mail/INBOX/7/part/" + n);
    // the HTML "image" is no image: its cid is not resolved, so no HTML part is ever loaded as one
    assertThat(blocked.html()).isEqualTo("<p><img src=\"/mail/INBOX/7/part/2\" alt=\"logo\"><img><img></p>");
    assertThat(blocked.blockedImages()).isEqualTo(1);
    assertThat(v.safeHtml(true, n -> "/part/" + n).html()).isEqualTo("<p><img src=\"/part/2\" alt=\"logo\"><img><img src=\"https://t.example/pixel.gif\"></p>");
    assertThat(v.attachments()).containsExactly(
        new Attachment(2, null, "image/png", 8, "logo@x.example", true),
        new Attachment(3, "evil.html", "text/html", 25, "evil@x.example", false));
    assertThat(v.attachments().get(1).servedType()).isEqualTo("application/octet-stream");
  }

  @Test
  void aForwardedMessageIsOneAttachmentNotOpened() throws IOException {
    MessageView v = read("""
        Content-Type: multipart/mixed; boundary=m

        --m
        Content-Type: text/plain

        Forwarding this.
        --m
        Content-Type: message/rfc822

        Subject: inner
        Content-Type: text/html

        <p>inner html</p>
        --m--
        """);
    assertThat(v.text()).isEqualTo("Forwarding this.");
    assertThat(v.hasHtml()).isFalse();
    assertThat(v.attachments()).containsExactly(new Attachment(2, null, "message/rfc822", 57, null, false));
    assertThat(v.attachments().getFirst().downloadName()).isEqualTo("part-2.eml");
  }

  @Test
  void anUnknownCharsetReadsAsUtf8WithANote() throws IOException {
    MessageView v = read("Content-Type: text/plain; charset=x-no-such-charset\n\nna\u00efve\n");
    assertThat(v.text()).isEqualTo("naïve\n");
    assertThat(v.notes()).containsExactly("The text part's charset \"x-no-such-charset\" is unknown: it is read as UTF-8.");
  }

  @Test
  void aDeclaredCharsetIsHonouredAndBadUtf8FallsBackToWindows1252() throws IOException {
    byte[] latin = "Content-Type: text/plain; charset=iso-8859-1\n\ncaf\u00e9 \u00a3\n".getBytes(ISO_8859_1);
    assertThat(MessageView.read(new ByteArrayInputStream(latin), Limits.DEFAULT).text()).isEqualTo("café £\n");
    byte[] undeclared = "Subject: x\n\ncaf\u00e9 \u0080\n".getBytes(ISO_8859_1); // 8-bit, no charset, not UTF-8
    assertThat(MessageView.read(new ByteArrayInputStream(undeclared), Limits.DEFAULT).text()).isEqualTo("café €\n");
  }

  @Test
  void aMultipartWithoutBoundaryIsReadAsText() throws IOException {
    MessageView v = read("""
        Content-Type: multipart/mixed

        --b
        Content-Type: text/plain

        hi
        --b--
        """);
    assertThat(v.text()).isEqualTo("--b\nContent-Type: text/plain\n\nhi\n--b--\n");
    assertThat(v.attachments()).isEmpty();
  }

  @Test
  void aMultipartCutShortKeepsWhatItHas() throws IOException {
    MessageView v = read("""
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: text/plain

        first
        --b
        Content-Type: image/png; name=a.png
        Content-Transfer-Encoding: base64

        iVBO""");
    assertThat(v.text()).isEqualTo("first");
    assertThat(v.attachments()).containsExactly(new Attachment(2, "a.png", "image/png", 3, null, false));
  }

  @Test
  void formatFlowedIsUnwrapped() throws IOException {
    MessageView v = read("Content-Type: text/plain; charset=utf-8; format=flowed\n\n"
        + "This is a long \nparagraph that \nflows.\n>Quoted line that \n>continues.\n>>Deeper.\n \n From stuffed\n-- \nSig\n");
    assertThat(v.text()).isEqualTo("This is a long paragraph that flows.\n> Quoted line that continues.\n>> Deeper.\n\nFrom stuffed\n-- \nSig\n");
    MessageView delsp = read("Content-Type: text/plain; format=flowed; delsp=yes\n\nsplit wo \nrd\n");
    assertThat(delsp.text()).isEqualTo("split word\n");
  }

  @Test
  void theFirstTextAndHtmlWinAndTheRestAreAttachments() throws IOException {
    MessageView v = read("""
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: multipart/alternative; boundary=a

        --a
        Content-Type: text/plain

        one
        --a
        Content-Type: text/html

        <p>one</p>
        --a--
        --b
        Content-Type: text/plain
        Content-Disposition: inline

        footer
        --b--
        """);
    assertThat(v.text()).isEqualTo("one");
    assertThat(html(v)).isEqualTo("<p>one</p>");
    assertThat(v.attachments()).containsExactly(new Attachment(3, null, "text/plain", 6, null, true));
  }

  @Test
  void extractStreamsOnePartsDecodedOctets() throws IOException {
    String message = """
        Content-Type: multipart/mixed; boundary=b

        --b
        Content-Type: text/plain

        body
        --b
        Content-Type: application/zip; name="a.zip"
        Content-Transfer-Encoding: base64

        UEsDBAo=
        --b--
        """;
    ByteArrayOutputStream got = new ByteArrayOutputStream();
    Optional<Attachment> a = MessageView.extract(new ByteArrayInputStream(message.getBytes(UTF_8)), 2, Limits.DEFAULT, part -> got);
    assertThat(a).contains(new Attachment(2, "a.zip", "application/zip", 5, null, false));
    assertThat(got.toByteArray()).containsExactly('P', 'K', 3, 4, 10);
    assertThat(MessageView.extract(new ByteArrayInputStream(message.getBytes(UTF_8)), 3, Limits.DEFAULT, part -> {
      throw new AssertionError("no part 3");
    })).isEmpty();
  }

  @Test
  void tooManyPartsShowsTheFirstWithANote() throws IOException {
    StringBuilder m = new StringBuilder("Content-Type: multipart/mixed; boundary=b\n\n");
    for (int i = 1; i <= 10; i++) m.append("--b\nContent-Type: application/octet-stream; name=p").append(i).append("\n\nx\n");
    m.append("--b--\n");
    MessageView v = MessageView.read(new ByteArrayInputStream(m.toString().getBytes(UTF_8)), new Limits(1 << 20, 4, 1 << 20));
    assertThat(v.attachments()).extracting(Attachment::filename).containsExactly("p1", "p2", "p3", "p4");
    assertThat(v.notes()).containsExactly("The message has more than 4 parts: only the first 4 are shown.");
  }

  @Test
  void aHugeMessageIsReadOnlyToTheLimitWithoutHoldingIt() throws IOException {
    // 200 MiB streamed through a 1 MiB limit: no array of that size is ever made, or this test runs out of heap
    String head = "Subject: big\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsmall text\n"
        + "--b\nContent-Type: application/octet-stream; name=big.bin\n\n";
    InputStream endless = new InputStream() {
      long left = 200L << 20;

      @Override
      public int read() {
        return left-- > 0 ? 'x' : -1;
      }

      @Override
      public int read(byte[] b, int off, int len) {
        if (left <= 0) return -1;
        int n = (int) Math.min(len, left);
        java.util.Arrays.fill(b, off, off + n, (byte) 'x');
        left -= n;
        return n;
      }
    };
    InputStream in = new SequenceInputStream(Collections.enumeration(List.of(new ByteArrayInputStream(head.getBytes(UTF_8)), endless)));
    MessageView v = MessageView.read(in, new Limits(1 << 20, 10, 1 << 10));
    assertThat(v.text()).isEqualTo("small text");
    assertThat(v.attachments()).hasSize(1);
    assertThat(v.attachments().getFirst().size()).isEqualTo((1 << 20) - head.length());
    assertThat(v.notes()).containsExactly("The message is larger than 1 MiB: only its beginning is shown.");
  }

  @Test
  void aLongTextPartIsCutWithANote() throws IOException {
    MessageView v = MessageView.read(new ByteArrayInputStream(("Subject: x\n\n" + "y".repeat(5000)).getBytes(UTF_8)), new Limits(1 << 20, 10, 2048));
    assertThat(v.text()).isEqualTo("y".repeat(2048));
    assertThat(v.notes()).containsExactly("The text part is larger than 2 KiB: only its beginning is shown.");
  }

  @Test
  void downloadNamesAreSafeAndDispositionsCarryBothForms() {
    assertThat(new Attachment(4, "../../etc/passwd", "text/plain", 1, null, false).downloadName()).isEqualTo("passwd");
    assertThat(new Attachment(4, "C:\\Users\\x\\evil.exe", "application/x-msdownload", 1, null, false).downloadName()).isEqualTo("evil.exe");
    assertThat(new Attachment(4, "invoice\u202Efdp.exe", "application/pdf", 1, null, false).downloadName()).isEqualTo("invoicefdp.exe");
    assertThat(new Attachment(4, " ..\"quoted\" <a>:b|c?d*.txt.. ", "text/plain", 1, null, false).downloadName()).isEqualTo("_quoted_ _a__b_c_d_.txt");
    assertThat(new Attachment(4, "...", "image/png", 1, null, false).downloadName()).isEqualTo("part-4.png");
    assertThat(new Attachment(4, "a".repeat(300) + ".pdf", "application/pdf", 1, null, false).downloadName()).isEqualTo("a".repeat(146) + ".pdf");
    assertThat(new Attachment(2, "été report.pdf", "application/pdf", 1, null, false).contentDisposition())
        .isEqualTo("attachment; filename=\"_t_ report.pdf\"; filename*=UTF-8''%C3%A9t%C3%A9%20report.pdf");
    assertThat(new Attachment(2, "a;b=c.txt", "text/plain", 1, null, false).contentDisposition())
        .isEqualTo("attachment; filename=\"a;b=c.txt\"; filename*=UTF-8''a%3Bb%3Dc.txt");
  }

  @Test
  void onlyAFewTypesAreServedAsThemselves() {
    assertThat(new Attachment(1, null, "image/png", 1, null, false).servedType()).isEqualTo("image/png");
    assertThat(new Attachment(1, null, "application/pdf", 1, null, false).servedType()).isEqualTo("application/pdf");
    for (String type : List.of("text/html", "image/svg+xml", "application/xhtml+xml", "text/xml", "application/javascript", "message/rfc822")) {
      assertThat(new Attachment(1, null, type, 1, null, false).servedType()).as(type).isEqualTo("application/octet-stream");
    }
    assertThat(new Attachment(1, null, "image/svg+xml", 1, "x@y", true).isImage()).isFalse();
  }
}
