/**
 * DNS (dnsjava): for delivery, MX lookup with the RFC 5321 §5.1 fallback to the address records,
 * null MX (RFC 7505), and a clear line between "no such domain" (bounce) and a failure (retry);
 * for sender authentication, the record lookups of {@link dev.posta.dns.DnsRecords}. A leaf.
 */
package dev.posta.dns;
