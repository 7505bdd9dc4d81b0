package dev.posta.imap;

import java.util.List;

/** One data item a FETCH asks for (RFC 9051 §6.4.5), the macros ALL, FAST and FULL expanded. */
public sealed interface FetchItem {
  record Flags() implements FetchItem {}

  record InternalDate() implements FetchItem {}

  record Rfc822Size() implements FetchItem {}

  record Envelope() implements FetchItem {}

  /** BODYSTRUCTURE ({@code extensible}) or plain BODY, the structure without extension data. */
  record Structure(boolean extensible) implements FetchItem {}

  record Uid() implements FetchItem {}

  /** RFC 7162 §3.1.4.1. */
  record ModSeq() implements FetchItem {}

  /** rev1's RFC822 (= BODY[]), RFC822.HEADER (= BODY.PEEK[HEADER]) and RFC822.TEXT (= BODY[TEXT]). */
  record Rfc822(Section.Text part) implements FetchItem {}

  /**
   * BODY[section]&lt;partial&gt; or BODY.PEEK (which does not set \Seen).
   *
   * @param partial null when the whole section is asked for
   */
  record Body(Section section, Partial partial, boolean peek) implements FetchItem {}

  /** RFC 3516: BINARY[part]&lt;partial&gt;, BINARY.PEEK, and ({@code sizeOnly}) BINARY.SIZE[part]. */
  record Binary(List<Integer> part, Partial partial, boolean peek, boolean sizeOnly) implements FetchItem {}

  /** {@code <offset.length>}. */
  record Partial(long offset, long length) {}

  /**
   * A section (RFC 9051 §6.4.5): a part path (empty for the whole message) and what of it.
   *
   * @param fields the header field names of HEADER.FIELDS and HEADER.FIELDS.NOT, upper-cased
   */
  record Section(List<Integer> part, Text text, List<String> fields) {
    public enum Text { ALL, HEADER, HEADER_FIELDS, HEADER_FIELDS_NOT, TEXT, MIME }
  }
}
