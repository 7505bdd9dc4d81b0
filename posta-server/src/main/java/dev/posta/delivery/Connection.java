package dev.posta.delivery;

import dev.posta.client.SmtpClient;

/** An SMTP connection ready for transactions, with the name of the server it goes to. */
final class Connection {
  private final SmtpClient client;
  private final String host;
  private final String describe;
  private int uses;

  Connection(SmtpClient client, String host, String describe) {
    this.client = client;
    this.host = host;
    this.describe = describe;
  }

  SmtpClient client() {
    return client;
  }

  /** The server's name: MX host or smart host, as Remote-MTA reports it. */
  String host() {
    return host;
  }

  /** name[address]:port, for logs and notices. */
  String describe() {
    return describe;
  }

  void used() {
    uses++;
  }

  int uses() {
    return uses;
  }
}
