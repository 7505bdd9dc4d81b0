package dev.posta.pop3;

import dev.posta.store.MailboxId;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The exclusive-access lock on each maildrop that RFC 1939 §4 asks a POP3 session to hold from
 * login to its end, so that two sessions never number, delete and update the same messages at
 * once (a second login gets {@code -ERR [IN-USE]}, RFC 2449 §8.1.1). Held in memory: one Posta
 * serves a data folder, and a lock must not outlive its session, which a crash also ends. IMAP
 * sessions take no part: they see POP3's deletions as expunges.
 */
final class MaildropLocks {
  private final Set<MailboxId> held = ConcurrentHashMap.newKeySet();

  /** Takes the lock on {@code mailbox}; false when another session holds it. */
  boolean take(MailboxId mailbox) {
    return held.add(mailbox);
  }

  void release(MailboxId mailbox) {
    held.remove(mailbox);
  }
}
