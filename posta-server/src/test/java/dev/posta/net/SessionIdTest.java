package dev.posta.net;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Session IDs: eight characters of Crockford's base 32, never the same twice in a server's life. */
class SessionIdTest {
  @Test
  void idsAreDistinctAndLookNothingLikeAQueueId() {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 200_000; i++) {
      String id = SessionId.next();
      assertThat(id).matches("[0-9A-HJKMNP-TV-Z]{8}");
      assertThat(seen.add(id)).as("a second %s", id).isTrue();
    }
  }

  @Test
  void thePrefixNamesProtocolClientAndSession() throws Exception {
    assertThat(SessionId.logPrefix("smtp", InetAddress.getByName("192.0.2.7"))).matches("smtp\\[192\\.0\\.2\\.7\\]#[0-9A-HJKMNP-TV-Z]{8}");
    assertThat(SessionId.logPrefix("imap", InetAddress.getByName("2001:db8:0:0:0:0:0:1"))).matches("imap\\[2001:db8::1\\]#[0-9A-HJKMNP-TV-Z]{8}");
  }
}
