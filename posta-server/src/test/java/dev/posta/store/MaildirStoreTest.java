package dev.posta.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class MaildirStoreTest {
  private final MaildirStore store = new MaildirStore(Path.of("/data/mail"), "mx.example.org");

  @Test
  void maildirPathsCannotEscapeTheMailFolder() {
    assertThat(store.maildir(new MailboxId("example.org", "alice")).root()).isEqualTo(Path.of("/data/mail/example.org/alice/Maildir"));
    assertThat(store.maildir(new MailboxId("localhost", "../../etc")).root()).isEqualTo(Path.of("/data/mail/localhost/%2E.%2F..%2Fetc/Maildir"));
    assertThat(store.maildir(new MailboxId("localhost", "a/b")).root()).isEqualTo(Path.of("/data/mail/localhost/a%2Fb/Maildir"));
    assertThat(store.maildir(new MailboxId("localhost", "用户")).root()).isEqualTo(Path.of("/data/mail/localhost/%E7%94%A8%E6%88%B7/Maildir"));
  }
}
