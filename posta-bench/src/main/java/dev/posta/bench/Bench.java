package dev.posta.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code posta-bench}: load generators for comparing mail servers on the same machine. SMTP:
 * {@code load} sends messages over S concurrent sessions and reports the rate and the latency
 * of each message; {@code idle} holds many sessions open and checks the server still serves.
 * IMAP: {@code imap-mailbox} writes a Maildir of realistic messages, {@code imap-load} runs
 * client-like visits and reports commands per second, {@code imap-select} times SELECT and
 * FETCH on a big mailbox, {@code imap-idle} holds many clients in IDLE. POP3: {@code pop3-load}
 * has clients each download (and delete) a mailbox of its own. Web: {@code web-list} times the
 * web view's message list on a big folder. Any server can be driven: Posta,
 * Postfix, Haraka, smtp-sink; Dovecot.
 */
@Command(name = "posta-bench", mixinStandardHelpOptions = true,
    subcommands = {Load.class, ApiLoad.class, Idle.class, MaildirGenerator.class, ImapLoad.class, ImapSelect.class, ImapIdle.class,
        Pop3Load.class, Argon2idHash.class, WebList.class},
    description = "Load generators: 'load' and 'idle' for SMTP; 'imap-mailbox', 'imap-load', 'imap-select' and 'imap-idle' for IMAP;"
        + " 'pop3-load' for POP3; 'web-list' for the web view.")
public final class Bench {
  public static void main(String[] args) {
    System.exit(new CommandLine(new Bench()).execute(args));
  }
}
