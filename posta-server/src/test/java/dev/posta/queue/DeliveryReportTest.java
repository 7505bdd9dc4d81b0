package dev.posta.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.client.MessageWriter;
import dev.posta.mail.AddressParser;
import dev.posta.mail.Envelope;
import dev.posta.mail.MailAddress;
import dev.posta.mail.MailParameters;
import dev.posta.mail.QueueId;
import dev.posta.mail.RcptParameters;
import dev.posta.mail.Recipient;
import dev.posta.queue.DeliveryReport.Action;
import dev.posta.queue.DeliveryReport.RecipientStatus;
import jakarta.mail.BodyPart;
import jakarta.mail.MessagingException;
import jakarta.mail.Session;
import jakarta.mail.internet.ContentType;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Reports built from constructed envelopes, read back with Angus Mail as a mail client would. */
class DeliveryReportTest {
  private static final String HOST = "mail.posta.test";
  /** Tue, 14 Nov 2023 22:13:20 +0000. */
  private static final Instant ARRIVED = Instant.ofEpochMilli(1_700_000_000_000L);
  private static final Instant TRIED = ARRIVED.plusSeconds(3600);
  private static final Instant NOW = ARRIVED.plusSeconds(7200);
  private static final String REFUSAL = "550 5.1.1 <bob@example.org>: no such user";

  private static final String HEADERS = "Received: from client.example ([192.0.2.7])\r\n\tby mail.posta.test; "
      + "Tue, 14 Nov 2023 22:13:20 +0000\r\nFrom: Alice <alice@posta.test>\r\nTo: bob@example.org\r\n"
      + "Subject: lunch\r\nMessage-ID: <1@posta.test>\r\n";
  private static final String ORIGINAL = HEADERS + "\r\nShall we have lunch?\r\n-- \r\nAlice\r\n";

  private static MailAddress address(String s) {
    try {
      return AddressParser.parseMailbox(s);
    } catch (AddressParser.SyntaxException e) {
      throw new AssertionError(e);
    }
  }

  private static Recipient rcpt(String address, String orcpt) {
    return new Recipient(address(address), new RcptParameters(null, orcpt));
  }

  private static Envelope envelope(String sender, String ret, String envid, Recipient... recipients) {
    return new Envelope(QueueId.next(), ARRIVED, "192.0.2.7", "client.example", sender == null ? null : address(sender),
        new MailParameters(-1, MailParameters.BodyType.EIGHT_BIT_MIME, false, ret, envid), List.of(recipients));
  }

  private static RecipientStatus refused(Recipient r) {
    return new RecipientStatus(r, Action.FAILED, "5.1.1", "mx.example.org", REFUSAL,
        "the recipient's server refused it", TRIED);
  }

  private static MessageWriter source(byte[] content) {
    return out -> {
      ByteBuffer b = ByteBuffer.wrap(content);
      while (b.hasRemaining()) out.write(b);
    };
  }

  private static byte[] build(Envelope e, String original, RecipientStatus... rs) throws IOException {
    byte[] content = original.getBytes(StandardCharsets.UTF_8);
    return DeliveryReport.build(HOST, e, content.length, source(content), List.of(rs), NOW);
  }

  private static MimeMessage parse(byte[] report) throws MessagingException {
    return new MimeMessage(Session.getInstance(new Properties()), new ByteArrayInputStream(report));
  }

  private static MimeMultipart parts(MimeMessage m) throws Exception {
    return new MimeMultipart(m.getDataHandler().getDataSource());
  }

  private static String body(BodyPart p) throws Exception {
    return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
  }

  private static byte[] raw(BodyPart p) throws Exception {
    return ((MimeBodyPart) p).getRawInputStream().readAllBytes();
  }

  /** The delivery-status part's lines, folds undone (RFC 5322 §2.2.3), blank lines kept. */
  private static List<String> statusLines(byte[] report) throws Exception {
    BodyPart p = parts(parse(report)).getBodyPart(1);
    assertThat(new ContentType(p.getContentType()).getBaseType()).isEqualTo("message/delivery-status");
    return Arrays.asList(body(p).replaceAll("\r\n[ \t]", " ").split("\r\n", -1));
  }

