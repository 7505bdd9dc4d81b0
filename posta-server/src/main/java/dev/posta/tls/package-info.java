/**
 * TLS for listeners and delivery: certificates loaded from PEM and reloaded when renewed, or a
 * self-signed one made on first start, and the TLS policy (versions, ciphers) applied to every
 * socket. A leaf.
 */
package dev.posta.tls;
