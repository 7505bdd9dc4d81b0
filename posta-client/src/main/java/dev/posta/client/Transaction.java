package dev.posta.client;

import java.util.List;
import java.util.Objects;

/**
 * One mail transaction to send (RFC 5321 §3.3): the envelope and the content.
 *
 * <p>Parameters are sent as given; whether the server offers the extension they belong to
 * (DSN, SMTPUTF8, 8BITMIME, RFC 3461/6531/6152) is for the caller to check in
 * {@link SmtpClient#extensions()} first. Nothing here may contain CR, LF or NUL, so no value
 * can smuggle a command of its own into the session.
 *
 * @param reversePath the sender address without angle brackets, "" for the null sender {@code <>}
 * @param mailParameters ESMTP parameters for MAIL FROM, e.g. "BODY=8BITMIME", "SMTPUTF8",
 *     "RET=HDRS", "ENVID=abc"; SIZE=contentLength is added by the client when the server offers SIZE
 * @param recipients at least one
 * @param contentLength octets {@code content} writes (before dot-stuffing)
 * @param content writes the message
 */
public record Transaction(
    String reversePath, List<String> mailParameters, List<Recipient> recipients, long contentLength, MessageWriter content) {

  public Transaction {
    checkAddress(reversePath);
    mailParameters = List.copyOf(mailParameters);
    mailParameters.forEach(Transaction::checkParameter);
    recipients = List.copyOf(recipients);
    if (recipients.isEmpty()) throw new IllegalArgumentException("a transaction needs at least one recipient");
    if (contentLength < 0) throw new IllegalArgumentException("content length " + contentLength);
    Objects.requireNonNull(content, "content");
  }

  /**
   * One forward-path with its parameters.
   *
   * @param address without angle brackets
   * @param parameters ESMTP parameters for RCPT TO, e.g. "NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;a@b"
   */
  public record Recipient(String address, List<String> parameters) {
    public Recipient {
      checkAddress(address);
      if (address.isEmpty()) throw new IllegalArgumentException("empty recipient address");
      parameters = List.copyOf(parameters);
      parameters.forEach(Transaction::checkParameter);
    }

    public Recipient(String address) {
      this(address, List.of());
    }
  }

  private static void checkAddress(String address) {
    Objects.requireNonNull(address, "address");
    for (int i = 0; i < address.length(); i++) {
      char c = address.charAt(i);
      if (c == '\r' || c == '\n' || c == 0 || c == '<' || c == '>') {
        throw new IllegalArgumentException("address with CR, LF, NUL or angle bracket: " + address.replaceAll("[\\r\\n\\x00]", "?"));
      }
    }
  }

  /** RFC 5321 §4.1.2 esmtp-param: keyword ["=" value], no spaces, no controls. */
  private static void checkParameter(String parameter) {
    Objects.requireNonNull(parameter, "parameter");
    if (parameter.isEmpty()) throw new IllegalArgumentException("empty ESMTP parameter");
    for (int i = 0; i < parameter.length(); i++) {
      char c = parameter.charAt(i);
      if (c <= ' ' || c == 127) {
        throw new IllegalArgumentException("ESMTP parameter with a space or control character: " + parameter.replaceAll("[\\x00-\\x20\\x7f]", "?"));
      }
    }
  }
}
