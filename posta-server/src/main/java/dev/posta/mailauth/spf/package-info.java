/**
 * SPF (RFC 7208): {@link dev.posta.mailauth.spf.SpfCheck} authorizes a client address for the
 * MAIL FROM or HELO identity by the domain's SPF record and gives an
 * {@link dev.posta.mailauth.spf.SpfVerdict}: one of the seven results, the identity and domain
 * checked, a reason, and the explanation of a fail. Records are parsed first by a pure parser
 * into an immutable model, then evaluated against {@link dev.posta.dns.DnsRecords}.
 */
package dev.posta.mailauth.spf;
