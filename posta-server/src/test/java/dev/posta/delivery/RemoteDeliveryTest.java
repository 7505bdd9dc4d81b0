package dev.posta.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.client.SmtpReply;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The limit on what a remote server's reply may take up in notices and the queue. */
class RemoteDeliveryTest {

  @Test
  void aLongReplyIsCutToItsLimitAndAShortOneKeptWhole() {
    assertThat(RemoteDelivery.diagnostic(new SmtpReply(550, List.of("5.1.1 no such user"))))
        .isEqualTo("550 5.1.1 no such user");
    String cut = RemoteDelivery.diagnostic(new SmtpReply(550, List.of("5.1.1 " + "y".repeat(2000))));
    assertThat(cut).isEqualTo(("550 5.1.1 " + "y".repeat(2000)).substring(0, 1000) + "...");
    assertThat(RemoteDelivery.diagnostic(null)).isNull();
    assertThat(DeliveryResult.shortened("4.2.2\tmailbox\r\n\r\nfull")).isEqualTo("4.2.2 mailbox full");
  }
}
