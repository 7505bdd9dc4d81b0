package dev.posta.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.PostaServer;
import dev.posta.testing.TestServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One server per data folder ({@code <data>/posta.lock}): a second one would recover the same
 * spool and deliver its mail twice. {@code posta serve} prints the message after
 * {@code posta: cannot start: }.
 */
class DataFolderLockTest {
  @TempDir Path data;

  private String inUse() {
    return "another Posta is already using the data folder " + data;
  }

  @Test
  void aSecondServerInThisProcessIsRefusedUntilTheFirstCloses() throws Exception {
    try (TestServer first = TestServer.start(data)) {
      assertThatThrownBy(() -> TestServer.start(data))
          .isInstanceOf(UncheckedIOException.class).hasRootCauseMessage(inUse());
      // The refused start must not have released the first server's lock on its way out (closing
      // any descriptor of the file drops the process's POSIX locks on it): another process still
      // cannot take it.
      assertThat(otherProcessCanLock()).isFalse();
      assertThat(first.server().queue()).isNotNull();
    }
    assertThat(otherProcessCanLock()).isTrue();
    try (TestServer again = TestServer.start(data)) {
      assertThat(again.smtpPort()).isPositive();
    }
  }

  @Test
  void aServerInAnotherProcessIsRefused() throws Exception {
    try (TestServer first = TestServer.start(data)) {
      // seeds <data>/posta.lock
    }
    Process holder = new ProcessBuilder("python3", "-c", """
        import fcntl, sys
        f = open(sys.argv[1], "a")
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        print("locked", flush=True)
        sys.stdin.read()
        """, data.resolve("posta.lock").toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    try {
      String line = new String(holder.getInputStream().readNBytes(6), StandardCharsets.US_ASCII);
      assertThat(line).isEqualTo("locked");
      assertThatThrownBy(() -> TestServer.start(data)).hasRootCauseMessage(inUse());
    } finally {
      holder.getOutputStream().close();
      assertThat(holder.waitFor(30, TimeUnit.SECONDS)).isTrue();
    }
    try (TestServer again = TestServer.start(data)) {
      assertThat(again.smtpPort()).isPositive();
    }
  }

  @Test
  void aServerThatFailsToStartReleasesTheLock() throws Exception {
    var broken = dev.posta.config.PostaConfig.embeddedDefaults(data).toBuilder().listeners(java.util.List.of(
        new dev.posta.config.PostaConfig.Listener(dev.posta.config.PostaConfig.Protocol.SMTP,
            new java.net.InetSocketAddress("192.0.2.1", 0)))).build(); // not an address of this machine
    assertThatThrownBy(() -> new PostaServer(broken).start()).isInstanceOf(IOException.class)
        .message().doesNotContain("another Posta");
    try (TestServer again = TestServer.start(data)) {
      assertThat(again.smtpPort()).isPositive();
    }
  }

  /** Whether another process can take the lock on {@code <data>/posta.lock} right now. */
  private boolean otherProcessCanLock() throws Exception {
    Process p = new ProcessBuilder("python3", "-c", """
        import fcntl, sys
        f = open(sys.argv[1], "a")
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            sys.exit(1)
        """, data.resolve("posta.lock").toString()).inheritIO().start();
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    return p.exitValue() == 0;
  }
}
