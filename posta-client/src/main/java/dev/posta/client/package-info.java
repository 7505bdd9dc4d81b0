/**
 * An SMTP client (RFC 5321) with the extensions a mail system needs: STARTTLS (RFC 3207), AUTH
 * (RFC 4954), PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531),
 * CHUNKING (RFC 3030) and DSN (RFC 3461). Posta's remote delivery uses it; so can applications.
 */
package dev.posta.client;
