package dev.posta.auth;

import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Keys of logins verified lately ({@link UserStore#verify}), each remembered for {@link #TTL},
 * at most {@link #MAX} of them (the oldest forgotten first): bounded in time and memory. The
 * keys are MACs under a random key that lives only in this process.
 */
final class VerifiedLogins {
  /** Dovecot's auth_cache_ttl is an hour; a password changed with posta user passwd misses at once anyway. */
  static final Duration TTL = Duration.ofMinutes(15);
  static final int MAX = 10_000;

  private final byte[] key = new byte[32];
  /** Key to when it was verified (System.nanoTime); in insertion order, so the oldest go first. */
  private final Map<String, Long> verified = new LinkedHashMap<>(16, 0.75f, false) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Long> eldest) {
      return size() > MAX;
    }
  };

  VerifiedLogins() {
    new SecureRandom().nextBytes(key);
  }

  /** A fresh MAC under this process's key. */
  Mac mac() {
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key, "HmacSHA256"));
      return mac;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
    }
  }

  synchronized boolean wasVerified(String login) {
    Long at = verified.get(login);
    if (at == null) return false;
    if (System.nanoTime() - at < TTL.toNanos()) return true;
    verified.remove(login);
    return false;
  }

  synchronized void remember(String login) {
    verified.remove(login); // to the end of the order: it is the newest now
    verified.put(login, System.nanoTime());
  }
}
