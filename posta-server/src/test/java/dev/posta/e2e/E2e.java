package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.testing.TestServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** Shared helpers of the end-to-end tests: configs, mailbox access, external processes. */
final class E2e {
  private E2e() {}

  /** The client name every e2e client sends in EHLO/HELO. */
  static final String HELO = "client.example";

  /** A queue ID as Posta writes it in replies and Received: headers. */
  static final String QUEUE_ID = "[0-9A-F]{16}";

  /** The 250 reply to the end of a message, with the queue ID as group 1. */
  static final Pattern QUEUED = Pattern.compile("250 2\\.0\\.0 Ok: queued as (" + QUEUE_ID + ")");

  /** RFC 5322 date as Posta writes it in Received: (always UTC). */
  private static final String DATE = "[A-Z][a-z]{2}, \\d{1,2} [A-Z][a-z]{2} \\d{4} \\d{2}:\\d{2}:\\d{2} \\+0000";

  /**
   * The headers Posta puts in front of a delivered message (Return-Path and Delivered-To at
   * delivery, Received at reception), exactly, with the queue ID as group 1.
   */
  static Pattern deliveryHeaders(String reversePath, String deliveredTo, String with, String forRecipient) {
    String forClause = forRecipient == null ? "" : "\n\tfor <" + Pattern.quote(forRecipient) + ">";
    return Pattern.compile("\\AReturn-Path: " + Pattern.quote(reversePath) + "\n"
        + "Delivered-To: " + Pattern.quote(deliveredTo) + "\n"
        + "Received: from " + Pattern.quote(HELO) + " \\(\\[127\\.0\\.0\\.1\\]\\)\n"
        + "\tby localhost \\(Posta\\) with " + with + " id (" + QUEUE_ID + ")" + forClause + ";\n"
        + "\t" + DATE + "\n");
  }

  /**
   * Asserts that {@code message} starts with exactly the delivery headers and returns the
   * queue ID they carry and the message as the client sent it (everything after them).
   */
  static Delivered splitDelivered(String message, Pattern headers) {
    Matcher m = headers.matcher(message);
    assertThat(m.lookingAt())
        .as("delivered message starts with the Posta headers %s, but was:%n%s", headers.pattern(), message)
        .isTrue();
    return new Delivered(m.group(1), message.substring(m.end()));
  }

  record Delivered(String queueId, String content) {}

  /**
   * What was sent as it is stored in a Maildir file: each CRLF turned into LF, a CR not followed
   * by LF kept (see {@code dev.posta.store.UnixLineEndings}).
   */
  static String maildirForm(String sent) {
    return sent.replace("\r\n", "\n");
  }

  /** The same for octets. */
  static byte[] maildirForm(byte[] sent) {
    var out = new ByteArrayOutputStream(sent.length);
    for (int i = 0; i < sent.length; i++) {
      if (sent[i] == '\r' && i + 1 < sent.length && sent[i + 1] == '\n') continue; // the LF follows
      out.write(sent[i]);
    }
    return out.toByteArray();
  }

  /** The delivered files of a mailbox, byte-exact, oldest name first. */
  static List<byte[]> deliveredBytes(TestServer server, String user) {
    Path dir = server.newMail(user);
    if (!Files.isDirectory(dir)) return List.of();
    try (Stream<Path> files = Files.list(dir)) {
      List<byte[]> out = new ArrayList<>();
      for (Path p : files.sorted().toList()) out.add(Files.readAllBytes(p));
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * Waits until the queue holds no message (every accepted message fully delivered), so the
   * mailboxes can be checked for exact counts without waiting for mail that never comes.
   */
  static void awaitQueueEmpty(TestServer server) {
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    while (server.server().queue().size() > 0) {
      assertThat(System.nanoTime()).as("queue still holds %d messages after 10 s", server.server().queue().size())
          .isLessThan(deadline);
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted", e);
      }
    }
  }

  /** Domain {@code localhost} with only the given mailboxes: other local parts get 550 5.1.1. */
  static PostaConfig onlyMailboxes(PostaConfig c, String... users) {
    var domain = new PostaConfig.LocalDomain("localhost", Set.of(users), false, Optional.empty(), Map.of());
    return new PostaConfig(c.hostname(), c.dataDir(), c.listeners(), c.limits(), List.of(domain), c.postmaster(), c.source(), c.tls(), c.submission(), c.delivery());
  }

  /** The same config with another message size limit. */
  static PostaConfig maxMessageSize(PostaConfig c, long octets) {
    var l = c.limits();
    return c.toBuilder().limits(new PostaConfig.Limits(octets, l.maxRecipients(), l.maxLineLength(), l.maxConnections(),
        l.maxConnectionsPerIp(), l.maxErrors(), l.commandTimeout(), l.dataTimeout(), l.maxHops())).build();
  }

  /** The same config with another recipient limit. */
  static PostaConfig maxRecipients(PostaConfig c, int recipients) {
    var l = c.limits();
    return c.toBuilder().limits(new PostaConfig.Limits(l.maxMessageSize(), recipients, l.maxLineLength(), l.maxConnections(),
        l.maxConnectionsPerIp(), l.maxErrors(), l.commandTimeout(), l.dataTimeout(), l.maxHops())).build();
  }

  /** A file under src/test/resources/e2e/ as a path. */
  static Path resource(String name) {
    var url = E2e.class.getResource("/e2e/" + name);
    assertThat(url).as("test resource e2e/%s", name).isNotNull();
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** What an external program did. */
  record Run(int exit, String stdout, String stderr) {
    List<String> lines() {
      return stdout.lines().toList();
    }

    @Override
    public String toString() {
      return "exit " + exit + "\n--- stdout ---\n" + stdout + "--- stderr ---\n" + stderr;
    }
  }

  /** Runs a program to completion (killed after {@code timeout}), capturing both outputs as UTF-8. */
  static Run run(Duration timeout, List<String> command) {
    return run(timeout, "", command);
  }

  /** The same, with {@code input} on the program's standard input (then closed). */
  static Run run(Duration timeout, String input, List<String> command) {
    return run(new ProcessBuilder(command), timeout, input);
  }

  /** Runs what {@code pb} describes (its folder, its environment) the same way. */
  static Run run(ProcessBuilder pb, Duration timeout, String input) {
    List<String> command = pb.command();
    try {
      pb.environment().put("PYTHONIOENCODING", "utf-8");
      pb.environment().put("LC_ALL", "C.UTF-8");
      Process p = pb.start();
      CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> drain(p.getInputStream()));
      CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> drain(p.getErrorStream()));
      try (var stdin = p.getOutputStream()) {
        stdin.write(input.getBytes(StandardCharsets.UTF_8));
      } catch (IOException e) {
        // the program exited before reading its input; its output says why
      }
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
        throw new AssertionError("timed out after " + timeout + ": " + command + "\n--- stdout ---\n"
            + out.completeOnTimeout("", 2, TimeUnit.SECONDS).join() + "--- stderr ---\n"
            + err.completeOnTimeout("", 2, TimeUnit.SECONDS).join());
      }
      return new Run(p.exitValue(), out.join(), err.join());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  private static String drain(InputStream in) {
    try (in) {
      var buf = new ByteArrayOutputStream();
      in.transferTo(buf);
      return buf.toString(StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "<" + e + ">";
    }
  }
}