  @Test
  void aFailureIsAMultipartReportOfThreeParts() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    MimeMessage m = parse(build(e, ORIGINAL, refused(e.recipients().getFirst())));

    ContentType type = new ContentType(m.getContentType());
    assertThat(type.getBaseType()).isEqualTo("multipart/report");
    assertThat(type.getParameter("report-type")).isEqualTo("delivery-status");
    MimeMultipart parts = parts(m);
    assertThat(parts.getCount()).isEqualTo(3);
    assertThat(new ContentType(parts.getBodyPart(0).getContentType()).getBaseType()).isEqualTo("text/plain");
    assertThat(new ContentType(parts.getBodyPart(0).getContentType()).getParameter("charset")).isEqualTo("utf-8");
    assertThat(new ContentType(parts.getBodyPart(1).getContentType()).getBaseType()).isEqualTo("message/delivery-status");
    assertThat(new ContentType(parts.getBodyPart(2).getContentType()).getBaseType()).isEqualTo("message/rfc822");
  }

  @Test
  void headersNameTheMailSystemTheSenderAndSayAutoReplied() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    MimeMessage m = parse(build(e, ORIGINAL, refused(e.recipients().getFirst())));

    assertThat(m.getHeader("From", null)).isEqualTo("Mail Delivery System <MAILER-DAEMON@mail.posta.test>");
    assertThat(((InternetAddress) m.getFrom()[0]).getAddress()).isEqualTo("MAILER-DAEMON@mail.posta.test");
    assertThat(m.getHeader("To", null)).isEqualTo("<alice@posta.test>");
    assertThat(m.getHeader("Subject", null)).isEqualTo("Undelivered Mail Returned to Sender");
    assertThat(m.getHeader("Date", null)).isEqualTo("Wed, 15 Nov 2023 00:13:20 +0000");
    assertThat(m.getSentDate().toInstant()).isEqualTo(NOW);
    assertThat(m.getHeader("Auto-Submitted", null)).isEqualTo("auto-replied");
    assertThat(m.getHeader("MIME-Version", null)).isEqualTo("1.0");
    assertThat(m.getHeader("Message-ID", null)).matches("<" + e.id() + "\\.[0-9A-F]{16}@mail\\.posta\\.test>");
  }

  @Test
  void messageIdsDifferBetweenReportsOnTheSameMessage() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    String first = parse(build(e, ORIGINAL, refused(e.recipients().getFirst()))).getMessageID();
    String second = parse(build(e, ORIGINAL, refused(e.recipients().getFirst()))).getMessageID();
    assertThat(first).isNotEqualTo(second);
  }

  @Test
  void deliveryStatusHasTheFieldsOfRfc3464WithTheReplyVerbatim() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    byte[] report = build(e, ORIGINAL, refused(e.recipients().getFirst()));

    assertThat(statusLines(report)).containsExactly(
        "Reporting-MTA: dns; mail.posta.test",
        "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000",
        "",
        "Final-Recipient: rfc822; bob@example.org",
        "Action: failed",
        "Status: 5.1.1",
        "Remote-MTA: dns; mx.example.org",
        "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: no such user",
        "Last-Attempt-Date: Tue, 14 Nov 2023 23:13:20 +0000",
        "");
  }

  @Test
  void envelopeIdAndOriginalRecipientAppearOnlyWhenGiven() throws Exception {
    Envelope e = envelope("alice@posta.test", null, "QQ+2B314159", rcpt("bob@example.org", "rfc822;Bob+2BLunch@example.org"));
    byte[] report = build(e, ORIGINAL, refused(e.recipients().getFirst()));

    // RFC 3461 §6.3: the values of ENVID and ORCPT, decoded from xtext.
    assertThat(statusLines(report)).containsSubsequence(
        "Reporting-MTA: dns; mail.posta.test",
        "Original-Envelope-Id: QQ+314159",
        "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000",
        "",
        "Original-Recipient: rfc822;Bob+Lunch@example.org",
        "Final-Recipient: rfc822; bob@example.org");

    Envelope without = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    String plain = String.join("\n", statusLines(build(without, ORIGINAL, refused(without.recipients().getFirst()))));
    assertThat(plain).doesNotContain("Original-Envelope-Id").doesNotContain("Original-Recipient");
  }

  @Test
  void xtextThatDecodesToControlsIsWrittenAsReceived() {
    assertThat(DeliveryReport.xtextDecoded("a+0D+0ABcc:x")).isEqualTo("a+0D+0ABcc:x");
    assertThat(DeliveryReport.xtextDecoded("a+2")).isEqualTo("a+2");
    assertThat(DeliveryReport.xtextDecoded("a+3Db")).isEqualTo("a=b");
  }

  @Test
  void remoteMtaDiagnosticAndLastAttemptAreLeftOutWhenUnknown() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.invalid", null));
    var dns = new RecipientStatus(e.recipients().getFirst(), Action.FAILED, "5.1.2", null, null,
        "the domain example.invalid does not exist", null);
    byte[] report = build(e, ORIGINAL, dns);

    assertThat(statusLines(report)).containsExactly(
        "Reporting-MTA: dns; mail.posta.test",
        "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000",
        "",
        "Final-Recipient: rfc822; bob@example.invalid",
        "Action: failed",
        "Status: 5.1.2",
        "");
    assertThat(body(parts(parse(report)).getBodyPart(0)))
        .contains("<bob@example.invalid>: the domain example.invalid does not exist\r\n")
        .doesNotContain("said:");
  }

  @Test
  void twoRecipientsGiveTwoBlocks() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null), rcpt("carol@example.net", null));
    var carol = new RecipientStatus(e.recipients().get(1), Action.FAILED, "5.2.2", "mx.example.net",
        "552 5.2.2 mailbox full", "the recipient's mailbox is full", TRIED);
    byte[] report = build(e, ORIGINAL, refused(e.recipients().getFirst()), carol);

    assertThat(statusLines(report)).containsExactly(
        "Reporting-MTA: dns; mail.posta.test",
        "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000",
        "",
        "Final-Recipient: rfc822; bob@example.org",
        "Action: failed",
        "Status: 5.1.1",
        "Remote-MTA: dns; mx.example.org",
        "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.org>: no such user",
        "Last-Attempt-Date: Tue, 14 Nov 2023 23:13:20 +0000",
        "",
        "Final-Recipient: rfc822; carol@example.net",
        "Action: failed",
        "Status: 5.2.2",
        "Remote-MTA: dns; mx.example.net",
        "Diagnostic-Code: smtp; 552 5.2.2 mailbox full",
        "Last-Attempt-Date: Tue, 14 Nov 2023 23:13:20 +0000",
        "");
    assertThat(body(parts(parse(report)).getBodyPart(0))).contains(
        "<bob@example.org>: the recipient's server refused it\r\n"
            + "    host mx.example.org said: 550 5.1.1 <bob@example.org>: no such user\r\n",
        "<carol@example.net>: the recipient's mailbox is full\r\n"
            + "    host mx.example.net said: 552 5.2.2 mailbox full\r\n");
  }

  @Test
  void theNoticeExplainsInWords() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    String notice = body(parts(parse(build(e, ORIGINAL, refused(e.recipients().getFirst())))).getBodyPart(0));

    assertThat(notice).startsWith("This is the mail system at host mail.posta.test.\r\n\r\n"
        + "I'm sorry to have to inform you that your message could not be delivered to\r\n"
        + "one or more recipients. It's attached below.\r\n");
  }

  @Test
  void withoutRetTheOriginalComesBackByteForByte() throws Exception {
    for (String ret : new String[] {null, "FULL"}) {
      Envelope e = envelope("alice@posta.test", ret, null, rcpt("bob@example.org", null));
      BodyPart returned = parts(parse(build(e, ORIGINAL, refused(e.recipients().getFirst())))).getBodyPart(2);

      assertThat(new ContentType(returned.getContentType()).getBaseType()).isEqualTo("message/rfc822");
      assertThat(new String(raw(returned), StandardCharsets.UTF_8)).as("RET=%s", ret).isEqualTo(ORIGINAL);
      MimeMessage inner = (MimeMessage) returned.getContent();
      assertThat(inner.getSubject()).isEqualTo("lunch");
    }
  }

  @Test
  void retHdrsReturnsTheHeaderSectionWithoutBody() throws Exception {
    Envelope e = envelope("alice@posta.test", "HDRS", null, rcpt("bob@example.org", null));
    MimeMultipart parts = parts(parse(build(e, ORIGINAL, refused(e.recipients().getFirst()))));
    BodyPart returned = parts.getBodyPart(2);

    assertThat(new ContentType(returned.getContentType()).getBaseType()).isEqualTo("text/rfc822-headers");
    assertThat(body(returned)).isEqualTo(HEADERS).doesNotContain("lunch?");
    assertThat(body(parts.getBodyPart(0))).contains("Its headers are attached below.");
  }

  @Test
  void anOversizeOriginalComesBackAsHeadersAndTheNoticeSaysSo() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    byte[] content = ORIGINAL.getBytes(StandardCharsets.UTF_8);
    long size = DeliveryReport.MAX_RETURNED_SIZE + 1L;
    MimeMultipart parts = parts(parse(DeliveryReport.build(HOST, e, size, source(content),
        List.of(refused(e.recipients().getFirst())), NOW)));

    assertThat(new ContentType(parts.getBodyPart(2).getContentType()).getBaseType()).isEqualTo("text/rfc822-headers");
    assertThat(body(parts.getBodyPart(2))).isEqualTo(HEADERS);
    assertThat(body(parts.getBodyPart(0)).replace("\r\n", " ")).contains("too large to return in full (10485761 bytes)");
  }

  @Test
  void anOriginalLargerThanDeclaredIsStillCutToHeaders() throws Exception {
    // The size said small, the content is 11 MiB: the report never holds more than the limit.
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    AtomicInteger chunks = new AtomicInteger();
    MessageWriter big = out -> {
      out.write(ByteBuffer.wrap((HEADERS + "\r\n").getBytes(StandardCharsets.UTF_8)));
      byte[] line = ("x".repeat(1022) + "\r\n").getBytes(StandardCharsets.US_ASCII);
      for (int i = 0; i < 11 * 1024; i++) {
        chunks.incrementAndGet();
        out.write(ByteBuffer.wrap(line));
      }
    };
    byte[] report = DeliveryReport.build(HOST, e, 1000, big, List.of(refused(e.recipients().getFirst())), NOW);

    BodyPart returned = parts(parse(report)).getBodyPart(2);
    assertThat(new ContentType(returned.getContentType()).getBaseType()).isEqualTo("text/rfc822-headers");
    assertThat(body(returned)).isEqualTo(HEADERS);
    assertThat(chunks.get()).as("stopped at the limit").isLessThan(11 * 1024);
  }

  @Test
  void headersOnlyStopsReadingAtTheEndOfTheHeaderSection() throws Exception {
    Envelope e = envelope("alice@posta.test", "HDRS", null, rcpt("bob@example.org", null));
    List<String> written = new ArrayList<>();
    MessageWriter lines = out -> {
      for (String line : ORIGINAL.split("(?<=\r\n)")) {
        written.add(line);
        out.write(ByteBuffer.wrap(line.getBytes(StandardCharsets.UTF_8)));
      }
    };
    byte[] report = DeliveryReport.build(HOST, e, ORIGINAL.length(), lines, List.of(refused(e.recipients().getFirst())), NOW);

    assertThat(body(parts(parse(report)).getBodyPart(2))).isEqualTo(HEADERS);
    assertThat(written.getLast()).isEqualTo("\r\n"); // nothing read past the empty line
  }

  @Test
  void aRealReadErrorIsNotSwallowed() {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    MessageWriter broken = out -> {
      throw new IOException("segment truncated");
    };
    assertThatThrownBy(() -> DeliveryReport.build(HOST, e, 10, broken, List.of(refused(e.recipients().getFirst())), NOW))
        .isInstanceOf(IOException.class).hasMessage("segment truncated");
  }

  @Test
  void aMessageOfHeadersOnlyIsReturnedWhole() throws Exception {
    Envelope e = envelope("alice@posta.test", "HDRS", null, rcpt("bob@example.org", null));
    String allHeaders = "Subject: no body";
    byte[] report = build(e, allHeaders, refused(e.recipients().getFirst()));
    assertThat(body(parts(parse(report)).getBodyPart(2))).isEqualTo("Subject: no body\r\n");
  }

  @Test
  void aDelayReportSaysSoAndReturnsOnlyHeaders() throws Exception {
    Envelope e = envelope("alice@posta.test", "FULL", null, rcpt("slow@example.org", null));
    var delayed = new RecipientStatus(e.recipients().getFirst(), Action.DELAYED, "4.4.1", "mx.example.org",
        "451 4.4.1 try again later", "the recipient's server is not accepting mail right now", TRIED);
    byte[] report = build(e, ORIGINAL, delayed);
    MimeMessage m = parse(report);
    MimeMultipart parts = parts(m);

    assertThat(m.getSubject()).isEqualTo("Delayed Mail (still being retried)");
    assertThat(statusLines(report)).contains("Action: delayed", "Status: 4.4.1");
    assertThat(body(parts.getBodyPart(0))).contains("THIS IS A WARNING ONLY").contains("still trying");
    assertThat(new ContentType(parts.getBodyPart(2).getContentType()).getBaseType()).isEqualTo("text/rfc822-headers");
    assertThat(body(parts.getBodyPart(2))).isEqualTo(HEADERS);
  }

  @Test
  void aSuccessReportSaysDeliveredOrRelayedAndReturnsOnlyHeaders() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null), rcpt("carol@example.net", null));
    var delivered = new RecipientStatus(e.recipients().getFirst(), Action.DELIVERED, "2.0.0", "mx.example.org",
        "250 2.0.0 Ok: queued as 4F2", null, TRIED);
    var relayed = new RecipientStatus(e.recipients().get(1), Action.RELAYED, "2.0.0", "mx.example.net",
        "250 ok", null, TRIED);
    byte[] report = build(e, ORIGINAL, delivered, relayed);
    MimeMessage m = parse(report);
    MimeMultipart parts = parts(m);

    assertThat(m.getSubject()).isEqualTo("Successful Mail Delivery Report");
    assertThat(statusLines(report)).contains("Action: delivered", "Action: relayed", "Status: 2.0.0");
    assertThat(body(parts.getBodyPart(0)))
        .contains("successfully delivered")
        .contains("<bob@example.org>: delivered\r\n")
        .contains("<carol@example.net>: relayed to a server that does not send delivery reports\r\n");
    assertThat(new ContentType(parts.getBodyPart(2).getContentType()).getBaseType()).isEqualTo("text/rfc822-headers");
  }

  @Test
  void aNonAsciiRecipientIsTypedUtf8InThe7BitForm() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("用户@例子.测试", null));
    var status = new RecipientStatus(e.recipients().getFirst(), Action.FAILED, "5.1.1", "mx.例子.测试",
        "550 5.1.1 no such user", null, null);
    byte[] report = build(e, ORIGINAL, status);

    // RFC 6533 §3 utf-8-addr-xtext: each non-ASCII character as \x{HEX}.
    assertThat(statusLines(report)).contains(
        "Final-Recipient: utf-8; \\x{7528}\\x{6237}@\\x{4F8B}\\x{5B50}.\\x{6D4B}\\x{8BD5}");
    assertThat(body(parts(parse(report)).getBodyPart(0))).contains("<用户@例子.测试>: delivery failed");
    assertThat(DeliveryReport.typedAddress(new MailAddress("\"a b+c\"", "x.test"))).isEqualTo("rfc822; \"a b+c\"@x.test");
    assertThat(DeliveryReport.typedAddress(new MailAddress("\"ü b+c\"", "x.test")))
        .isEqualTo("utf-8; \"\\x{FC}\\x{20}b\\x{2B}c\"@x.test");
  }

  @Test
  void eightBitContentIsMarked8bit() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    String original = HEADERS + "Content-Type: text/plain; charset=utf-8\r\n\r\nGrüße\r\n";
    byte[] report = build(e, original, refused(e.recipients().getFirst()));
    MimeMessage m = parse(report);
    BodyPart returned = parts(m).getBodyPart(2);

    assertThat(returned.getHeader("Content-Transfer-Encoding")).containsExactly("8bit");
    assertThat(m.getHeader("Content-Transfer-Encoding", null)).isEqualTo("8bit");
    assertThat(new String(raw(returned), StandardCharsets.UTF_8)).isEqualTo(original);

    byte[] seven = build(e, ORIGINAL, refused(e.recipients().getFirst()));
    assertThat(new String(seven, StandardCharsets.UTF_8)).doesNotContain("Content-Transfer-Encoding");
  }

  @Test
  void theBoundaryOccursInNoPart() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    byte[] report = build(e, ORIGINAL, refused(e.recipients().getFirst()));
    String boundary = new ContentType(parse(report).getContentType()).getParameter("boundary");
    String text = new String(report, StandardCharsets.UTF_8);

    assertThat(boundary).startsWith("=_" + e.id() + "/");
    // Exactly the four delimiter lines: three parts and the close.
    assertThat(text.split(java.util.regex.Pattern.quote(boundary), -1)).hasSize(1 + 1 + 4);
  }

  @Test
  void everyLineEndsInCrlfAndNoneIsLongerThan998Octets() throws Exception {
    String words = ("550 5.7.1 " + "the quick brown fox jumps over the lazy dog ".repeat(60)).strip();
    String oneWord = "550 5.7.1 " + "y".repeat(1500);
    for (String diagnostic : new String[] {words, oneWord}) {
      Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
      var status = new RecipientStatus(e.recipients().getFirst(), Action.FAILED, "5.7.1", "mx.example.org",
          diagnostic, "the recipient's server refused it", TRIED);
      byte[] report = build(e, ORIGINAL, status);

      int lineStart = 0;
      for (int i = 0; i < report.length; i++) {
        if (report[i] == '\n') {
          assertThat(i).as("LF at %d preceded by CR", i).isGreaterThan(0);
          assertThat(report[i - 1]).as("LF at %d preceded by CR", i).isEqualTo((byte) '\r');
          assertThat(i - 1 - lineStart).as("line at %d", lineStart).isLessThanOrEqualTo(998);
          lineStart = i + 1;
        } else if (report[i] == '\r') {
          assertThat(i + 1 < report.length && report[i + 1] == '\n').as("CR at %d followed by LF", i).isTrue();
        }
      }
      assertThat(lineStart).as("ends with CRLF").isEqualTo(report.length);

      String diagnosticLine = statusLines(report).stream().filter(l -> l.startsWith("Diagnostic-Code:")).findFirst().orElseThrow();
      if (diagnostic == words) {
        // Folded at its own spaces: unfolding gives the reply back verbatim.
        assertThat(diagnosticLine).isEqualTo("Diagnostic-Code: smtp; " + diagnostic);
      } else {
        assertThat(diagnosticLine.replace(" ", "")).isEqualTo(("Diagnostic-Code: smtp; " + diagnostic).replace(" ", ""));
      }
    }
  }

  @Test
  void aReplyWithLineBreaksStaysOneField() throws Exception {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    var status = new RecipientStatus(e.recipients().getFirst(), Action.FAILED, "5.1.1", "mx.example.org",
        "550 no\r\nX-Injected: yes", null, TRIED);
    assertThat(statusLines(build(e, ORIGINAL, status))).contains("Diagnostic-Code: smtp; 550 no  X-Injected: yes")
        .noneMatch(l -> l.startsWith("X-Injected"));
  }

  @Test
  void neverAReportForTheNullSender() {
    Envelope e = envelope(null, null, null, rcpt("bob@example.org", null));
    assertThatThrownBy(() -> build(e, ORIGINAL, refused(e.recipients().getFirst())))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aMalformedStatusIsRefused() {
    Envelope e = envelope("alice@posta.test", null, null, rcpt("bob@example.org", null));
    var bad = new RecipientStatus(e.recipients().getFirst(), Action.FAILED, "550", null, null, null, null);
    assertThatThrownBy(() -> build(e, ORIGINAL, bad)).isInstanceOf(IllegalArgumentException.class);
  }
}
