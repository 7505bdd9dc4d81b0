/**
 * DKIM (RFC 6376, RFC 8463 Ed25519-SHA256, RFC 8301's rules on algorithms and key sizes), on the
 * JDK's own RSA, Ed25519 and SHA-256: {@link dev.posta.mailauth.dkim.DkimSigner} signs submitted
 * mail as it streams in, with the keys of {@link dev.posta.mailauth.dkim.SigningKeys} (made by
 * {@code posta dkim keygen}, {@link dev.posta.mailauth.dkim.DkimKeyFiles});
 * {@link dev.posta.mailauth.dkim.DkimVerifier} checks every signature of a message, its keys from
 * {@link dev.posta.dns.DnsRecords}, and gives one {@link dev.posta.mailauth.dkim.DkimResult} per
 * signature, ready for DMARC and Authentication-Results. Both read a message once, keeping its
 * header section and hashing its body as it passes; the parsers (tag lists, key records,
 * signature fields) are pure functions that answer bad input with a reason, never an exception.
 */
package dev.posta.mailauth.dkim;
