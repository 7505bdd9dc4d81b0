package dev.posta.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig.SenderChecks.Rules;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** What a reload's log line says changed. */
class ConfigChangesTest {
  final PostaConfig before = PostaConfig.embeddedDefaults(Path.of("/srv/posta"));

  @Test
  void nothingChangedIsNoLine() {
    assertThat(ConfigChanges.between(before, before.toBuilder().build())).isEmpty();
  }

  @Test
  void eachChangedSettingIsNamedAsTheFileWritesIt() {
    var relay = new PostaConfig.Relay("smtp.example.net", 587, false, PostaConfig.TlsPolicy.ENCRYPT, Optional.of("app"), Optional.of("s3cret"));
    PostaConfig after = before.toBuilder()
        .hostname("mail.example.org")
        .domains(List.of(before.domains().getFirst(), new PostaConfig.LocalDomain("example.org", Set.of("alice"), false, Optional.empty(),
            Map.of())))
        .delivery(before.delivery().toBuilder().delayWarning(Duration.ofHours(4)).relay(relay).build())
        .senderChecks(new PostaConfig.SenderChecks(Rules.ENFORCE, Map.of("example.org", Rules.OFF), before.senderChecks().skipNetworks()))
        .build();
    assertThat(ConfigChanges.between(before, after)).containsExactly(
        "hostname: \"localhost\" -> \"mail.example.org\"",
        "domains: +example.org",
        "delivery.delay-warning: " + before.delivery().delayWarning() + " -> PT4H",
        "delivery.relay: none -> Relay[host=\"smtp.example.net\", port=587, implicit-tls=false, tls=ENCRYPT, username=\"app\", password=***]",
        "sender-checks.domain-rules: +example.org");
  }

  @Test
  void aMilterIsShownWithTheKeysOfItsTable() {
    var rspamd = new PostaConfig.Milter("rspamd", "inet:127.0.0.1:11332", Set.of(PostaConfig.Protocol.SMTP, PostaConfig.Protocol.SUBMISSION),
        true, Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofMinutes(5), false);
    var clamav = new PostaConfig.Milter("clamav", "unix:/run/clamav/clamav-milter.ctl", Set.of(PostaConfig.Protocol.SMTP),
        false, Duration.ofSeconds(30), Duration.ofSeconds(30), Duration.ofMinutes(5), true);
    PostaConfig one = before.toBuilder().milters(List.of(rspamd)).build();
    assertThat(ConfigChanges.between(one, one.toBuilder().milters(List.of(rspamd, clamav)).build())).containsExactly(
        "milters: +Milter[name=\"clamav\", address=\"unix:/run/clamav/clamav-milter.ctl\", listeners=[smtp], on-failure=\"accept\", "
            + "connect-timeout=PT30S, command-timeout=PT30S, content-timeout=PT5M, quarantine=\"hold\"]");
    assertThat(ConfigChanges.between(one, before)).containsExactly(
        "milters: -Milter[name=\"rspamd\", address=\"inet:127.0.0.1:11332\", listeners=[smtp, submission], on-failure=\"tempfail\", "
            + "connect-timeout=PT30S, command-timeout=PT30S, content-timeout=PT5M, quarantine=\"junk\"]");
  }

  @Test
  void aSecretIsNeverShown() {
    var relay = new PostaConfig.Relay("smtp.example.net", 587, false, PostaConfig.TlsPolicy.ENCRYPT, Optional.of("app"), Optional.of("old"));
    PostaConfig one = before.toBuilder().delivery(before.delivery().toBuilder().relay(relay).build()).build();
    PostaConfig two = before.toBuilder().delivery(before.delivery().toBuilder()
        .relay(new PostaConfig.Relay("smtp.example.net", 2587, false, PostaConfig.TlsPolicy.ENCRYPT, Optional.of("app"), Optional.of("new"))).build()).build();
    assertThat(ConfigChanges.between(one, two)).containsExactly("delivery.relay.port: 587 -> 2587", "delivery.relay.password: changed");
  }
}
