package dev.posta.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MaildirTest {
  @TempDir Path dir;

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  @Test
  void deliversWithLfLineEndingsAndTheFileSizeInItsName() throws Exception {
    Maildir box = new Maildir(dir.resolve("Maildir"));
    // Content arrives in pieces that split CRLF pairs; a lone CR is data and stays.
    String[] pieces = {"Subject: x\r", "\n\r\nline one\r\nbare\rcr\r", "\n", "last\r"};
    Path file = box.deliver(bytes("Return-Path: <a@b.example>\r\n"), target -> {
      for (String p : pieces) target.write(ByteBuffer.wrap(bytes(p)));
    }, "host/with:odd");
    String expected = "Return-Path: <a@b.example>\nSubject: x\n\nline one\nbare\rcr\nlast\r";
    assertThat(Files.readString(file, StandardCharsets.ISO_8859_1)).isEqualTo(expected);
    assertThat(file.getParent()).isEqualTo(dir.resolve("Maildir/new"));
    // W=: the size as IMAP serves it, each of the 5 LFs a CRLF again.
    assertThat(file.getFileName().toString()).endsWith(".host\\057with\\072odd,S=" + expected.length() + ",W=" + (expected.length() + 5));
    assertThat(Files.size(file)).isEqualTo(expected.length());
    assertThat(dir.resolve("Maildir/tmp")).isEmptyDirectory();
    assertThat(dir.resolve("Maildir/cur")).isDirectory();
  }

  @Test
  void namesAreUnique() throws Exception {
    Maildir box = new Maildir(dir.resolve("Maildir"));
    Path a = box.deliver(bytes(""), t -> t.write(ByteBuffer.wrap(bytes("x\r\n"))), "h");
    Path b = box.deliver(bytes(""), t -> t.write(ByteBuffer.wrap(bytes("x\r\n"))), "h");
    assertThat(a).isNotEqualTo(b);
  }

  private static final java.time.Instant ARRIVAL = java.time.Instant.parse("2025-11-29T05:13:38.123Z");

  private static Maildir.Delivered once(Maildir box, String id, boolean mayBeInCur) throws java.io.IOException {
    return box.deliverOnce(id, ARRIVAL, bytes("Delivered-To: a@b\r\n"), t -> t.write(ByteBuffer.wrap(bytes("x\r\n"))), "h", mayBeInCur);
  }

  private static java.util.List<String> names(Path dir) throws java.io.IOException {
    try (var files = Files.list(dir)) {
      return files.map(f -> f.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void theSameDeliveryTwiceMakesOneFileNamedAfterItsArrivalAndId() throws Exception {
    Maildir box = new Maildir(dir.resolve("Once"));
    Maildir.Delivered first = once(box, "1A225B91F2A00000_0123456789abcdef", false);
    Maildir.Delivered again = once(box, "1A225B91F2A00000_0123456789abcdef", false);
    assertThat(first.earlier()).isFalse();
    assertThat(again).isEqualTo(new Maildir.Delivered(first.file(), true));
    assertThat(names(dir.resolve("Once/new"))).containsExactly("1764393218.M123000.1A225B91F2A00000_0123456789abcdef.h,S=20,W=22");
    assertThat(dir.resolve("Once/tmp")).isEmptyDirectory();
    // Another mailbox's copy of the same message (another ID) is a file of its own.
    assertThat(once(box, "1A225B91F2A00000_fedcba9876543210", false).earlier()).isFalse();
    assertThat(names(dir.resolve("Once/new"))).hasSize(2);
  }

  @Test
  void namesOfDeliveriesInOneSecondSortInTheOrderTheyArrived() throws Exception {
    Maildir box = new Maildir(dir.resolve("Quick"));
    java.util.List<String> bases = new java.util.ArrayList<>();
    for (String at : new String[] {"05:13:38.009Z", "05:13:38.010Z", "05:13:38.998Z"}) {
      // queue IDs in no particular order: the time decides
      Path file = box.deliverOnce("id" + (9 - bases.size()), java.time.Instant.parse("2025-11-29T" + at), bytes(""),
          t -> t.write(ByteBuffer.wrap(bytes("x\r\n"))), "h", false).file();
      bases.add(file.getFileName().toString());
    }
    assertThat(bases).containsExactly("1764393218.M9000.id9.h,S=2,W=3", "1764393218.M10000.id8.h,S=2,W=3",
        "1764393218.M998000.id7.h,S=2,W=3");
    assertThat(bases).isSortedAccordingTo(MaildirFolder::compareNatural);
  }

  @Test
  void aDeliveryAlreadyMovedToCurByAReaderIsFoundThere() throws Exception {
    Maildir box = new Maildir(dir.resolve("Read"));
    Path file = once(box, "1A225B91F2A00000_0123456789abcdef", false).file();
    // What Dovecot does when a client sees it: into cur/, the size and flags added to the name.
    Path read = dir.resolve("Read/cur").resolve(file.getFileName() + ",W=21:2,S");
    Files.move(file, read);
    assertThat(once(box, "1A225B91F2A00000_0123456789abcdef", true)).isEqualTo(new Maildir.Delivered(read, true));
    assertThat(dir.resolve("Read/new")).isEmptyDirectory();
    assertThat(dir.resolve("Read/tmp")).isEmptyDirectory();
    // Only a whole base name matches: ID ...def is not ...de.
    assertThat(once(box, "1A225B91F2A00000_0123456789abcde", true).earlier()).isFalse();
  }

  @Test
  void aTmpFileLeftByACrashedDeliveryIsTakenOver() throws Exception {
    Maildir box = new Maildir(dir.resolve("Crashed"));
    box.create();
    Files.writeString(dir.resolve("Crashed/tmp/1764393218.M123000.1A225B91F2A00000_0123456789abcdef.h"), "half a mess");
    Path file = once(box, "1A225B91F2A00000_0123456789abcdef", true).file();
    assertThat(Files.readString(file)).isEqualTo("Delivered-To: a@b\nx\n");
    assertThat(dir.resolve("Crashed/tmp")).isEmptyDirectory();
  }

  /** The tmp/ name of a delivery can be known in advance: a link put there is not followed, so no other file is overwritten. */
  @Test
  void aLinkInTmpUnderTheDeliverysNameIsNotFollowed() throws Exception {
    Maildir box = new Maildir(dir.resolve("Linked"));
    box.create();
    Path victim = Files.writeString(dir.resolve("victim"), "keep me");
    Files.createSymbolicLink(dir.resolve("Linked/tmp/1764393218.M123000.1A225B91F2A00000_0123456789abcdef.h"), victim);
    assertThatThrownBy(() -> once(box, "1A225B91F2A00000_0123456789abcdef", false)).isInstanceOf(java.io.IOException.class);
    assertThat(Files.readString(victim)).isEqualTo("keep me");
    assertThat(dir.resolve("Linked/new")).isEmptyDirectory();
  }

  @Test
  void createdFoldersAndMessagesArePrivateAndExistingFoldersKeepTheirMode() throws Exception {
    // The process umask is left as it is (typically 022): the modes must not depend on it.
    Path mail = Files.createDirectory(dir.resolve("mail"));
    Files.setPosixFilePermissions(mail, PosixFilePermissions.fromString("rwxr-x---")); // an admin's choice
    Maildir box = new Maildir(mail.resolve("example.org/alice/Maildir"));
    Path file = box.deliver(bytes(""), t -> t.write(ByteBuffer.wrap(bytes("secret\r\n"))), "h");

    assertThat(mode(mail)).isEqualTo("rwxr-x---");
    for (String d : new String[] {"example.org", "example.org/alice", "example.org/alice/Maildir",
        "example.org/alice/Maildir/tmp", "example.org/alice/Maildir/new", "example.org/alice/Maildir/cur"}) {
      assertThat(mode(mail.resolve(d))).as(d).isEqualTo("rwx------");
    }
    assertThat(mode(file)).isEqualTo("rw-------");
  }

  static String mode(Path p) throws java.io.IOException {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
  }

  @Test
  void staleLeftoversInTmpAreSweptAtTheFirstDelivery() throws Exception {
    Maildir box = new Maildir(dir.resolve("Swept"));
    box.create();
    Path stale = Files.writeString(dir.resolve("Swept/tmp/old.leftover"), "x");
    Path fresh = Files.writeString(dir.resolve("Swept/tmp/new.inflight"), "y");
    Files.setLastModifiedTime(stale, java.nio.file.attribute.FileTime.from(
        java.time.Instant.now().minus(Maildir.STALE_TMP).minusSeconds(60)));
    box.deliver(bytes(""), t -> t.write(ByteBuffer.wrap(bytes("x\r\n"))), "h");
    assertThat(stale).doesNotExist();
    assertThat(fresh).exists(); // may belong to a delivery in progress
  }
}
