package dev.posta.cli;

import dev.posta.auth.AccountRules;
import dev.posta.auth.UserStore;
import dev.posta.config.ConfigException;
import dev.posta.config.PostaConfig;
import dev.posta.database.Database;
import java.io.ByteArrayOutputStream;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code posta user add|passwd|del|list|admin|disable|enable}: the accounts in {@code
 * <data>/users} ({@link UserStore}), which a running server picks up within a second; on a
 * clustered node, the accounts in the cluster's database, which every node picks up at once
 * (within 5 s when a notification is lost). An
 * account may be an operator's ({@code add --admin}, {@code admin}), and may be disabled (no
 * login anywhere; its mail is still delivered).
 *
 * <p>A password is never a command-line argument (those show in {@code ps} and shell history): it
 * is the first line of standard input when that is not a terminal, else typed twice at a prompt
 * without echo. Empty passwords are refused, and {@code add} takes only addresses in a local
 * domain of the configuration. Exit status: 0 done, 1 not done with one line on standard error,
 * 2 usage error (picocli).
 */
@Command(
    name = "user",
    description = "Manage the accounts that may log in (SMTP AUTH, IMAP, POP3, the web view and API).",
    subcommands = {UserCommand.Add.class, UserCommand.Passwd.class, UserCommand.Del.class, UserCommand.ListUsers.class,
        UserCommand.Admin.class, UserCommand.Disable.class, UserCommand.Enable.class})
public final class UserCommand {
  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  final InputStream in;
  final PrintStream out;
  final PrintStream err;
  final Supplier<Console> console;

  public UserCommand() {
    this(System.in, System.out, System.err, System::console);
  }

  /** With other streams and no terminal, for tests. */
  public UserCommand(InputStream in, PrintStream out, PrintStream err) {
    this(in, out, err, () -> null);
  }

  private UserCommand(InputStream in, PrintStream out, PrintStream err, Supplier<Console> console) {
    this.in = in;
    this.out = out;
    this.err = err;
    this.console = console;
  }

  /**
   * The accounts a command reads or changes: the users file of the data folder, or, on a
   * clustered node ({@code [cluster] database}), the cluster's, in its database, opened for the
   * command and closed with it.
   */
  record Accounts(UserStore users, Database database) implements AutoCloseable {
    static Accounts of(PostaConfig config) throws IOException {
      if (config.cluster().database().isEmpty()) return new Accounts(new UserStore(config.dataDir()), null);
      String url = config.cluster().database().get();
      Database database;
      try {
        database = Database.open(url, "posta user", 2);
      } catch (SQLException e) {
        throw new IOException("the cluster's database " + Database.shownUrl(url) + " cannot be reached: " + e.getMessage(), e);
      }
      return new Accounts(UserStore.inDatabase(database, config.dataDir(), java.time.Duration.ofMinutes(5)), database);
    }

    @Override
    public void close() {
      users.close();
      if (database != null) database.close();
    }
  }

  /** A change that was not made; its message is the one line printed. */
  static final class Refused extends Exception {
    Refused(String message) {
      super(message);
    }
  }

  abstract static class Subcommand implements Callable<Integer> {
    @ParentCommand UserCommand parent;
    @Mixin ConfigOptions options;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    abstract String run(PostaConfig config, UserStore users) throws IOException, Refused, UserStore.UserException;

    /** Whether it changes the users file, so that only the data folder's owner may run it. */
    boolean writes() {
      return true;
    }

    @Override
    public Integer call() {
      String name = "posta user " + getClass().getAnnotation(Command.class).name();
      try {
        PostaConfig config = options.load();
        String notOwner = writes() ? DataFolderOwner.refusal(config.dataDir()) : null;
        if (notOwner != null) throw new Refused(notOwner);
        try (Accounts accounts = Accounts.of(config)) {
          String done = run(config, accounts.users());
          if (done != null) parent.out.println(done);
        }
        return 0;
      } catch (ConfigException e) {
        parent.err.println(name + ": " + String.join("; ", e.problems()));
      } catch (Refused | UserStore.UserException e) {
        parent.err.println(name + ": " + e.getMessage());
      } catch (IOException e) {
        parent.err.println(name + ": " + e);
      }
      return 1;
    }

    /**
     * The new password: typed twice at a terminal, else the first line of standard input; one
     * shorter than {@code [submission] min-password-length} characters is refused.
     */
    char[] newPassword(String address, PostaConfig config) throws IOException, Refused {
      Console c = parent.console.get();
      char[] password;
      if (c != null && c.isTerminal()) {
        password = c.readPassword("New password for %s: ", address);
        char[] again = password == null ? null : c.readPassword("Repeat it: ");
        if (again == null) throw new Refused("no password given");
        boolean same = Arrays.equals(password, again);
        Arrays.fill(again, '\0');
        if (!same) throw new Refused("the passwords do not match");
      } else {
        password = firstLine(parent.in);
      }
      String refused = AccountRules.passwordRefusal(password, config.submission().minPasswordLength());
      if (refused != null) {
        Arrays.fill(password, '\0');
        throw new Refused(refused);
      }
      return password;
    }

