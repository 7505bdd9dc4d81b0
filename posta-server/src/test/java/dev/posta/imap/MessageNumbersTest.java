package dev.posta.imap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Sequence numbers to UIDs, an int each, in UID order over the whole 32-bit range. */
class MessageNumbersTest {
  @Test
  void uidsKeepTheirOrderAcrossTheWholeRangeAndExpungesRenumber() {
    long big = 0x8000_0000L; // 2^31: where a plain signed int would turn negative
    var n = new MessageNumbers(new long[] {1, 7, big - 1, big});
    n.add(List.of(big + 1, 0xFFFF_FFFFL));
    assertThat(n.count()).isEqualTo(6);
    assertThat(n.last()).isEqualTo(0xFFFF_FFFFL);
    assertThat(n.indexOf(big)).isEqualTo(3);
    assertThat(n.indexOf(8)).isEqualTo(-1);
    assertThat(n.indexOf(0)).isEqualTo(-1);
    assertThat(n.indexOf(1L << 32)).isEqualTo(-1);
    assertThat(n.lowerBound(8)).isEqualTo(2);
    assertThat(n.lowerBound(big + 2)).isEqualTo(5);
    assertThat(n.lowerBound(1L << 40)).isEqualTo(6);
    n.remove(List.of(0, 3));
    assertThat(List.of(n.uid(0), n.uid(1), n.uid(2), n.uid(3))).containsExactly(7L, big - 1, big + 1, 0xFFFF_FFFFL);
    assertThat(new MessageNumbers(new long[0]).last()).isZero();
  }
}
