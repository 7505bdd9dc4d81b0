/**
 * Screening of SMTP clients before their session goes on, Postfix's postscreen's ideas: DNS
 * blocklists and allowlists asked at connect (RFC 5782), the early-talker (pregreet) test, and
 * commands pipelined before the EHLO reply (RFC 2920 §3.1). The smtp package asks; this package
 * knows no sockets, only addresses, DNS records and the {@code [screen]} settings.
 */
package dev.posta.screen;
