/**
 * Sender authentication, apart from the SMTP code that calls it: SPF (RFC 7208), DKIM signing
 * and verification (RFC 6376, RFC 8463), DMARC (RFC 7489) and the Authentication-Results header
 * (RFC 8601). Each check is a function of the message, the envelope and DNS answers
 * ({@link dev.posta.dns.DnsRecords}); none throws for bad input or DNS trouble, each gives a
 * result with its reason.
 */
package dev.posta.mailauth;
