package dev.posta.smtp;

import dev.posta.mail.AddressParser;
import dev.posta.mail.MailAddress;
import dev.posta.mail.MailParameters;
import dev.posta.mail.RcptParameters;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Turns one command line (without its CRLF) into an {@link SmtpCommand}. Pure: the same line
 * always gives the same command, and nothing here knows the session state.
 *
 * <p>Verbs and parameter keywords are case-insensitive (RFC 5321 §2.4). Parameters follow
 * RFC 5321 §4.1.2 {@code esmtp-param}; a repeated or unknown one is refused. DSN values are
 * checked as xtext (RFC 3461 §4) and kept encoded.
 */
public final class CommandParser {
  private CommandParser() {}

  /** RFC 3461 §4.4 and §4.2: longest ENVID and ORCPT values. */
  static final int MAX_ENVID = 100;

  static final int MAX_ORCPT = 500;

  // Compiled once: MAIL and RCPT are parsed for every message.
  private static final Pattern ESMTP_KEYWORD = Pattern.compile("[A-Z0-9][A-Z0-9-]*");
  private static final Pattern SIZE_VALUE = Pattern.compile("[0-9]{1,20}");
  private static final Pattern CHUNK_SIZE = Pattern.compile("[0-9]{1,18}");
  private static final Pattern SASL_MECHANISM = Pattern.compile("[A-Z0-9_-]{1,20}");

  private static final Set<String> HTTP_VERBS =
      Set.of("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE");

  public static SmtpCommand parse(String line) {
    // The session never passes a line with CR or LF in it (it refuses them first), but the
    // parser's promise holds for any line: a reply echoes parts of the line, and a reply may not
    // hold a line break (Jazzer found a parameter text that did).
    if (line.indexOf('\r') >= 0 || line.indexOf('\n') >= 0) return new SmtpCommand.Invalid(Replies.BARE_NEWLINE_COMMAND);
    int sp = line.indexOf(' ');
    String verb = (sp < 0 ? line : line.substring(0, sp)).toUpperCase(Locale.ROOT);
    String arg = sp < 0 ? "" : line.substring(sp + 1);
    return switch (verb) {
      case "EHLO" -> arg.isBlank() ? invalid("EHLO needs a domain") : new SmtpCommand.Ehlo(clientName(arg));
      case "HELO" -> arg.isBlank() ? invalid("HELO needs a domain") : new SmtpCommand.Helo(clientName(arg));
      case "MAIL" -> mail(arg);
      case "RCPT" -> rcpt(arg);
      case "DATA" -> noArgs(verb, arg, new SmtpCommand.Data());
      case "BDAT" -> bdat(arg);
      case "STARTTLS" -> noArgs(verb, arg, new SmtpCommand.StartTls());
      case "AUTH" -> auth(arg);
      case "RSET" -> noArgs(verb, arg, new SmtpCommand.Rset());
      case "QUIT" -> noArgs(verb, arg, new SmtpCommand.Quit());
      case "NOOP" -> new SmtpCommand.Noop(); // RFC 5321 §4.1.1.9: an argument is ignored
      case "HELP" -> new SmtpCommand.Help();
      case "VRFY" -> arg.isBlank() ? invalid("VRFY needs an argument") : new SmtpCommand.Vrfy(arg);
      case "EXPN", "TURN", "ETRN", "SEND", "SOML", "SAML", "ATRN" -> new SmtpCommand.NotImplemented(verb);
      default -> {
        if (HTTP_VERBS.contains(verb) || looksLikeHeader(verb)) yield new SmtpCommand.HttpRequest(verb);
        yield new SmtpCommand.Unknown(verb);
      }
    };
  }

  /** {@code Host:}, {@code User-Agent:}: a web client talking to the wrong port. */
  private static boolean looksLikeHeader(String verb) {
    return verb.endsWith(":") && verb.length() > 1;
  }

  /** The EHLO/HELO argument: the first word; clients get leniency here, as in every MTA. */
  private static String clientName(String arg) {
    String s = arg.strip();
    int sp = s.indexOf(' ');
    return sp < 0 ? s : s.substring(0, sp);
  }

  private static SmtpCommand noArgs(String verb, String arg, SmtpCommand command) {
    return arg.isEmpty() ? command : new SmtpCommand.Invalid(Replies.NO_ARGUMENTS.format(verb));
  }

