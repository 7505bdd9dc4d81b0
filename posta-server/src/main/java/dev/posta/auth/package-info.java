/**
 * Accounts and SASL: the users file with Argon2id password hashes ({@link dev.posta.auth.UserStore}),
 * and the mechanisms PLAIN, LOGIN and SCRAM-SHA-256 (RFC 4616, RFC 7677) as state machines that
 * any protocol session drives. A leaf: it knows no protocol and no mail.
 */
package dev.posta.auth;
