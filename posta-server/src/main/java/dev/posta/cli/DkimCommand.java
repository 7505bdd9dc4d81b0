package dev.posta.cli;

import dev.posta.config.ConfigException;
import dev.posta.config.PostaConfig;
import dev.posta.mailauth.dkim.DkimAlgorithm;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import dev.posta.mailauth.dkim.SigningKey;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code posta dkim keygen DOMAIN [--selector S] [--algorithm rsa|ed25519]}: makes a DKIM key in
 * {@code <data>/dkim/DOMAIN/S.pem} ({@link DkimKeyFiles}: RSA 2048 bits or Ed25519, the file
 * 0600 in 0700 folders, never over an existing key) and prints the TXT record to publish, in
 * zone-file form, with the notes as zone-file comments (";"), so the whole output can go into
 * a zone file.
 *
 * <p>The default selector is dated ({@code 20250712-rsa}): each rotation gets a new one. Where
 * the domain has no {@code [dkim.selectors]} entry, every key in its folder signs, at most two
 * of a kind ({@link dev.posta.mailauth.dkim.SigningKeys}): a third is refused here rather than
 * at the next start. Exit status: 0 made, 1 not made (with one line on standard error), 2 usage
 * error.
 */
@Command(name = "dkim", description = "DKIM signing keys.", subcommands = {DkimCommand.Keygen.class})
public final class DkimCommand {
  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  final PrintStream out;
  final PrintStream err;
  final Clock clock;

  public DkimCommand() {
    this(System.out, System.err, Clock.systemUTC());
  }

  /** With other streams and a clock (for the dated selector), for tests. */
  public DkimCommand(PrintStream out, PrintStream err, Clock clock) {
    this.out = out;
    this.err = err;
    this.clock = clock;
  }

  @Command(name = "keygen", description = {
      "Make a DKIM private key for DOMAIN in <data>/dkim/DOMAIN/SELECTOR.pem and print the DNS record to publish.",
      "Publish the record, then reload Posta: it signs the mail its users send from DOMAIN."})
  static final class Keygen implements Callable<Integer> {
    @ParentCommand DkimCommand parent;
    @Mixin ConfigOptions options;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Parameters(paramLabel = "DOMAIN", description = "The domain whose mail the key signs (d=).")
    String domain;

    @Option(names = "--selector", paramLabel = "S", description = "The selector (s=). Default: today's date and the algorithm, e.g. 20250712-rsa.")
    String selector;

    @Option(names = "--algorithm", paramLabel = "ALG", description = "rsa (2048 bits, what every receiver checks) or ed25519 (RFC 8463). Default: rsa.")
    String algorithm = "rsa";

    @Override
    public Integer call() {
      PrintStream err = parent.err;
      DkimAlgorithm.KeyType type = switch (algorithm.toLowerCase(Locale.ROOT)) {
        case "rsa" -> DkimAlgorithm.KeyType.RSA;
        case "ed25519" -> DkimAlgorithm.KeyType.ED25519;
        default -> null;
      };
      if (type == null) return usage("--algorithm must be rsa or ed25519, not '" + algorithm + "'");
      String d = DkimKeyFiles.domainName(domain);
      if (d == null) return usage("'" + domain + "' is not a domain name");
      String s = selector == null ? DkimKeyFiles.defaultSelector(LocalDate.now(parent.clock), type) : selector.toLowerCase(Locale.ROOT);
      if (!DkimKeyFiles.isSelector(s)) return usage("'" + selector + "' is not a selector (letters, digits and hyphens, labels separated by dots)");
      PostaConfig config;
      try {
        config = options.load();
      } catch (ConfigException e) {
        err.println("posta dkim keygen: " + String.join("; ", e.problems()));
        return 1;
      }
      try {
        String notOwner = DataFolderOwner.refusal(config.dataDir());
        if (notOwner != null) {
          err.println("posta dkim keygen: " + notOwner);
          return 1;
        }
      } catch (java.io.IOException e) {
        err.println("posta dkim keygen: " + e);
        return 1;
      }
      var configured = config.dkim().selectors().get(d);
      if (configured == null) {
        List<String> sameKind = keysOfKind(config.dataDir(), d, type);
        if (sameKind.size() >= 2) {
          err.println("posta dkim keygen: " + d + " has " + sameKind.size() + " " + type.tag + " keys already (" + String.join(", ", sameKind)
              + "), and at most two of a kind sign: remove the one you retire first");
          return 1;
        }
      }
      DkimKeyFiles.Generated key;
      try {
        key = DkimKeyFiles.generate(config.dataDir(), d, s, type);
      } catch (FileAlreadyExistsException e) {
        err.println("posta dkim keygen: " + e.getFile() + " exists already: choose another --selector");
        return 1;
      } catch (IOException e) {
        err.println("posta dkim keygen: cannot write the key: " + e);
        return 1;
      }
      PrintStream out = parent.out;
      out.println("; DKIM key for " + d + ", selector " + s + " (" + (type == DkimAlgorithm.KeyType.RSA ? "rsa-sha256, " + DkimKeyFiles.RSA_BITS + " bits" : "ed25519-sha256")
          + "): " + key.file());
      if (configured == null) {
        out.println("; Publish this record in the DNS of " + d + ", then reload Posta: it signs the mail from " + d + " with every key in "
            + key.file().getParent() + ".");
      } else if (configured.stream().noneMatch(x -> x.name().equals(s))) {
        out.println("; Publish this record in the DNS of " + d + ", add \"" + s + "\" to dkim.selectors.\"" + d + "\" in " + config.source()
            .map(Path::toString).orElse("the configuration") + " (only the selectors listed there sign), then reload Posta.");
      } else {
        out.println("; Publish this record in the DNS of " + d + ", then reload Posta: dkim.selectors lists " + s + ".");
      }
      out.println(DkimKeyFiles.txtRecord(d, s, key.publicKey()));
      return 0;
    }

    private int usage(String problem) {
      parent.err.println("posta dkim keygen: " + problem);
      return 2;
    }

    /** The selectors of the domain's folder whose keys are of {@code type}. */
    private static List<String> keysOfKind(Path dataDir, String domain, DkimAlgorithm.KeyType type) {
      Path folder = DkimKeyFiles.folder(dataDir).resolve(domain);
      List<String> selectors = new ArrayList<>();
      if (!Files.isDirectory(folder)) return selectors;
      try (Stream<Path> files = Files.list(folder)) {
        for (Path file : files.sorted().toList()) {
          String name = file.getFileName().toString();
          if (!name.endsWith(".pem")) continue;
          String s = name.substring(0, name.length() - 4);
          try {
            SigningKey key = DkimKeyFiles.read(file, domain, s);
            if (key.algorithm().keyType == type) selectors.add(s);
          } catch (DkimKeyFiles.KeyFileException e) {
            // not a key: the server will say so at its start; it is not one of this kind
          }
        }
      } catch (IOException e) {
        // an unreadable folder: generating the key will say so
      }
      return selectors;
    }
  }
}
