package dev.posta.mail;

import java.text.Normalizer;
import java.util.Locale;

/**
 * How a local part of one of our domains names a mailbox: the one rule that the router, the
 * configuration and the sender-ownership check share, so they can never disagree.
 */
public final class LocalPart {
  private LocalPart() {}

  /** {@code user+tag} is {@code user}'s mailbox when {@code user+tag} itself is not known. */
  public static final char RECIPIENT_DELIMITER = '+';

  /**
   * The name a local part's mailbox goes by: Unicode NFKC, then lower case. NFKC maps full-width
   * letters (U+FF41 "ａ" to "a") and composes accents, as RFC 8265's UsernameCaseMapped profile
   * asks (width mapping, case mapping, NFC) and then some: it also folds other compatibility
   * forms (ligatures, circled letters), which can only ever be look-alikes of a plain name. It is
   * the form account names take ({@code UserStore.canonicalAddress}), so an account and its
   * mailbox agree. Refusing such local parts instead would break mail from clients that convert
   * nothing; mapping them gives one mailbox per name people can tell apart.
   */
  public static String mailboxName(String localPart) {
    return Normalizer.normalize(localPart, Normalizer.Form.NFKC).toLowerCase(Locale.ROOT);
  }
}
