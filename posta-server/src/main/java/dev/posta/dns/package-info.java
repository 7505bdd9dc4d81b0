/**
 * DNS for delivery (dnsjava): MX lookup with the RFC 5321 §5.1 fallback to the address records,
 * null MX (RFC 7505), and a clear line between "no such domain" (bounce) and a failure (retry).
 * A leaf.
 */
package dev.posta.dns;
