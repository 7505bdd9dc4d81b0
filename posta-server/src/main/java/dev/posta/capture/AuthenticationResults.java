package dev.posta.capture;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The Authentication-Results field (RFC 8601) that capture mode put on a received message,
 * parsed: for each method (SPF, DKIM, DMARC) its result, its reason and its properties.
 *
 * <pre>{@code
 * AuthenticationResults r = message.authenticationResults();
 * assertThat(r.dkim().get(0).result()).isEqualTo("pass");
 * assertThat(r.spf().property("smtp.mailfrom")).isEqualTo("example.test");
 * }</pre>
 *
 * <p>The parser follows §2.2's grammar as far as a test needs: the authserv-id, then resinfos
 * separated by ';', each {@code method=result}, an optional comment or {@code reason=} (the
 * reason), and {@code ptype.property=value} pairs; comments and quoted strings may hold ';'.
 * Method names and results are lower case (they are case-insensitive, §2.2); values are as
 * written, without their quotes.
 *
 * <p>Here, below both faces, so that the JUnit extension ({@code ReceivedMessage}) and the HTTP
 * API ({@code GET /api/v1/messages/{id}}) read the field one way.
 */
public final class AuthenticationResults {
  /**
   * One method's result.
   *
   * @param method {@code spf}, {@code dkim}, {@code dmarc}, ...
   * @param result {@code pass}, {@code fail}, {@code none}, ...
   * @param reason the {@code reason=} value or, when there is none, the comment after the result; "" when neither
   * @param properties {@code header.d}, {@code smtp.mailfrom}, ... to their values, in order
   */
  public record Result(String method, String result, String reason, Map<String, String> properties) {
    public Result {
      properties = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(properties));
    }

    /** A property's value ({@code header.d}, {@code header.s}, {@code smtp.mailfrom}, {@code header.from}), or null. */
    public String property(String name) {
      return properties.get(name.toLowerCase(Locale.ROOT));
    }

