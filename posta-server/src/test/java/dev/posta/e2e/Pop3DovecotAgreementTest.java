package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.DovecotPop3;
import dev.posta.testing.Pop3Wire;
import dev.posta.testing.TestServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Posta's POP3 answers against Dovecot's (Debian's dovecot-pop3d, the reference POP3 server) on
 * the same Maildir files, written as other Maildir programs write them: STAT, LIST, RETR and TOP
 * of messages with lines that start with ".", no newline at the end, no body, no header, a CRLF
 * file, 8-bit text and a long message, octet for octet. Where the two word their first line
 * differently (LIST's, UIDL's and TOP's "+OK" line) only the lines that follow are compared; of
 * the unique-ids, their form and the UIDs in them (each server keeps its own UIDVALIDITY).
 */
class Pop3DovecotAgreementTest {
  @TempDir Path temp;

  private static final Map<String, String> MESSAGES = new LinkedHashMap<>();

  static {
    MESSAGES.put("dots", "Subject: dots\n\n.leading dot\n..two dots\n.\n.\n\nend\n");
    MESSAGES.put("tail", "Subject: tail\n\nno newline at the end");
    MESSAGES.put("header only", "Subject: header only\nFrom: a@b.example\n");
    MESSAGES.put("empty body", "Subject: empty body\n\n");
    MESSAGES.put("no header", "\nA body without a header.\n");
    MESSAGES.put("lone cr", "Subject: lone cr\n\nbefore\rafter\n");
    MESSAGES.put("crlf", "Subject: crlf\r\n\r\nwritten with CRLF\r\nby another program\r\n");
    MESSAGES.put("8bit", "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\nContent-Type: text/plain; charset=utf-8\n\nGrüße aus Köln\n");
    var big = new StringBuilder("Subject: big\nX-Long: " + "x".repeat(2000) + "\n\n");
    for (int i = 0; big.length() < 200_000; i++) big.append(i % 3 == 0 ? "." : "").append("line ").append(i).append(" of a long message\n");
    MESSAGES.put("big", big.toString());
  }

  @Test
  void listRetrAndTopAgreeWithDovecotOctetForOctet() throws Exception {
    try (var server = TestServer.start(temp.resolve("data"), TestServer::plaintextAuthOnLoopback).addUser("me@localhost", "secret")) {
      Path posta = temp.resolve("data/mail/localhost/me/Maildir");
      Path dovecot = temp.resolve("dovecot/mail/Maildir");
      int n = 0;
      for (String content : MESSAGES.values()) {
        n++;
        for (Path maildir : List.of(posta, dovecot)) {
          for (String d : List.of("tmp", "new", "cur")) Files.createDirectories(maildir.resolve(d));
          Files.write(maildir.resolve("new/17000000" + (10 + n) + ".M" + n + "P1Q" + n + ".test"), content.getBytes(StandardCharsets.UTF_8));
        }
      }
      List<String> commands = new ArrayList<>(List.of("STAT", "LIST", "UIDL"));
      for (int m = 1; m <= MESSAGES.size(); m++) commands.addAll(List.of("LIST " + m, "RETR " + m, "TOP " + m + " 0", "TOP " + m + " 2"));

      List<String> postaAnswers = new ArrayList<>();
      try (var pop = new Pop3Wire(server.pop3Port())) {
        pop.line();
        pop.command("USER me@localhost");
        assertThat(pop.command("PASS secret")).startsWith("+OK Logged in: " + MESSAGES.size() + " messages");
        for (String c : commands) {
          pop.send(c + "\r\n");
          postaAnswers.add(Pop3Wire.isMultiLine(c) ? pop.multiLine() : pop.line());
        }
      }
      List<String> dovecotAnswers = DovecotPop3.answers(temp, dovecot, temp.resolve("dovecot/work"), commands);

      var softly = new SoftAssertions();
      for (int i = 0; i < commands.size(); i++) {
        String c = commands.get(i);
        String p = postaAnswers.get(i), d = dovecotAnswers.get(i);
        if (c.equals("LIST") || c.equals("UIDL") || c.startsWith("TOP ")) { // "+OK 9 messages:" and "+OK" at Dovecot's
          p = p.substring(p.indexOf("\r\n") + 2);
          d = d.substring(d.indexOf("\r\n") + 2);
        }
        if (c.equals("UIDL")) { // the same form and UIDs (both number the files in name order); each its own UIDVALIDITY
          p = p.replaceAll("(?m)^(\\d+ [0-9a-f]{8})[0-9a-f]{8}(?=\r\n)", "$1<UIDVALIDITY>");
          d = d.replaceAll("(?m)^(\\d+ [0-9a-f]{8})[0-9a-f]{8}(?=\r\n)", "$1<UIDVALIDITY>");
        }
        softly.assertThat(p).as("%s (message %s)", c, c.split(" ").length > 1 ? MESSAGES.keySet().toArray()[Integer.parseInt(c.split(" ")[1]) - 1] : "-")
            .isEqualTo(d);
      }
      softly.assertAll();
    }
  }
}
