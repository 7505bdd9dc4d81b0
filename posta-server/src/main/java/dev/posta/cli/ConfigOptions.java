package dev.posta.cli;

import dev.posta.config.ConfigException;
import dev.posta.config.ConfigLoader;
import dev.posta.config.PostaConfig;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --config FILE} and {@code --data DIR}, shared by every command that needs a config. */
final class ConfigOptions {
  @Option(names = "--config", paramLabel = "FILE", description = "Configuration file (TOML). Default: embedded defaults for trying Posta out.")
  Path config;

  @Option(names = "--data", paramLabel = "DIR", description = "Data folder, overriding the configuration. Default: ./posta-data with embedded defaults.")
  Path data;

  /** The configuration file, or the embedded defaults when none is given, with --data applied. */
  PostaConfig load() throws ConfigException {
    return load(config, data);
  }

  static PostaConfig load(Path file, Path data) throws ConfigException {
    PostaConfig config = file == null
        ? PostaConfig.embeddedDefaults(Path.of("posta-data").toAbsolutePath())
        : ConfigLoader.load(file);
    return data == null ? config : config.toBuilder().dataDir(data.toAbsolutePath()).build();
  }
}
