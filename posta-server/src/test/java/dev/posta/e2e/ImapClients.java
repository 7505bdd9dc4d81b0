package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.ImapWire;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * What the tests of real mail clients (mbsync, offlineimap, getmail, fetchmail, mutt; over IMAP
 * and POP3) share: the program, checked to be there; mail delivered over SMTP; Posta's view of a
 * folder over IMAP and a client's view of its local Maildir, each as "subject [flags]" lines to
 * compare exactly; and what a fetcher handed its delivery command.
 */
final class ImapClients {
  private ImapClients() {}

  static final String USER = "me@localhost";
  static final String PASSWORD = "secret pass";

  /** The program, which must be installed: a missing client fails the test, never skips it. */
  static String program(String path, String debianPackage) {
    assertThat(Files.isExecutable(Path.of(path)))
        .as("%s is needed for this test: apt-get install %s (.ci/run does)", path, debianPackage).isTrue();
    return path;
  }

  /** A message to {@link #USER} over SMTP, with the subject given; waits until it is in the mailbox. */
  static void deliver(TestServer server, String subject) throws IOException {
    try (var smtp = new SmtpWire(server.smtpPort())) {
      smtp.ehlo();
      smtp.envelope("sender@client.example", USER);
      assertThat(smtp.data("From: Sender <sender@client.example>\r\nTo: " + USER + "\r\nSubject: " + subject
          + "\r\nMessage-ID: <" + subject.replace(' ', '.') + "@client.example>\r\n\r\nThis is " + subject + ".\r\n"))
          .startsWith("250 2.0.0 Ok: queued as ");
    }
    E2e.awaitQueueEmpty(server);
  }

  /** The messages a delivery command wrote into {@code out}, one file each, their subjects sorted; each holds its body as sent. */
  static List<String> fetched(Path out) throws IOException {
    List<String> subjects = new ArrayList<>();
    try (Stream<Path> files = Files.list(out)) {
      for (Path f : files.toList()) {
        String subject = subject(f);
        assertThat(Files.readString(f)).as(f.toString()).contains("\n\nThis is " + subject + ".\n");
        subjects.add(subject);
      }
    }
    subjects.sort(null);
    return subjects;
  }

  /** fetchmail on a run-control file, in the foreground and verbose, its state (.fetchids) in {@code home}. */
  static E2e.Run fetchmail(Path rc, Path home) {
    var pb = new ProcessBuilder(program("/usr/bin/fetchmail", "fetchmail"), "-f", rc.toString(), "--nodetach", "-v");
    pb.environment().put("HOME", home.toString());
    pb.environment().put("FETCHMAILHOME", home.toString());
    return E2e.run(pb, java.time.Duration.ofSeconds(30), "");
  }

  private static final Pattern FETCH = Pattern.compile(
      "\\* \\d+ FETCH \\(UID (\\d+) FLAGS \\(([^)]*)\\) BODY\\[HEADER\\.FIELDS \\(SUBJECT\\)] \\{\\d+}\r\n(?:Subject: ([^\r]*)\r\n)?");

  /** A logged-in IMAP session (implicit TLS) to look with. */
  static ImapWire session(TestServer server) throws IOException {
    var imap = ImapWire.tls(server.imapsPort(), server.clientTls());
    imap.line();
    assertThat(imap.command("a LOGIN \"" + USER + "\" \"" + PASSWORD + "\"")).startsWith("a OK ");
    return imap;
  }

  /** Posta's view of a folder: "subject [flags]" per message in UID order, \Recent left out (it is no stored flag). */
  static List<String> postaView(TestServer server, String folder) throws IOException {
    try (var imap = session(server)) {
      String examine = imap.command("b EXAMINE " + folder);
      assertThat(examine).as("EXAMINE %s", folder).contains("b OK ");
      if (examine.contains("* 0 EXISTS")) return List.of();
      String fetched = imap.command("c FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])");
      List<String> view = new ArrayList<>();
      Matcher m = FETCH.matcher(fetched);
      while (m.find()) view.add(m.group(3) + " [" + m.group(2).replace("\\Recent", "").trim().replaceAll(" +", " ") + "]");
      assertThat(fetched).endsWith("c OK Fetch completed.\r\n");
      return view;
    }
  }

  /** STATUS of a folder as Posta answers it: what a sync that changes nothing leaves as it was. */
  static String status(TestServer server, String folder) throws IOException {
    try (var imap = session(server)) {
      return imap.command("b STATUS " + folder + " (MESSAGES UIDNEXT UNSEEN HIGHESTMODSEQ)");
    }
  }

  /**
   * A local Maildir folder as a client left it: "subject [letters]" per message (the Maildir flag
   * letters after ":2,"), sorted by subject.
   */
  static List<String> maildirView(Path folder) {
    List<String> view = new ArrayList<>();
    for (Path file : maildirFiles(folder)) {
      String name = file.getFileName().toString();
      int info = name.indexOf(":2,");
      view.add(subject(file) + " [" + (info < 0 ? "" : name.substring(info + 3)) + "]");
    }
    view.sort(null);
    return view;
  }

  /** The message files of a Maildir folder, new/ and cur/. */
  static List<Path> maildirFiles(Path folder) {
    List<Path> files = new ArrayList<>();
    for (String sub : List.of("new", "cur")) {
      Path dir = folder.resolve(sub);
      if (!Files.isDirectory(dir)) continue;
      try (Stream<Path> list = Files.list(dir)) {
        files.addAll(list.sorted().toList());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return files;
  }

  /** The one file of a Maildir folder whose Subject: is {@code subject}. */
  static Path maildirFile(Path folder, String subject) {
    List<Path> found = maildirFiles(folder).stream().filter(f -> subject(f).equals(subject)).toList();
    assertThat(found).as("files with Subject: %s in %s", subject, folder).hasSize(1);
    return found.getFirst();
  }

  /** The Subject: of a message file. */
  static String subject(Path file) {
    try {
      for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
        if (line.isEmpty()) break;
        if (line.startsWith("Subject: ")) return line.substring("Subject: ".length());
      }
      return "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Renames a Maildir file into cur/ with the flag letters given, as a mail reader marks it. */
  static void setLocalFlags(Path file, String letters) throws IOException {
    String name = file.getFileName().toString();
    int info = name.indexOf(":2,");
    String base = info < 0 ? name : name.substring(0, info);
    Files.move(file, file.getParent().resolveSibling("cur").resolve(base + ":2," + letters));
  }

  /** A message written into a local Maildir folder's cur/, as a mail reader saves one (a sent copy). */
  static void writeLocal(Path folder, String name, String subject) throws IOException {
    Files.createDirectories(folder.resolve("cur"));
    Files.writeString(folder.resolve("cur").resolve(name), "From: " + USER + "\nTo: friend@example.org\nSubject: " + subject
        + "\nDate: Sat, 05 Dec 2026 10:00:00 +0000\nMessage-ID: <" + subject.replace(' ', '.') + "@localhost>\n\nWritten locally.\n");
  }
}
