package dev.posta.junit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.PostaServer;
import java.time.Duration;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The extension on an instance field: each test its own server, on its own port, empty. */
class PerTestIsolationTest {
  private static final Set<PostaServer> servers = Collections.newSetFromMap(new IdentityHashMap<>());

  @RegisterExtension PostaExtension mail = PostaExtension.withDefaults();

  @RepeatedTest(3)
  void eachTestHasAServerOfItsOwn() throws Exception {
    assertThat(servers.add(mail.server())).as("a server of its own").isTrue();
    assertThat(mail.messages()).isEmpty();
    Mails.send(Mails.simple(Mails.session(mail.mailProperties()), "a@app.example", "b@any.example", "mine", "text"));
    assertThat(mail.awaitMessages(1, Duration.ofSeconds(10))).hasSize(1);
    System.out.println("posta-junit start-up (per test): " + mail.startupTime().toMillis() + " ms");
  }
}
