package dev.posta.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A strict, hand-written parser for the subset of TOML 1.0 that Posta's configuration uses.
 *
 * <p>Guarantees: every value in the result remembers the line it starts on, so callers can report
 * {@code file:line}; redefining a key or a table is an error, as in TOML; and anything outside the
 * subset is rejected with "unsupported TOML: ..." rather than half-understood. The subset: {@code
 * #} comments, {@code [a."b"]} table headers, {@code [[a.b]]} arrays of tables, {@code key =
 * value} with bare or quoted keys, and values that are basic or literal strings, decimal
 * integers, decimal floats ({@code 0.25}, {@code 1e-3}; no inf or nan), booleans, arrays (which
 * may span lines) and one-line inline tables. Parsing stops at the first syntax error, since what follows a
 * syntax error cannot be trusted.
 */
public final class Toml {

  /** A parsed value; {@link #line()} is the 1-based line it starts on. */
  public sealed interface Value permits Str, Int, Decimal, Bool, Array, Table {
    int line();
  }

  public record Str(String value, int line) implements Value {}

  public record Int(long value, int line) implements Value {}

  /** A float, such as a probability. */
  public record Decimal(double value, int line) implements Value {}

  public record Bool(boolean value, int line) implements Value {}

  public record Array(List<Value> items, int line) implements Value {}

  /** A table in file order. Mutable only while this parser builds it. */
  public static final class Table implements Value {
    // TOML lets [a.b] create [a] implicitly and [a] then be defined once; inline tables are closed.
    private enum Kind { ROOT, IMPLICIT, EXPLICIT, INLINE }

    private final Map<String, Value> entries = new LinkedHashMap<>();
    private Kind kind;
    private int line;

    private Table(Kind kind, int line) {
      this.kind = kind;
      this.line = line;
    }

    public Map<String, Value> entries() {
      return Collections.unmodifiableMap(entries);
    }

    @Override
    public int line() {
      return line;
    }
  }

  /** A syntax error at a line. */
  public static final class TomlException extends Exception {
    private final int line;

    TomlException(int line, String message) {
      super(message);
      this.line = line;
    }

    public int line() {
      return line;
    }
  }

  private static final Pattern BARE_KEY = Pattern.compile("[A-Za-z0-9_-]+");
  private static final Pattern INTEGER = Pattern.compile("[+-]?(0|[1-9](_?[0-9])*)");
  private static final Pattern FLOAT =
      Pattern.compile("[+-]?(inf|nan|[0-9_]+(\\.[0-9_]+)?[eE][+-]?[0-9_]+|[0-9_]+\\.[0-9_]+)");

  private final String src;
  /** The arrays made by {@code [[...]]} headers, which later headers of the same name extend (by identity). */
  private final java.util.Set<Array> tableArrays = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
  private int pos;
  private int line = 1;

  private Toml(String src) {
    // A byte-order mark is an encoding artefact, not content.
    this.src = src.startsWith("\uFEFF") ? src.substring(1) : src;
  }

  public static Table parse(String text) throws TomlException {
    return new Toml(text).document();
  }

  /**
   * Parses {@code text} as if its first line were line {@code firstLine} of a longer whole: the
   * lines of a second document kept apart from the first's (the cluster's shared configuration).
   */
  public static Table parse(String text, int firstLine) throws TomlException {
    Toml toml = new Toml(text);
    toml.line = firstLine;
    return toml.document();
  }

  /**
   * One document of two whose top-level keys do not overlap (a node's own file and the cluster's
   * shared configuration).
   *
   * @throws IllegalArgumentException when a key is in both
   */
  public static Table union(Table first, Table second) {
    Table root = new Table(Table.Kind.ROOT, 1);
    root.entries.putAll(first.entries);
    for (Map.Entry<String, Value> e : second.entries.entrySet()) {
      if (root.entries.putIfAbsent(e.getKey(), e.getValue()) != null) throw new IllegalArgumentException("'" + e.getKey() + "' is in both");
    }
    return root;
  }

  /** Writes a key as TOML would need it: bare if it can be, else quoted. */
  public static String quoteKey(String key) {
    if (BARE_KEY.matcher(key).matches()) return key;
    return '"' + key.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
  }

  private Table document() throws TomlException {
    Table root = new Table(Table.Kind.ROOT, 1);
    Table current = root;
    while (true) {
      skipBlank();
      if (eof()) return root;
      char c = peek();
      if (c == '[') current = header(root);
      else if (c != '#' && c != '\n' && c != '\r') keyValue(current);
      endOfLine();
    }
  }

