package dev.posta.delivery;

import dev.posta.client.MessageWriter;
import dev.posta.mail.Envelope;
import dev.posta.storage.IoErrors;
import dev.posta.store.MailboxStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Final delivery into a local mailbox, through the {@link MailboxStore}. Adds {@code
 * Return-Path:} with the reverse-path (RFC 5321 §4.4) and {@code Delivered-To:}, which lets loops
 * be spotted. Returns only once the message is durable.
 *
 * <p>Once only: the delivery is named after the queue ID and the mailbox, so delivering the same
 * message to the same mailbox again, as the queue does after a crash that came between the
 * delivery and its note in the progress log, finds the first copy and writes no second one.
 *
 * <p>The folder: the envelope's when it names one (a DMARC quarantine, a milter's QUARANTINE);
 * for mail a milter marked as spam, the one the mailbox's domain files spam into ({@code
 * [domains."example.org"] spam-folder}, asked at each delivery), so that a message to two
 * domains lands in each one's choice; else the inbox.
 */
public final class LocalDelivery implements DeliveryTarget {
  private static final Logger log = LoggerFactory.getLogger(LocalDelivery.class);

  private final MailboxStore store;
  private final Listener listener;
  /** A local domain's folder for mail marked as spam (null: the inbox), as the configuration says now. */
  private final Function<String, String> spamFolders;

  /**
   * What a {@link Listener} hears: a message delivered now to one or more mailboxes.
   *
   * @param envelope its envelope: sender, every recipient the client gave, queue ID, client
   * @param mailboxes the mailboxes it went to in this delivery
   * @param message the message as stored, without the Return-Path: and Delivered-To: lines
   *     delivery adds to each copy (those are in the envelope)
   */
  public record Delivered(Envelope envelope, List<Router.Mailbox> mailboxes, byte[] message) {}

  /**
   * Hears of each message once it is durable in its mailboxes, on the delivering thread (keep it
   * short; what it throws is logged and ignored): what the JUnit extension and capture mode read.
   */
  public interface Listener {
    void delivered(Delivered delivered);
  }

  public LocalDelivery(MailboxStore store) {
    this(store, null);
  }

  /** @param listener told of every delivery made now, or null */
  public LocalDelivery(MailboxStore store, Listener listener) {
    this(store, listener, domain -> "Junk");
  }

  /**
   * @param listener told of every delivery made now, or null
   * @param spamFolders a local domain's folder for mail a milter marked as spam, null for the inbox
   */
  public LocalDelivery(MailboxStore store, Listener listener, Function<String, String> spamFolders) {
    this.store = store;
    this.listener = listener;
    this.spamFolders = spamFolders;
  }

  /** The folder {@code box} gets this message in, null for the inbox. */
  private String folder(Envelope envelope, Router.Mailbox box) {
    if (envelope.folder() != null) return envelope.folder();
    return envelope.spam() == null ? null : spamFolders.apply(box.domain());
  }

  /**
   * Delivers to each mailbox once, however many recipients reach it (ALICE@, alice+tag@ and an
   * alias naming alice are all alice); a storage failure defers that mailbox's recipients, for
   * a sooner retry than a remote refusal gets.
   */
  @Override
  public List<DeliveryResult> deliver(Delivery delivery) {
    Envelope envelope = delivery.envelope();
    Set<Router.Mailbox> done = new HashSet<>();
    List<Router.Mailbox> now = new ArrayList<>();
    List<DeliveryResult> results = new ArrayList<>();
    for (Delivery.Recipient r : delivery.recipients()) {
      Router.Mailbox box = (Router.Mailbox) r.target();
      DeliveryResult result = DeliveryResult.delivered("delivered to mailbox " + box.address());
      if (done.add(box)) {
        try {
          String folder = folder(envelope, box);
          boolean written = deliver(envelope, delivery.content(), box, folder, r.mayBeDelivered());
          if (written) now.add(box);
          log.info("{}: to=<{}>, mailbox={}{}, status=delivered ({})", envelope.id(), r.original(), box.address(),
              folder == null ? "" : ", folder=" + folder + (envelope.folder() == null ? " (spam)" : ""),
              written ? store.kind() : store.kind() + ", by an earlier attempt");
        } catch (IOException ex) {
          done.remove(box);
          result = DeliveryResult.storageFault("mailbox " + box.address() + " not writable: " + ex.getMessage());
          log.warn("{}: to=<{}>, mailbox={}, status=deferred ({})", envelope.id(), r.original(), box.address(), IoErrors.oneLine(ex));
        }
      }
      results.add(result);
    }
    if (listener != null && !now.isEmpty()) tell(delivery, now);
    return results;
  }

  private void tell(Delivery delivery, List<Router.Mailbox> mailboxes) {
    try {
      var bytes = new java.io.ByteArrayOutputStream((int) Math.min(delivery.size() + 1024, Integer.MAX_VALUE - 8));
      delivery.content().writeTo(java.nio.channels.Channels.newChannel(bytes));
      listener.delivered(new Delivered(delivery.envelope(), List.copyOf(mailboxes), bytes.toByteArray()));
    } catch (IOException | RuntimeException e) {
      log.warn("{}: delivery listener failed: {}", delivery.envelope().id(), e.toString());
    }
  }

  /**
   * @param mayBeDelivered an earlier attempt (of this run, or of one before a restart) may have
   *     delivered it already: the mailbox is searched more thoroughly
   * @param folder where it goes ({@link #folder}), null for the inbox
   * @return true when it was delivered now, false when an earlier attempt had delivered it
   */
  private boolean deliver(Envelope envelope, MessageWriter content, Router.Mailbox box, String folder, boolean mayBeDelivered)
      throws IOException {
    byte[] header = ("Return-Path: " + envelope.reversePath() + "\r\n"
        + "Delivered-To: " + box.address() + "\r\n").getBytes(StandardCharsets.UTF_8);
    String id = envelope.id().value() + "_" + mailboxHash(box);
    return store.deliver(box.id(), folder == null ? "INBOX" : folder, id, envelope.received(), header, content, mayBeDelivered);
  }

  /**
   * 16 hex digits of the SHA-256 of the mailbox's address: the copies of one message stay apart
   * should two mailboxes share a folder (a symlink), in a name of fixed length and harmless
   * characters.
   */
  static String mailboxHash(Router.Mailbox box) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(box.address().getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(digest, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
