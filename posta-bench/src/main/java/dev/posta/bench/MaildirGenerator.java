package dev.posta.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Writes a Maildir of N realistic small messages, the same for every seed: what an inbox that
 * has been read for a few years holds. Varied senders, subjects (some RFC 2047 encoded, some
 * replies with In-Reply-To and References), dates over three years in several zones, a few
 * list and mailer headers; about 70% single text/plain, 20% multipart/alternative (text and
 * HTML), 10% multipart/mixed with a small base64 attachment; 0.5 to 8 KiB each.
 *
 * <p>Files are named as Dovecot's delivery names them ({@code <secs>.M<usecs>P<pid>Q<n>.<host>,S=<size>,W=<vsize>}),
 * in {@code cur/} with flags (most \Seen, some \Flagged, \Answered) or, the newest 1%, in
 * {@code new/}; LF line ends, the file's modification time the message's date (its internal
 * date for both Dovecot and Posta). No index file of any server is written.
 */
@Command(name = "imap-mailbox", mixinStandardHelpOptions = true, description = "Write a Maildir of N realistic messages (for the IMAP comparison).")
final class MaildirGenerator implements Callable<Integer> {
  @Option(names = "--maildir", required = true, description = "The Maildir to fill (made when missing).")
  Path maildir;

  @Option(names = "--messages", defaultValue = "1000", description = "Messages (default ${DEFAULT-VALUE}).")
  int messages;

  @Option(names = "--seed", defaultValue = "1", description = "Random seed (default ${DEFAULT-VALUE}): the same seed, the same messages.")
  long seed;

  @Option(names = "--to", defaultValue = "bench@localhost", description = "The mailbox's owner, in To: (default ${DEFAULT-VALUE}).")
  String to;

