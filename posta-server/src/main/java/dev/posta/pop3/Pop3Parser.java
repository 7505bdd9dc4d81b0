package dev.posta.pop3;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Reads one POP3 command line (without its line ending) into a {@link Pop3Command}: a pure
 * function, the same line always giving the same command.
 *
 * <p>Keywords are case-insensitive and arguments are separated by spaces (RFC 2449 §3); a run
 * of spaces, or spaces after the last argument, are taken as one separator, as clients send
 * them. USER and PASS take the rest of the line as their one argument, since a password may hold
 * spaces (RFC 1939 §7). A message number is decimal digits; one too large for any maildrop reads
 * as {@link Integer#MAX_VALUE}, which no message has.
 */
final class Pop3Parser {
  private static final String[] NO_WORDS = {};

  private Pop3Parser() {}

  static Pop3Command parse(String line) {
    int space = line.indexOf(' ');
    String keyword = (space < 0 ? line : line.substring(0, space)).toUpperCase(Locale.ROOT);
    String rest = space < 0 ? "" : line.substring(space + 1);
    String[] args = words(rest);
    return switch (keyword) {
      case "" -> new Pop3Command.Invalid("Empty command");
      case "USER" -> rest.isEmpty() ? new Pop3Command.Invalid("USER needs a name") : new Pop3Command.User(rest);
      case "PASS" -> rest.isEmpty() ? new Pop3Command.Invalid("PASS needs a password") : new Pop3Command.Pass(rest);
      case "AUTH" -> switch (args.length) {
        case 1 -> new Pop3Command.Auth(args[0].toUpperCase(Locale.ROOT), null);
        case 2 -> new Pop3Command.Auth(args[0].toUpperCase(Locale.ROOT), args[1]);
        default -> new Pop3Command.Invalid("AUTH takes a mechanism and an optional initial response");
      };
      case "CAPA" -> none(args, keyword, new Pop3Command.Capa());
      case "STLS" -> none(args, keyword, new Pop3Command.Stls());
      case "STAT" -> none(args, keyword, new Pop3Command.Stat());
      case "NOOP" -> none(args, keyword, new Pop3Command.Noop());
      case "RSET" -> none(args, keyword, new Pop3Command.Rset());
      case "QUIT" -> none(args, keyword, new Pop3Command.Quit());
      case "LIST", "UIDL" -> {
        if (args.length > 1) yield new Pop3Command.Invalid(keyword + " takes at most a message number");
        int message = args.length == 0 ? 0 : number(args[0]);
        if (message < 0 || (args.length == 1 && message == 0)) yield invalidNumber(args[0]);
        yield keyword.equals("LIST") ? new Pop3Command.List(message) : new Pop3Command.Uidl(message);
      }
      case "RETR", "DELE" -> {
        if (args.length != 1) yield new Pop3Command.Invalid(keyword + " takes a message number");
        int message = number(args[0]);
        if (message <= 0) yield invalidNumber(args[0]);
        yield keyword.equals("RETR") ? new Pop3Command.Retr(message) : new Pop3Command.Dele(message);
      }
      case "TOP" -> {
        if (args.length != 2) yield new Pop3Command.Invalid("TOP takes a message number and a number of lines");
        int message = number(args[0]);
        if (message <= 0) yield invalidNumber(args[0]);
        int lines = number(args[1]);
        if (lines < 0) yield new Pop3Command.Invalid("Invalid number of lines: " + args[1]);
        yield new Pop3Command.Top(message, lines);
      }
      default -> new Pop3Command.Unknown(keyword);
    };
  }

  /** The arguments: the words between runs of spaces, with no white space around them (one per command; no regex for it). */
  private static String[] words(String rest) {
    String text = rest.strip();
    if (text.isEmpty()) return NO_WORDS;
    List<String> words = new ArrayList<>(2);
    for (int i = 0; i < text.length(); ) {
      int space = text.indexOf(' ', i);
      if (space < 0) space = text.length();
      if (space > i) words.add(text.substring(i, space));
      i = space + 1;
    }
    return words.toArray(NO_WORDS);
  }

  private static Pop3Command none(String[] args, String keyword, Pop3Command command) {
    return args.length == 0 ? command : new Pop3Command.Invalid(keyword + " takes no arguments");
  }

  private static Pop3Command invalidNumber(String given) {
    return new Pop3Command.Invalid("Invalid message number: " + given);
  }

  /** A non-negative decimal number, {@link Integer#MAX_VALUE} when larger; -1 when it is none. */
  private static int number(String s) {
    if (s.isEmpty()) return -1;
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') return -1;
      n = Math.min(Integer.MAX_VALUE, n * 10 + (c - '0'));
    }
    return (int) n;
  }
}
