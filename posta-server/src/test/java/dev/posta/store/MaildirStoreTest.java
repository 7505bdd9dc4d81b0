package dev.posta.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where mailboxes live, and how an open folder hears of Posta's own deliveries. */
class MaildirStoreTest {
  private final MaildirStore store = new MaildirStore(Path.of("/data/mail"), "mx.example.org");

  @TempDir Path dir;

  @Test
  void maildirPathsCannotEscapeTheMailFolder() {
    assertThat(store.maildir(new MailboxId("example.org", "alice")).root()).isEqualTo(Path.of("/data/mail/example.org/alice/Maildir"));
    assertThat(store.maildir(new MailboxId("localhost", "../../etc")).root()).isEqualTo(Path.of("/data/mail/localhost/%2E.%2F..%2Fetc/Maildir"));
    assertThat(store.maildir(new MailboxId("localhost", "a/b")).root()).isEqualTo(Path.of("/data/mail/localhost/a%2Fb/Maildir"));
    assertThat(store.maildir(new MailboxId("localhost", "用户")).root()).isEqualTo(Path.of("/data/mail/localhost/%E7%94%A8%E6%88%B7/Maildir"));
  }

  @Test
  void anOpenInboxHearsOfADeliveryAtOnceAndSubfoldersAreMaildirPlusPlus() throws Exception {
    try (MaildirStore local = new MaildirStore(dir, "h")) {
      MailboxId alice = new MailboxId("example.org", "alice");
      MaildirFolder inbox = local.folder(alice, "INBOX");
      assertThat(local.folder(alice, "inbox")).as("one instance per folder, any case of INBOX").isSameAs(inbox);
      AtomicInteger heard = new AtomicInteger();
      inbox.listen(heard::incrementAndGet);
      assertThat(local.deliver(alice, "1A225B91F2A00000_0123456789abcdef", Instant.EPOCH, new byte[0],
          out -> out.write(ByteBuffer.wrap("Subject: hi\r\n\r\nx\r\n".getBytes(UTF_8))), false)).isTrue();
      assertThat(heard.get()).as("told during the delivery, before any sync").isEqualTo(1);
      assertThat(inbox.messages()).singleElement().satisfies(m -> {
        assertThat(m.uid()).isEqualTo(1);
        assertThat(m.size()).isEqualTo("Subject: hi\r\n\r\nx\r\n".length());
      });
      assertThat(inbox.sync()).as("the delivery is no news to a sync").isFalse();

      MaildirFolder sent = local.folder(alice, "Sent");
      assertThat(Files.isDirectory(dir.resolve("example.org/alice/Maildir/.Sent/cur"))).isTrue();
      assertThat(sent.messages()).isEmpty();
      assertThatThrownBy(() -> local.folder(alice, "../x")).isInstanceOf(IllegalArgumentException.class);
    }
  }
}
