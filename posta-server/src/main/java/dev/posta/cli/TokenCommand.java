package dev.posta.cli;

import dev.posta.auth.ApiTokens;
import dev.posta.auth.UserStore;
import dev.posta.config.ConfigException;
import dev.posta.config.PostaConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code posta token create|list|revoke}: the HTTP API's bearer tokens ({@link ApiTokens}), each
 * acting as one account. {@code create} prints the token once, on standard output alone (so
 * {@code TOKEN=$(posta token create --user ...)} works), and keeps only its SHA-256; a running
 * server takes a new or revoked token at its next request. On a clustered node ({@code [cluster]
 * database}) the tokens are the cluster's, in its database: made, listed and revoked with any
 * node's configuration, and taken by every node at its next request. Exit status: 0 done, 1 not done with
 * one line on standard error, 2 usage error (picocli).
 */
@Command(
    name = "token",
    description = "Manage the HTTP API's tokens (Authorization: Bearer ...), each acting as one account.",
    subcommands = {TokenCommand.Create.class, TokenCommand.ListTokens.class, TokenCommand.Revoke.class})
public final class TokenCommand {
  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  final PrintStream out;
  final PrintStream err;

  public TokenCommand() {
    this(System.out, System.err);
  }

  /** With other streams, for tests. */
  public TokenCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  /** Not done; its message is the one line printed. */
  static final class Refused extends Exception {
    Refused(String message) {
      super(message);
    }
  }

  abstract static class Subcommand implements Callable<Integer> {
    @ParentCommand TokenCommand parent;
    @Mixin ConfigOptions options;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    abstract void run(PostaConfig config, UserStore users, ApiTokens tokens) throws IOException, Refused;

    boolean writes() {
      return true;
    }

    @Override
    public Integer call() {
      String name = "posta token " + getClass().getAnnotation(Command.class).name();
      try {
        PostaConfig config = options.load();
        String notOwner = writes() ? DataFolderOwner.refusal(config.dataDir()) : null;
        if (notOwner != null) throw new Refused(notOwner);
        // A clustered node's tokens are the cluster's, in its database, beside its accounts.
        try (UserCommand.Accounts accounts = UserCommand.Accounts.of(config)) {
          ApiTokens tokens = accounts.database() == null ? new ApiTokens(config.dataDir()) : ApiTokens.inDatabase(accounts.database());
          run(config, accounts.users(), tokens);
        }
        return 0;
      } catch (ConfigException e) {
        parent.err.println(name + ": " + String.join("; ", e.problems()));
      } catch (Refused e) {
        parent.err.println(name + ": " + e.getMessage());
      } catch (IOException e) {
        parent.err.println(name + ": " + e);
      }
      return 1;
    }
  }

  @Command(name = "create", description = "Make a token for an account and print it; it is shown this once.")
  static final class Create extends Subcommand {
    @Option(names = "--user", required = true, paramLabel = "ADDRESS", description = "The account the token acts as (posta user add).")
    String user;

    @Option(names = "--name", paramLabel = "NAME", description = "What the token is for, shown by list (default: api).")
    String name = "api";

    @Override
    void run(PostaConfig config, UserStore users, ApiTokens tokens) throws IOException, Refused {
      String canonical;
      try {
        canonical = UserStore.canonicalAddress(user);
      } catch (IllegalArgumentException e) {
        throw new Refused(user + ": " + e.getMessage());
      }
      if (users.find(canonical).isEmpty()) {
        throw new Refused("no such user: " + canonical + " (add it first: posta user add " + canonical + ")");
      }
      ApiTokens.Created made;
      try {
        made = tokens.create(canonical, name);
      } catch (IllegalArgumentException e) {
        throw new Refused("--name: " + e.getMessage());
      }
      parent.out.println(made.secret());
      parent.err.println("token " + made.token().id() + " for " + canonical + " (\"" + made.token().name()
          + "\"); it is not shown again: only its SHA-256 is kept");
    }
  }

  @Command(name = "list", description = "List the tokens: id, user, created, name (never the token itself).")
  static final class ListTokens extends Subcommand {
    @Override
    boolean writes() {
      return false;
    }

    @Override
    void run(PostaConfig config, UserStore users, ApiTokens tokens) throws IOException {
      for (ApiTokens.Token t : tokens.list()) parent.out.println(t.id() + "  " + t.user() + "  " + t.created() + "  " + t.name());
    }
  }

  @Command(name = "revoke", description = "Revoke a token by its id (from list); it stops working at once.")
  static final class Revoke extends Subcommand {
    @Parameters(paramLabel = "ID", description = "The token's id as list shows it.")
    String id;

    @Override
    void run(PostaConfig config, UserStore users, ApiTokens tokens) throws IOException, Refused {
      ApiTokens.Token revoked = tokens.revoke(id).orElseThrow(() -> new Refused("no token with id " + id));
      parent.out.println("revoked " + revoked.id() + " (" + revoked.user() + ", \"" + revoked.name() + "\")");
    }
  }
}
