package dev.posta.web.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.posta.PostaServer;
import dev.posta.auth.AccountRules;
import dev.posta.auth.UserStore;
import dev.posta.config.PostaConfig;
import dev.posta.web.ApiError;
import dev.posta.web.Exchange;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The accounts under {@code /api/v1/users}, for an admin's token ({@link Operators}), with the
 * rules of {@code posta user} ({@link AccountRules}, {@link UserStore}):
 *
 * <ul>
 *   <li>{@code GET /users}: every account, sorted: address, admin, disabled, and whether it has a
 *       mailbox here (it is in a local domain);
 *   <li>{@code POST /users} {@code {"address", "password", "admin"}}: adds one, 201; the password
 *       as long as {@code [submission] min-password-length} asks; outside the local domains with
 *       a note that it may send but has no mailbox; 409 when the address has an account;
 *   <li>{@code POST /users/{address}/disable|enable}: no login anywhere (its mail still
 *       delivered) / again;
 *   <li>{@code PUT /users/{address}/password} {@code {"password"}}: a new password, 204;
 *   <li>{@code DELETE /users/{address}}: removes the account (its mail stays), 204.
 * </ul>
 *
 * <p>An admin cannot disable or remove their own account (409): the last admin would lock
 * everyone out of the operators' API, and another admin can do it. An address without an account
 * is 404. Every change is logged with the admin's account and address: {@code UsersApi:
 * http[192.0.2.7]: admin@example.org: disabled bob@example.org}. The server's own {@link
 * UserStore} makes the change, so it holds at the next login (other processes see it within a
 * second, as after {@code posta user}).
 */
public final class UsersApi {
  private static final Logger log = LoggerFactory.getLogger(UsersApi.class);
  private static final List<String> ADD_FIELDS = List.of("address", "password", "admin");
  private static final List<String> PASSWORD_FIELDS = List.of("password");

  private final PostaServer server;

  public UsersApi(PostaServer server) {
    this.server = server;
  }

  /** Whether {@code rest} (the path after {@code /api/v1}) is this API's. */
  public static boolean serves(String rest) {
    return rest.equals("/users") || rest.startsWith("/users/");
  }

  /** Serves {@code rest}, the path after {@code /api/v1}. */
  public void handle(Exchange x, String rest, MessagesApi.SignIn signIn) throws ApiError, IOException {
    List<String> s = Arrays.stream(rest.split("/", -1)).skip(1).toList();
    String path = "/api/v1" + rest;
    if (s.stream().anyMatch(String::isEmpty) || s.size() > 3) throw ApiError.notFound("no such resource: " + path);
    String act = s.size() == 3 ? s.get(2) : null;
    String allowed = switch (s.size()) {
      case 1 -> "GET, POST";
      case 2 -> "DELETE";
      default -> switch (act) {
        case "disable", "enable" -> "POST";
        case "password" -> "PUT";
        default -> throw ApiError.notFound("no such resource: " + path);
      };
    };
    Operators.allow(x, path, allowed);
    String admin = Operators.admin(x, signIn);
    if (s.size() == 1) {
      if (x.method().equals("POST")) add(x, admin);
      else list(x);
      return;
    }
    UserStore.User user = existing(s.get(1));
    try {
      switch (act == null ? "delete" : act) {
        case "disable" -> {
          if (user.address().equals(admin)) throw Operators.conflict("you cannot disable your own account (" + admin + "); another admin can");
          server.users().setDisabled(user.address(), true);
          log.info("http[{}]: {}: disabled {}", x.client().getHostAddress(), admin, user.address());
          x.json(200, json(existing(user.address())));
        }
        case "enable" -> {
          server.users().setDisabled(user.address(), false);
          log.info("http[{}]: {}: enabled {}", x.client().getHostAddress(), admin, user.address());
          x.json(200, json(existing(user.address())));
        }
        case "password" -> {
          char[] password = password(x, PASSWORD_FIELDS, "{\"password\": \"...\"}");
          try {
            server.users().setPassword(user.address(), password);
          } finally {
            Arrays.fill(password, '\0');
          }
          log.info("http[{}]: {}: changed the password of {}", x.client().getHostAddress(), admin, user.address());
          x.noContent();
        }
        default -> {
          if (user.address().equals(admin)) throw Operators.conflict("you cannot remove your own account (" + admin + "); another admin can");
          server.users().remove(user.address());
          log.info("http[{}]: {}: removed {} (its mail stays)", x.client().getHostAddress(), admin, user.address());
          x.noContent();
        }
      }
    } catch (UserStore.UserException e) { // changed by someone else meanwhile (posta user beside the server)
      throw Operators.conflict(e.getMessage());
    }
  }

