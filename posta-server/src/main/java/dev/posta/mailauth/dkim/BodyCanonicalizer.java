package dev.posta.mailauth.dkim;

/**
 * A message body canonicalized as it streams past (RFC 6376 §3.4.3, §3.4.4), so that a body
 * hash takes one pass and no copy of the body: the canonical octets go to a {@link Sink} in
 * blocks, with only the empty lines at the current end held back (as a count), since they
 * vanish if nothing follows them.
 *
 * <p>Lines end at CRLF. A CR not followed by LF, or a bare LF, is an ordinary octet, as the
 * RFC's line-based rules leave it (SMTP's DATA has none; BDAT may).
 *
 * <p>Both end a body with exactly one CRLF (§3.4.3, §3.4.4), a last line without its CRLF
 * getting one; simple turns an empty body into one CRLF, while relaxed leaves an empty body (or
 * one of empty and blank lines only) empty, as §3.4.4 and its example in §3.4.6 have it.
 */
public abstract sealed class BodyCanonicalizer {
  /** Where canonical octets go, in order. */
  public interface Sink {
    void accept(byte[] octets, int offset, int length);
  }

  /** The largest block passed to the sink at once. */
  private static final int BLOCK = 8192;
  /** The first block's size: it grows (doubling) up to {@link #BLOCK} for a body that needs it, so a short body's canonicalizer allocates a short one. */
  private static final int FIRST_BLOCK = 512;

  private final Sink out;
  private byte[] block = new byte[FIRST_BLOCK];
  private int filled;
  /** CRLFs at the current end, not yet passed on: empty lines, or the last line's end. */
  private long heldLineEnds;
  /** A CR was the last octet: whether it ends a line depends on the next. */
  private boolean pendingCr;
  /** Anything but held line ends was passed on: the body is not empty. */
  boolean any;

  BodyCanonicalizer(Sink out) {
    this.out = out;
  }

  public final void update(byte[] octets, int offset, int length) {
    for (int i = offset, end = offset + length; i < end; i++) accept(octets[i]);
  }

  /** Finds the line ends: a CR waits for the next octet to say whether it is one. */
  private void accept(byte octet) {
    if (pendingCr) {
      pendingCr = false;
      if (octet == '\n') {
        lineEnded();
        return;
      }
      octet((byte) '\r');
    }
    if (octet == '\r') {
      pendingCr = true;
      return;
    }
    octet(octet);
  }

  /** A CRLF: held back, since only what follows it decides whether it stays. */
  void lineEnded() {
    heldLineEnds++;
  }

  /** An octet of a line (a lone CR included). */
  abstract void octet(byte octet);

  /** Ends the body: the last line end goes out, then everything is flushed to the sink. */
  public final void finish() {
    if (pendingCr) octet((byte) '\r');
    pendingCr = false;
    heldLineEnds = 0; // "*CRLF at the end of the body" becomes the one CRLF added below
    if (endsWithLineEnd()) {
      put((byte) '\r');
      put((byte) '\n');
    }
    flush();
  }

  /** Whether the canonical body ends with a CRLF: always for simple, when not empty for relaxed. */
  abstract boolean endsWithLineEnd();

  /** Passes on the held line ends, then {@code octet}: something follows them, so they stay. */
  final void content(byte octet) {
    for (; heldLineEnds > 0; heldLineEnds--) {
      put((byte) '\r');
      put((byte) '\n');
    }
    put(octet);
    any = true;
  }

  final void put(byte octet) {
    if (filled == block.length) {
      if (block.length < BLOCK) block = java.util.Arrays.copyOf(block, block.length * 2);
      else flush();
    }
    block[filled++] = octet;
  }

  final void flush() {
    if (filled > 0) out.accept(block, 0, filled);
    filled = 0;
  }

  /** §3.4.3. */
  static final class Simple extends BodyCanonicalizer {
    Simple(Sink out) {
      super(out);
    }

    @Override
    void octet(byte octet) {
      content(octet);
    }

    @Override
    boolean endsWithLineEnd() {
      return true; // an empty body too is one CRLF
    }
  }

  /** §3.4.4. */
  static final class Relaxed extends BodyCanonicalizer {
    /** Whitespace seen since the last octet passed on: one space if more follows on the line. */
    private boolean pendingSpace;

    Relaxed(Sink out) {
      super(out);
    }

    @Override
    void lineEnded() {
      pendingSpace = false; // whitespace at the end of a line is ignored
      super.lineEnded();
    }

    @Override
    void octet(byte octet) {
      if (octet == ' ' || octet == '\t') {
        pendingSpace = true;
        return;
      }
      if (pendingSpace) content((byte) ' ');
      pendingSpace = false;
      content(octet);
    }

    @Override
    boolean endsWithLineEnd() {
      pendingSpace = false; // at the end of the last line: ignored like any line's
      return any;
    }
  }
}