  private static SmtpCommand invalid(String reason) {
    return new SmtpCommand.Invalid(Replies.SYNTAX.format(reason));
  }

  private static SmtpCommand mail(String arg) {
    if (!arg.regionMatches(true, 0, "FROM:", 0, 5)) return invalid("use MAIL FROM:<address>");
    AddressParser.Path path;
    List<String[]> params;
    try {
      path = AddressParser.parsePath(arg.substring(5), true);
    } catch (AddressParser.SyntaxException e) {
      return new SmtpCommand.Invalid(Replies.BAD_SENDER_SYNTAX.format(e.getMessage()));
    }
    if ((params = parameters(path.rest())) == null) return new SmtpCommand.Invalid(Replies.BAD_PARAMETER.format(path.rest().strip()));
    {
      long size = -1;
      MailParameters.BodyType body = MailParameters.BodyType.SEVEN_BIT;
      boolean utf8 = false;
      String ret = null;
      String envid = null;
      Set<String> seen = new HashSet<>();
      for (String[] p : params) {
        String key = p[0];
        String value = p[1];
        if (!seen.add(key)) return invalid("conflicting " + key + " parameters");
        switch (key) {
          case "SIZE" -> {
            // RFC 1870 §3: up to 20 digits; anything beyond a long is over every limit anyway.
            if (value == null || !SIZE_VALUE.matcher(value).matches()) return invalid("SIZE=<octets>");
            size = value.length() < 19 ? Long.parseLong(value) : new java.math.BigInteger(value).min(java.math.BigInteger.valueOf(Long.MAX_VALUE)).longValue();
          }
          case "BODY" -> {
            body = value == null ? null : MailParameters.BodyType.of(value);
            if (body == null) return new SmtpCommand.Invalid(Replies.UNKNOWN_PARAMETER.format("BODY=" + value));
          }
          case "SMTPUTF8" -> {
            if (value != null) return invalid("SMTPUTF8 takes no value");
            utf8 = true;
          }
          case "RET" -> {
            if (value == null || !(value.equalsIgnoreCase("FULL") || value.equalsIgnoreCase("HDRS"))) {
              return invalid("RET=FULL or RET=HDRS");
            }
            ret = value.toUpperCase(Locale.ROOT);
          }
          case "ENVID" -> {
            if (value == null || value.length() > MAX_ENVID || !isXtext(value)) return invalid("ENVID=<xtext>");
            envid = value;
          }
          default -> {
            return new SmtpCommand.Invalid(Replies.UNKNOWN_PARAMETER.format(key));
          }
        }
      }
      return new SmtpCommand.Mail(path.address(), new MailParameters(size, body, utf8, ret, envid));
    }
  }

  private static SmtpCommand rcpt(String arg) {
    if (!arg.regionMatches(true, 0, "TO:", 0, 3)) return invalid("use RCPT TO:<address>");
    String pathText = arg.substring(3).stripLeading();
    MailAddress recipient;
    String rest;
    try {
      // RFC 5321 §4.1.1.3: <Postmaster> without a domain must be accepted.
      if (pathText.regionMatches(true, 0, "<postmaster>", 0, 12)) {
        recipient = null;
        rest = pathText.substring(12);
        if (!rest.isEmpty() && rest.charAt(0) != ' ') throw new AddressParser.SyntaxException("junk after >");
      } else {
        AddressParser.Path path = AddressParser.parsePath(pathText, false);
        recipient = path.address();
        rest = path.rest();
      }
    } catch (AddressParser.SyntaxException e) {
      return new SmtpCommand.Invalid(Replies.BAD_RECIPIENT_SYNTAX.format(e.getMessage()));
    }
    List<String[]> params = parameters(rest);
    if (params == null) return new SmtpCommand.Invalid(Replies.BAD_PARAMETER.format(rest.strip()));
    {
      String notify = null;
      String orcpt = null;
      Set<String> seen = new HashSet<>();
      for (String[] p : params) {
        String key = p[0];
        String value = p[1];
        if (!seen.add(key)) return invalid("conflicting " + key + " parameters");
        switch (key) {
          case "NOTIFY" -> {
            notify = value == null ? null : checkNotify(value.toUpperCase(Locale.ROOT));
            if (notify == null) return invalid("NOTIFY=NEVER or NOTIFY=SUCCESS,FAILURE,DELAY");
          }
          case "ORCPT" -> {
            int semi = value == null ? -1 : value.indexOf(';');
            if (semi < 1 || value.length() > MAX_ORCPT || !isXtext(value.substring(semi + 1))) {
              return invalid("ORCPT=<addr-type>;<xtext>");
            }
            orcpt = value;
          }
          default -> {
            return new SmtpCommand.Invalid(Replies.UNKNOWN_PARAMETER.format(key));
          }
        }
      }
      return new SmtpCommand.Rcpt(recipient, new RcptParameters(notify, orcpt));
    }
  }

