package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shipped unit, {@code dist/systemd/posta.service}, passes {@code systemd-analyze verify}:
 * every key known, every command executable. It names the launcher where the README installs
 * it, {@code /opt/posta/posta}; the copy checked names this checkout's instead.
 */
class SystemdUnitTest {
  private static final Path REPO = Path.of("..").toAbsolutePath().normalize();

  @TempDir Path dir;

  @Test
  void theUnitVerifiesClean() throws Exception {
    String unit = Files.readString(REPO.resolve("dist/systemd/posta.service"));
    assertThat(unit).contains("\nExecStart=/opt/posta/posta serve --config /etc/posta/posta.toml\n",
        "\nExecReload=/bin/kill -HUP $MAINPID\n", "\nUser=posta\n", "\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n",
        "\nNoNewPrivileges=yes\n", "\nProtectSystem=strict\n", "\nReadWritePaths=/var/lib/posta\n");
    Path copy = Files.writeString(dir.resolve("posta.service"), unit.replace("/opt/posta/posta ", REPO.resolve("posta") + " "));
    E2e.Run run = E2e.run(Duration.ofSeconds(60), List.of("systemd-analyze", "verify", "--man=no", copy.toString()));
    assertThat(run.exit()).as("%s", run).isZero();
    assertThat(run.stdout() + run.stderr()).as("%s", run).isEmpty();
  }
}
