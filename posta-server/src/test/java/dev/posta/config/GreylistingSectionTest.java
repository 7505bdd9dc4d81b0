package dev.posta.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.PostaConfig.Greylisting;
import dev.posta.config.PostaConfig.Protocol;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code [greylisting]} section: its defaults, every key read, every bad value a problem on its line. */
class GreylistingSectionTest {
  private static final String PREAMBLE = "hostname = \"mail.example.org\"\n[domains.\"example.org\"]\n";

  @TempDir Path dir;

  private PostaConfig load(String toml) throws Exception {
    return ConfigLoader.load(Files.writeString(dir.resolve("posta.toml"), PREAMBLE + toml));
  }

  @Test
  void offByDefaultOnSmtpOnlyWithTheLoopbackExempt() throws Exception {
    Greylisting g = load("").greylisting();
    assertThat(g).isEqualTo(Greylisting.DEFAULTS);
    assertThat(g.enabled()).isFalse();
    assertThat(g.appliesTo(Protocol.SMTP)).isFalse();
    assertThat(load("[greylisting]\nenabled = true\n").greylisting().appliesTo(Protocol.SMTP)).isTrue();
    assertThat(load("[greylisting]\nenabled = true\n").greylisting().appliesTo(Protocol.SUBMISSION)).isFalse();
    assertThat(g.exempts(InetAddress.ofLiteral("127.0.0.1"))).isTrue();
    assertThat(g.exempts(InetAddress.ofLiteral("::1"))).isTrue();
    assertThat(g.exempts(InetAddress.ofLiteral("192.0.2.1"))).isFalse();
    assertThat(List.of(g.delay(), g.retryWindow(), g.expire())).containsExactly(Duration.ofMinutes(5), Duration.ofDays(2), Duration.ofDays(35));
    assertThat(g.autoAllowlistAfter()).isEqualTo(5);
  }

  @Test
  void everyKeyIsRead() throws Exception {
    Greylisting g = load("""
        [greylisting]
        enabled = true
        delay = "2m"
        retry-window = "12h"
        expire = "60d"
        auto-allowlist-after = 0
        max-entries = 5000
        exempt-networks = []
        exempt-spf-domains = ["Bank.Example"]
        listeners = ["smtp", "submission"]
        """).greylisting();
    assertThat(g).isEqualTo(new Greylisting(true, Duration.ofMinutes(2), Duration.ofHours(12), Duration.ofDays(60), 0, 5000, List.of(),
        List.of("bank.example"), Set.of(Protocol.SMTP, Protocol.SUBMISSION)));
    assertThat(g.exempts(InetAddress.ofLiteral("127.0.0.1"))).isFalse();
    String printed = ConfigPrinter.toml(load("[greylisting]\nenabled = true\nexempt-networks = []\n"), false);
    assertThat(printed).contains("[greylisting]\nenabled = true\nexempt-networks = []\n");
  }

  @Test
  void badValuesAreProblemsOnTheirLines() throws Exception {
    assertThatThrownBy(() -> load("""
        [greylisting]
        enabled = "yes"
        delay = "2w"
        retry-window = "30s"
        auto-allowlist-after = -1
        exempt-networks = ["192.0.2.0/33"]
        exempt-spf-domains = ["not a domain"]
        listeners = ["imap"]
        whitelist = true
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage(String.join("\n",
            "%1$s:4: greylisting.enabled: expected a boolean, got a string",
            "%1$s:5: greylisting.delay: expected a duration like \"30s\", \"5m\", \"1h\" or \"5d\", got \"2w\"",
            "%1$s:6: greylisting.retry-window: must be between 1m and 30d, got 30s",
            "%1$s:7: greylisting.auto-allowlist-after: must be between 0 and 1000, got -1",
            "%1$s:8: greylisting.exempt-networks: '192.0.2.0/33': prefix length must be 0 to 32",
            "%1$s:9: greylisting.exempt-spf-domains: 'not a domain' is not a valid domain name",
            "%1$s:10: greylisting.listeners: \"imap\" is not \"smtp\", \"submission\" or \"smtps\"",
            "%1$s:11: unknown key 'whitelist' in [greylisting]").formatted(dir.resolve("posta.toml")));
    assertThatThrownBy(() -> load("[greylisting]\ndelay = \"1h\"\nretry-window = \"30m\"\n"))
        .hasMessageEndingWith("posta.toml:5: greylisting.retry-window: must be longer than the delay (1h)");
  }
}
