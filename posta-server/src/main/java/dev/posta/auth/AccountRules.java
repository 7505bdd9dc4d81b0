package dev.posta.auth;

import java.util.Collection;

/**
 * The rules for a new account and a new password, whoever asks: {@code posta user add|passwd}
 * and the operators' API answer alike because both ask here. A password must not be empty and
 * must have at least {@code [submission] min-password-length} characters (Unicode code points,
 * as a person counts them); an account outside the local domains may log in and send as itself,
 * but has no mailbox here, and is told so.
 */
public final class AccountRules {
  private AccountRules() {}

  /**
   * Why {@code password} is refused, in the words {@code posta user} prints; null when it is
   * good.
   *
   * @param least {@code [submission] min-password-length}
   */
  public static String passwordRefusal(char[] password, int least) {
    if (password.length == 0) return "empty password refused";
    int length = Character.codePointCount(password, 0, password.length);
    if (length < least) return "password too short: " + length + " characters, at least " + least + " ([submission] min-password-length)";
    return null;
  }

  /** Whether the account (a canonical address) is in a local domain, so that mail to it is kept in a mailbox here. */
  public static boolean hasMailbox(String canonical, Collection<String> localDomains) {
    return localDomains.contains(canonical.substring(canonical.indexOf('@') + 1));
  }

  /** What {@code posta user add} says of an account without a mailbox, or null for one in a local domain. */
  public static String sendOnlyNote(String canonical, Collection<String> localDomains) {
    if (hasMailbox(canonical, localDomains)) return null;
    // An application sending as noreply@its-own-domain can still authenticate and send as itself.
    return "send only: " + canonical.substring(canonical.indexOf('@') + 1) + " is not a local domain, so it has no mailbox here";
  }
}