  private Table header(Table root) throws TomlException {
    int at = line;
    pos++;
    boolean arrayOfTables = accept('[');
    List<String> keys = new ArrayList<>();
    do {
      skipBlank();
      keys.add(key());
      skipBlank();
    } while (accept('.'));
    if (!accept(']') || (arrayOfTables && !accept(']'))) {
      throw error("expected '" + (arrayOfTables ? "]]" : "]") + "' to close the table header, found " + found());
    }
    Table table = root;
    for (int i = 0; i < keys.size(); i++) {
      String name = "[" + String.join(".", keys.subList(0, i + 1).stream().map(Toml::quoteKey).toList()) + "]";
      boolean last = i == keys.size() - 1;
      Value existing = table.entries.get(keys.get(i));
      if (arrayOfTables && last) {
        // [[a.b]]: a new table at the end of the array a.b, made by the first such header.
        Table element = new Table(Table.Kind.EXPLICIT, at);
        if (existing == null) {
          Array array = new Array(new ArrayList<>(List.of(element)), at);
          tableArrays.add(array);
          table.entries.put(keys.get(i), array);
        } else if (existing instanceof Array array && tableArrays.contains(array)) {
          array.items().add(element);
        } else {
          throw new TomlException(at, "array of tables [" + name + "] clashes with the key defined on line " + existing.line());
        }
        return element;
      }
      if (existing instanceof Array array && tableArrays.contains(array)) {
        if (last) throw new TomlException(at, "table " + name + " clashes with the array of tables [" + name + "] of line " + array.line());
        // [a.b] or [[a.b]] under [[a]]: within a's last table, as TOML says.
        table = (Table) array.items().getLast();
        continue;
      }
      if (existing == null) {
        Table created = new Table(last ? Table.Kind.EXPLICIT : Table.Kind.IMPLICIT, at);
        table.entries.put(keys.get(i), created);
        table = created;
      } else if (existing instanceof Table t && t.kind != Table.Kind.INLINE) {
        if (last && t.kind == Table.Kind.EXPLICIT) {
          throw new TomlException(at, "table " + name + " is defined twice (first on line " + t.line + ")");
        }
        if (last) {
          t.kind = Table.Kind.EXPLICIT;
          t.line = at;
        }
        table = t;
      } else {
        throw new TomlException(at, "table " + name + " clashes with the key defined on line " + existing.line());
      }
    }
    return table;
  }

  private void keyValue(Table table) throws TomlException {
    int at = line;
    String key = key();
    skipBlank();
    if (is('.')) throw unsupported("dotted keys (write a [table] header instead)");
    if (!accept('=')) throw error("expected '=' after key '" + key + "', found " + found());
    skipBlank();
    put(table, key, value(), at);
  }

  private void put(Table table, String key, Value value, int at) throws TomlException {
    Value old = table.entries.putIfAbsent(key, value);
    if (old != null) {
      throw new TomlException(at, "duplicate key '" + key + "' (first defined on line " + old.line() + ")");
    }
  }

  private String key() throws TomlException {
    if (is('"')) return basicString();
    if (is('\'')) return literalString();
    int start = pos;
    while (!eof() && isBare(peek())) pos++;
    if (start == pos) throw error("expected a key, found " + found());
    return src.substring(start, pos);
  }

  private Value value() throws TomlException {
    int at = line;
    if (src.startsWith("\"\"\"", pos) || src.startsWith("'''", pos)) throw unsupported("multi-line strings");
    if (is('"')) return new Str(basicString(), at);
    if (is('\'')) return new Str(literalString(), at);
    if (is('[')) return array();
    if (is('{')) return inlineTable();
    return scalar();
  }

  private Value scalar() throws TomlException {
    int start = pos;
    while (!eof() && " \t\r\n,]}#".indexOf(peek()) < 0) pos++;
    String token = src.substring(start, pos);
    if (token.isEmpty()) throw error("missing value, found " + found());
    if (token.equals("true") || token.equals("false")) return new Bool(token.equals("true"), line);
    if (INTEGER.matcher(token).matches()) {
      try {
        return new Int(Long.parseLong(token.replace("_", "")), line);
      } catch (NumberFormatException e) {
        throw error("integer out of range: " + token);
      }
    }
    if (token.matches("[+-]?0[xob].*")) throw unsupported("hexadecimal, octal and binary integers");
    if (token.matches("\\d{4}-\\d\\d-\\d\\d.*|\\d\\d:\\d\\d.*")) throw unsupported("dates and times");
    if (token.matches("[+-]?0[0-9_]+")) throw error("leading zeros are not allowed: " + token);
    if (FLOAT.matcher(token).matches()) {
      if (token.contains("inf") || token.contains("nan")) throw unsupported("inf and nan");
      if (token.matches(".*(^|[^0-9])_.*|.*_($|[^0-9]).*")) throw error("an underscore must sit between digits: " + token);
      return new Decimal(Double.parseDouble(token.replace("_", "")), line);
    }
    throw error("invalid value '" + token + "' (strings must be quoted)");
  }

  private Array array() throws TomlException {
    int at = line;
    pos++;
    List<Value> items = new ArrayList<>();
    while (true) {
      skipBlankLinesAndComments();
      if (eof()) throw new TomlException(at, "unterminated array");
      if (accept(']')) break;
      Value item = value();
      if (item instanceof Array || item instanceof Table) {
        throw new TomlException(item.line(), "unsupported TOML: arrays of arrays or of inline tables");
      }
      items.add(item);
      skipBlankLinesAndComments();
      if (eof()) throw new TomlException(at, "unterminated array");
      if (accept(']')) break;
      if (!accept(',')) throw error("expected ',' or ']' in array, found " + found());
    }
    return new Array(List.copyOf(items), at);
  }

