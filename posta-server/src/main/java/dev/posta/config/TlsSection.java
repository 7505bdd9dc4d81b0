package dev.posta.config;

import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The {@code [tls]} section: where the server certificate for STARTTLS and implicit TLS comes
 * from.
 *
 * <p>Guarantees: the certificate and its key are both set, as paths relative to the
 * configuration file's folder, or neither is, for a self-signed certificate. Neither file is read
 * here. Unknown keys are refused.
 */
final class TlsSection {
  static final List<String> TLS_KEYS = List.of("certificate", "key");

  private final TableReader reader;

  TlsSection(TableReader reader) {
    this.reader = reader;
  }

  PostaConfig.Tls read(Table root) {
    Table table = reader.get(root, "", "tls", Table.class).orElse(null);
    if (table == null) return PostaConfig.Tls.SELF_SIGNED;
    reader.unknownKeys(table, "in [tls]", TLS_KEYS);
    Optional<Path> certificate = reader.get(table, "tls", "certificate", Str.class).flatMap(s -> reader.path(s, "tls.certificate"));
    Optional<Path> key = reader.get(table, "tls", "key", Str.class).flatMap(s -> reader.path(s, "tls.key"));
    if (certificate.isPresent() != key.isPresent()) {
      reader.problem(table.line(), "tls: set both certificate and key, or neither (for a self-signed certificate)");
    }
    return new PostaConfig.Tls(certificate, key);
  }
}
