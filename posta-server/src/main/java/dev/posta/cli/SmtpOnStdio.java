package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.posta.config.PostaConfig;
import dev.posta.local.LocalRequest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code sendmail -bs}: SMTP on standard input and output, as programs that speak SMTP to a
 * pipe expect (some MUAs, git send-email's sendmail mode with -bs, Exim-style scripts). Emulated
 * here rather than forwarded: each message, at the end of its DATA, goes in as {@code sendmail}
 * sends one (the server's socket, or the drop folder when no server runs), and the reply to
 * DATA is that outcome, so it works the same with the server down. Recipients are checked when
 * the message goes in: a refused one refuses the message at DATA's end, not at RCPT. Commands:
 * HELO, EHLO (8BITMIME, SIZE, ENHANCEDSTATUSCODES, PIPELINING), MAIL, RCPT, DATA, RSET, NOOP,
 * VRFY (252), QUIT; others are answered 502. The sender of MAIL FROM is taken as -f would be.
 */
final class SmtpOnStdio {
  private final Sendmail sendmail;
  private final String me;
  private final PostaConfig config;
  private final Sendmail.Options options;
  private final PrintStream out;
  private final InputStream in;

  SmtpOnStdio(Sendmail sendmail, String me, PostaConfig config, Sendmail.Options options) {
    this.sendmail = sendmail;
    this.me = me;
    this.config = config;
    this.options = options;
    this.out = sendmailOut(sendmail);
    this.in = sendmailIn(sendmail);
  }

  private static PrintStream sendmailOut(Sendmail s) {
    return s.stdoutStream();
  }

  private static InputStream sendmailIn(Sendmail s) {
    return s.stdinStream();
  }

  int run() {
    String host = config.hostname();
    reply("220 " + host + " ESMTP Posta (sendmail -bs)");
    String sender = null;
    boolean haveSender = false;
    List<String> recipients = new ArrayList<>();
    try {
      while (true) {
        String line = line();
        if (line == null) return Sendmail.EX_OK;
        String upper = line.toUpperCase(Locale.ROOT);
        String verb = upper.split(" ", 2)[0];
        switch (verb) {
          case "HELO" -> reply("250 " + host);
          case "EHLO" -> {
            reply("250-" + host + "\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE " + config.limits().maxMessageSize()
                + "\r\n250 ENHANCEDSTATUSCODES");
          }
          case "MAIL" -> {
            String path = path(line, "MAIL FROM:");
            if (path == null) reply("501 5.5.4 Syntax: MAIL FROM:<address>");
            else if (haveSender) reply("503 5.5.1 Sender already specified");
            else {
              sender = path;
              haveSender = true;
              reply("250 2.1.0 Sender OK");
            }
          }
          case "RCPT" -> {
            String path = path(line, "RCPT TO:");
            if (!haveSender) reply("503 5.5.1 Need MAIL before RCPT");
            else if (path == null || path.isEmpty()) reply("501 5.5.4 Syntax: RCPT TO:<address>");
            else {
              recipients.add(path);
              reply("250 2.1.5 Recipient OK");
            }
          }
          case "DATA" -> {
            if (recipients.isEmpty()) {
              reply("503 5.5.1 Need RCPT command");
              continue;
            }
            reply("354 End data with <CR><LF>.<CR><LF>");
            byte[] message = data();
            if (message == null) return Sendmail.EX_OK; // the input ended in the middle
            String from = sender == null || sender.isEmpty() && options.sender() != null ? options.sender() : sender;
            Sendmail.Outcome o = sendmail.submit(config, LocalRequest.submit(from, options.fullName(), recipients),
                new ByteArrayInputStream(message), false);
            reply(o.exit() != Sendmail.EX_OK ? smtpRefusal(o) : o.text().startsWith("2.") ? "250 " + o.text() : "250 2.0.0 " + o.text());
            sender = null;
            haveSender = false;
            recipients.clear();
          }
          case "RSET" -> {
            sender = null;
            haveSender = false;
            recipients.clear();
            reply("250 2.0.0 OK");
          }
          case "NOOP" -> reply("250 2.0.0 OK");
          case "VRFY" -> reply("252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery");
          case "QUIT" -> {
            reply("221 2.0.0 Bye");
            return Sendmail.EX_OK;
          }
          default -> reply("502 5.5.1 Command not implemented");
        }
      }
    } catch (IOException e) {
      return Sendmail.EX_IOERR;
    }
  }

  /** The refusal as a reply: the server's own line when it gave one, else 451 for a failure here. */
  private static String smtpRefusal(Sendmail.Outcome o) {
    String t = o.text();
    if (t.startsWith("refused: ") && t.length() > 12 && Character.isDigit(t.charAt(9))) {
      String line = t.substring(9);
      int cut = line.indexOf(" (nothing was taken");
      return cut > 0 ? line.substring(0, cut) : line;
    }
    return (o.exit() == Sendmail.EX_DATAERR ? "554 5.6.0 " : "451 4.3.0 ") + t;
  }

  /** The address of {@code MAIL FROM:<a>} or {@code RCPT TO:<a>} (parameters ignored); "" for {@code <>}; null when it is not one. */
  private static String path(String line, String prefix) {
    if (line.length() < prefix.length() || !line.substring(0, prefix.length()).equalsIgnoreCase(prefix)) return null;
    String rest = line.substring(prefix.length()).strip();
    if (!rest.startsWith("<")) return rest.split(" ", 2)[0];
    int close = rest.indexOf('>');
    return close < 0 ? null : rest.substring(1, close).strip();
  }

  private void reply(String text) {
    out.print(text + "\r\n");
    out.flush();
  }

  /** A command line without its CRLF or LF; null at the end of the input. */
  private String line() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream(128);
    for (int c = in.read(); c >= 0; c = in.read()) {
      if (c == '\n') {
        byte[] bytes = b.toByteArray();
        int n = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        return new String(bytes, 0, n, UTF_8);
      }
      if (b.size() < 4096) b.write(c);
    }
    return b.size() == 0 ? null : b.toString(UTF_8);
  }

  /** DATA's text up to the lone dot, dot-unstuffed, lines ended with LF; null when the input ends first. */
  private byte[] data() throws IOException {
    ByteArrayOutputStream message = new ByteArrayOutputStream(4096);
    ByteArrayOutputStream l = new ByteArrayOutputStream(256);
    for (int c = in.read(); c >= 0; c = in.read()) {
      if (c != '\n') {
        l.write(c);
        continue;
      }
      byte[] line = l.toByteArray();
      l.reset();
      int n = line.length > 0 && line[line.length - 1] == '\r' ? line.length - 1 : line.length;
      if (n == 1 && line[0] == '.') return message.toByteArray();
      int skip = n > 0 && line[0] == '.' ? 1 : 0; // dot-unstuffing
      message.write(line, skip, n - skip);
      message.write('\n');
    }
    return null;
  }
}
