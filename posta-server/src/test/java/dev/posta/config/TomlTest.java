package dev.posta.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.Toml.Table;
import dev.posta.config.Toml.Value;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The TOML subset parser: what it accepts, what it refuses, and the line each error names. */
class TomlTest {

  /** The tree as plain Java values, so expectations read like the TOML they come from. */
  private static Object plain(Value value) {
    return switch (value) {
      case Toml.Str s -> s.value();
      case Toml.Int i -> i.value();
      case Toml.Decimal d -> d.value();
      case Toml.Bool b -> b.value();
      case Toml.Array a -> a.items().stream().map(TomlTest::plain).toList();
      case Table t -> {
        Map<String, Object> map = new LinkedHashMap<>();
        t.entries().forEach((k, v) -> map.put(k, plain(v)));
        yield map;
      }
    };
  }

  static Stream<Arguments> accepted() {
    return Stream.of(
        Arguments.of("a = \"x\\ty\\n\\\"q\\\" \\\\ \\u00e9\"", Map.of("a", "x\ty\n\"q\" \\ \u00e9")),
        Arguments.of("a = \"\\b\\f\\r\\U0001F600\"", Map.of("a", "\b\f\r\uD83D\uDE00")),
        Arguments.of("a = 'C:\\new\\table \"q\"'", Map.of("a", "C:\\new\\table \"q\"")),
        Arguments.of("a = \"\"\nb = ''", Map.of("a", "", "b", "")),
        Arguments.of("a = \"x # not a comment\" # a comment", Map.of("a", "x # not a comment")),
        Arguments.of("a = 1_000_000\nb = -42\nc = +7\nd = 0\ne = -0", Map.of("a", 1_000_000L, "b", -42L, "c", 7L, "d", 0L, "e", 0L)),
        Arguments.of("a = 9223372036854775807", Map.of("a", Long.MAX_VALUE)),
        Arguments.of("a = 0.25\nb = -1.5\nc = 1e-3\nd = 2E+2\ne = 1_000.5", Map.of("a", 0.25, "b", -1.5, "c", 0.001, "d", 200.0, "e", 1000.5)),
        Arguments.of(
            "[[capture.faults]]\nstage = 'rcpt'\n\n[[capture.faults]]\nstage = 'mail'\n[capture.faults.extra]\nx = 1\n[capture]\ntarpit = '1s'",
            Map.of("capture", Map.of("faults", List.of(Map.of("stage", "rcpt"), Map.of("stage", "mail", "extra", Map.of("x", 1L))), "tarpit", "1s"))),
        Arguments.of("a = true\nb = false", Map.of("a", true, "b", false)),
        Arguments.of("a = []\nb = {}", Map.of("a", List.of(), "b", Map.of())),
        Arguments.of(
            "a = [  # the first\n  \"x\",\n\n  # between\n  'y', # trailing comma next\n]",
            Map.of("a", List.of("x", "y"))),
        Arguments.of("a = [1, 2,3 ]", Map.of("a", List.of(1L, 2L, 3L))),
        Arguments.of(
            "t = { k = \"v\", \"q k\" = [1, 2], n = { x = 1 } }",
            Map.of("t", Map.of("k", "v", "q k", List.of(1L, 2L), "n", Map.of("x", 1L)))),
        Arguments.of("\"quoted key\" = 1\n'literal key' = 2\nbare-Key_9 = 3", Map.of("quoted key", 1L, "literal key", 2L, "bare-Key_9", 3L)),
        Arguments.of(
            "[domains.\"example.org\"]\nmailboxes = [\"a\"]\n[ domains . 'b.example' ]",
            Map.of("domains", Map.of("example.org", Map.of("mailboxes", List.of("a")), "b.example", Map.of()))),
        Arguments.of("[a.b]\nx = 1\n[a]\ny = 2", Map.of("a", Map.of("b", Map.of("x", 1L), "y", 2L))),
        Arguments.of("a = 1\r\n# comment\r\n\r\nb = 'x'\r\n", Map.of("a", 1L, "b", "x")),
        Arguments.of("\uFEFF\t a\t=\t1\t", Map.of("a", 1L)),
        Arguments.of("", Map.of()),
        Arguments.of("# only a comment", Map.of()));
  }

