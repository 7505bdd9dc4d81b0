package dev.posta.auth;

import static java.nio.charset.StandardCharsets.US_ASCII;

import java.io.IOException;
import java.util.Arrays;

/**
 * SASL LOGIN (draft-murchison-sasl-login, never an RFC, but what Outlook and old clients use):
 * the server challenges {@code "Username:"}, then {@code "Password:"}; an initial response is the
 * user name. Same guarantees as {@link PlainMechanism}: invalid UTF-8 or an empty answer is
 * {@link SaslMechanism.Reason#MALFORMED}; a wrong password or unknown user {@link
 * SaslMechanism.Reason#REJECTED}, in the same time.
 */
final class LoginMechanism implements SaslMechanism {
  static final byte[] USERNAME = "Username:".getBytes(US_ASCII);
  static final byte[] PASSWORD = "Password:".getBytes(US_ASCII);

  private final UserStore users;
  private int state; // 0 not started, 1 awaiting user name, 2 awaiting password, 3 done
  private String user;

  LoginMechanism(UserStore users) {
    this.users = users;
  }

  @Override
  public String name() {
    return "LOGIN";
  }

  @Override
  public Step start(byte[] initialResponse) {
    if (state != 0) throw new IllegalStateException("already started");
    state = 1;
    return initialResponse == null ? new Challenge(USERNAME.clone()) : next(initialResponse);
  }

  @Override
  public Step next(byte[] response) {
    switch (state) {
      case 1 -> {
        user = Utf8.string(response, 0, response.length);
        if (user == null || user.isEmpty()) return fail(new Failure(Reason.MALFORMED, "LOGIN user name empty or not UTF-8"));
        state = 2;
        return new Challenge(PASSWORD.clone());
      }
      case 2 -> {
        state = 3;
        char[] password = Utf8.chars(response, 0, response.length);
        if (password == null || password.length == 0) return new Failure(Reason.MALFORMED, "LOGIN password empty or not UTF-8");
        try {
          return check(users, "", user, password);
        } finally {
          Arrays.fill(password, '\0');
        }
      }
      default -> throw new IllegalStateException("not expecting a response");
    }
  }

  private Step fail(Failure failure) {
    state = 3;
    return failure;
  }

  /** The password check PLAIN and LOGIN share. */
  static Step check(UserStore users, String authzid, String authcid, char[] password) {
    String user;
    try {
      user = UserStore.canonicalAddress(SaslPrep.prepare(authcid));
    } catch (IllegalArgumentException e) {
      try {
        users.verifyDummy(password);
      } catch (IOException busy) {
        return new Failure(Reason.TEMPORARY, busy.getMessage());
      }
      return new Failure(Reason.REJECTED, "not an address: " + authcid);
    }
    if (!authzid.isEmpty() && !sameUser(authzid, user)) {
      return new Failure(Reason.REJECTED, "authorization identity " + authzid + " is not " + user);
    }
    try {
      return users.verify(user, password)
          ? new Success(user, null)
          : new Failure(Reason.REJECTED, "wrong password or unknown user " + user);
    } catch (IOException e) {
      return new Failure(Reason.TEMPORARY, "cannot read the accounts: " + e);
    }
  }

  static boolean sameUser(String authzid, String canonicalUser) {
    try {
      return UserStore.canonicalAddress(SaslPrep.prepare(authzid)).equals(canonicalUser);
    } catch (IllegalArgumentException e) {
      return false;
    }
  }
}