  private static final String[] FIRST = {"Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
      "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Zoë", "Łukasz", "Søren", "Amélie", "Jürgen", "Yuki"};
  private static final String[] LAST = {"Smith", "Jones", "Müller", "García", "Rossi", "Dubois", "Nowak", "Tanaka", "Kim", "Silva",
      "Novak", "Larsen", "O'Brien", "Kowalski", "Schmidt", "Martin"};
  private static final String[] DOMAINS = {"example.com", "example.org", "mail.example.net", "lists.example.org", "corp.example",
      "university.example.edu", "shop.example", "news.example.com"};
  private static final String[] WORDS = {"meeting", "report", "invoice", "quarterly", "update", "project", "release", "notes", "lunch",
      "review", "draft", "budget", "schedule", "question", "proposal", "travel", "contract", "feedback", "build", "server", "backup",
      "migration", "holiday", "photos", "agenda", "minutes", "deadline", "estimate", "order", "shipping", "newsletter", "security"};
  private static final String[] LISTS = {"dev.lists.example.org", "announce.example.com", "users.example.net"};
  private static final String[] MAILERS = {"Thunderbird 128.3", "Apple Mail (2.3774)", "Microsoft Outlook 16.0", "Roundcube Webmail/1.6",
      "K-9 Mail for Android", "mutt/2.2.12"};
  private static final String[] ZONES = {"+0000", "+0100", "+0200", "-0500", "-0800", "+0530", "+0900"};
  private static final DateTimeFormatter DATE = DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.ROOT);
  private static final String LOREM = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore "
      + "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo "
      + "consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur "
      + "sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.";
  private static final String[] LOREM_WORDS = LOREM.split(" ");

  @Override
  public Integer call() throws IOException {
    long t0 = System.nanoTime();
    for (String d : new String[] {"cur", "new", "tmp"}) Files.createDirectories(maildir.resolve(d));
    SplittableRandom random = new SplittableRandom(seed);
    long end = Instant.parse("2025-06-01T00:00:00Z").getEpochSecond();
    long start = end - 3L * 365 * 86400;
    long step = Math.max(1, (end - start) / Math.max(1, messages));
    long bytes = 0;
    for (int i = 0; i < messages; i++) {
      long secs = start + i * step + random.nextLong(step);
      byte[] m = message(random, i, secs);
      bytes += m.length;
      int lines = 0;
      for (byte b : m) if (b == '\n') lines++;
      String base = secs + ".M" + random.nextInt(1_000_000) + "P" + (1000 + i % 30000) + "Q" + i + ".bench.localhost,S=" + m.length + ",W="
          + (m.length + lines);
      boolean isNew = i >= messages - Math.max(1, messages / 100);
      Path file = isNew ? maildir.resolve("new").resolve(base) : maildir.resolve("cur").resolve(base + ":2," + flags(random, i, messages));
      Files.write(file, m);
      Files.setLastModifiedTime(file, FileTime.from(Instant.ofEpochSecond(secs)));
    }
    System.out.printf(Locale.ROOT, "wrote messages=%d octets=%d seconds=%.1f maildir=%s%n", messages, bytes, (System.nanoTime() - t0) / 1e9, maildir);
    return 0;
  }

  /** Maildir flag letters, in ASCII order: most read, some flagged or answered. */
  private static String flags(SplittableRandom r, int i, int n) {
    var f = new StringBuilder();
    if (r.nextInt(100) < 4) f.append('F');
    if (r.nextInt(100) < 8) f.append('R');
    if (i < n * 0.9 || r.nextInt(100) < 50) f.append('S');
    return f.toString();
  }

  private static <T> T pick(SplittableRandom r, T[] a) {
    return a[r.nextInt(a.length)];
  }

  private static String person(SplittableRandom r) {
    String first = pick(r, FIRST), last = pick(r, LAST);
    String addr = ascii(first.charAt(0) + "." + last).replaceAll("[^a-z.]", "") + "@" + pick(r, DOMAINS);
    String name = first + " " + last;
    boolean ascii = name.chars().allMatch(c -> c < 128);
    if (!ascii) name = "=?UTF-8?B?" + Base64.getEncoder().encodeToString(name.getBytes(StandardCharsets.UTF_8)) + "?=";
    else if (name.contains("'")) name = "\"" + name + "\"";
    return name + " <" + addr + ">";
  }

  /** A name as the local part of an address spells it: "Łukasz Müller" as "lukasz muller". */
  private static String ascii(String s) {
    s = s.replace("Ł", "L").replace("ł", "l").replace("ø", "o").replace("Ø", "O");
    return java.text.Normalizer.normalize(s, java.text.Normalizer.Form.NFD).replaceAll("\\p{M}", "").toLowerCase(Locale.ROOT);
  }

  private static String words(SplittableRandom r, int n) {
    var s = new StringBuilder();
    for (int k = 0; k < n; k++) s.append(k == 0 ? "" : " ").append(pick(r, WORDS));
    return s.toString();
  }

  private static String text(SplittableRandom r, int octets) {
    var s = new StringBuilder(octets + 100);
    s.append("Hello,\n\n");
    int col = 0;
    while (s.length() < octets) {
      String w = r.nextInt(6) == 0 ? pick(r, WORDS) : pick(r, LOREM_WORDS);
      if (w.isEmpty()) continue;
      if (col + w.length() > 72) {
        s.append('\n');
        col = 0;
      } else if (col > 0) {
        s.append(' ');
        col++;
      }
      s.append(w);
      col += w.length();
      if (r.nextInt(60) == 0) {
        s.append("\n\n");
        col = 0;
      }
    }
    return s.append("\n\n-- \nSent from the posta-bench generator\n").toString();
  }

  private static byte[] message(SplittableRandom r, int i, long secs) {
    String zone = pick(r, ZONES);
    String date = ZonedDateTime.ofInstant(Instant.ofEpochSecond(secs), ZoneOffset.of(zone.substring(0, 3) + ":" + zone.substring(3))).format(DATE);
    String from = person(r);
    String msgId = "<" + Long.toHexString(secs) + "." + i + "." + Integer.toHexString(r.nextInt()) + "@" + pick(r, DOMAINS) + ">";
    var h = new StringBuilder(2048);
    h.append("Return-Path: <").append(from, from.indexOf('<') + 1, from.indexOf('>')).append(">\n");
    h.append("Delivered-To: bench@localhost\n");
    int hops = 1 + r.nextInt(3);
    for (int k = 0; k < hops; k++) {
      h.append("Received: from mx").append(k + 1).append('.').append(pick(r, DOMAINS)).append(" (mx").append(k + 1)
          .append(" [192.0.2.").append(1 + r.nextInt(250)).append("])\n\tby mail.localhost with ESMTPS id ")
          .append(Long.toHexString(r.nextLong())).append("\n\tfor <bench@localhost>; ").append(date).append('\n');
    }
    if (r.nextInt(3) == 0) {
      h.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=").append(pick(r, DOMAINS))
          .append("; s=sel1;\n\th=from:to:subject:date:message-id; bh=")
          .append(Base64.getEncoder().encodeToString(Long.toString(r.nextLong()).getBytes(StandardCharsets.US_ASCII)))
          .append(";\n\tb=").append(Base64.getEncoder().encodeToString(new byte[96])).append('\n');
    }
    h.append("From: ").append(from).append('\n');
    h.append("To: ").append(r.nextInt(10) == 0 ? person(r) + ", " : "").append("Bench User <bench@localhost>\n");
    if (r.nextInt(5) == 0) h.append("Cc: ").append(person(r)).append(", ").append(person(r)).append('\n');
    String subject = words(r, 2 + r.nextInt(6));
    subject = Character.toUpperCase(subject.charAt(0)) + subject.substring(1);
    int kind = r.nextInt(10);
    if (kind < 3) {
      subject = (kind == 0 ? "Fwd: " : "Re: ") + subject;
      String parent = "<" + Long.toHexString(secs - 3600) + "." + r.nextInt(1_000_000) + "@" + pick(r, DOMAINS) + ">";
      h.append("In-Reply-To: ").append(parent).append('\n');
      h.append("References: <").append(Long.toHexString(secs - 7200)).append(".root@").append(pick(r, DOMAINS)).append(">\n ")
          .append(parent).append('\n');
    } else if (kind == 9) {
      subject = "=?UTF-8?Q?" + subject.replace(' ', '_') + "_=E2=80=94_r=C3=A9sum=C3=A9?=";
    }
    h.append("Subject: ").append(subject).append('\n');
    h.append("Date: ").append(date).append('\n');
    h.append("Message-ID: ").append(msgId).append('\n');
    if (r.nextInt(4) == 0) h.append("List-Id: <").append(pick(r, LISTS)).append(">\nList-Unsubscribe: <mailto:leave@")
        .append(pick(r, LISTS)).append(">\n");
    if (r.nextInt(2) == 0) h.append("X-Mailer: ").append(pick(r, MAILERS)).append('\n');
    h.append("MIME-Version: 1.0\n");

    int shape = r.nextInt(10);
    String body = text(r, 300 + r.nextInt(r.nextInt(8) == 0 ? 5000 : 1800));
    var b = new StringBuilder(body.length() * 2 + 512);
    String boundary = "=_bench_" + Integer.toHexString(r.nextInt()) + "_" + i;
    if (shape < 7) {
      h.append("Content-Type: text/plain; charset=utf-8; format=flowed\nContent-Transfer-Encoding: 8bit\n");
      b.append(body);
    } else if (shape < 9) {
      h.append("Content-Type: multipart/alternative;\n\tboundary=\"").append(boundary).append("\"\n");
      b.append("This is a multi-part message in MIME format.\n\n--").append(boundary)
          .append("\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n").append(body).append("\n--").append(boundary)
          .append("\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n<html><body><p>")
          .append(body.replace("\n\n", "</p>\n<p>")).append("</p></body></html>\n--").append(boundary).append("--\n");
    } else {
      h.append("Content-Type: multipart/mixed; boundary=\"").append(boundary).append("\"\n");
      byte[] attachment = new byte[800 + r.nextInt(3000)];
      r.nextBytes(attachment);
      String b64 = Base64.getMimeEncoder(76, new byte[] {'\n'}).encodeToString(attachment);
      b.append("--").append(boundary).append("\nContent-Type: text/plain; charset=utf-8\n\n").append(body).append("\n--").append(boundary)
          .append("\nContent-Type: application/pdf; name=\"").append(pick(r, WORDS)).append(".pdf\"\nContent-Disposition: attachment; filename=\"")
          .append(pick(r, WORDS)).append(".pdf\"\nContent-Transfer-Encoding: base64\n\n").append(b64).append("\n--").append(boundary).append("--\n");
    }
    return (h.append('\n').append(b)).toString().getBytes(StandardCharsets.UTF_8);
  }
}