  @ParameterizedTest
  @MethodSource("accepted")
  void parses(String toml, Map<String, Object> expected) throws Exception {
    assertThat(plain(Toml.parse(toml))).isEqualTo(expected);
  }

  static Stream<Arguments> rejected() {
    return Stream.of(
        Arguments.of("a = 1\na = 2", "2: duplicate key 'a' (first defined on line 1)"),
        Arguments.of("[t]\na = 1\n\n[t]", "4: table [t] is defined twice (first on line 1)"),
        Arguments.of("[a.b]\n[a.b]", "2: table [a.b] is defined twice (first on line 1)"),
        Arguments.of("[d.\"x.org\"]\n[d.\"x.org\"]", "2: table [d.\"x.org\"] is defined twice (first on line 1)"),
        Arguments.of("a = 1\n[a]", "2: table [a] clashes with the key defined on line 1"),
        Arguments.of("a = { x = 1 }\n[a.y]", "2: table [a] clashes with the key defined on line 1"),
        Arguments.of("[a.b]\n[a]\nb = 1", "3: duplicate key 'b' (first defined on line 1)"),
        Arguments.of("t = { a = 1, a = 2 }", "1: duplicate key 'a' (first defined on line 1)"),
        Arguments.of("a = \"abc", "1: unterminated string"),
        Arguments.of("a = \"abc\nb = 1", "1: unterminated string"),
        Arguments.of("a = 'abc", "1: unterminated string"),
        Arguments.of("x = 1\na = \"abc\\", "2: unterminated string"),
        Arguments.of("a = \"\\x\"", "1: invalid escape '\\x' in string"),
        Arguments.of("a = \"\\u12\"", "1: invalid escape: \\u needs 4 hex digits"),
        Arguments.of("a = \"\\uD800\"", "1: invalid escape '\\uD800': not a Unicode scalar value"),
        Arguments.of("a = \"\\U00110000\"", "1: invalid escape '\\U00110000': not a Unicode scalar value"),
        Arguments.of("a = \"tab\tok but bell\u0007 not\"", "1: control character U+0007 in string (use an escape)"),
        Arguments.of("a = [\n  1,\n  2\n", "1: unterminated array"),
        Arguments.of("a = [1 2]", "1: expected ',' or ']' in array, found '2'"),
        Arguments.of("a = [1,,2]", "1: missing value, found ','"),
        Arguments.of("a = [[1]]", "1: unsupported TOML: arrays of arrays or of inline tables"),
        Arguments.of("a = [\n  { x = 1 },\n]", "2: unsupported TOML: arrays of arrays or of inline tables"),
        Arguments.of("t = { a = 1, }", "1: trailing comma is not allowed in an inline table"),
        Arguments.of("t = { a = 1,\n b = 2 }", "1: unterminated inline table (it must be on one line)"),
        Arguments.of("t = { a = 1 b = 2 }", "1: expected ',' or '}' in inline table, found 'b'"),
        Arguments.of("\n\na.b = 1", "3: unsupported TOML: dotted keys (write a [table] header instead)"),
        Arguments.of("t = { a.b = 1 }", "1: unsupported TOML: dotted keys (write a [table] header instead)"),
        Arguments.of("a = inf", "1: unsupported TOML: inf and nan"),
        Arguments.of("a = -nan", "1: unsupported TOML: inf and nan"),
        Arguments.of("a = 1._5", "1: an underscore must sit between digits: 1._5"),
        Arguments.of("a = 1979-05-27", "1: unsupported TOML: dates and times"),
        Arguments.of("a = 07:32:00", "1: unsupported TOML: dates and times"),
        Arguments.of("a = \"\"\"x\"\"\"", "1: unsupported TOML: multi-line strings"),
        Arguments.of("a = '''x'''", "1: unsupported TOML: multi-line strings"),
        Arguments.of("servers = 1\n[[servers]]", "2: array of tables [[servers]] clashes with the key defined on line 1"),
        Arguments.of("[servers]\n[[servers]]", "2: array of tables [[servers]] clashes with the key defined on line 1"),
        Arguments.of("[[servers]]\n[servers]", "2: table [servers] clashes with the array of tables [[servers]] of line 1"),
        Arguments.of("[[servers]\n", "1: expected ']]' to close the table header, found end of line"),
        Arguments.of("a = 0x1F", "1: unsupported TOML: hexadecimal, octal and binary integers"),
        Arguments.of("a = 007", "1: leading zeros are not allowed: 007"),
        Arguments.of("a = 1__0", "1: invalid value '1__0' (strings must be quoted)"),
        Arguments.of("a = 9223372036854775808", "1: integer out of range: 9223372036854775808"),
        Arguments.of("a = yes", "1: invalid value 'yes' (strings must be quoted)"),
        Arguments.of("a =", "1: missing value, found end of file"),
        Arguments.of("a =\nb = 1", "1: missing value, found end of line"),
        Arguments.of("a 1", "1: expected '=' after key 'a', found '1'"),
        Arguments.of("= 1", "1: expected a key, found '='"),
        Arguments.of("a = 1 2", "1: expected end of line, found '2'"),
        Arguments.of("a = \"x\" \"y\"", "1: expected end of line, found '\"'"),
        Arguments.of("[t", "1: expected ']' to close the table header, found end of file"),
        Arguments.of("[]", "1: expected a key, found ']'"),
        Arguments.of("[t] x = 1", "1: expected end of line, found 'x'"),
        Arguments.of("a = 1\rb = 2", "1: expected end of line, found U+000D"));
  }

