package dev.posta.cli;

import static dev.posta.testing.Await.await;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import dev.posta.config.Network;
import dev.posta.control.ControlSocket;
import dev.posta.control.QueueReply;
import dev.posta.control.QueueRequest;
import dev.posta.mail.QueueId;
import dev.posta.queue.QueueSelection;
import dev.posta.config.PostaConfig;
import dev.posta.queue.QueueControl;
import dev.posta.testing.MutableClock;
import dev.posta.testing.SmtpWire;
import dev.posta.testing.TestServer;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code posta queue}: list, show, flush, retry, hold, release, delete and bounce, against a
 * running server (through its control socket) and against a stopped one's data folder. Remote
 * mail cannot leave here (tests have no DNS), so it waits, deferred.
 */
class QueueCommandTest {
  @TempDir Path data;
  final MutableClock clock = MutableClock.startingNow();

  record Run(int exitCode, String out, String err) {}

  private Run queue(String... args) {
    return queueIn(data, args);
  }

  /** {@code posta queue ...} with {@code stdin} on standard input. */
  private Run queueReading(String stdin, String... args) {
    var oldIn = System.in;
    System.setIn(new ByteArrayInputStream(stdin.getBytes(UTF_8)));
    try {
      return queue(args);
    } finally {
      System.setIn(oldIn);
    }
  }

