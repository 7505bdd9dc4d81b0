/**
 * The DNS records a domain publishes so that Posta receives its mail and what Posta sends for it
 * is accepted: MX, the host's A/AAAA, SPF (RFC 7208), DKIM keys (RFC 6376), DMARC (RFC 7489)
 * and the PTR of the host's addresses. {@link dev.posta.mailauth.publish.RequiredRecords} says
 * what to publish, in zone-file form; {@link dev.posta.mailauth.publish.PublishedRecords} asks DNS
 * what is published and says, record by record, what is missing or wrong and how to fix it.
 * The faces are {@code posta dns DOMAIN} and {@code posta dns check DOMAIN}.
 */
package dev.posta.mailauth.publish;
