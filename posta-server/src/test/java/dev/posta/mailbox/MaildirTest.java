package dev.posta.mailbox;

import static org.assertj.core.api.Assertions.assertThat;

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
    assertThat(file.getFileName().toString()).endsWith(".host\\057with\\072odd,S=" + expected.length());
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
