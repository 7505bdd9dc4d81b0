/**
 * What every listener shares, so IMAP, POP3 and HTTP take it instead of copying it: the accept
 * loops with their connection limits, running each {@link dev.posta.net.Session} on a virtual
 * thread ({@link dev.posta.net.Listeners}), sessions parked without a thread while their client
 * is silent ({@link dev.posta.net.IdleSessions}), reading CRLF lines and counted octets
 * ({@link dev.posta.net.LineInput}), the client address as logged and as the
 * per-address limits count it ({@link dev.posta.net.ClientAddress}), the deadlines that bound
 * slow clients ({@link dev.posta.net.SessionClock}, enforced by the {@link
 * dev.posta.net.Watchdog}), and the brute-force throttle that every protocol's login shares
 * ({@link dev.posta.net.AuthThrottle}). Used by the listeners only.
 */
package dev.posta.net;
