package dev.posta.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * dkimpy (Debian's python3-dkim), the independent DKIM implementation the tests check Posta
 * against: {@code dkimsign} signs, and {@code dkim/dkimpy_verify.py} verifies every signature of
 * a message with the keys from a DNS server on loopback, asked by dkimpy's own DNS code. A
 * missing python3 or python3-dkim fails the test that needs them, saying what to install.
 */
public final class Dkimpy {
  private Dkimpy() {}

  public static final Path PYTHON = Path.of("/usr/bin/python3");
  public static final Path DKIMSIGN = Path.of("/usr/bin/dkimsign");

  /** What a program did; its output as octets (a signed message) and as text. */
  public record Run(int exit, byte[] stdout, String err) {
    public String out() {
      return new String(stdout, StandardCharsets.UTF_8);
    }

    @Override
    public String toString() {
      return "exit " + exit + "\n--- stdout ---\n" + out() + "--- stderr ---\n" + err;
    }
  }

  /**
   * Verifies every signature of {@code message} (kept as {@code file}, for a look afterwards):
   * one line per signature, "{@code 0 pass d=example.org s=sel}", and exit 0 when all pass.
   */
  public static Run verify(int dnsPort, byte[] message, Path file) {
    assertThat(PYTHON).as("Debian's python3 (apt-get install python3 python3-dkim)").isExecutable();
    try {
      Files.write(file, message);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return run(new byte[0], PYTHON.toString(), script().toString(), Integer.toString(dnsPort), file.toString());
  }

  /** {@code dkimsign SELECTOR DOMAIN KEYFILE ARGS...} over {@code message}: the signed message on stdout. */
  public static Run sign(byte[] message, String selector, String domain, Path key, String... args) {
    assertThat(DKIMSIGN).as("dkimsign (apt-get install python3-dkim)").isExecutable();
    List<String> command = new ArrayList<>(List.of(DKIMSIGN.toString(), selector, domain, key.toString()));
    command.addAll(List.of(args));
    return run(message, command.toArray(String[]::new));
  }

  private static Path script() {
    try {
      var url = Dkimpy.class.getResource("/dkim/dkimpy_verify.py");
      assertThat(url).as("test resource dkim/dkimpy_verify.py").isNotNull();
      return Path.of(url.toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Runs a program with {@code input} on its standard input; at most 60 s. */
  static Run run(byte[] input, String... command) {
    try {
      Process p = new ProcessBuilder(command).start();
      CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
      CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
      try (var stdin = p.getOutputStream()) {
        stdin.write(input);
      }
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("timed out: " + String.join(" ", command));
      }
      return new Run(p.exitValue(), out.join(), new String(err.join(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot run " + String.join(" ", command), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  private static byte[] readAll(InputStream in) {
    try (in) {
      var out = new ByteArrayOutputStream();
      in.transferTo(out);
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
