package dev.posta.auth;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * SASL SCRAM-SHA-256 (RFC 5802, RFC 7677), server side, without channel binding (so not the
 * {@code -PLUS} variant):
 *
 * <pre>
 * C: n,,n=user,r=cnonce                      client-first (gs2 flag "n" or "y"; "p=" is refused)
 * S: r=cnonce+snonce,s=salt,i=4096           server-first
 * C: c=biws,r=cnonce+snonce,p=proof          client-final
 * S: v=ServerSignature                       server-final, as Success's additional data
 * </pre>
 *
 * <p>Guarantees: the proof is checked against StoredKey in constant time and the password is
 * never needed; user names are SASLprep'd and have {@code =2C}/{@code =3D} decoded, a stray
 * {@code =} or {@code ,} is malformed; an authzid must name the same user; a mandatory extension
 * ({@code m=}) or a channel-binding request is {@link SaslMechanism.Reason#REJECTED}; the
 * client-final's {@code c=} must be exactly the client's GS2 header and its nonce exactly the
 * combined one. An unknown user gets a server-first message like a real one: its salt is derived
 * from the name with a key random per process, so asking twice gives the same salt, and the
 * exchange fails only at the proof, after the same work.
 */
final class ScramSha256Mechanism implements SaslMechanism {
  /** Where the stored credentials come from; the found user's address is who logs in. */
  @FunctionalInterface
  interface Accounts {
    Optional<UserStore.User> find(String name) throws IOException;
  }

  private static final SecureRandom RANDOM = new SecureRandom();
  private static final byte[] FAKE_KEY = new byte[32];

  static {
    RANDOM.nextBytes(FAKE_KEY);
  }

  private enum State { NEW, CLIENT_FIRST, CLIENT_FINAL, DONE }

  private final Accounts accounts;
  private final Supplier<String> serverNonces;
  private State state = State.NEW;
  private String gs2Header;
  private String clientFirstBare;
  private String serverFirst;
  private String nonce;
  private UserStore.User user; // null for an unknown user
  /** The user name the client gave, for the log line of a failure. */
  private String name;
  private ScramCredentials credentials;

  ScramSha256Mechanism(UserStore users) {
    this(users::find, ScramSha256Mechanism::randomNonce);
  }

  ScramSha256Mechanism(Accounts accounts, Supplier<String> serverNonces) {
    this.accounts = accounts;
    this.serverNonces = serverNonces;
  }

  @Override
  public String name() {
    return "SCRAM-SHA-256";
  }

  @Override
  public Step start(byte[] initialResponse) {
    if (state != State.NEW) throw new IllegalStateException("already started");
    state = State.CLIENT_FIRST;
    return initialResponse == null ? new Challenge(new byte[0]) : next(initialResponse);
  }

  @Override
  public Step next(byte[] response) {
    State was = state;
    if (was != State.CLIENT_FIRST && was != State.CLIENT_FINAL) throw new IllegalStateException("not expecting a response");
    state = State.DONE;
    String message = Utf8.string(response, 0, response.length);
    Step step = was == State.CLIENT_FIRST ? clientFirst(message) : clientFinal(message);
    if (was == State.CLIENT_FIRST && step instanceof Challenge) state = State.CLIENT_FINAL;
    return step;
  }

  private Step clientFirst(String m) {
    if (m == null) return malformed("client-first is not UTF-8");
    int c1 = m.indexOf(','), c2 = c1 < 0 ? -1 : m.indexOf(',', c1 + 1);
    if (c2 < 0) return malformed("client-first without a GS2 header");
    String flag = m.substring(0, c1), authz = m.substring(c1 + 1, c2);
    if (flag.startsWith("p=")) return new Failure(Reason.REJECTED, "channel binding requested: e=channel-binding-not-supported");
    if (!flag.equals("n") && !flag.equals("y")) return malformed("GS2 channel-binding flag is not n, y or p=");
    String authzid = authz.isEmpty() ? "" : authz.startsWith("a=") ? saslname(authz.substring(2)) : null;
    if (authzid == null) return malformed("bad authzid in the GS2 header");
    gs2Header = m.substring(0, c2 + 1);
    clientFirstBare = m.substring(c2 + 1);
    String[] a = clientFirstBare.split(",", -1);
    if (a[0].startsWith("m=")) return new Failure(Reason.REJECTED, "mandatory extension: e=extensions-not-supported");
    if (a.length < 2 || !a[0].startsWith("n=") || !a[1].startsWith("r=") || !extensions(a)) {
      return malformed("client-first is not n=user,r=nonce[,ext]");
    }
    String name = saslname(a[0].substring(2));
    String clientNonce = a[1].substring(2);
    if (name == null || name.isEmpty()) return malformed("bad user name");
    if (clientNonce.isEmpty() || !clientNonce.chars().allMatch(c -> c >= 0x21 && c <= 0x7E)) return malformed("bad nonce");
    name = SaslPrep.prepare(name);
    this.name = name;
    if (!authzid.isEmpty() && !identity(authzid).equals(identity(name))) {
      return new Failure(Reason.REJECTED, "authorization identity " + authzid + " is not " + name);
    }
    try {
      user = accounts.find(name).orElse(null);
    } catch (IOException e) {
      return new Failure(Reason.TEMPORARY, "cannot read the accounts: " + e);
    }
    // A disabled account answers as an unknown one: its proof cannot match made-up credentials.
    credentials = user != null && !user.disabled() ? user.scram() : fake(identity(name));
    nonce = clientNonce + serverNonces.get();
    serverFirst = "r=" + nonce + ",s=" + Base64.getEncoder().encodeToString(credentials.salt()) + ",i="
        + credentials.iterations();
    return new Challenge(serverFirst.getBytes(UTF_8));
  }

  private Step clientFinal(String m) {
    if (m == null) return malformed("client-final is not UTF-8");
    int p = m.lastIndexOf(",p=");
    if (p < 0) return malformed("client-final without a proof");
    String withoutProof = m.substring(0, p);
    String[] a = withoutProof.split(",", -1);
    if (a.length < 2 || !a[0].startsWith("c=") || !a[1].startsWith("r=") || !extensions(a)) {
      return malformed("client-final is not c=...,r=...[,ext],p=...");
    }
    byte[] proof, channelBinding;
    try {
      proof = Base64.getDecoder().decode(m.substring(p + 3));
      channelBinding = Base64.getDecoder().decode(a[0].substring(2));
    } catch (IllegalArgumentException e) {
      return malformed("bad Base64 in client-final");
    }
    if (proof.length != 32) return malformed("proof is not 32 bytes");
    if (!Arrays.equals(channelBinding, gs2Header.getBytes(UTF_8))) {
      return new Failure(Reason.REJECTED, "c= does not repeat the GS2 header: e=channel-bindings-dont-match");
    }
    if (!a[1].substring(2).equals(nonce)) return new Failure(Reason.REJECTED, "nonce mismatch");
    byte[] authMessage = (clientFirstBare + "," + serverFirst + "," + withoutProof).getBytes(UTF_8);
    byte[] storedKey = credentials.storedKey();
    byte[] clientKey = ScramCredentials.hmac(storedKey, authMessage);
    for (int i = 0; i < clientKey.length; i++) clientKey[i] ^= proof[i];
    boolean proven = MessageDigest.isEqual(ScramCredentials.sha256(clientKey), storedKey);
    if (!proven || user == null) return new Failure(Reason.REJECTED, "invalid proof or unknown user " + name);
    byte[] serverSignature = ScramCredentials.hmac(credentials.serverKey(), authMessage);
    return new Success(user.address(), ("v=" + Base64.getEncoder().encodeToString(serverSignature)).getBytes(UTF_8));
  }

  private static Failure malformed(String detail) {
    return new Failure(Reason.MALFORMED, detail);
  }

  /** RFC 5802 saslname: "=2C" is ',' and "=3D" is '='; any other '=' or a ',' is an error (null). */
  static String saslname(String s) {
    StringBuilder out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == ',') return null;
      if (c == '=') {
        if (s.startsWith("=2C", i)) out.append(',');
        else if (s.startsWith("=3D", i)) out.append('=');
        else return null;
        i += 2;
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  /** Attributes after the first two must look like {@code x=value}. */
  private static boolean extensions(String[] attributes) {
    for (int i = 2; i < attributes.length; i++) {
      String x = attributes[i];
      if (x.length() < 2 || x.charAt(1) != '=' || !Character.isLetter(x.charAt(0))) return false;
    }
    return true;
  }

  /** The canonical address when the name is one, else the name as it is. */
  private static String identity(String name) {
    try {
      return UserStore.canonicalAddress(SaslPrep.prepare(name));
    } catch (IllegalArgumentException e) {
      return name;
    }
  }

  /** Deterministic per process and name; no password has these keys. */
  private static ScramCredentials fake(String name) {
    byte[] n = name.getBytes(UTF_8);
    byte[] salt = Arrays.copyOf(ScramCredentials.hmac(FAKE_KEY, concat("salt:", n)), ScramCredentials.SALT_BYTES);
    return new ScramCredentials(salt, ScramCredentials.ITERATIONS,
        ScramCredentials.hmac(FAKE_KEY, concat("stored:", n)), ScramCredentials.hmac(FAKE_KEY, concat("server:", n)));
  }

  private static byte[] concat(String label, byte[] name) {
    byte[] l = label.getBytes(UTF_8), out = Arrays.copyOf(l, l.length + name.length);
    System.arraycopy(name, 0, out, l.length, name.length);
    return out;
  }

  private static String randomNonce() {
    byte[] b = new byte[18];
    RANDOM.nextBytes(b);
    return Base64.getEncoder().encodeToString(b);
  }
}
