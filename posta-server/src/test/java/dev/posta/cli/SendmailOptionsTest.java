package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** sendmail's command line, -t's recipients and the end of input, without a server. */
class SendmailOptionsTest {
  private static Sendmail.Options parse(String... args) throws Sendmail.Usage {
    return Sendmail.parse(List.of(args), Sendmail.Mode.DELIVER);
  }

  @Test
  void theOptionsProgramsPass() throws Exception {
    var o = parse("-t", "-oi", "-f", "app@example.org", "-F", "The App", "-v", "--", "root", "-not-an-option");
    assertThat(o).isEqualTo(new Sendmail.Options(Sendmail.Mode.DELIVER, true, true, "app@example.org", "The App", 1, null,
        List.of("root", "-not-an-option")));
  }

  @Test
  void lettersGroupAndValuesAttachAsGetoptReadsThem() throws Exception {
    var o = parse("-ti", "-fapp@example.org", "-FThe App", "-Cposta.toml", "alice@localhost", "bob");
    assertThat(o).isEqualTo(new Sendmail.Options(Sendmail.Mode.DELIVER, true, true, "app@example.org", "The App", 0, Path.of("posta.toml"),
        List.of("alice@localhost", "bob")));
    assertThat(parse("-i").ignoreDots()).isTrue();
    assertThat(parse("-oem", "-odb", "root").ignoreDots()).isFalse();
    assertThat(parse("-r", "<bounce@example.org>", "root").sender()).isEqualTo("bounce@example.org");
    assertThat(parse("-f", "<>", "root").sender()).isEmpty();
  }

  @Test
  void historicOptionsAreAcceptedAndIgnored() throws Exception {
    var o = parse("-B", "8BITMIME", "-N", "never", "-R", "hdrs", "-V", "envid", "-X", "/tmp/log", "-h", "10", "-L", "label",
        "-O", "DeliveryMode=b", "-em", "-G", "-U", "-m", "-n", "-x", "-Q", "-q30m", "-odi", "root");
    assertThat(o).isEqualTo(new Sendmail.Options(Sendmail.Mode.DELIVER, false, false, null, null, 0, null, List.of("root")));
  }

  @Test
  void modesFromOptionsAndFromTheName() throws Exception {
    assertThat(parse("-bs").mode()).isEqualTo(Sendmail.Mode.SMTP);
    assertThat(parse("-bp").mode()).isEqualTo(Sendmail.Mode.LIST);
    assertThat(parse("-bm", "root").mode()).isEqualTo(Sendmail.Mode.DELIVER);
    assertThat(parse("-bi").mode()).isEqualTo(Sendmail.Mode.NEWALIASES);
    assertThat(parse("-I").mode()).isEqualTo(Sendmail.Mode.NEWALIASES);
    assertThat(Sendmail.modeFor("mailq")).isEqualTo(Sendmail.Mode.LIST);
    assertThat(Sendmail.modeFor("newaliases")).isEqualTo(Sendmail.Mode.NEWALIASES);
    assertThat(Sendmail.modeFor("sendmail")).isEqualTo(Sendmail.Mode.DELIVER);
    assertThat(Posta.calledAs("/usr/sbin/sendmail")).isEqualTo("sendmail");
    assertThat(Posta.calledAs("mailq")).isEqualTo("mailq");
    assertThat(Posta.calledAs(null)).isEqualTo("posta");
  }

  @Test
  void badCommandLinesAreUsageErrors() {
    assertThatThrownBy(() -> parse("-bd")).isInstanceOf(Sendmail.Usage.class).hasMessage("-bd is not supported (Posta takes -bm, -bs, -bp and -bi)");
    assertThatThrownBy(() -> parse("-bv", "root")).isInstanceOf(Sendmail.Usage.class);
    assertThatThrownBy(() -> parse("-f")).isInstanceOf(Sendmail.Usage.class).hasMessage("option -f needs a value");
    assertThatThrownBy(() -> parse("--", "")).isInstanceOf(Sendmail.Usage.class).hasMessage("an empty recipient argument");
  }

