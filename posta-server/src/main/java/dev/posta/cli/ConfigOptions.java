package dev.posta.cli;

import dev.posta.config.ConfigException;
import dev.posta.config.ConfigLoader;
import dev.posta.config.PostaConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * {@code --config FILE} and {@code --data DIR}, shared by every command that needs a config.
 * Without {@code --config}, the file is {@code $POSTA_CONFIG}, else {@value #SYSTEM_CONFIG} when
 * it exists (where the systemd unit's server reads it), else the embedded defaults: so a
 * command an administrator types on the server's machine finds the server's configuration.
 */
final class ConfigOptions {
  static final String SYSTEM_CONFIG = "/etc/posta/posta.toml";

  @Option(names = "--config", paramLabel = "FILE",
      description = "Configuration file (TOML). Default: $POSTA_CONFIG, else " + SYSTEM_CONFIG
          + " when it exists, else embedded defaults for trying Posta out.")
  Path config;

  @Option(names = "--data", paramLabel = "DIR", description = "Data folder, overriding the configuration. Default: ./posta-data with embedded defaults.")
  Path data;

  /** The configuration file, or the default one, with --data applied. */
  PostaConfig load() throws ConfigException {
    return load(config, data);
  }

  static PostaConfig load(Path file, Path data) throws ConfigException {
    Path source = file != null ? file : defaultFile(System.getenv(), Path.of(SYSTEM_CONFIG));
    PostaConfig config = source == null
        ? PostaConfig.embeddedDefaults(Path.of("posta-data").toAbsolutePath())
        : ConfigLoader.load(source);
    return data == null ? config : config.toBuilder().dataDir(data.toAbsolutePath()).build();
  }

  /**
   * The file to read when none is named: {@code POSTA_CONFIG} when set (a file that is missing
   * is then an error, not a silent fallback), else {@code system} when it exists; null for the
   * embedded defaults.
   */
  static Path defaultFile(Map<String, String> env, Path system) {
    String named = env.get("POSTA_CONFIG");
    if (named != null && !named.isEmpty()) return Path.of(named);
    return Files.exists(system) ? system : null;
  }
}