  private void list(Exchange x) throws ApiError, IOException {
    if (!x.query().isEmpty()) throw new ApiError(400, "GET /api/v1/users takes no parameters");
    List<Map<String, Object>> users = new ArrayList<>();
    for (String address : server.users().list()) {
      Optional<UserStore.User> user = server.users().find(address);
      if (user.isPresent()) users.add(json(user.get()));
    }
    x.json(200, Map.of("users", users));
  }

  private void add(Exchange x, String admin) throws ApiError, IOException {
    String example = "{\"address\": \"bob@example.org\", \"password\": \"...\", \"admin\": false}";
    JsonNode json = Operators.object(x, ADD_FIELDS, example);
    String typed = Operators.text(json, "address");
    if (typed == null) throw new ApiError(400, "address: required, as in " + example);
    boolean makeAdmin = Operators.flag(json, "admin");
    String canonical;
    try {
      canonical = UserStore.canonicalAddress(typed);
    } catch (IllegalArgumentException e) {
      throw new ApiError(400, "address: " + typed + ": " + e.getMessage());
    }
    if (server.users().find(canonical).isPresent()) throw Operators.conflict(canonical + " already exists");
    char[] password = password(json, example);
    try {
      server.users().add(canonical, password, makeAdmin);
    } catch (UserStore.UserException e) {
      throw Operators.conflict(e.getMessage());
    } finally {
      Arrays.fill(password, '\0');
    }
    String note = AccountRules.sendOnlyNote(canonical, localDomains());
    log.info("http[{}]: {}: added {}{}{}", x.client().getHostAddress(), admin, canonical, makeAdmin ? " (admin)" : "",
        note == null ? "" : " (" + note + ")");
    Map<String, Object> answer = json(existing(canonical));
    answer.put("note", note);
    x.send(201, "application/json", Exchange.JSON.writeValueAsBytes(answer), Map.of("Location", "/api/v1/users/" + canonical));
  }

  private char[] password(Exchange x, List<String> fields, String example) throws ApiError, IOException {
    return password(Operators.object(x, fields, example), example);
  }

  /** The body's password, checked as {@code posta user} checks one; 400 with the same words. */
  private char[] password(JsonNode json, String example) throws ApiError {
    String typed = Operators.text(json, "password");
    if (typed == null) throw new ApiError(400, "password: required, as in " + example);
    char[] password = typed.toCharArray();
    String refused = AccountRules.passwordRefusal(password, server.config().submission().minPasswordLength());
    if (refused != null) {
      Arrays.fill(password, '\0');
      throw new ApiError(400, refused);
    }
    return password;
  }

  /** The account at {@code address} (any case), or 404. */
  private UserStore.User existing(String address) throws ApiError, IOException {
    return server.users().find(address).orElseThrow(() -> ApiError.notFound("no such user: " + address));
  }

  private List<String> localDomains() {
    return server.config().domains().stream().map(PostaConfig.LocalDomain::name).toList();
  }

  private Map<String, Object> json(UserStore.User user) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("address", user.address());
    m.put("admin", user.admin());
    m.put("disabled", user.disabled());
    m.put("mailbox", AccountRules.hasMailbox(user.address(), localDomains()));
    return m;
  }
}