  private Table inlineTable() throws TomlException {
    int at = line;
    pos++;
    Table table = new Table(Table.Kind.INLINE, at);
    skipBlank();
    if (accept('}')) return table;
    while (true) {
      skipBlank();
      if (eof() || is('\n') || is('\r')) throw new TomlException(at, "unterminated inline table (it must be on one line)");
      keyValue(table);
      skipBlank();
      if (accept('}')) return table;
      if (eof() || is('\n') || is('\r')) throw new TomlException(at, "unterminated inline table (it must be on one line)");
      if (!accept(',')) throw error("expected ',' or '}' in inline table, found " + found());
      skipBlank();
      if (is('}')) throw error("trailing comma is not allowed in an inline table");
    }
  }

  private String basicString() throws TomlException {
    int at = line;
    pos++;
    StringBuilder sb = new StringBuilder();
    while (true) {
      if (eof() || is('\n') || is('\r')) throw new TomlException(at, "unterminated string");
      char c = src.charAt(pos++);
      if (c == '"') return sb.toString();
      if (c == '\\') escape(sb);
      else if (isControl(c)) throw error(String.format("control character U+%04X in string (use an escape)", (int) c));
      else sb.append(c);
    }
  }

  private void escape(StringBuilder sb) throws TomlException {
    char e = eof() ? '\n' : src.charAt(pos++);
    switch (e) {
      case '\\' -> sb.append('\\');
      case '"' -> sb.append('"');
      case 'n' -> sb.append('\n');
      case 't' -> sb.append('\t');
      case 'r' -> sb.append('\r');
      case 'b' -> sb.append('\b');
      case 'f' -> sb.append('\f');
      case 'u' -> codePoint(sb, 'u', 4);
      case 'U' -> codePoint(sb, 'U', 8);
      case '\n', '\r' -> throw error("unterminated string");
      default -> throw error("invalid escape '\\" + e + "' in string");
    }
  }

  private void codePoint(StringBuilder sb, char kind, int digits) throws TomlException {
    String hex = src.substring(pos, Math.min(pos + digits, src.length()));
    if (!hex.matches("[0-9A-Fa-f]{" + digits + "}")) {
      throw error("invalid escape: \\" + kind + " needs " + digits + " hex digits");
    }
    long cp = Long.parseLong(hex, 16);
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      throw error("invalid escape '\\" + kind + hex + "': not a Unicode scalar value");
    }
    sb.appendCodePoint((int) cp);
    pos += digits;
  }

  private String literalString() throws TomlException {
    int at = line;
    int start = ++pos;
    while (!eof() && !is('\'')) {
      if (is('\n') || is('\r')) break;
      if (isControl(peek())) throw error(String.format("control character U+%04X in string", (int) peek()));
      pos++;
    }
    if (!is('\'')) throw new TomlException(at, "unterminated string");
    return src.substring(start, pos++);
  }

  /** After a header or key/value only a comment may follow on the line. */
  private void endOfLine() throws TomlException {
    skipBlank();
    if (is('#')) skipComment();
    if (eof()) return;
    if (src.startsWith("\r\n", pos)) pos++;
    if (!accept('\n')) throw error("expected end of line, found " + found());
    line++;
  }

  private void skipBlankLinesAndComments() throws TomlException {
    while (true) {
      skipBlank();
      if (is('#')) skipComment();
      if (src.startsWith("\r\n", pos)) pos++;
      if (!accept('\n')) return;
      line++;
    }
  }

  private void skipComment() throws TomlException {
    while (!eof() && !is('\n') && !src.startsWith("\r\n", pos)) {
      if (isControl(peek())) throw error(String.format("control character U+%04X in comment", (int) peek()));
      pos++;
    }
  }

  private void skipBlank() {
    while (is(' ') || is('\t')) pos++;
  }

  private static boolean isBare(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  }

  private static boolean isControl(char c) {
    return (c < 0x20 && c != '\t') || c == 0x7F;
  }

  private boolean eof() {
    return pos >= src.length();
  }

  private char peek() {
    return src.charAt(pos);
  }

  private boolean is(char c) {
    return pos < src.length() && src.charAt(pos) == c;
  }

  private boolean accept(char c) {
    if (!is(c)) return false;
    pos++;
    return true;
  }

  /** The character at the cursor, printable in an error message. */
  private String found() {
    if (eof()) return "end of file";
    char c = peek();
    if (c == '\n' || src.startsWith("\r\n", pos)) return "end of line";
    return isControl(c) ? String.format("U+%04X", (int) c) : "'" + c + "'";
  }

  private TomlException error(String message) {
    return new TomlException(line, message);
  }

  private TomlException unsupported(String what) {
    return new TomlException(line, "unsupported TOML: " + what);
  }
}