  /** RFC 3461 §4.1: NEVER alone, or any of SUCCESS, FAILURE, DELAY once each. */
  private static String checkNotify(String value) {
    if (value.equals("NEVER")) return value;
    Set<String> seen = new HashSet<>();
    for (String v : value.split(",", -1)) {
      if (!Set.of("SUCCESS", "FAILURE", "DELAY").contains(v) || !seen.add(v)) return null;
    }
    return value;
  }

  /** RFC 4954 §4: mechanism names are 1-20 of A-Z 0-9 - _ (RFC 4422 §3.1). */
  private static SmtpCommand auth(String arg) {
    String[] words = arg.split(" ", -1);
    String mechanism = words[0].toUpperCase(Locale.ROOT);
    if (words.length > 2 || !SASL_MECHANISM.matcher(mechanism).matches()) return invalid("AUTH <mechanism> [initial-response]");
    // The initial response is decoded by the session: RFC 4954 §4 wants 503 for a second AUTH
    // before any complaint about its data.
    return new SmtpCommand.Auth(mechanism, words.length == 2 ? words[1] : null);
  }

  private static SmtpCommand bdat(String arg) {
    String[] words = arg.split(" ", -1);
    if (words.length < 1 || words.length > 2 || !CHUNK_SIZE.matcher(words[0]).matches()) {
      return new SmtpCommand.Invalid(Replies.BDAT_SYNTAX);
    }
    boolean last = words.length == 2;
    if (last && !words[1].equalsIgnoreCase("LAST")) return new SmtpCommand.Invalid(Replies.BDAT_SYNTAX);
    return new SmtpCommand.Bdat(Long.parseLong(words[0]), last);
  }

  /**
   * Splits {@code " KEY=value KEY2"} into {key, value-or-null} pairs, keywords upper-cased;
   * null when one is malformed. RFC 5321 §4.1.2: esmtp-keyword = (ALPHA / DIGIT)
   * *(ALPHA / DIGIT / "-"); the value is any printable character but "=" and space (RFC 6531
   * §3.3 adds UTF-8).
   */
  private static List<String[]> parameters(String rest) {
    var out = new ArrayList<String[]>();
    for (String word : rest.split(" ")) {
      if (word.isEmpty()) continue;
      int eq = word.indexOf('=');
      String key = (eq < 0 ? word : word.substring(0, eq)).toUpperCase(Locale.ROOT);
      String value = eq < 0 ? null : word.substring(eq + 1);
      if (!ESMTP_KEYWORD.matcher(key).matches()) return null;
      if (value != null && (value.isEmpty() || !value.chars().allMatch(c -> c > 32 && c != '=' && c != 127))) return null;
      // An exact repeat says nothing new (Python's smtplib can send SMTPUTF8 twice); only a
      // conflicting repeat is refused, by the caller.
      boolean repeat = out.stream().anyMatch(p -> p[0].equals(key) && java.util.Objects.equals(p[1], value));
      if (!repeat) out.add(new String[] {key, value});
    }
    return out;
  }

  /** RFC 3461 §4: xtext = *( xchar / hexchar ), hexchar = "+" 2 upper-case hex digits. */
  static boolean isXtext(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '+') {
        if (i + 2 >= s.length() || !isUpperHex(s.charAt(i + 1)) || !isUpperHex(s.charAt(i + 2))) return false;
        i += 2;
      } else if (c < 33 || c > 126 || c == '=') {
        return false;
      }
    }
    return true;
  }

  private static boolean isUpperHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
  }
}
