/**
 * Local submission: how {@code posta sendmail} (run by any local user, as cron and PHP's mail()
 * run it) hands a message to Posta, with the server running or not. A leaf: the request's wire
 * form ({@link dev.posta.local.LocalRequest}), the server's Unix socket for it ({@link
 * dev.posta.local.LocalChannel}) and the drop folder for when no server runs ({@link
 * dev.posta.local.Maildrop}). What is checked and queued is the smtp package's {@code
 * LocalSubmission}, which the assembly hands to the channel. Uses storage only.
 */
package dev.posta.local;
