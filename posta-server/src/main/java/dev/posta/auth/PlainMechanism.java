package dev.posta.auth;

import java.util.Arrays;

/**
 * SASL PLAIN (RFC 4616): one message, {@code [authzid] NUL authcid NUL passwd}, in UTF-8.
 *
 * <p>Guarantees: an empty authcid or password, a third NUL or invalid UTF-8 is {@link
 * SaslMechanism.Reason#MALFORMED}; an authzid other than the authcid (compared canonically) is
 * {@link SaslMechanism.Reason#REJECTED}, as is a wrong password or an unknown user, which take the
 * same time ({@link UserStore#verify}). The password copy is zeroed after use.
 */
final class PlainMechanism implements SaslMechanism {
  private final UserStore users;
  private boolean started;
  private boolean done;

  PlainMechanism(UserStore users) {
    this.users = users;
  }

  @Override
  public String name() {
    return "PLAIN";
  }

  @Override
  public Step start(byte[] initialResponse) {
    if (started) throw new IllegalStateException("already started");
    started = true;
    return initialResponse == null ? new Challenge(new byte[0]) : next(initialResponse);
  }

  @Override
  public Step next(byte[] response) {
    if (!started || done) throw new IllegalStateException("not expecting a response");
    done = true;
    int first = indexOf(response, 0), second = first < 0 ? -1 : indexOf(response, first + 1);
    if (second < 0 || indexOf(response, second + 1) >= 0) {
      return new Failure(Reason.MALFORMED, "PLAIN message needs exactly two NULs");
    }
    String authzid = Utf8.string(response, 0, first);
    String authcid = Utf8.string(response, first + 1, second);
    char[] password = Utf8.chars(response, second + 1, response.length);
    try {
      if (authzid == null || authcid == null || password == null) {
        return new Failure(Reason.MALFORMED, "PLAIN message is not UTF-8");
      }
      if (authcid.isEmpty() || password.length == 0) {
        return new Failure(Reason.MALFORMED, "PLAIN message with an empty user name or password");
      }
      return LoginMechanism.check(users, authzid, authcid, password);
    } finally {
      if (password != null) Arrays.fill(password, '\0');
    }
  }

  private static int indexOf(byte[] b, int from) {
    for (int i = from; i < b.length; i++) if (b[i] == 0) return i;
    return -1;
  }
}
