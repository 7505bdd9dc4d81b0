package dev.posta.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.PostaConfig.Milter;
import dev.posta.config.PostaConfig.Protocol;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code [[milters]]} entries: read in order with Postfix's defaults, every bad value refused with its line. */
class MiltersSectionTest {
  private static final String PREAMBLE = "hostname = \"mail.example.org\"\n[domains.\"example.org\"]\n";

  @TempDir Path dir;

  private PostaConfig load(String toml) throws Exception {
    Path file = dir.resolve("posta.toml");
    Files.writeString(file, toml);
    return ConfigLoader.load(file);
  }

  @Test
  void noMiltersUnlessConfigured() throws Exception {
    assertThat(load(PREAMBLE).milters()).isEmpty();
  }

  @Test
  void entriesInOrderWithPostfixsDefaults() throws Exception {
    List<Milter> milters = load(PREAMBLE + """
        [[milters]]
        name = "rspamd"
        address = "inet:127.0.0.1:11332"
        [[milters]]
        name = "clamav"
        address = "unix:/run/clamav/clamav-milter.ctl"
        listeners = ["smtp", "submission"]
        on-failure = "accept"
        connect-timeout = "5s"
        command-timeout = "10s"
        content-timeout = "2m"
        quarantine = "hold"
        """).milters();
    assertThat(milters).containsExactly(
        new Milter("rspamd", "inet:127.0.0.1:11332", Set.of(Protocol.SMTP), true, Duration.ofSeconds(30), Duration.ofSeconds(30),
            Duration.ofSeconds(300), false),
        new Milter("clamav", "unix:/run/clamav/clamav-milter.ctl", Set.of(Protocol.SMTP, Protocol.SUBMISSION), false, Duration.ofSeconds(5),
            Duration.ofSeconds(10), Duration.ofMinutes(2), true));
  }

  @Test
  void eachBadValueIsRefusedWithItsLine() {
    assertThatThrownBy(() -> load(PREAMBLE + """
        [[milters]]
        name = "a b"
        address = "tcp:localhost:1"
        [[milters]]
        name = "x"
        address = "inet:[::1]:11332"
        listeners = ["imap"]
        on-failure = "reject"
        quarantine = "drop"
        command-timeout = "0"
        filter = true
        [[milters]]
        name = "x"
        address = "unix:/run/x.sock"
        [[milters]]
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage(String.join("\n",
            "%1$s:4: milters[0].name: \"a b\" is not 1 to 64 letters, digits, '.', '_' or '-'",
            "%1$s:5: milters[0].address: \"tcp:localhost:1\" is not \"inet:host:port\" or \"unix:/path\"",
            "%1$s:9: milters[1].listeners: \"imap\" is not smtp, submission or smtps",
            "%1$s:10: milters[1].on-failure: \"reject\" is not \"tempfail\" or \"accept\"",
            "%1$s:11: milters[1].quarantine: \"drop\" is not \"junk\" or \"hold\"",
            "%1$s:12: milters[1].command-timeout: must be between 1s and 1h, got 0",
            "%1$s:13: unknown key 'filter' in [[milters]]",
            "%1$s:15: milters[2].name: \"x\" is used twice (first on line 7)",
            "%1$s:17: milters[3]: a milter needs a name",
            "%1$s:17: milters[3]: a milter needs an address, \"inet:host:port\" or \"unix:/path\"").formatted(dir.resolve("posta.toml")));
  }

  @Test
  void aPortOutsideOneTo65535IsRefusedHereNotAtEachConnection() {
    assertThatThrownBy(() -> load(PREAMBLE + """
        [[milters]]
        name = "zero"
        address = "inet:127.0.0.1:0"
        [[milters]]
        name = "big"
        address = "inet:[::1]:65536"
        [[milters]]
        name = "relative"
        address = "unix:run/x.sock"
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage(String.join("\n",
            "%1$s:5: milters[0].address: port \"0\" is not 1..65535",
            "%1$s:8: milters[1].address: port \"65536\" is not 1..65535",
            "%1$s:11: milters[2].address: unix: wants an absolute path, got \"run/x.sock\"").formatted(dir.resolve("posta.toml")));
  }

  @Test
  void checkConfigPrintsEachEntry() throws Exception {
    PostaConfig config = load(PREAMBLE + """
        [[milters]]
        name = "rspamd"
        address = "inet:127.0.0.1:11332"
        """);
    String printed = ConfigPrinter.toml(config, false);
    assertThat(printed).contains("""
        [[milters]]
        name = "rspamd"
        address = "inet:127.0.0.1:11332"
        listeners = ["smtp"]
        on-failure = "tempfail"
        connect-timeout = "30s"
        command-timeout = "30s"
        content-timeout = "5m"
        quarantine = "junk"
        """);
  }
}
