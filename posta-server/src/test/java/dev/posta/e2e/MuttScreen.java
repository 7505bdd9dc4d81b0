package dev.posta.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.testing.Await;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * mutt running in a terminal of a tmux server of its own (so no other tmux is touched), for the
 * tests that use mutt as a person does: the screen read as they would read it (tmux
 * capture-pane), keys typed as they would type them (tmux send-keys). Closing stops the tmux
 * server and mutt with it.
 */
final class MuttScreen implements AutoCloseable {
  private static final String MUTT = "/usr/bin/mutt";
  private static final String TMUX = "/usr/bin/tmux";

  private final String socket = "posta-mutt-" + ProcessHandle.current().pid() + "-" + System.nanoTime();

  /**
   * Starts mutt on the mailbox at {@code url} in a 200x50 terminal, as a user whose home is
   * {@code home} (made here, with the muttrc given) and who trusts {@code certificate}.
   */
  MuttScreen(Path home, String muttrc, Path certificate, String url) throws IOException {
    ImapClients.program(MUTT, "mutt");
    Files.createDirectories(home.resolve("Mail")); // mutt's own folder, else it asks to make it
    Path rc = Files.writeString(home.resolve("muttrc"), muttrc);
    tmux("new-session", "-d", "-s", "mutt", "-x", "200", "-y", "50", "env TERM=xterm HOME=" + home + " " + MUTT + " -n -F " + rc
        + " -e 'set certificate_file=" + certificate + "' -f '" + url + "'");
  }

  private E2e.Run tmux(String... args) {
    List<String> command = new ArrayList<>(List.of(ImapClients.program(TMUX, "tmux"), "-L", socket));
    command.addAll(List.of(args));
    var pb = new ProcessBuilder(command);
    pb.environment().put("TERM", "xterm");
    E2e.Run run = E2e.run(pb, Duration.ofSeconds(10), "");
    assertThat(run.exit()).as("tmux %s%n%s", List.of(args), run).isZero();
    return run;
  }

  /** Waits until the screen shows {@code text}; returns the screen. */
  String await(String text) throws InterruptedException {
    var screen = new AtomicReference<String>("");
    try {
      Await.await("the mutt screen to show \"" + text + "\"", () -> {
        screen.set(tmux("capture-pane", "-p", "-t", "mutt").stdout());
        return screen.get().contains(text);
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "\n--- screen ---\n" + screen.get(), e);
    }
    return screen.get();
  }

  /** Types keys, as tmux send-keys names them ("Enter", "j", "$"). */
  void keys(String... keys) {
    List<String> args = new ArrayList<>(List.of("send-keys", "-t", "mutt"));
    args.addAll(List.of(keys));
    tmux(args.toArray(String[]::new));
  }

  @Override
  public void close() {
    E2e.run(new ProcessBuilder(TMUX, "-L", socket, "kill-server"), Duration.ofSeconds(10), "");
  }
}
