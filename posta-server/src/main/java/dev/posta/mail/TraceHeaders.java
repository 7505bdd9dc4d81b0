package dev.posta.mail;

import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * The trace of a message's travels, read from its header section: how many {@code Received:}
 * fields it carries, one per hop (RFC 5321 §6.3 counts them to find loops), and the addresses
 * it was already delivered or forwarded to ({@code Delivered-To:}, as Posta, Postfix and qmail
 * add them). Fed the octets as they stream past, it reads the header section only, keeps only
 * the counts and addresses, and passes over everything after the empty line that ends it.
 *
 * <p>Lines may end in CRLF or LF; folded fields are unfolded (RFC 5322 §2.2.3). A field longer
 * than {@value #MAX_FIELD} octets still counts, but its value is cut there.
 */
public final class TraceHeaders {
  /** More than any address needs (RFC 5321 §4.5.3.1.3: a path is at most 256 octets). */
  static final int MAX_FIELD = 1000;

  private int received;
  private final Set<String> deliveredTo = new HashSet<>();
  /**
   * The current field, unfolded, without its line ends; cut at MAX_FIELD. Dropped once the
   * header section is read: a trace stays with its message for as long as it is queued.
   */
  private byte[] field = new byte[MAX_FIELD];
  private int fieldLength;
  private boolean inField;
  private boolean atLineStart = true;
  private boolean done;

  /** The trace of a whole message (or of its beginning, when that holds the header section). */
  public static TraceHeaders of(byte[] message) {
    TraceHeaders trace = new TraceHeaders();
    trace.accept(message, 0, message.length);
    trace.finish();
    return trace;
  }

  /** Reads more of the message; once the header section has ended, does nothing. */
  public void accept(byte[] b, int off, int len) {
    for (int i = off, end = off + len; i < end && !done; i++) accept(b[i]);
  }

  private void accept(byte c) {
    if (c == '\r') return; // CRLF and LF end lines alike
    if (atLineStart) {
      atLineStart = false;
      if (c == '\n') { // the empty line: the body follows
        finish();
        return;
      }
      if (c != ' ' && c != '\t') endField(); // else a continuation: the field goes on
      inField = true;
    }
    if (c == '\n') {
      atLineStart = true;
    } else if (fieldLength < MAX_FIELD) {
      field[fieldLength++] = c;
    }
  }

  private void endField() {
    if (!inField) return;
    inField = false;
    int length = fieldLength;
    fieldLength = 0;
    int colon = 0;
    while (colon < length && field[colon] != ':') colon++;
    if (colon == length) return;
    int nameEnd = colon;
    while (nameEnd > 0 && (field[nameEnd - 1] == ' ' || field[nameEnd - 1] == '\t')) nameEnd--;
    // Every header field of every message passes here: names are compared as octets, and only
    // a Delivered-To: value becomes a String.
    if (isName(RECEIVED, nameEnd)) {
      received++;
    } else if (isName(DELIVERED_TO, nameEnd)) {
      String address = new String(field, colon + 1, length - colon - 1, StandardCharsets.UTF_8).strip();
      if (address.startsWith("<") && address.endsWith(">")) address = address.substring(1, address.length() - 1);
      if (!address.isEmpty()) deliveredTo.add(address.toLowerCase(Locale.ROOT));
    }
  }

  private static final byte[] RECEIVED = "received".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] DELIVERED_TO = "delivered-to".getBytes(StandardCharsets.US_ASCII);

  /** Whether the field's name, its first {@code length} octets, is {@code lowerCase} in any case. */
  private boolean isName(byte[] lowerCase, int length) {
    if (length != lowerCase.length) return false;
    for (int i = 0; i < length; i++) {
      int c = field[i];
      if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != lowerCase[i]) return false;
    }
    return true;
  }

  /**
   * The message ended: a message that is all header section has no empty line to end it, so
   * its last field is counted now. Call before asking.
   */
  public void finish() {
    if (done) return;
    endField();
    done = true;
    field = null;
  }

  /** Whether the whole header section has been read. */
  public boolean complete() {
    return done;
  }

  /** {@code Received:} fields: the hops the message made. */
  public int received() {
    return received;
  }

  /** Whether a {@code Delivered-To:} field names this address (compared without regard to case). */
  public boolean wasDeliveredTo(String address) {
    return deliveredTo.contains(address.toLowerCase(Locale.ROOT));
  }

  /** The {@code Delivered-To:} addresses, in lower case. */
  public Set<String> deliveredTo() {
    return Collections.unmodifiableSet(deliveredTo);
  }
}
