package dev.posta.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.ConfigLoader;
import dev.posta.config.PostaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The banner's {@code defenses} line: which of [screen], [greylisting] and [[milters]] each SMTP listener kind has. */
class DefensesLineTest {
  @TempDir Path dir;

  private PostaConfig load(String toml) throws Exception {
    Path file = dir.resolve("posta.toml");
    Files.writeString(file, "hostname = \"mail.example.org\"\n[domains.\"example.org\"]\n" + toml);
    return ConfigLoader.load(file);
  }

  @Test
  void theDefaultsScreenSmtpAloneWithoutDnsLists() throws Exception {
    assertThat(Posta.Serve.defenses(load(""))).isEqualTo(
        "smtp: screen (greet wait 6s, pipelining) except from loopback; submission: none; smtps: none");
  }

  @Test
  void eachListenerKindSaysWhatItHas() throws Exception {
    PostaConfig config = load("""
        [listeners]
        smtps = []
        [screen]
        greet-wait = "0s"
        pipelining = false
        skip-networks = ["10.0.0.0/8"]
        [[screen.dnsbl]]
        zone = "bl.test"
        [[screen.dnswl]]
        zone = "wl.test"
        [greylisting]
        enabled = true
        [[milters]]
        name = "rspamd"
        address = "inet:127.0.0.1:11332"
        listeners = ["smtp", "submission"]
        [[milters]]
        name = "clamav"
        address = "unix:/run/clamav/clamav-milter.ctl"
        """);
    assertThat(Posta.Serve.defenses(config)).isEqualTo(
        "smtp: screen (DNSBL bl.test, DNSWL wl.test) except from 10.0.0.0/8, greylisting, milters rspamd, clamav; submission: milters rspamd");
  }

  @Test
  void noSmtpListenerNoLine() throws Exception {
    assertThat(Posta.Serve.defenses(load("[listeners]\nsmtp = []\nsubmission = []\nsmtps = []\n"))).isNull();
  }
}
