package dev.posta.queue;

import dev.posta.mail.QueueId;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The administrator's commands on a queue ({@code posta queue}, the web pages, the operators'
 * API), whichever queue it is: the embedded spool's ({@link QueueControl}) or the cluster's in
 * PostgreSQL ({@link ClusterQueueControl}). Both answer with the same records and refusals, so
 * {@code control.QueueRequest#applyTo}, the CLI's rendering and the pages are written once.
 */
public interface QueueCommands {
  /** Now, on the queue's clock: what {@link QueueSelection.Matching#matches(QueueControl.Listing, Instant)} takes an age from. */
  Instant now();

  /** Every message in the queue, oldest first, read as it is iterated (a page at a time). */
  Iterable<QueueControl.Listing> listings();

  /** Every message in the queue, oldest first, in one list. */
  default List<QueueControl.Listing> list() {
    List<QueueControl.Listing> all = new ArrayList<>();
    listings().forEach(all::add);
    return all;
  }

  /** One message in full, content included; empty when it is not in the queue. */
  Optional<QueueControl.MessageView> show(QueueId id) throws IOException;

  /** Makes every waiting message due now (held ones stay); returns how many. */
  int flush() throws IOException;

  /** Makes one message due now; one being delivered this moment is left to that attempt. */
  void retry(QueueId id) throws QueueControl.Refused, IOException;

  /** Stops delivery of a message until it is released; holding a held one changes nothing. */
  void hold(QueueId id) throws QueueControl.Refused, IOException;

  /** Lets a held message go again, due at once; releasing one not held changes nothing. */
  void release(QueueId id) throws QueueControl.Refused, IOException;

  /** Removes a message without telling anyone (like postsuper -d). */
  void delete(QueueId id) throws QueueControl.Refused, IOException;

  /** Returns a message to its sender now, with one notice naming every pending recipient. */
  void bounce(QueueId id) throws QueueControl.Refused, IOException;

  /** Acts on every message selected, in one pass, as the command for one would on each. */
  QueueControl.BulkResult act(QueueControl.Action action, QueueSelection selection) throws IOException;
}
