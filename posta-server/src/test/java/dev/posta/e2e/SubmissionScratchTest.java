package dev.posta.e2e;

import dev.posta.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class SubmissionScratchTest {
  @Test
  void serve() throws Exception {
    Path data = Path.of("/tmp/scratch/data");
    try (var server = TestServer.start(data)) {
      server.addUser("sender@localhost", "password");
      Files.writeString(Path.of("/tmp/scratch/ports.tmp"), server.smtpPort() + " " + server.submissionPort() + " " + server.smtpsPort() + " " + server.certificate() + "\n");
      Files.move(Path.of("/tmp/scratch/ports.tmp"), Path.of("/tmp/scratch/ports"));
      while (!Files.exists(Path.of("/tmp/scratch/stop"))) Thread.sleep(200);
    }
  }
}