  /** {@code posta queue --data folder args...}, its output captured. */
  private Run queueIn(Path folder, String... args) {
    PrintStream oldOut = System.out;
    PrintStream oldErr = System.err;
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true, UTF_8));
    System.setErr(new PrintStream(err, true, UTF_8));
    try {
      String[] all = new String[args.length + 3];
      all[0] = "queue";
      all[1] = "--data";
      all[2] = folder.toString();
      System.arraycopy(args, 0, all, 3, args.length);
      int code = new CommandLine(new Posta()).execute(all);
      // The server runs in this JVM: its log lines share standard error with the command's.
      String errors = err.toString(UTF_8).replaceAll("(?m)^\\d{4}-\\d\\d-\\d\\dT\\S+ (INFO|WARN|DEBUG) .*\n", "");
      return new Run(code, out.toString(UTF_8), errors);
    } finally {
      System.setOut(oldOut);
      System.setErr(oldErr);
    }
  }

  private TestServer start() {
    return TestServer.start(data, c -> c.toBuilder().submission(new PostaConfig.Submission(List.of(Network.parse("127.0.0.0/8")),
        false, true, 10, Duration.ofMinutes(15))).build(), clock);
  }

  private static String send(TestServer server, String... to) throws Exception {
    return sendFrom(server, "alice@localhost", to);
  }

  private static String sendFrom(TestServer server, String from, String... to) throws Exception {
    try (SmtpWire wire = new SmtpWire(server.smtpPort())) {
      wire.ehlo();
      assertThat(wire.command("MAIL FROM:<" + from + ">")).isEqualTo("250 2.1.0 Sender OK");
      for (String rcpt : to) assertThat(wire.command("RCPT TO:<" + rcpt + ">")).isEqualTo("250 2.1.5 Recipient OK");
      assertThat(wire.command("DATA")).isEqualTo("354 End data with <CR><LF>.<CR><LF>");
      String reply = wire.command("Subject: q\r\n\r\nx\r\n.");
      assertThat(reply).matches("250 2\\.0\\.0 Ok: queued as [0-9A-F]{16}");
      return reply.substring(reply.length() - 16);
    }
  }

  /** Waits until the message's remote recipient has been tried {@code attempts} times. */
  private static void awaitAttempts(TestServer server, int attempts) throws InterruptedException {
    await(attempts + " attempt(s)", () -> server.server().queueControl().list().stream().anyMatch(l ->
        l.state() != QueueControl.State.ACTIVE && l.recipients().stream().anyMatch(r -> r.attempts() == attempts)));
  }

  @Test
  void aDataFolderThatDoesNotExistIsAnErrorNotAnEmptyQueue() throws Exception {
    Path missing = data.resolve("not-the-server's");
    for (String command : List.of("list", "delete 0123456789ABCDEF")) {
      assertThat(queueIn(missing, command.split(" "))).isEqualTo(new Run(1, "", "posta queue: no server is running with the embedded defaults, and its data folder "
          + missing + " does not exist: name the server's configuration with --config FILE or POSTA_CONFIG\n"));
    }
    assertThat(missing).doesNotExist();
  }

  @Test
  void listsAndShowsWhatWaitsWithTheLastErrorAndNextAttempt() throws Exception {
    try (TestServer server = start()) {
      assertThat(queue()).isEqualTo(new Run(0, "queue is empty\n", ""));
      String id = send(server, "far@remote.example", "near@localhost");
      server.awaitMail("near", 1);
      awaitAttempts(server, 1);
      Run list = queue();
      assertThat(list.exitCode()).isZero();
      assertThat(list.out()).matches("(?s)-Queue ID-        --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
          + id + "  +\\d+ \\w{3} \\w{3} \\d\\d \\d\\d:\\d\\d:\\d\\d +alice@localhost\n"
          + " {44}\\(.*remote.example.*\\)\n"
          + " {44}\\(attempt 1, next \\w{3} \\w{3} \\d\\d \\d\\d:\\d\\d:\\d\\d\\)\n"
          + " {44}far@remote.example\n"
          + "\n"
          + "-- 1 Kbytes in 1 Request.\n");
      assertThat(queue("list")).isEqualTo(list);

      Run show = queue("show", id.toLowerCase());
      assertThat(show.exitCode()).isZero();
      assertThat(show.out()).startsWith("*** ENVELOPE RECORDS " + id + " ***\n")
          .contains("sender: alice@localhost\n", "done_recipient: near@localhost\n", "recipient: far@remote.example (attempt 1, next ")
          .contains("*** MESSAGE CONTENTS " + id + " ***\n").contains("Subject: q\n")
          .containsPattern("\\*\\*\\* TIMELINE " + id + " \\*\\*\\*\n\\S+Z received from \\S+ \\[127\\.0\\.0\\.1\\] on smtp 127\\.0\\.0\\.1:"
              + server.smtpPort() + "\n\\S+Z deferred far@remote\\.example \\[4\\.\\d\\.\\d\\]: [^\n]*remote\\.example[^\n]*\n"
              + "\\S+Z delivered near@localhost \\[2\\.0\\.0\\]: delivered to mailbox near@localhost\n\\*\\*\\* MESSAGE CONTENTS")
          .endsWith("*** END OF MESSAGE " + id + " ***\n");
    }
  }

  @Test
  void holdReleaseFlushAndBounceActOnARunningServer() throws Exception {
    try (TestServer server = start()) {
      String id = send(server, "far@remote.example");
      awaitAttempts(server, 1);

      assertThat(queue("hold", id)).isEqualTo(new Run(0, id + ": held\n", ""));
      assertThat(queue().out()).contains(id + "! ");
      assertThat(queue("retry", id)).isEqualTo(new Run(1, "", id + " is held; release it first\n"));
      assertThat(queue("flush")).isEqualTo(new Run(0, "0 message(s) due now\n", ""));

      assertThat(queue("release", id)).isEqualTo(new Run(0, id + ": released, due now\n", ""));
      awaitAttempts(server, 2);
      assertThat(queue("flush")).isEqualTo(new Run(0, "1 message(s) due now\n", ""));
      awaitAttempts(server, 3);
      assertThat(queue("retry", id)).isEqualTo(new Run(0, id + ": due now\n", ""));
      awaitAttempts(server, 4);

      assertThat(queue("bounce", id)).isEqualTo(new Run(0, id + ": returned to the sender\n", ""));
      List<String> notice = server.awaitMail("alice", 1);
      assertThat(notice).hasSize(1);
      assertThat(notice.getFirst()).contains("Final-Recipient: rfc822; far@remote.example", "Action: failed", "Status: 5.0.0")
          .contains("returned to the sender by the mail administrator");
      assertThat(queue().out()).isEqualTo("queue is empty\n");
    }
  }

  @Test
  void deleteRemovesAMessageAndTellsNobody() throws Exception {
    try (TestServer server = start()) {
      String id = send(server, "far@remote.example");
      awaitAttempts(server, 1);
      assertThat(queue("delete", id)).isEqualTo(new Run(0, id + ": deleted\n", ""));
      assertThat(server.queued()).isZero();
      assertThat(queue("delete", id)).isEqualTo(new Run(1, "", "no message " + id + " in the queue\n"));
      Thread.sleep(200);
      assertThat(server.mail("alice")).isEmpty();
    }
  }

  @Test
  void badCommandsAndIdsAreRefusedWithUsage() throws Exception {
    try (TestServer server = start()) {
      assertThat(queue("show", "0000000000000000")).isEqualTo(new Run(1, "", "no message 0000000000000000 in the queue\n"));
      assertThat(queue("show", "nonsense")).isEqualTo(new Run(1, "", "not a queue ID: nonsense (16 hex digits, as in the log)\n"));
      Run bad = queue("frobnicate");
      assertThat(bad.exitCode()).isEqualTo(2);
      assertThat(bad.err()).startsWith("usage: posta queue [list [--json] | show ID | flush");
    }
  }

  @Test
  void commandsActOnAStoppedServersDataFolderAndTheNextStartHonoursThem() throws Exception {
    String held;
    String deleted;
    try (TestServer server = start()) {
      held = send(server, "far@remote.example");
      deleted = send(server, "other@remote.example");
      await("both tried", () -> server.server().queueControl().list().stream().filter(l -> l.state() != QueueControl.State.ACTIVE
          && l.recipients().getFirst().attempts() == 1).count() == 2);
    }
    Run list = queue();
    assertThat(list.out()).contains(held + "  ", deleted + "  ", "(attempt 1, next ");
    assertThat(queue("show", held).out()).contains("recipient: far@remote.example (attempt 1");
    assertThat(queue("hold", held)).isEqualTo(new Run(0, held + ": held\n", ""));
    assertThat(queue("delete", deleted)).isEqualTo(new Run(0, deleted + ": deleted\n", ""));
    assertThat(queue().out()).contains(held + "! ").doesNotContain(deleted);

    try (TestServer server = start()) {
      var listing = server.server().queueControl().list();
      assertThat(listing).hasSize(1);
      assertThat(listing.getFirst().id().value()).isEqualTo(held);
      assertThat(listing.getFirst().state()).isEqualTo(QueueControl.State.HELD);
      clock.advance(Duration.ofHours(2));
      server.server().queue().wake();
      Thread.sleep(300);
      assertThat(server.server().queueControl().list().getFirst().recipients().getFirst().attempts()).as("held: not tried").isEqualTo(1);
    }
  }

  /**
   * Waits until no attempt runs or is due: a message being delivered this moment is refused by
   * delete and bounce, and one just made due shows no attempt running until the dispatcher starts it.
   */
  private void awaitIdle(TestServer server) throws InterruptedException {
    await("nothing running or due", () -> server.server().queueControl().list().stream().allMatch(l -> l.state() == QueueControl.State.HELD
        || l.state() != QueueControl.State.ACTIVE && l.recipients().stream().allMatch(r -> r.nextAttempt() != null && r.nextAttempt().isAfter(clock.instant()))));
  }

  @Test
  void bulkCommandsTakeSelectorsAllSeveralIdsAndStandardInputOnARunningServer() throws Exception {
    try (TestServer server = start()) {
      String spam1 = sendFrom(server, "spam@bad.example", "far@remote.example");
      String spam2 = sendFrom(server, "spam@bad.example", "x@xn--bcher-kva.example");
      String mine = send(server, "friend@remote.example");
      await("all tried", () -> server.server().queueControl().list().stream()
          .filter(l -> l.state() != QueueControl.State.ACTIVE && l.recipients().getFirst().attempts() == 1).count() == 3);

      assertThat(queue("hold", "--from", "spam@bad.example")).isEqualTo(new Run(0, "Placed on hold: 2 messages\n", ""));
      assertThat(queue().out()).contains(spam1 + "! ", spam2 + "! ", mine + "  ");
      assertThat(queue("hold", "ALL", "--from", "<spam@bad.example>")).isEqualTo(new Run(0, "Placed on hold: 0 messages\n", ""));
      assertThat(queue("release", "ALL")).isEqualTo(new Run(0, "Released from hold: 2 messages\n", ""));
      awaitIdle(server);
      assertThat(queue("delete", "--to-domain", "BÜCHER.example")).isEqualTo(new Run(0, "Deleted: 1 message\n", ""));
      assertThat(queue("retry", spam1, mine.toLowerCase(), "0000000000000000"))
          .isEqualTo(new Run(1, "Due now: 2 messages\n", "no message 0000000000000000 in the queue\n"));
      awaitIdle(server);

      Run json = queue("list", "--json");
      assertThat(json.exitCode()).isZero();
      assertThat(json.err()).isEmpty();
      assertThat(json.out()).matches("\\{\"queue_name\": \"deferred\", \"queue_id\": \"" + spam1 + "\", \"arrival_time\": \\d+, \"message_size\": \\d+, "
          + "\"sender\": \"spam@bad.example\", \"recipients\": \\[\\{\"address\": \"far@remote.example\", \"delay_reason\": \"[^\"]*remote.example[^\"]*\", "
          + "\"attempts\": [23], \"next_attempt\": \\d+}]}\n"
          + "\\{\"queue_name\": \"deferred\", \"queue_id\": \"" + mine + "\", .*, \"sender\": \"alice@localhost\", .*}\n");
      assertThat(PythonJson.parseLines(json.out())).hasSize(2);

      // The IDs as the listing shows them, markers and all, one per line.
      assertThat(queueReading(spam1 + "*\n\n" + mine + "!\n", "delete", "-")).isEqualTo(new Run(0, "Deleted: 2 messages\n", ""));
      assertThat(queue()).isEqualTo(new Run(0, "queue is empty\n", ""));
      assertThat(queue("list", "--json")).isEqualTo(new Run(0, "", ""));
      assertThat(queue("delete", "ALL")).isEqualTo(new Run(0, "Deleted: 0 messages\n", ""));
      assertThat(queue("delete")).isEqualTo(new Run(1, "",
          "usage: posta queue delete QUEUE-ID... | - | ALL [--to-domain DOMAIN] [--from ADDRESS] [--older-than AGE]\n"));
      Thread.sleep(200);
      assertThat(server.mail("alice")).as("deleted: nobody told").isEmpty();
    }
  }

  @Test
  void bulkCommandsActOnAStoppedServersDataFolderAndTheNextStartHonoursThem() throws Exception {
    String spam1;
    String spam2;
    String mine;
    try (TestServer server = start()) {
      spam1 = sendFrom(server, "spam@bad.example", "far@remote.example");
      spam2 = sendFrom(server, "spam@bad.example", "other@remote.example");
      mine = send(server, "friend@remote.example");
      await("all tried", () -> server.server().queueControl().list().stream()
          .filter(l -> l.state() != QueueControl.State.ACTIVE && l.recipients().getFirst().attempts() == 1).count() == 3);
    }
    assertThat(queue("hold", "ALL", "--older-than", "1h")).isEqualTo(new Run(0, "Placed on hold: 0 messages\n", ""));
    assertThat(queue("delete", "--from", "spam@bad.example", "--to-domain", "remote.example"))
        .isEqualTo(new Run(0, "Deleted: 2 messages\n", ""));
    assertThat(queueReading(spam1 + "\n" + mine + "\n", "hold", "-")).isEqualTo(new Run(1, "Placed on hold: 1 message\n",
        "no message " + spam1 + " in the queue\n"));
    Run json = queue("list", "--json");
    assertThat(json.out()).startsWith("{\"queue_name\": \"hold\", \"queue_id\": \"" + mine + "\", ").doesNotContain(spam1, spam2);
    assertThat(PythonJson.parseLines(json.out())).hasSize(1);

    try (TestServer server = start()) {
      var listing = server.server().queueControl().list();
      assertThat(listing).extracting(l -> l.id().value(), QueueControl.Listing::state).containsExactly(tuple(mine, QueueControl.State.HELD));
    }
  }

  @Test
  void aBatchIsOneRequestOnOneControlConnection() throws Exception {
    List<QueueRequest> requests = new CopyOnWriteArrayList<>();
    try (ControlSocket socket = ControlSocket.open(data.resolve("control.sock"), request -> {
      requests.add(request);
      return new QueueReply.ActedOn(new QueueControl.BulkResult(List.of(new QueueId("1A225B91F2A00000")), List.of()));
    })) {
      String ids = "1A225B91F2A00000\n1A225B9281C00000*\n1A225B9281C00001!\n";
      assertThat(queueReading(ids, "delete", "-")).isEqualTo(new Run(0, "Deleted: 1 message\n", ""));
      assertThat(requests).containsExactly(QueueRequest.bulk(QueueRequest.Command.DELETE, new QueueSelection.Named(List.of(
          new QueueId("1A225B91F2A00000"), new QueueId("1A225B9281C00000"), new QueueId("1A225B9281C00001")))));
      requests.clear();
      assertThat(queue("bounce", "--from", "<>", "--older-than", "7d")).isEqualTo(new Run(0, "Returned to the sender: 1 message\n", ""));
      assertThat(requests).containsExactly(QueueRequest.bulk(QueueRequest.Command.BOUNCE, new QueueSelection.Matching(null, "", Duration.ofDays(7))));
    }
  }
}
