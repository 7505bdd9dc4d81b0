package dev.posta.config;

import dev.posta.config.Toml.Bool;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code [submission]} section: who may relay without authenticating, where AUTH is offered,
 * which sender addresses an authenticated user may use, and when failed AUTH attempts lock a
 * client address out.
 *
 * <p>Guarantees: trusted networks are IP networks ({@code "192.0.2.0/24"}, {@code
 * "2001:db8::/32"}), never names; {@code auth-failures-before-lockout} is between 1 and 1000 and
 * {@code auth-lockout} between 1s and 1h; {@code min-password-length} between 1 and 1024. What is left out keeps {@link
 * PostaConfig.Submission#defaults()}: nobody relays unauthenticated. Unknown keys are refused.
 */
final class SubmissionSection {
  static final List<String> SUBMISSION_KEYS =
      List.of("trusted-networks", "plaintext-auth-on-loopback", "sender-must-be-owned",
          "auth-failures-before-lockout", "auth-lockout", "min-password-length");

  private final TableReader reader;

  SubmissionSection(TableReader reader) {
    this.reader = reader;
  }

  PostaConfig.Submission read(Table root) {
    Table table = reader.get(root, "", "submission", Table.class).orElse(null);
    PostaConfig.Submission d = PostaConfig.Submission.defaults();
    if (table == null) return d;
    reader.unknownKeys(table, "in [submission]", SUBMISSION_KEYS);
    List<Network> trusted = new ArrayList<>();
    for (Str s : reader.strings(table, "submission", "trusted-networks")) {
      try {
        trusted.add(Network.parse(s.value()));
      } catch (IllegalArgumentException e) {
        reader.problem(s.line(), "submission.trusted-networks: " + e.getMessage());
      }
    }
    // Read before the two flags, so that problems on one line keep the order they always had.
    int failures = reader.bounded(table, "submission", "auth-failures-before-lockout", 1, 1000).orElse(d.authFailuresBeforeLockout());
    return new PostaConfig.Submission(
        List.copyOf(trusted),
        reader.get(table, "submission", "plaintext-auth-on-loopback", Bool.class).map(Bool::value).orElse(d.plaintextAuthOnLoopback()),
        reader.get(table, "submission", "sender-must-be-owned", Bool.class).map(Bool::value).orElse(d.senderMustBeOwned()),
        failures,
        reader.duration(table, "submission", "auth-lockout").orElse(d.authLockout()),
        reader.bounded(table, "submission", "min-password-length", 1, 1024).orElse(d.minPasswordLength()));
  }
}
