package dev.posta.cli;

import dev.posta.config.ConfigException;
import dev.posta.config.ConfigPrinter;
import dev.posta.config.PostaConfig;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code posta config show}: the configuration in effect, as TOML that {@code posta
 * check-config} takes back. Like {@code postconf -n}, only the settings that differ from their
 * defaults; with {@code --all}, like {@code postconf}, every key. Read from the same file every
 * command reads ({@link ConfigOptions}), so it shows what {@code posta serve} would run with;
 * a password set in the file is never printed ({@link ConfigPrinter}).
 */
@Command(name = "config", mixinStandardHelpOptions = true, description = "Look at the configuration.",
    subcommands = ConfigCommand.Show.class)
final class ConfigCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    System.err.println("usage: posta config show [--all] [--config FILE]");
    return 2;
  }

  @Command(name = "show", mixinStandardHelpOptions = true,
      description = {"Print the configuration in effect as TOML: the settings that differ from the defaults (as postconf -n),",
          "or every key with --all (as postconf). Passwords set in the file are not printed."})
  static final class Show implements Callable<Integer> {
    @Mixin ConfigOptions options;

    @Option(names = "--all", description = "every key, defaults included")
    boolean all;

    @Override
    public Integer call() {
      PostaConfig config;
      try {
        config = options.load();
      } catch (ConfigException e) {
        System.err.println(e.getMessage());
        return 2;
      }
      System.out.print(ConfigPrinter.toml(config, all));
      return 0;
    }
  }
}
