package dev.posta.net;

import java.net.InetAddress;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A session's ID, in the prefix of every log line of the session ({@code smtp[192.0.2.7]#K7QX2M4P:}),
 * so one grep shows a whole session, as Postfix's process ID does for its smtpd; the queue ID
 * of each message the session takes then leads to the message's delivery lines.
 *
 * <p>Eight characters of Crockford's base 32 (digits and upper-case letters but I, L, O and U),
 * never a queue ID's sixteen hex digits. Unique for the server's life (2^40 sessions): a
 * counter through a keyed permutation of 40 bits, so IDs do not look alike and two runs of the
 * server rarely share one (the key is random at each start).
 */
public final class SessionId {
  private static final char[] ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ".toCharArray();
  private static final long MASK = (1L << 40) - 1;
  private static final long KEY = new SecureRandom().nextLong();
  private static final AtomicLong COUNTER = new AtomicLong();

  private SessionId() {}

  /** The next session's ID. */
  public static String next() {
    long x = (COUNTER.getAndIncrement() + KEY) & MASK;
    // Each step is a bijection on 40 bits (adding, multiplying by an odd number, xor with a
    // right shift), so distinct counters give distinct IDs.
    x = (x * 0x9E3779B97FL) & MASK;
    x ^= x >>> 21;
    x = (x * 0xC2B2AE3D27L) & MASK;
    x ^= (KEY >>> 24) & MASK;
    x ^= x >>> 19;
    char[] id = new char[8];
    for (int i = 7; i >= 0; i--) {
      id[i] = ALPHABET[(int) (x & 31)];
      x >>>= 5;
    }
    return new String(id);
  }

  /**
   * A session's log prefix: the protocol, the client's address and the session's ID, e.g.
   * {@code smtp[192.0.2.7]#K7QX2M4P}; made once per session.
   */
  public static String logPrefix(String protocol, InetAddress client) {
    return protocol + "[" + ClientAddress.text(client) + "]#" + next();
  }
}
