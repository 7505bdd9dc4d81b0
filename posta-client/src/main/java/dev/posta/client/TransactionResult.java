package dev.posta.client;

import java.util.List;

/**
 * What the server answered in one transaction, recipient by recipient (RFC 5321 §3.3): the
 * material for per-recipient retry and bounce decisions.
 *
 * @param mail the reply to MAIL
 * @param recipients the reply to each RCPT, in the transaction's order; when MAIL was refused,
 *     each is the MAIL reply (the RCPTs were not sent, or their answers meant nothing)
 * @param data the final reply, after the message's final dot or to BDAT LAST; null when MAIL
 *     was refused or no recipient was accepted. A refusal of DATA itself (no 354) is here too,
 *     and so is a 421 that cut the transaction short after a recipient was accepted.
 */
public record TransactionResult(SmtpReply mail, List<SmtpReply> recipients, SmtpReply data) {

  public TransactionResult {
    recipients = List.copyOf(recipients);
  }

  /**
   * What happened to recipient {@code i}: the MAIL reply if MAIL failed, its RCPT reply if it
   * was refused, else the final reply to the message.
   */
  public SmtpReply outcome(int i) {
    if (mail.code() / 100 != 2) return mail;
    SmtpReply rcpt = recipients.get(i);
    if (rcpt.code() / 100 != 2) return rcpt;
    return data;
  }
}
