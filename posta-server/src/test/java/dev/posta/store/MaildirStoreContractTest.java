package dev.posta.store;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/** The {@link MailboxStoreContract} against Maildirs on local disk. */
class MaildirStoreContractTest extends MailboxStoreContract {
  @TempDir Path dir;
  private MaildirStore store;

  @Override
  MailboxStore store() {
    if (store == null) store = new MaildirStore(dir, "h");
    return store;
  }

  @AfterEach
  void close() {
    if (store != null) store.close();
  }
}
