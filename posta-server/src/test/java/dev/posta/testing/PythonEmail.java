package dev.posta.testing;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A message as Python's {@code email} package reads it (BytesParser, the default policy), the
 * reader that is not ours: each leaf part's content type, transfer encoding and decoded octets
 * ({@code get_payload(decode=True)}; for a text part with its line breaks as LF, since a
 * quoted-printable decoder gives LF and a 7bit body keeps CRLF), and the longest line of the
 * message as it was on the wire.
 */
public final class PythonEmail {
  private static final String SCRIPT = """
      import sys, email, email.policy
      raw = sys.stdin.buffer.read()
      print(max(len(l.rstrip(b'\\r')) for l in raw.split(b'\\n')))
      m = email.message_from_bytes(raw, policy=email.policy.default)
      for part in m.walk():
          if part.is_multipart() or part.get_content_type() == 'message/rfc822':
              continue
          data = part.get_payload(decode=True) or b''
          if part.get_content_maintype() == 'text':
              data = data.replace(b'\\r\\n', b'\\n')
          print(part.get_content_type(), part.get('Content-Transfer-Encoding', '-').strip().lower(), data.hex())
      """;

  /** One leaf part: its type, its Content-Transfer-Encoding ({@code -} when none), its decoded octets. */
  public record Part(String type, String encoding, byte[] decoded) {
    public String text() {
      return new String(decoded, UTF_8);
    }
  }

  /** What Python read: the longest line on the wire (without its line break), and the leaf parts in order. */
  public record Read(int longestLine, List<Part> parts) {}

  private PythonEmail() {}

  public static Read read(byte[] message) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(Dkimpy.PYTHON.toString(), "-c", SCRIPT);
    pb.environment().put("PYTHONDONTWRITEBYTECODE", "1");
    pb.redirectError(ProcessBuilder.Redirect.INHERIT);
    Process p = pb.start();
    // Its own thread: the common pool may have a single worker on a small machine.
    Thread writer = Thread.ofVirtual().start(() -> {
      try (var in = p.getOutputStream()) {
        in.write(message);
      } catch (IOException ignored) {
        // the exit code says what went wrong
      }
    });
    String out = new String(p.getInputStream().readAllBytes(), UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError("python3's email package could not read it (its error is on the test's standard error):\n" + out);
    }
    writer.join();
    List<String> lines = out.lines().toList();
    List<Part> parts = lines.subList(1, lines.size()).stream().map(l -> {
      String[] f = l.split(" ", -1);
      return new Part(f[0], f[1], HexFormat.of().parseHex(f[2]));
    }).toList();
    return new Read(Integer.parseInt(lines.getFirst()), parts);
  }
}
