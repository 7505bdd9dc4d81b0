/**
 * The POP3 server (RFC 1939, with CAPA and response codes of RFC 2449 and RFC 3206, STLS of RFC
 * 2595 and AUTH of RFC 5034), on net's listener toolkit and reading through the store: {@link
 * dev.posta.pop3.Pop3Server} runs a {@code Pop3Session} per connection; the pure {@code
 * Pop3Parser} makes sealed {@code Pop3Command} records; the session's {@code Maildrop} is the
 * INBOX as it was at login, with the session's deletion marks, changed in the store only by QUIT;
 * {@code MultiLineMessage} streams RETR's and TOP's answers; {@code MaildropLocks} keeps one
 * POP3 session per mailbox; {@code Replies} holds every fixed answer.
 */
package dev.posta.pop3;
