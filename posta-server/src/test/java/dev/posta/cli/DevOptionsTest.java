package dev.posta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.PostaConfig;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code posta dev}'s capture settings: namespaces by login and by a recipient pattern, and the index's retention. */
class DevOptionsTest {
  private static PostaConfig.Capture capture(String... args) throws dev.posta.config.ConfigException {
    CommandLine cli = new CommandLine(new Posta());
    var dev = (DevCommand) cli.parseArgs(args).subcommand().commandSpec().userObject();
    return dev.config().capture();
  }

  @Test
  void byDefaultLoginsAndPlusTagsNameNamespacesAndTenThousandMessagesAreKept() throws Exception {
    assertThat(capture("dev")).isEqualTo(new PostaConfig.Capture(true, Map.of(), true, "^[^@+]*\\+([^@+]+)@", 10_000));
  }

  @Test
  void theOptionsChangeEachRule() throws Exception {
    assertThat(capture("dev", "--namespace-pattern", "@([a-z]+)\\.test$", "--no-login-namespaces", "--retain", "50"))
        .isEqualTo(new PostaConfig.Capture(true, Map.of(), false, "@([a-z]+)\\.test$", 50));
    assertThat(capture("dev", "--namespace-pattern", "").namespacePattern()).isEmpty();
  }

  private static java.util.List<String> listeners(String... args) throws dev.posta.config.ConfigException {
    CommandLine cli = new CommandLine(new Posta());
    var dev = (DevCommand) cli.parseArgs(args).subcommand().commandSpec().userObject();
    return dev.config().listeners().stream().map(l -> l.protocol().name().toLowerCase(java.util.Locale.ROOT) + "=" + Posta.Serve.hostPortOf(l.address()))
        .toList();
  }

  @Test
  void theHttpApiListensOnMailpitsPortOnLoopbackAndMovesAsTheOthersDo() throws Exception {
    assertThat(listeners("dev")).containsExactly("smtp=127.0.0.1:1025", "submission=127.0.0.1:1587", "smtps=127.0.0.1:1465",
        "imap=127.0.0.1:1143", "imaps=127.0.0.1:1993", "pop3=127.0.0.1:1110", "pop3s=127.0.0.1:1995", "http=127.0.0.1:8025");
    assertThat(listeners("dev", "--listen", "http=127.0.0.1:9025")).contains("http=127.0.0.1:9025").doesNotContain("http=127.0.0.1:8025");
    assertThat(listeners("dev", "--listen", "http=")).noneMatch(l -> l.startsWith("http="));
  }

  @Test
  void aWrongOptionSaysWhichAndWhy() {
    assertThatThrownBy(() -> capture("dev", "--namespace-pattern", "\\+[^@]+@"))
        .hasMessage("--namespace-pattern capture namespace pattern '\\+[^@]+@' has no capturing group: put the namespace's part in ( )");
    assertThatThrownBy(() -> capture("dev", "--retain", "0")).hasMessage("--retain capture retention must be at least 1, not 0");
    assertThatThrownBy(() -> capture("dev", "--listen", "smtp:1")).hasMessage("--listen 'smtp:1': expected PROTOCOL=HOST:PORT, like smtp=127.0.0.1:2525");
  }
}
