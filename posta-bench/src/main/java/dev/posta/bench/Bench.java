package dev.posta.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code posta-bench}: an SMTP load generator for comparing mail servers on the same machine.
 * {@code load} sends messages over S concurrent sessions and reports the rate and the latency
 * of each message; {@code idle} holds many sessions open and checks the server still serves.
 * Any SMTP server can be driven: Posta, Postfix, Haraka, smtp-sink.
 */
@Command(name = "posta-bench", mixinStandardHelpOptions = true, subcommands = {Load.class, Idle.class},
    description = "SMTP load generator: 'load' sends and measures, 'idle' holds sessions open.")
public final class Bench {
  public static void main(String[] args) {
    System.exit(new CommandLine(new Bench()).execute(args));
  }
}
