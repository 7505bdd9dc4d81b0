package dev.posta.bench;

import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.concurrent.Callable;
import org.bouncycastle.crypto.generators.Argon2BytesGenerator;
import org.bouncycastle.crypto.params.Argon2Parameters;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Prints an Argon2id hash of a password in the PHC string format that both Posta's users file
 * and Dovecot's {ARGON2ID} scheme read, with the parameters given: the IMAP idle benchmark logs
 * in 10,000 clients, and with a cheap hash (the same for both servers) that takes seconds, not
 * minutes. Never for a real account.
 */
@Command(name = "argon2id", mixinStandardHelpOptions = true, description = "Print an Argon2id PHC hash (benchmark accounts only).")
final class Argon2idHash implements Callable<Integer> {
  @Option(names = "--password", required = true)
  String password;

  @Option(names = "--memory", defaultValue = "64", description = "KiB (default ${DEFAULT-VALUE}).")
  int memoryKib;

  @Option(names = "--iterations", defaultValue = "1", description = "Passes (default ${DEFAULT-VALUE}).")
  int iterations;

  @Override
  public Integer call() {
    byte[] salt = new byte[16];
    new SecureRandom().nextBytes(salt);
    var generator = new Argon2BytesGenerator();
    generator.init(new Argon2Parameters.Builder(Argon2Parameters.ARGON2_id).withVersion(Argon2Parameters.ARGON2_VERSION_13)
        .withMemoryAsKB(memoryKib).withIterations(iterations).withParallelism(1).withSalt(salt).build());
    byte[] tag = new byte[32];
    generator.generateBytes(password.getBytes(StandardCharsets.UTF_8), tag);
    var b64 = Base64.getEncoder().withoutPadding();
    System.out.printf("$argon2id$v=19$m=%d,t=%d,p=1$%s$%s%n", memoryKib, iterations, b64.encodeToString(salt), b64.encodeToString(tag));
    return 0;
  }
}