  @Test
  void dashTTakesToCcAndBccAndRemovesBcc() throws IOException {
    String message = """
        From: App <app@example.org>
        To: Alice <alice@example.org>, bob@example.org,
         "Smith, Carol" <carol@example.org>
        Cc: team: dave@example.org, erin@example.org;, root
        Bcc: secret@example.org,
        \tother-secret@example.org
        Subject: To: not-a-recipient@example.org
        bcc: (a comment) <third-secret@example.org>

        Bcc: body-line@example.org
        """;
    InputStream in = new ByteArrayInputStream(message.getBytes(UTF_8));
    Sendmail.Extracted x = Sendmail.extract(in);
    assertThat(x.recipients()).containsExactly("alice@example.org", "bob@example.org", "carol@example.org", "dave@example.org",
        "erin@example.org", "root", "secret@example.org", "other-secret@example.org", "third-secret@example.org");
    assertThat(new String(x.header(), UTF_8)).isEqualTo("""
        From: App <app@example.org>
        To: Alice <alice@example.org>, bob@example.org,
         "Smith, Carol" <carol@example.org>
        Cc: team: dave@example.org, erin@example.org;, root
        Subject: To: not-a-recipient@example.org

        """);
    assertThat(new String(in.readAllBytes(), UTF_8)).isEqualTo("Bcc: body-line@example.org\n");
  }

  @Test
  void dashTOnAMessageWithoutHeadersFindsNobodyAndKeepsItAll() throws IOException {
    InputStream in = new ByteArrayInputStream("just a body line\nand another\n".getBytes(UTF_8));
    Sendmail.Extracted x = Sendmail.extract(in);
    assertThat(x.recipients()).isEmpty();
    assertThat(new String(x.header(), UTF_8) + new String(in.readAllBytes(), UTF_8)).isEqualTo("just a body line\nand another\n");
  }

  @Test
  void crlfMessagesToo() throws IOException {
    Sendmail.Extracted x = Sendmail.extract(new ByteArrayInputStream("To: a@example.org\r\nBcc: b@example.org\r\n\r\nbody\r\n".getBytes(UTF_8)));
    assertThat(x.recipients()).containsExactly("a@example.org", "b@example.org");
    assertThat(new String(x.header(), UTF_8)).isEqualTo("To: a@example.org\r\n\r\n");
  }

  @Test
  void aLoneDotEndsTheInputUnlessDashI() throws IOException {
    String input = "Subject: x\n\n.leading dot\n..\n.\nafter the end\n";
    assertThat(new String(new Sendmail.DotEnds(new ByteArrayInputStream(input.getBytes(UTF_8))).readAllBytes(), UTF_8))
        .isEqualTo("Subject: x\n\n.leading dot\n..\n");
    assertThat(new String(new Sendmail.DotEnds(new ByteArrayInputStream("a\r\n.\r\nb\r\n".getBytes(UTF_8))).readAllBytes(), UTF_8))
        .isEqualTo("a\r\n");
    assertThat(new String(new Sendmail.DotEnds(new ByteArrayInputStream("a\n.".getBytes(UTF_8))).readAllBytes(), UTF_8)).isEqualTo("a\n");
  }

  @Test
  void repliesBecomeSysexits() {
    assertThat(Sendmail.refused("550 5.1.1 <nobody@localhost>: Recipient address rejected: no such user here").exit()).isEqualTo(67);
    assertThat(Sendmail.refused("553 5.7.1 <x@y>: Sender address rejected: not owned by user bob@localhost").exit()).isEqualTo(77);
    assertThat(Sendmail.refused("552 5.3.4 Message size exceeds fixed maximum message size (100 octets)").exit()).isEqualTo(65);
    assertThat(Sendmail.refused("550 5.6.0 Malformed message: a NUL octet").exit()).isEqualTo(65);
    assertThat(Sendmail.refused("501 5.1.3 Bad recipient address syntax: a@").exit()).isEqualTo(65);
    assertThat(Sendmail.refused("503 5.5.1 No recipients").exit()).isEqualTo(64);
    assertThat(Sendmail.refused("451 4.3.0 Local error in processing").exit()).isEqualTo(75);
    assertThat(Sendmail.refused("554 5.4.6 Too many hops").exit()).isEqualTo(69);
    assertThat(Sendmail.refused("garbage").exit()).isEqualTo(70);
  }
}
