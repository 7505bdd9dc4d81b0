package dev.posta.milter;

import java.util.Locale;
import java.util.Set;

/**
 * The spam verdicts milters write into header fields: rspamd's {@code X-Spam: Yes} (its proxy's
 * {@code spam_header}), SpamAssassin's {@code X-Spam-Flag: YES} and {@code X-Spam-Status: Yes,
 * score=...} (spamass-milter). A verdict counts only when a milter added or changed the field in
 * this session: the same fields written by the sender are removed before the milters see the
 * message ({@link #isVerdictField}), so that a spammer's {@code X-Spam: No} or {@code
 * X-Spam-Status: No} never reaches a mail client that trusts those fields (rspamd's
 * milter_headers does the same with its {@code remove} settings, when it runs). Pure.
 */
public final class SpamVerdict {
  private static final Set<String> VERDICT_FIELDS = Set.of("x-spam", "x-spam-flag", "x-spam-status", "x-spam-score", "x-spam-level",
      "x-spam-report", "x-spam-bar", "x-spamd-result", "x-spamd-bar");

  private SpamVerdict() {}

  /** Whether a field of this name carries a spam filter's verdict (X-Spam*, X-Spamd-*, X-Rspamd-*). */
  public static boolean isVerdictField(String name) {
    String n = name.strip().toLowerCase(Locale.ROOT);
    return VERDICT_FIELDS.contains(n) || n.startsWith("x-rspamd-");
  }

  /**
   * The verdict a field says, for the log ({@code X-Spam: Yes}), when it marks the message as
   * spam; null when it does not.
   */
  public static String marked(String name, String value) {
    String n = name.strip().toLowerCase(Locale.ROOT);
    if (!n.equals("x-spam") && !n.equals("x-spam-flag") && !n.equals("x-spam-status")) return null;
    // "Yes", "YES", "Yes, score=7.2 required=5.0 ...": the first word says it.
    String first = value.strip().split("[\\s,;]", 2)[0];
    return first.equalsIgnoreCase("yes") ? name.strip() + ": " + first : null;
  }
}
