/**
 * Greylisting (RFC 6647): the first attempt of an unknown (client network, sender, recipient)
 * triplet is answered with a temporary refusal at RCPT, and a retry after the delay passes, as a
 * real mail server's queue retries and most spam software does not. {@link
 * dev.posta.greylist.Greylist} decides and remembers, durably, in {@code <data>/greylist/}.
 * Used by the SMTP sessions; uses only the configuration, the mail model and the durable-file
 * helpers.
 */
package dev.posta.greylist;
