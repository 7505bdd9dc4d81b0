package dev.posta.web;

import dev.posta.PostaServer;
import dev.posta.auth.AccountRules;
import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import java.io.IOException;
import java.net.InetAddress;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;

/**
 * What an administrator may do to the accounts from the web, one place for both faces: the
 * operators' API ({@code web.api.UsersApi}) and the users page ({@code web.page.UserPages}) ask
 * here, so they refuse alike, in the same words, and log alike. The rules are {@code posta
 * user}'s ({@link AccountRules}: the canonical address, {@code [submission] min-password-length},
 * the send-only note) and the server's own {@link UserStore} makes each change, so it holds at the
 * next login.
 *
 * <p>Refusals are {@link ApiError}s with their status: 400 a bad address or password, 404 no
 * such account, 409 an account that exists already or changed meanwhile, and an administrator's
 * own account, which they cannot disable, remove or take the admin attribute from (the last admin
 * would lock everyone out of the operators' pages and API; another admin can). Every change logs
 * one line on the face's logger with the admin's account and client address: {@code
 * http[192.0.2.7]: admin@example.org: disabled bob@example.org}.
 */
public final class AccountChanges {
  private final PostaServer server;
  private final UserStore users;
  private final Logger log;

  /** Changes made through the server's accounts, logged on {@code log} (the face's, so a line says which face made it). */
  public AccountChanges(PostaServer server, Logger log) {
    this.server = server;
    this.users = server.users();
    this.log = log;
  }

  /** An account added: its canonical address, and the send-only note when it has no mailbox here (else null). */
  public record Added(String address, String note) {}

  /** The local domains' names, for {@link AccountRules#hasMailbox}. */
  public List<String> localDomains() {
    return server.config().domains().stream().map(PostaConfig.LocalDomain::name).toList();
  }

  /**
   * Adds the account at {@code typed} (any case; stored canonical) with {@code password}, an
   * administrator's when {@code makeAdmin}. The password is wiped, whatever happens.
   */
  public Added add(String admin, InetAddress client, String typed, char[] password, boolean makeAdmin) throws ApiError, IOException {
    try {
      String canonical;
      try {
        canonical = UserStore.canonicalAddress(typed);
      } catch (IllegalArgumentException e) {
        throw new ApiError(400, "address: " + typed + ": " + e.getMessage());
      }
      if (users.find(canonical).isPresent()) throw conflict(canonical + " already exists");
      checkPassword(password);
      try {
        users.add(canonical, password, makeAdmin);
      } catch (UserStore.UserException e) {
        throw conflict(e.getMessage());
      }
      String note = AccountRules.sendOnlyNote(canonical, localDomains());
      log.info("http[{}]: {}: added {}{}{}", client.getHostAddress(), admin, canonical, makeAdmin ? " (admin)" : "",
          note == null ? "" : " (" + note + ")");
      return new Added(canonical, note);
    } finally {
      Arrays.fill(password, '\0');
    }
  }

  /** Disables the account (no login anywhere; its mail is still delivered), or enables it again. */
  public UserStore.User setDisabled(String admin, InetAddress client, String address, boolean disabled) throws ApiError, IOException {
    UserStore.User user = existing(address);
    if (disabled && user.address().equals(admin)) throw conflict("you cannot disable your own account (" + admin + "); another admin can");
    change(() -> users.setDisabled(user.address(), disabled));
    log.info("http[{}]: {}: {} {}", client.getHostAddress(), admin, disabled ? "disabled" : "enabled", user.address());
    return existing(user.address());
  }

  /** Makes the account an administrator's, or an ordinary one again. */
  public UserStore.User setAdmin(String admin, InetAddress client, String address, boolean makeAdmin) throws ApiError, IOException {
    UserStore.User user = existing(address);
    if (!makeAdmin && user.address().equals(admin)) {
      throw conflict("you cannot revoke the admin attribute of your own account (" + admin + "); another admin can");
    }
    change(() -> users.setAdmin(user.address(), makeAdmin));
    log.info("http[{}]: {}: {} {}", client.getHostAddress(), admin, makeAdmin ? "made an admin" : "revoked the admin attribute of",
        user.address());
    return existing(user.address());
  }

  /** Gives the account a new password, checked as {@code posta user passwd} checks one; the password is wiped, whatever happens. */
  public void setPassword(String admin, InetAddress client, String address, char[] password) throws ApiError, IOException {
    try {
      UserStore.User user = existing(address);
      checkPassword(password);
      change(() -> users.setPassword(user.address(), password));
      log.info("http[{}]: {}: changed the password of {}", client.getHostAddress(), admin, user.address());
    } finally {
      Arrays.fill(password, '\0');
    }
  }

  /** Removes the account and revokes its API tokens; its mail stays. */
  public void remove(String admin, InetAddress client, String address) throws ApiError, IOException {
    UserStore.User user = existing(address);
    if (user.address().equals(admin)) throw conflict("you cannot remove your own account (" + admin + "); another admin can");
    change(() -> users.remove(user.address()));
    log.info("http[{}]: {}: removed {} (its mail stays)", client.getHostAddress(), admin, user.address());
  }

  /** The account at {@code address} (any case), or 404. */
  public UserStore.User existing(String address) throws ApiError, IOException {
    return users.find(address).orElseThrow(() -> ApiError.notFound("no such user: " + address));
  }

  /** 400 with {@code posta user}'s words when the password is refused. */
  private void checkPassword(char[] password) throws ApiError {
    String refused = AccountRules.passwordRefusal(password, server.config().submission().minPasswordLength());
    if (refused != null) throw new ApiError(400, refused);
  }

  private interface Change {
    void make() throws IOException, UserStore.UserException;
  }

  private static void change(Change change) throws ApiError, IOException {
    try {
      change.make();
    } catch (UserStore.UserException e) { // changed by someone else meanwhile (posta user beside the server)
      throw conflict(e.getMessage());
    }
  }

  private static ApiError conflict(String message) {
    return new ApiError(409, message);
  }
}