    /** As the field writes it, roughly: {@code dkim=pass (reason) header.d=example.test}. */
    @Override
    public String toString() {
      StringBuilder s = new StringBuilder(method).append('=').append(result);
      if (!reason.isEmpty()) s.append(" (").append(reason).append(')');
      properties.forEach((k, v) -> s.append(' ').append(k).append('=').append(v));
      return s.toString();
    }
  }

  private final String field;
  private final String authservId;
  private final List<Result> results;

  private AuthenticationResults(String field, String authservId, List<Result> results) {
    this.field = field;
    this.authservId = authservId;
    this.results = List.copyOf(results);
  }

  /** The field as the message has it ({@code Authentication-Results: ...}, unfolded). */
  public String field() {
    return field;
  }

  /** Who checked: the server's host name ({@code localhost} unless {@code withHostname} says otherwise). */
  public String authservId() {
    return authservId;
  }

  /** Every result, in the field's order. */
  public List<Result> results() {
    return results;
  }

  /** The SPF result, or null when the field has none. */
  public Result spf() {
    return first("spf");
  }

  /** The DKIM results: one per signature, or one {@code dkim=none} for an unsigned message. */
  public List<Result> dkim() {
    return results.stream().filter(r -> r.method().equals("dkim")).toList();
  }

  /** The DMARC result, or null when the field has none. */
  public Result dmarc() {
    return first("dmarc");
  }

  private Result first(String method) {
    return results.stream().filter(r -> r.method().equals(method)).findFirst().orElse(null);
  }

  @Override
  public String toString() {
    return field;
  }

  /** Parses a field's value (after the colon; folded or not). */
  public static AuthenticationResults parse(String value) {
    String unfolded = value.replaceAll("\r?\n(?=[ \t])", "").strip();
    List<String> parts = split(unfolded);
    String authserv = parts.isEmpty() ? "" : firstToken(parts.getFirst());
    List<Result> results = new ArrayList<>();
    for (int i = 1; i < parts.size(); i++) {
      Result r = resinfo(parts.get(i));
      if (r != null) results.add(r);
    }
    return new AuthenticationResults("Authentication-Results: " + unfolded, authserv, results);
  }

  /** Splits at each ';' outside comments and quoted strings. */
  private static List<String> split(String s) {
    List<String> parts = new ArrayList<>();
    int depth = 0;
    boolean quoted = false;
    int start = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\') {
        i++;
      } else if (quoted) {
        if (c == '"') quoted = false;
      } else if (c == '"' && depth == 0) {
        quoted = true;
      } else if (c == '(') {
        depth++;
      } else if (c == ')' && depth > 0) {
        depth--;
      } else if (c == ';' && depth == 0) {
        parts.add(s.substring(start, i));
        start = i + 1;
      }
    }
    parts.add(s.substring(start));
    return parts;
  }

  private static String firstToken(String s) {
    String t = s.strip();
    int end = 0;
    while (end < t.length() && " \t(".indexOf(t.charAt(end)) < 0) end++;
    return t.substring(0, end);
  }

  /** One resinfo: {@code method[/version]=result [(comment)] [reason=x] [ptype.prop=value ...]}; null for "none" or junk. */
  private static Result resinfo(String text) {
    List<String> comments = new ArrayList<>();
    List<String> words = words(text, comments);
    if (words.isEmpty() || !words.getFirst().contains("=")) return null;
    String first = words.getFirst();
    String method = first.substring(0, first.indexOf('=')).toLowerCase(Locale.ROOT);
    int slash = method.indexOf('/');
    if (slash >= 0) method = method.substring(0, slash).strip();
    String result = first.substring(first.indexOf('=') + 1).toLowerCase(Locale.ROOT);
    String reason = comments.isEmpty() ? "" : comments.getFirst();
    Map<String, String> properties = new LinkedHashMap<>();
    for (String w : words.subList(1, words.size())) {
      int eq = w.indexOf('=');
      if (eq <= 0) continue;
      String name = w.substring(0, eq).toLowerCase(Locale.ROOT);
      String v = w.substring(eq + 1);
      if (name.equals("reason")) reason = v;
      else properties.put(name, v);
    }
    return new Result(method, result, reason, properties);
  }

  /**
   * The words of a resinfo, with "a = b" joined to "a=b" and quoted strings unquoted; comments
   * after the first word (the outermost ones, nested parentheses kept) go to {@code comments}.
   */
  private static List<String> words(String s, List<String> comments) {
    List<String> words = new ArrayList<>();
    StringBuilder word = new StringBuilder();
    int i = 0;
    while (i < s.length()) {
      char c = s.charAt(i);
      if (c == '(') {
        int depth = 1;
        int j = i + 1;
        StringBuilder comment = new StringBuilder();
        while (j < s.length() && depth > 0) {
          char d = s.charAt(j);
          if (d == '\\' && j + 1 < s.length()) {
            comment.append(s.charAt(j + 1));
            j += 2;
            continue;
          }
          if (d == '(') depth++;
          if (d == ')' && --depth == 0) break;
          comment.append(d);
          j++;
        }
        flush(word, words);
        if (!words.isEmpty()) comments.add(comment.toString().strip()); // one before method=result is no reason

        i = j + 1;
      } else if (c == '"') {
        int j = i + 1;
        while (j < s.length() && s.charAt(j) != '"') {
          if (s.charAt(j) == '\\' && j + 1 < s.length()) j++;
          word.append(s.charAt(j));
          j++;
        }
        i = j + 1;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        // "a = b": the '=' keeps the word open across spaces around it
        int j = i;
        while (j < s.length() && " \t\r\n".indexOf(s.charAt(j)) >= 0) j++;
        boolean joins = (j < s.length() && s.charAt(j) == '=') || (word.length() > 0 && word.charAt(word.length() - 1) == '=');
        if (!joins) flush(word, words);
        i = j;
      } else {
        word.append(c);
        i++;
      }
    }
    flush(word, words);
    return words;
  }

  private static void flush(StringBuilder word, List<String> words) {
    if (word.length() > 0) words.add(word.toString());
    word.setLength(0);
  }
}
