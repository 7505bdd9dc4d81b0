package dev.posta.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.mail.MailAddress;
import dev.posta.mail.MailParameters;
import dev.posta.mail.RcptParameters;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Table-driven: command line in, command or exact refusal out. */
class CommandParserTest {

  /** Lines the parser refuses, with the reply's code and enhanced status. */
  static Stream<Arguments> refusals() {
    return Stream.of(
        Arguments.of("EHLO", "501 5.5.2"),
        Arguments.of("HELO ", "501 5.5.2"),
        Arguments.of("MAIL <a@b.example>", "501 5.5.2"),
        Arguments.of("MAIL FROM:a@b.example", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@b.example", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@b.example>junk", "501 5.1.7"),
        Arguments.of("MAIL FROM:<@b.example>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a..b@b.example>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<.a@b.example>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a.@b.example>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a b@b.example>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@-b.example>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@b..example>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@b.example.>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@b_c.example>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@[300.1.1.1]>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@[1.2.3]>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@[١.٢.٣.٤]> SMTPUTF8", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@[IPv6:zz::1]>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@[IPv6:1:2:3:4:5:6:7:8:9]>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<\"unterminated@b.example>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<" + "a".repeat(65) + "@b.example>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@" + "b".repeat(64) + ".example>", "501 5.1.7"),
        Arguments.of("MAIL FROM:<a@b.example> SIZE=abc", "501 5.5.2"),
        Arguments.of("MAIL FROM:<a@b.example> SIZE=1 SIZE=2", "501 5.5.2"),
        Arguments.of("MAIL FROM:<a@b.example> BODY=BINARYMIME", "555 5.5.4"),
        Arguments.of("MAIL FROM:<a@b.example> FOO=BAR", "555 5.5.4"),
        Arguments.of("MAIL FROM:<a@b.example> SMTPUTF8=yes", "501 5.5.2"),
        Arguments.of("MAIL FROM:<a@b.example> RET=ALL", "501 5.5.2"),
        Arguments.of("MAIL FROM:<a@b.example> ENVID=a=b", "501 5.5.4"),
        Arguments.of("MAIL FROM:<a@b.example> =x", "501 5.5.4"),
        Arguments.of("RCPT TO:<a@b.example> NOTIFY=", "501 5.5.4"),
        Arguments.of("MAIL FROM:<a@b.example> ENVID=" + "x".repeat(101), "501 5.5.2"),
        Arguments.of("MAIL FROM:<a@b.example> ENVID=a+zz", "501 5.5.2"),
        Arguments.of("RCPT <a@b.example>", "501 5.5.2"),
        Arguments.of("RCPT TO:<>", "501 5.1.3"),
        Arguments.of("RCPT TO:<a@>", "501 5.1.3"),
        Arguments.of("RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS", "501 5.5.2"),
        Arguments.of("RCPT TO:<a@b.example> NOTIFY=SUCCESS,SUCCESS", "501 5.5.2"),
        Arguments.of("RCPT TO:<a@b.example> NOTIFY=SOMETIMES", "501 5.5.2"),
        Arguments.of("RCPT TO:<a@b.example> ORCPT=rfc822", "501 5.5.2"),
        Arguments.of("RCPT TO:<a@b.example> XYZ", "555 5.5.4"),
        Arguments.of("DATA now", "501 5.5.4"),
        Arguments.of("RSET x", "501 5.5.4"),
        Arguments.of("QUIT now", "501 5.5.4"),
        Arguments.of("BDAT", "501 5.5.4"),
        Arguments.of("BDAT x", "501 5.5.4"),
        Arguments.of("BDAT 10 FIRST", "501 5.5.4"),
        Arguments.of("BDAT 10 LAST x", "501 5.5.4"),
        Arguments.of("BDAT -1", "501 5.5.4"),
        Arguments.of("VRFY", "501 5.5.2"),
        Arguments.of("MAIL FROM:<a@b.example> SIZE=123456789012345678901", "501 5.5.2"),
        Arguments.of("STARTTLS now", "501 5.5.4"),
        Arguments.of("AUTH", "501 5.5.2"),
        Arguments.of("AUTH PLAIN a b", "501 5.5.2"),
        // Found by Jazzer: a parameter text with a line break was echoed into the reply.
        Arguments.of("RCPT TO:<\"x y\"@[IP:2]> NMT=rfc411;a+\n0b", "500 5.5.2"),
        Arguments.of("MAIL FROM:<a@b.example> X=\r", "500 5.5.2"));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("refusals")
  void refuses(String line, String expected) {
    SmtpCommand c = CommandParser.parse(line);
    assertThat(c).isInstanceOf(SmtpCommand.Invalid.class);
    Reply r = ((SmtpCommand.Invalid) c).reply();
    assertThat(r.code() + " " + r.status()).isEqualTo(expected);
  }

  static Stream<Arguments> accepted() {
    return Stream.of(
        Arguments.of("EHLO client.example", new SmtpCommand.Ehlo("client.example")),
        Arguments.of("ehlo [192.0.2.1]", new SmtpCommand.Ehlo("[192.0.2.1]")),
        Arguments.of("HELO host", new SmtpCommand.Helo("host")),
        Arguments.of("MAIL FROM:<>", new SmtpCommand.Mail(null, MailParameters.NONE)),
        Arguments.of("mail from:<a@b.example>", new SmtpCommand.Mail(new MailAddress("a", "b.example"), MailParameters.NONE)),
        // Leniency every MTA has: a space after the colon.
        Arguments.of("MAIL FROM: <a@b.example>", new SmtpCommand.Mail(new MailAddress("a", "b.example"), MailParameters.NONE)),
        Arguments.of("MAIL FROM:<@relay.example,@r2.example:a@b.example>", new SmtpCommand.Mail(new MailAddress("a", "b.example"), MailParameters.NONE)),
        Arguments.of("MAIL FROM:<\"john doe\\\"x\"@b.example>", new SmtpCommand.Mail(new MailAddress("\"john doe\\\"x\"", "b.example"), MailParameters.NONE)),
        Arguments.of("MAIL FROM:<\"a>b\"@b.example>", new SmtpCommand.Mail(new MailAddress("\"a>b\"", "b.example"), MailParameters.NONE)),
        Arguments.of("MAIL FROM:<a@[192.0.2.1]>", new SmtpCommand.Mail(new MailAddress("a", "[192.0.2.1]"), MailParameters.NONE)),
        Arguments.of("MAIL FROM:<a@[IPv6:2001:db8::1]>", new SmtpCommand.Mail(new MailAddress("a", "[IPv6:2001:db8::1]"), MailParameters.NONE)),
        Arguments.of("MAIL FROM:<a@[IPv6:::ffff:192.0.2.1]>", new SmtpCommand.Mail(new MailAddress("a", "[IPv6:::ffff:192.0.2.1]"), MailParameters.NONE)),
        Arguments.of("MAIL FROM:<a@[x-tag:something]>", new SmtpCommand.Mail(new MailAddress("a", "[x-tag:something]"), MailParameters.NONE)),
        Arguments.of("MAIL FROM:<a@b.example> SIZE=1000 BODY=8BITMIME",
            new SmtpCommand.Mail(new MailAddress("a", "b.example"), new MailParameters(1000, MailParameters.BodyType.EIGHT_BIT_MIME, false, null, null))),
        Arguments.of("MAIL FROM:<用户@例子.example> SMTPUTF8",
            new SmtpCommand.Mail(new MailAddress("用户", "例子.example"), new MailParameters(-1, MailParameters.BodyType.SEVEN_BIT, true, null, null))),
        Arguments.of("MAIL FROM:<a@b.example> SMTPUTF8 SMTPUTF8 SIZE=5 SIZE=5",
            new SmtpCommand.Mail(new MailAddress("a", "b.example"), new MailParameters(5, MailParameters.BodyType.SEVEN_BIT, true, null, null))),
        // RFC 1870 §3: SIZE has up to 20 digits; past a long it is simply "too big".
        Arguments.of("MAIL FROM:<a@b.example> SIZE=99999999999999999999",
            new SmtpCommand.Mail(new MailAddress("a", "b.example"), new MailParameters(Long.MAX_VALUE, MailParameters.BodyType.SEVEN_BIT, false, null, null))),
        Arguments.of("MAIL FROM:<a@b.example> SIZE=00000000000000000001",
            new SmtpCommand.Mail(new MailAddress("a", "b.example"), new MailParameters(1, MailParameters.BodyType.SEVEN_BIT, false, null, null))),
        Arguments.of("AUTH plain dGVzdA==", new SmtpCommand.Auth("PLAIN", "dGVzdA==")),
        Arguments.of("STARTTLS", new SmtpCommand.StartTls()),
        Arguments.of("MAIL FROM:<a@b.example> RET=hdrs ENVID=QQ+2B314",
            new SmtpCommand.Mail(new MailAddress("a", "b.example"), new MailParameters(-1, MailParameters.BodyType.SEVEN_BIT, false, "HDRS", "QQ+2B314"))),
        Arguments.of("RCPT TO:<Postmaster>", new SmtpCommand.Rcpt(null, RcptParameters.NONE)),
        Arguments.of("RCPT TO:<x@localhost> NOTIFY=success,delay ORCPT=rfc822;x+40localhost",
            new SmtpCommand.Rcpt(new MailAddress("x", "localhost"), new RcptParameters("SUCCESS,DELAY", "rfc822;x+40localhost"))),
        Arguments.of("RCPT TO:<x@localhost> NOTIFY=NEVER", new SmtpCommand.Rcpt(new MailAddress("x", "localhost"), new RcptParameters("NEVER", null))),
        Arguments.of("DATA", new SmtpCommand.Data()),
        Arguments.of("BDAT 0 LAST", new SmtpCommand.Bdat(0, true)),
        Arguments.of("bdat 1000 last", new SmtpCommand.Bdat(1000, true)),
        Arguments.of("BDAT 1000", new SmtpCommand.Bdat(1000, false)),
        Arguments.of("RSET", new SmtpCommand.Rset()),
        Arguments.of("NOOP", new SmtpCommand.Noop()),
        Arguments.of("NOOP anything", new SmtpCommand.Noop()),
        Arguments.of("QUIT", new SmtpCommand.Quit()),
        Arguments.of("HELP", new SmtpCommand.Help()),
        Arguments.of("VRFY alice", new SmtpCommand.Vrfy("alice")),
        Arguments.of("EXPN staff", new SmtpCommand.NotImplemented("EXPN")),
        Arguments.of("ETRN example.org", new SmtpCommand.NotImplemented("ETRN")),
        Arguments.of("GET / HTTP/1.1", new SmtpCommand.HttpRequest("GET")),
        Arguments.of("CONNECT mx.example:25 HTTP/1.1", new SmtpCommand.HttpRequest("CONNECT")),
        Arguments.of("POST /cgi HTTP/1.0", new SmtpCommand.HttpRequest("POST")),
        Arguments.of("User-Agent: curl", new SmtpCommand.HttpRequest("USER-AGENT:")),
        Arguments.of("XYZZY", new SmtpCommand.Unknown("XYZZY")),
        Arguments.of("", new SmtpCommand.Unknown("")));
  }

  @ParameterizedTest(name = "[{0}]")
  @MethodSource("accepted")
  void parses(String line, SmtpCommand expected) {
    assertThat(CommandParser.parse(line)).isEqualTo(expected);
  }

  @Test
  void quotedLocalPartIsUnquotedForMailboxLookup() {
    var mail = (SmtpCommand.Mail) CommandParser.parse("MAIL FROM:<\"john \\\"j\\\" doe\"@b.example>");
    assertThat(mail.sender().unquotedLocalPart()).isEqualTo("john \"j\" doe");
    assertThat(mail.sender().toString()).isEqualTo("\"john \\\"j\\\" doe\"@b.example");
  }

  @Test
  void utf8AddressesAreFlagged() {
    assertThat(new MailAddress("用户", "localhost").isUtf8()).isTrue();
    assertThat(new MailAddress("user", "bücher.example").isUtf8()).isTrue();
    assertThat(new MailAddress("user", "localhost").isUtf8()).isFalse();
  }
}
