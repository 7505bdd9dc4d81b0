package dev.posta.store;

import static java.nio.charset.StandardCharsets.ISO_8859_1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A message as the protocols serve it: the file's LF line ends as CRLF, whether read whole, its
 * header alone, or streamed a block at a time (a CRLF split between two blocks gets no second
 * CR); a CR on its own and a CRLF another program wrote stay as they are.
 */
class CrlfContentTest {
  @TempDir Path dir;

  /** Opens a folder holding one message file with exactly these octets; returns it and the message's UID. */
  private MaildirFolder folderWith(String octets) throws IOException {
    new Maildir(dir).create();
    Files.writeString(dir.resolve("new/1700000000.M1P1Q1.test"), octets, ISO_8859_1);
    return MaildirFolder.open(dir, "h", Clock.systemUTC());
  }

  private static String streamed(Folder folder, long uid, int readSize) throws IOException {
    var out = new StringBuilder();
    try (InputStream in = CrlfContent.stream(folder, uid, null)) {
      byte[] b = new byte[readSize];
      for (int n; (n = in.read(b)) > 0; ) out.append(new String(b, 0, n, ISO_8859_1));
    }
    return out.toString();
  }

  @Test
  void readWholeHeaderAloneAndStreamedAllServeCrlf() throws Exception {
    String file = "Subject: x\nX-Cr: a\rb\nX-Crlf: kept\r\n\nbody\nlast line";
    String served = "Subject: x\r\nX-Cr: a\rb\r\nX-Crlf: kept\r\n\r\nbody\r\nlast line";
    try (MaildirFolder f = folderWith(file)) {
      assertThat(f.get(1).size()).as("the size the folder tells is what is served").isEqualTo(served.length());
      assertThat(new String(CrlfContent.read(f, 1), ISO_8859_1)).isEqualTo(served);
      assertThat(new String(CrlfContent.header(f, 1), ISO_8859_1)).isEqualTo("Subject: x\r\nX-Cr: a\rb\r\nX-Crlf: kept\r\n\r\n");
      for (int readSize : List.of(1, 2, 7, 64 * 1024)) assertThat(streamed(f, 1, readSize)).isEqualTo(served);
      try (InputStream in = CrlfContent.stream(f, 1, null)) {
        assertThat(in.read()).isEqualTo('S');
      }
    }
  }

  @Test
  void aCrlfSplitBetweenTwoBlocksOfTheFileGetsNoSecondCr() throws Exception {
    String line = "x".repeat(16 * 1024 - 1) + "\r\n"; // the CR last in the first 16 KiB block, its LF first in the next
    String file = line + "next\n";
    try (MaildirFolder f = folderWith(file)) {
      assertThat(streamed(f, 1, 4096)).isEqualTo(line + "next\r\n");
      assertThat(new String(CrlfContent.read(f, 1), ISO_8859_1)).isEqualTo(line + "next\r\n");
    }
  }

  @Test
  void aMessageExpungedMeanwhileIsNoSuchFile() throws Exception {
    try (MaildirFolder f = folderWith("Subject: gone\n\nbye\n")) {
      f.expunge(List.of(1L));
      assertThatThrownBy(() -> CrlfContent.stream(f, 1, null)).isInstanceOf(NoSuchFileException.class);
      assertThatThrownBy(() -> CrlfContent.read(f, 1)).isInstanceOf(NoSuchFileException.class);
    }
  }
}