  @ParameterizedTest
  @MethodSource("rejected")
  void refuses(String toml, String lineAndMessage) {
    assertThatThrownBy(() -> Toml.parse(toml))
        .isInstanceOfSatisfying(
            Toml.TomlException.class,
            e -> assertThat(e.line() + ": " + e.getMessage()).isEqualTo(lineAndMessage));
  }

  @Test
  void everyValueRemembersItsLine() throws Exception {
    Table root =
        Toml.parse(
            """
            # comment
            top = 1

            [t]
            list = [
              "one",

              "two", # comment
            ]
            inline = { k = 'v' }
            [u.v]
            """);
    assertThat(root.entries().get("top").line()).isEqualTo(2);
    Table t = (Table) root.entries().get("t");
    assertThat(t.line()).isEqualTo(4);
    Toml.Array list = (Toml.Array) t.entries().get("list");
    assertThat(list.line()).isEqualTo(5);
    assertThat(list.items()).extracting(Value::line).containsExactly(6, 8);
    Table inline = (Table) t.entries().get("inline");
    assertThat(inline.line()).isEqualTo(10);
    assertThat(inline.entries().get("k").line()).isEqualTo(10);
    Table u = (Table) root.entries().get("u");
    assertThat(u.line()).isEqualTo(11);
    assertThat(u.entries().get("v").line()).isEqualTo(11);
  }

  @Test
  void anImplicitTableTakesTheLineOfItsOwnHeaderOnceDefined() throws Exception {
    Table root = Toml.parse("[a.b]\n\n[a]\n");
    assertThat(root.entries().get("a").line()).isEqualTo(3);
  }

  @Test
  void keepsKeysInFileOrder() throws Exception {
    Table root = Toml.parse("z = 1\na = 2\nm = 3");
    assertThat(root.entries().keySet()).containsExactly("z", "a", "m");
  }

  @Test
  void theResultCannotBeChangedByItsReaders() throws Exception {
    Table root = Toml.parse("a = [1]");
    assertThatThrownBy(() -> root.entries().remove("a")).isInstanceOf(UnsupportedOperationException.class);
    Toml.Array a = (Toml.Array) root.entries().get("a");
    assertThatThrownBy(() -> a.items().clear()).isInstanceOf(UnsupportedOperationException.class);
  }

  static Stream<Arguments> keys() {
    return Stream.of(
        Arguments.of("max-recipients", "max-recipients"),
        Arguments.of("example.org", "\"example.org\""),
        Arguments.of("say \"hi\"\\", "\"say \\\"hi\\\"\\\\\""),
        Arguments.of("", "\"\""));
  }

  @ParameterizedTest
  @MethodSource("keys")
  void quotesKeysOnlyWhenTheyAreNotBare(String key, String written) {
    assertThat(Toml.quoteKey(key)).isEqualTo(written);
  }
}
