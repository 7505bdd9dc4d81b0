package dev.posta.web;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.posta.store.Folder;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A mailbox's news as server-sent events (HTML Living Standard §9.2, {@code text/event-stream}),
 * so that a browser or a script sees new mail without asking again: one {@code folder} event
 * per watched folder at the start and then whenever its state changes, with data {@code
 * {"folder":"INBOX","messages":12,"unseen":3,"uidNext":13}}.
 *
 * <p>Guarantees: a change made through this server (a delivery, an IMAP or web action) is told
 * within {@link #SETTLE} of it, several changes close together as one event; a change made
 * behind the server's back (another program writing the Maildir) within {@link #HEARTBEAT}, when
 * the folder is looked at again. An event says the whole state, never a difference, so a client that
 * reconnects (the browser does by itself, after the {@code retry} given) has lost nothing. A
 * comment line every {@link #HEARTBEAT} keeps the connection open through proxies and finds a
 * client that went away. An account has at most {@link #MAX_STREAMS} streams open (429 beyond),
 * so a forgotten tab loop cannot hold the server's folders open without bound. Streams end when
 * the server stops, without holding its shutdown.
 */
public final class MailEvents implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MailEvents.class);
  static final Duration HEARTBEAT = Duration.ofSeconds(25);
  /** The web pages' heartbeat: a browser leaves a page's stream at each click, and the server learns of it only by writing. */
  public static final Duration PAGE_HEARTBEAT = Duration.ofSeconds(5);
  /** How long a stream waits after a change for the next, so a burst of deliveries is one event. */
  static final Duration SETTLE = Duration.ofMillis(100);
  static final int MAX_STREAMS = 10;
  /** What the browser waits before reconnecting, in milliseconds (the stream's {@code retry:}). */
  static final int RETRY_MILLIS = 3000;

  private final MailboxStore store;
  private final Map<MailboxId, Integer> open = new ConcurrentHashMap<>();
  /** Each open stream's wake-up, released at every change and when the server stops. */
  private final Set<Semaphore> streams = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  public MailEvents(MailboxStore store) {
    this.store = store;
  }

  /** What a stream says of one folder; equal states are not told twice. */
  record State(String folder, int messages, int unseen, long uidNext) {
    static State of(String name, Folder f) {
      Folder.Tally tally = f.tally();
      return new State(name, tally.messages(), tally.unseen(), f.uidNext());
    }

    String event() {
      Map<String, Object> data = new LinkedHashMap<>();
      data.put("folder", folder);
      data.put("messages", messages);
      data.put("unseen", unseen);
      data.put("uidNext", uidNext);
      try {
        return "event: folder\ndata: " + Exchange.JSON.writeValueAsString(data) + "\n\n";
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    }
  }

  /**
   * Streams the news of {@code folders} of {@code mailbox} until the client goes away or the
   * server stops. 404 for a folder the mailbox does not have (the inbox always exists), 429 when
   * the account has {@link #MAX_STREAMS} open.
   */
  public void stream(Exchange x, MailboxId mailbox, List<String> folders) throws ApiError, IOException {
    stream(x, mailbox, folders, HEARTBEAT, () -> true);
  }

  /**
   * {@link #stream(Exchange, MailboxId, List)} with its own {@code heartbeat}, while {@code live}
   * holds, asked at every change and heartbeat. The web pages' streams beat every {@link
   * #PAGE_HEARTBEAT}: a page left behind (a click to the next page) is found by a write failing, so
   * its place among the account's {@link #MAX_STREAMS} is freed within two beats, and a stream
   * ends within one of its session's end.
   */
  public void stream(Exchange x, MailboxId mailbox, List<String> folders, Duration heartbeatEvery, java.util.function.BooleanSupplier live)
      throws ApiError, IOException {
    for (String name : folders) {
      if (!name.equalsIgnoreCase(MailboxStore.INBOX) && !exists(mailbox, name)) throw ApiError.notFound("no folder " + name);
    }
    if (closed) throw new ApiError(503, "the server is stopping");
    if (open.merge(mailbox, 1, Integer::sum) > MAX_STREAMS) {
      release(mailbox);
      throw new ApiError(429, "this account has " + MAX_STREAMS + " event streams open already");
    }
    Semaphore wake = new Semaphore(0);
    Runnable changed = wake::release; // runs on the thread that made the change: nothing more
    List<MailboxStore.Lease> leases = new ArrayList<>();
    streams.add(wake);
    try {
      for (String name : folders) {
        MailboxStore.Lease lease = store.open(mailbox, name);
        leases.add(lease);
        lease.folder().listen(changed); // before the first state is read: no change falls between
      }
      x.idleTimeout(heartbeatEvery.multipliedBy(2));
      try (OutputStream out = x.stream(200, "text/event-stream; charset=utf-8", Map.of("X-Accel-Buffering", "no"))) {
        out.write(("retry: " + RETRY_MILLIS + "\n\n").getBytes(UTF_8));
        State[] told = new State[folders.size()];
        boolean heartbeat = false;
        while (!closed && live.getAsBoolean()) {
          StringBuilder news = new StringBuilder();
          for (int i = 0; i < leases.size(); i++) {
            Folder f = leases.get(i).folder();
            f.sync(); // two stat calls when nothing changed behind the server's back
            State now = State.of(folders.get(i), f);
            if (!now.equals(told[i])) news.append(now.event());
            told[i] = now;
          }
          if (!news.isEmpty() || heartbeat) {
            out.write((news.isEmpty() ? ":\n\n" : news.toString()).getBytes(UTF_8));
            out.flush();
          }
          heartbeat = !wake.tryAcquire(heartbeatEvery.toMillis(), TimeUnit.MILLISECONDS);
          if (!heartbeat) {
            Thread.sleep(SETTLE.toMillis());
            wake.drainPermits();
          }
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // the server is stopping: the stream just ends
    } catch (IOException e) {
      log.debug("http[{}]: event stream ended: {}", x.client().getHostAddress(), e.toString()); // the client went away
    } finally {
      streams.remove(wake);
      for (MailboxStore.Lease lease : leases) {
        lease.folder().unlisten(changed);
        lease.close();
      }
      release(mailbox);
    }
  }

  private boolean exists(MailboxId mailbox, String name) {
    try {
      return store.exists(mailbox, name);
    } catch (IllegalArgumentException e) { // a name that cannot be a folder
      return false;
    }
  }

  private void release(MailboxId mailbox) {
    open.computeIfPresent(mailbox, (k, n) -> n == 1 ? null : n - 1);
  }

  /** Ends every stream (each finishes its answer) and refuses new ones: the server is stopping. */
  @Override
  public void close() {
    closed = true;
    streams.forEach(Semaphore::release);
  }
}
