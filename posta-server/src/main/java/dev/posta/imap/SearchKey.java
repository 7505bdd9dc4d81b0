package dev.posta.imap;

import java.time.LocalDate;
import java.util.List;

/** A SEARCH criterion (RFC 9051 §6.4.4), as a tree: a list of keys means all of them. */
public sealed interface SearchKey {
  record All() implements SearchKey {}

  record And(List<SearchKey> keys) implements SearchKey {}

  record Or(SearchKey left, SearchKey right) implements SearchKey {}

  record Not(SearchKey key) implements SearchKey {}

  /** A system flag set (ANSWERED, DELETED, DRAFT, FLAGGED, SEEN) or not (UNANSWERED...), as its name. */
  record Flag(String flag, boolean set) implements SearchKey {}

  /** KEYWORD and UNKEYWORD. */
  record Keyword(String keyword, boolean set) implements SearchKey {}

  /** rev1's NEW, OLD and RECENT, kept by name. */
  record Recent(String which) implements SearchKey {}

  /** BCC, CC, FROM, SUBJECT, TO, or HEADER field: a substring of the field's decoded value. */
  record Header(String field, String value) implements SearchKey {}

  /** BODY (the text) or TEXT (header and text). */
  record Text(boolean withHeader, String value) implements SearchKey {}

  enum DateWhen { BEFORE, ON, SINCE }

  /** BEFORE/ON/SINCE on the internal date, or SENTBEFORE/SENTON/SENTSINCE ({@code sent}) on Date:. */
  record Date(DateWhen when, LocalDate date, boolean sent) implements SearchKey {}

  /** LARGER ({@code larger}) or SMALLER than {@code size} octets. */
  record Size(boolean larger, long size) implements SearchKey {}

  /** A sequence set of message numbers, or of UIDs ({@code uid}). */
  record Messages(SequenceSet set, boolean uid) implements SearchKey {}

  /** RFC 7162 §3.1.5: MODSEQ. */
  record ModSeq(long modseq) implements SearchKey {}
}
