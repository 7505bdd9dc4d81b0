package dev.posta.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.PostaConfig.Listener;
import dev.posta.config.PostaConfig.Protocol;
import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code posta serve --listen} moves listeners without a file; {@code posta help} helps. */
class ServeOptionsTest {
  @TempDir Path dir;

  private Posta.Serve serve(String... args) {
    CommandLine cli = new CommandLine(new Posta());
    return (Posta.Serve) cli.parseArgs(args).subcommand().commandSpec().userObject();
  }

  @Test
  void listenReplacesTheListenersOfEachProtocolItNames() throws Exception {
    Path config = Files.writeString(dir.resolve("posta.toml"), """
        hostname = "localhost"
        [listeners]
        smtp = ["127.0.0.1:25"]
        submission = ["127.0.0.1:587"]
        imap = ["127.0.0.1:143"]
        [domains.localhost]
        """);
    var listeners = serve("serve", "--config", config.toString(), "--listen", "submission=127.0.0.1:3587", "--listen", "SMTP=[::1]:3025",
        "--listen", "smtp=127.0.0.1:3025", "--listen", "imap=").load().listeners();
    assertThat(listeners).startsWith(
        new Listener(Protocol.SMTP, new InetSocketAddress("::1", 3025)),
        new Listener(Protocol.SMTP, new InetSocketAddress("127.0.0.1", 3025)),
        new Listener(Protocol.SUBMISSION, new InetSocketAddress("127.0.0.1", 3587)),
        new Listener(Protocol.SMTPS, new InetSocketAddress("0.0.0.0", 465)));
    assertThat(listeners).extracting(Listener::protocol).doesNotContain(Protocol.IMAP);
  }

  @Test
  void aListenThatIsNotOneSaysWhy() {
    assertThatThrownBy(() -> serve("serve", "--listen", "smtp:127.0.0.1:25").load())
        .hasMessage("'smtp:127.0.0.1:25': expected PROTOCOL=HOST:PORT, like smtp=127.0.0.1:2525");
    assertThatThrownBy(() -> serve("serve", "--listen", "lmtp=127.0.0.1:24").load())
        .hasMessage("'lmtp' is not smtp, submission, smtps, imap, imaps, pop3, pop3s, http or https");
    assertThatThrownBy(() -> serve("serve", "--listen", "smtp=localhost:25").load())
        .hasMessage("'localhost:25': the host must be an IP address, like 0.0.0.0 or [::]");
  }

  @Test
  void helpIsACommandToo() {
    var out = new ByteArrayOutputStream();
    CommandLine cli = new CommandLine(new Posta()).setOut(new PrintWriter(out, true, UTF_8));
    assertThat(cli.execute("help")).isZero();
    assertThat(out.toString(UTF_8)).startsWith("Usage: posta ").contains("  serve ", "  queue ", "  help ");
    out.reset();
    assertThat(cli.execute("help", "serve")).isZero();
    assertThat(out.toString(UTF_8)).startsWith("Usage: posta serve ").contains("--listen=PROTOCOL=HOST:PORT");
  }
}
