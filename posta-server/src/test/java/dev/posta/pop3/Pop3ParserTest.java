package dev.posta.pop3;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Each command line and the command it is (RFC 1939, RFC 2449 §3, RFC 5034 §4): got, want. */
class Pop3ParserTest {
  static Stream<Arguments> lines() {
    return Stream.of(
        Arguments.of("USER me@localhost", new Pop3Command.User("me@localhost")),
        Arguments.of("user me@localhost", new Pop3Command.User("me@localhost")),
        Arguments.of("PASS two words ", new Pop3Command.Pass("two words ")), // RFC 1939 §7: spaces belong to the password
        Arguments.of("PASS", new Pop3Command.Invalid("PASS needs a password")),
        Arguments.of("USER", new Pop3Command.Invalid("USER needs a name")),
        Arguments.of("AUTH plain", new Pop3Command.Auth("PLAIN", null)),
        Arguments.of("AUTH PLAIN =", new Pop3Command.Auth("PLAIN", "=")),
        Arguments.of("AUTH PLAIN AGEAYg==", new Pop3Command.Auth("PLAIN", "AGEAYg==")),
        Arguments.of("AUTH", new Pop3Command.Invalid("AUTH takes a mechanism and an optional initial response")),
        Arguments.of("AUTH PLAIN a b", new Pop3Command.Invalid("AUTH takes a mechanism and an optional initial response")),
        Arguments.of("CAPA", new Pop3Command.Capa()),
        Arguments.of("stls", new Pop3Command.Stls()),
        Arguments.of("STAT ", new Pop3Command.Stat()),
        Arguments.of("NOOP x", new Pop3Command.Invalid("NOOP takes no arguments")),
        Arguments.of("LIST", new Pop3Command.List(0)),
        Arguments.of("LIST 2", new Pop3Command.List(2)),
        Arguments.of("LIST  2", new Pop3Command.List(2)),
        Arguments.of("LIST 0", new Pop3Command.Invalid("Invalid message number: 0")),
        Arguments.of("LIST -1", new Pop3Command.Invalid("Invalid message number: -1")),
        Arguments.of("LIST 1 2", new Pop3Command.Invalid("LIST takes at most a message number")),
        Arguments.of("UIDL", new Pop3Command.Uidl(0)),
        Arguments.of("UIDL 7", new Pop3Command.Uidl(7)),
        Arguments.of("RETR 99999999999999999999", new Pop3Command.Retr(Integer.MAX_VALUE)),
        Arguments.of("RETR +1", new Pop3Command.Invalid("Invalid message number: +1")),
        Arguments.of("DELE 3", new Pop3Command.Dele(3)),
        Arguments.of("DELE", new Pop3Command.Invalid("DELE takes a message number")),
        Arguments.of("TOP 1 0", new Pop3Command.Top(1, 0)),
        Arguments.of("TOP 1 x", new Pop3Command.Invalid("Invalid number of lines: x")),
        Arguments.of("RSET", new Pop3Command.Rset()),
        Arguments.of("QUIT", new Pop3Command.Quit()),
        Arguments.of("APOP me c4c9334bac560ecc979e58001b3e22fb", new Pop3Command.Unknown("APOP")),
        Arguments.of("GET / HTTP/1.1", new Pop3Command.Unknown("GET")),
        Arguments.of("", new Pop3Command.Invalid("Empty command")));
  }

  @ParameterizedTest
  @MethodSource("lines")
  void parses(String line, Pop3Command want) {
    assertThat(Pop3Parser.parse(line)).isEqualTo(want);
  }
}
