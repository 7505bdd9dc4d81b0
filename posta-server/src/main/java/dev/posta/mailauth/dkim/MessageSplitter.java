package dev.posta.mailauth.dkim;

import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * A message streaming past, split into its header fields (kept, up to a limit) and its body
 * (passed on at once, never kept): what the signer and the verifier both read (RFC 5322 §2.1).
 *
 * <p>A line that begins with SP or HTAB continues the field before it; a line with a field name
 * ({@code ftext}, octets 33-126 but ":", then optional WSP and ":") starts a field; the empty line
 * ends the header section and is part of neither. Any other line (no header section at all, or
 * body text without the empty line) also ends the header section, and is the body's first line.
 * Lines end at LF (a CR before it stays in the field's octets). A folded line at the very start
 * continues nothing and is dropped ({@link #strayContinuation}).
 *
 * <p>Limits: the kept header section is at most {@code maxHeaderOctets}. Past that, fields are
 * no longer kept, except DKIM-Signature fields (for the reports), of which at most {@code
 * maxSignatures} are kept whole, and {@link #overflowed} is set: neither signer nor verifier
 * trusts a header section it could not hold. The octets of one line beyond the limit are not
 * kept either.
 */
abstract class MessageSplitter extends OutputStream {
  private static final String SIGNATURE = "DKIM-Signature";

  private final int maxHeaderOctets;
  private final int maxSignatures;
  private final List<HeaderField> fields = new ArrayList<>();
  /** The line being read, octets as chars (ISO-8859-1); not kept past the limit. */
  private final StringBuilder line = new StringBuilder(128);
  /** The field being read (its first line and continuations so far), or null. */
  private StringBuilder field;
  /** Header octets kept so far. */
  private long kept;
  private boolean overflowed;
  /** The line being read is longer than the limit: its end is waited for, its octets dropped. */
  private boolean lineTooLong;
  private boolean inBody;
  private int signaturesKept;
  /** DKIM-Signature fields seen but not kept (past the limits). */
  private int signaturesDropped;
  /** A folded line came with no field to continue: the message's first line. */
  private boolean strayContinuation;

  MessageSplitter(int maxHeaderOctets, int maxSignatures) {
    this.maxHeaderOctets = maxHeaderOctets;
    this.maxSignatures = maxSignatures;
  }

  /** The header section has ended; {@code fields} in message order. Called once. */
  abstract void headerSectionEnded(List<HeaderField> fields);

  /** Body octets, in order, after {@link #headerSectionEnded}. */
  abstract void body(byte[] octets, int offset, int length);

  @Override
  public final void write(int b) {
    write(new byte[] {(byte) b}, 0, 1);
  }

  @Override
  public final void write(byte[] b, int off, int len) {
    int end = off + len;
    while (!inBody && off < end) {
      byte c = b[off++];
      if (!lineTooLong) {
        if (line.length() < maxHeaderOctets) {
          line.append((char) (c & 0xff));
        } else {
          lineTooLong = true;
          overflowed = true;
        }
      }
      if (c == '\n') lineEnded();
    }
    if (off < end) body(b, off, end - off);
  }

  /** Whether the header section was larger than could be kept. */
  final boolean overflowed() {
    return overflowed;
  }

  /**
   * Whether the message begins with a folded line, which continues no field here but would
   * continue any field put above it.
   */
  final boolean strayContinuation() {
    return strayContinuation;
  }

  /** DKIM-Signature fields that were seen but not kept. */
  final int signaturesDropped() {
    return signaturesDropped;
  }

  /** Ends the message: a header section without a body ends here. */
  final void endOfMessage() {
    if (inBody) return;
    if (!line.isEmpty() || lineTooLong) lineEnded(); // an unterminated last line
    if (!inBody) endHeaderSection();
  }

  private void lineEnded() {
    boolean tooLong = lineTooLong;
    lineTooLong = false;
    String text = line.toString();
    line.setLength(0);
    if (tooLong) {
      // Its start is known, its octets are not kept: a continuation loses its whole field, a
      // field that starts here is lost, and the field before it is complete.
      boolean continuation = text.charAt(0) == ' ' || text.charAt(0) == '\t';
      if (continuation) {
        if (field != null && startsSignature(field.toString())) signaturesDropped++;
        field = null;
      } else {
        completeField();
        if (startsSignature(text)) signaturesDropped++;
      }
      return;
    }
    if (text.equals("\r\n") || text.equals("\n")) {
      endHeaderSection();
      return;
    }
    char first = text.charAt(0);
    if ((first == ' ' || first == '\t') && field != null) {
      field.append(text);
      return;
    }
    int nameEnd = fieldNameEnd(text);
    if (nameEnd < 0 && !(first == ' ' || first == '\t')) {
      endHeaderSection();
      byte[] octets = new byte[text.length()];
      for (int i = 0; i < octets.length; i++) octets[i] = (byte) text.charAt(i);
      body(octets, 0, octets.length); // the body's first line
      return;
    }
    completeField();
    if (nameEnd >= 0) {
      field = new StringBuilder(text);
    } else if (!overflowed) {
      strayContinuation = true; // the first line, folded: nothing to add it to
    }
    // else: the continuation of a field that was not kept
  }

  /** Where the name of a field ends (before optional WSP and the colon), or -1 if no field starts here. */
  private static int fieldNameEnd(String text) {
    int i = 0;
    while (i < text.length() && text.charAt(i) > 32 && text.charAt(i) < 127 && text.charAt(i) != ':') i++;
    if (i == 0) return -1;
    int j = i;
    while (j < text.length() && (text.charAt(j) == ' ' || text.charAt(j) == '\t')) j++;
    return j < text.length() && text.charAt(j) == ':' ? i : -1;
  }

  private static boolean startsSignature(String text) {
    return fieldNameEnd(text) == SIGNATURE.length() && text.regionMatches(true, 0, SIGNATURE, 0, SIGNATURE.length());
  }

  private void completeField() {
    if (field == null) return;
    String raw = field.toString();
    field = null;
    HeaderField f = new HeaderField(raw.substring(0, fieldNameEnd(raw)), raw);
    boolean signature = f.is(SIGNATURE);
    if (signature && signaturesKept >= maxSignatures) {
      signaturesDropped++;
      return;
    }
    if (kept + raw.length() > maxHeaderOctets) {
      overflowed = true;
      // Signatures are still kept (they are short, and few), so that each can be reported.
      if (!signature || raw.length() > maxHeaderOctets / 4) {
        if (signature) signaturesDropped++;
        return;
      }
    }
    kept += raw.length();
    if (signature) signaturesKept++;
    fields.add(f);
  }

  private void endHeaderSection() {
    completeField();
    inBody = true;
    headerSectionEnded(List.copyOf(fields));
    fields.clear(); // the subclass keeps what it needs
  }
}