    private static char[] firstLine(InputStream in) throws IOException, Refused {
      var line = new ByteArrayOutputStream();
      for (int b = in.read(); b != -1 && b != '\n'; b = in.read()) line.write(b);
      byte[] bytes = line.toByteArray();
      int length = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
      try {
        CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(ByteBuffer.wrap(bytes, 0, length));
        char[] password = Arrays.copyOfRange(chars.array(), chars.position(), chars.limit());
        Arrays.fill(chars.array(), '\0');
        return password;
      } catch (CharacterCodingException e) {
        throw new Refused("the password on standard input is not UTF-8");
      } finally {
        Arrays.fill(bytes, (byte) 0);
      }
    }
  }

  @Command(name = "add", description = "Add an account; the password is read from standard input or prompted for.")
  static final class Add extends Subcommand {
    @Parameters(paramLabel = "ADDRESS", description = "The account's address; in a local domain it is also a mailbox.")
    String address;

    @Option(names = "--admin", description = "An operator's account: the queue, users and server pages of the web view and API.")
    boolean admin;

    @Override
    String run(PostaConfig config, UserStore users) throws IOException, Refused, UserStore.UserException {
      String canonical;
      try {
        canonical = UserStore.canonicalAddress(address);
      } catch (IllegalArgumentException e) {
        throw new Refused(address + ": " + e.getMessage());
      }
      if (users.find(canonical).isPresent()) throw new Refused(canonical + " already exists");
      char[] password = newPassword(canonical, config);
      try {
        users.add(canonical, password, admin);
      } finally {
        Arrays.fill(password, '\0');
      }
      String note = AccountRules.sendOnlyNote(canonical, config.domains().stream().map(PostaConfig.LocalDomain::name).toList());
      return "added " + canonical + (admin ? " (admin)" : "") + (note == null ? "" : " (" + note + ")");
    }
  }

  @Command(name = "passwd", description = "Change an account's password.")
  static final class Passwd extends Subcommand {
    @Parameters(paramLabel = "ADDRESS")
    String address;

    @Override
    String run(PostaConfig config, UserStore users) throws IOException, Refused, UserStore.UserException {
      if (users.find(address).isEmpty()) throw new Refused("no such user: " + address);
      char[] password = newPassword(address, config);
      try {
        users.setPassword(address, password);
      } finally {
        Arrays.fill(password, '\0');
      }
      return "password changed for " + UserStore.canonicalAddress(address);
    }
  }

  @Command(name = "del", description = "Remove an account (its mail stays).")
  static final class Del extends Subcommand {
    @Parameters(paramLabel = "ADDRESS")
    String address;

    @Override
    String run(PostaConfig config, UserStore users) throws IOException, Refused, UserStore.UserException {
      users.remove(address);
      return "removed " + UserStore.canonicalAddress(address);
    }
  }

  @Command(name = "list", description = "List the accounts, one a line: the address, then a TAB and its attributes (admin, disabled) when it has any.")
  static final class ListUsers extends Subcommand {
    @Override
    boolean writes() {
      return false;
    }

    @Override
    String run(PostaConfig config, UserStore users) throws IOException, Refused, UserStore.UserException {
      for (String address : users.list()) {
        List<String> attributes = users.find(address).map(UserStore.User::attributes).orElse(List.of());
        parent.out.println(attributes.isEmpty() ? address : address + "\t" + String.join(",", attributes));
      }
      return null;
    }
  }

  @Command(name = "admin", description = "Make an account an operator's (the web view's and API's queue, users and server pages), or no longer with --revoke.")
  static final class Admin extends Subcommand {
    @Parameters(paramLabel = "ADDRESS")
    String address;

    @Option(names = "--revoke", description = "Make it an ordinary account again.")
    boolean revoke;

    @Override
    String run(PostaConfig config, UserStore users) throws IOException, Refused, UserStore.UserException {
      users.setAdmin(address, !revoke);
      return UserStore.canonicalAddress(address) + (revoke ? " is no longer an admin" : " is an admin");
    }
  }

  @Command(name = "disable", description = "Refuse every login of an account (password, SCRAM, API tokens); its mail is still delivered.")
  static final class Disable extends Subcommand {
    @Parameters(paramLabel = "ADDRESS")
    String address;

    @Override
    String run(PostaConfig config, UserStore users) throws IOException, Refused, UserStore.UserException {
      users.setDisabled(address, true);
      return "disabled " + UserStore.canonicalAddress(address) + " (sessions already logged in end when they disconnect)";
    }
  }

  @Command(name = "enable", description = "Let a disabled account log in again.")
  static final class Enable extends Subcommand {
    @Parameters(paramLabel = "ADDRESS")
    String address;

    @Override
    String run(PostaConfig config, UserStore users) throws IOException, Refused, UserStore.UserException {
      users.setDisabled(address, false);
      return "enabled " + UserStore.canonicalAddress(address);
    }
  }
}
