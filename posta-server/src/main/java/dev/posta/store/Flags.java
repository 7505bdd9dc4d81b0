package dev.posta.store;

import java.util.ArrayList;
import java.util.List;

/**
 * A message's flags (RFC 9051 §2.3.2) as a small bit set, and their letters in a Maildir file
 * name's info part ({@code :2,<letters>}, the letters in ASCII order): \Draft D, \Flagged F,
 * \Answered R, \Seen S, \Deleted T, as Dovecot, mutt and Courier read them; keywords are the
 * letters a to z, each standing for the keyword of that index in the folder's {@link
 * KeywordTable} (Dovecot's {@code dovecot-keywords}), and take the bits above the system flags.
 * Other letters (P for passed) are kept as they are when a file is renamed, never dropped.
 */
public final class Flags {
  public static final int ANSWERED = 1;
  public static final int FLAGGED = 1 << 1;
  public static final int DELETED = 1 << 2;
  public static final int SEEN = 1 << 3;
  public static final int DRAFT = 1 << 4;
  /** The system flags; the bits above are keywords a to z. */
  public static final int SYSTEM = 0x1f;
  private static final int KEYWORD_SHIFT = 5;
  /** A Maildir name has 26 keyword letters. */
  public static final int MAX_KEYWORDS = 26;

  /** The bit of the keyword with this index in its folder's table. */
  public static int keyword(int index) {
    return 1 << (KEYWORD_SHIFT + index);
  }

  /** Every flag, in the letters' ASCII order: D F R S T. */
  private static final int[] ORDER = {DRAFT, FLAGGED, ANSWERED, SEEN, DELETED};
  private static final char[] LETTERS = {'D', 'F', 'R', 'S', 'T'};
  private static final String[] NAMES = {"\\Draft", "\\Flagged", "\\Answered", "\\Seen", "\\Deleted"};

  private Flags() {}

  /** The flags an info part's letters stand for; letters Posta does not map are ignored here. */
  public static int ofLetters(String letters) {
    int flags = 0;
    for (int i = 0; i < letters.length(); i++) flags |= ofLetter(letters.charAt(i));
    return flags;
  }

  private static int ofLetter(char c) {
    if (c >= 'a' && c <= 'z') return keyword(c - 'a');
    for (int i = 0; i < LETTERS.length; i++) {
      if (LETTERS[i] == c) return ORDER[i];
    }
    return 0;
  }

  /**
   * The info letters for {@code flags}, keeping the letters of {@code old} that Posta does not map
   * (in ASCII order, as the Maildir convention wants).
   */
  public static String letters(int flags, String old) {
    var s = new StringBuilder();
    for (int i = 0; i < LETTERS.length; i++) {
      if ((flags & ORDER[i]) != 0) s.append(LETTERS[i]);
    }
    for (int k = 0; k < MAX_KEYWORDS; k++) {
      if ((flags & keyword(k)) != 0) s.append((char) ('a' + k));
    }
    for (int i = 0; i < old.length(); i++) {
      char c = old.charAt(i);
      if (ofLetter(c) == 0 && s.indexOf(String.valueOf(c)) < 0) s.append(c);
    }
    char[] sorted = s.toString().toCharArray();
    java.util.Arrays.sort(sorted);
    return new String(sorted);
  }

  /** The IMAP names of the system flags, e.g. {@code [\Flagged, \Seen]}, in the order of RFC 9051 §2.3.2. */
  public static List<String> names(int flags) {
    List<String> names = new ArrayList<>(ORDER.length);
    for (int bit = 0; bit < BY_BIT.length; bit++) {
      if ((flags & (1 << bit)) != 0) names.add(BY_BIT[bit]);
    }
    return names;
  }

  /** The names by bit: the order of RFC 9051 §2.3.2, in which Dovecot lists them too. */
  private static final String[] BY_BIT = {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"};

  /** The flag an IMAP name stands for (case-insensitive, RFC 9051 §2.3.2), or 0 for a keyword. */
  public static int ofName(String name) {
    for (int i = 0; i < NAMES.length; i++) {
      if (NAMES[i].equalsIgnoreCase(name)) return ORDER[i];
    }
    return 0;
  }
}
