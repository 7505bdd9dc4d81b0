package dev.posta.web.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.posta.PostaServer;
import dev.posta.auth.AccountRules;
import dev.posta.auth.UserStore;
import dev.posta.web.AccountChanges;
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
 *   <li>{@code POST /users/{address}/admin|revoke}: an administrator's account (the operators'
 *       API and pages) / an ordinary one again, as {@code posta user admin [--revoke]};
 *   <li>{@code PUT /users/{address}/password} {@code {"password"}}: a new password, 204;
 *   <li>{@code DELETE /users/{address}}: removes the account (its mail stays), 204.
 * </ul>
 *
 * <p>An admin cannot disable or remove their own account, nor revoke its attribute (409): the last admin would lock
 * everyone out of the operators' API, and another admin can do it. An address without an account
 * is 404. The rules, their words and the log lines are {@link AccountChanges}'s, which the users
 * page shares. Every change is logged with the admin's account and address: {@code UsersApi:
 * http[192.0.2.7]: admin@example.org: disabled bob@example.org}. The server's own {@link
 * UserStore} makes the change, so it holds at the next login (other processes see it within a
 * second, as after {@code posta user}).
 */
public final class UsersApi {
  private static final Logger log = LoggerFactory.getLogger(UsersApi.class);
  private static final List<String> ADD_FIELDS = List.of("address", "password", "admin");
  private static final List<String> PASSWORD_FIELDS = List.of("password");

  private final PostaServer server;
  /** The rules and the log lines this API shares with the users page. */
  private final AccountChanges accounts;

  public UsersApi(PostaServer server) {
    this.server = server;
    this.accounts = new AccountChanges(server, log);
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
        case "disable", "enable", "admin", "revoke" -> "POST";
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
    String address = s.get(1);
    switch (act == null ? "delete" : act) {
      case "disable", "enable" -> x.json(200, json(accounts.setDisabled(admin, x.client(), address, act.equals("disable"))));
      case "admin", "revoke" -> x.json(200, json(accounts.setAdmin(admin, x.client(), address, act.equals("admin"))));
      case "password" -> {
        accounts.existing(address); // 404 before the body is read
        accounts.setPassword(admin, x.client(), address, password(x, PASSWORD_FIELDS, "{\"password\": \"...\"}"));
        x.noContent();
      }
      default -> {
        accounts.remove(admin, x.client(), address);
        x.noContent();
      }
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
    AccountChanges.Added added = accounts.add(admin, x.client(), typed, password(json, example), makeAdmin);
    Map<String, Object> answer = json(accounts.existing(added.address()));
    answer.put("note", added.note());
    x.send(201, "application/json", Exchange.JSON.writeValueAsBytes(answer), Map.of("Location", "/api/v1/users/" + added.address()));
  }

  private char[] password(Exchange x, List<String> fields, String example) throws ApiError, IOException {
    return password(Operators.object(x, fields, example), example);
  }

  /** The body's password, as typed: {@link AccountChanges} checks it as {@code posta user} does, 400 with the same words. */
  private static char[] password(JsonNode json, String example) throws ApiError {
    String typed = Operators.text(json, "password");
    if (typed == null) throw new ApiError(400, "password: required, as in " + example);
    return typed.toCharArray();
  }

  private Map<String, Object> json(UserStore.User user) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("address", user.address());
    m.put("admin", user.admin());
    m.put("disabled", user.disabled());
    m.put("mailbox", AccountRules.hasMailbox(user.address(), accounts.localDomains()));
    return m;
  }
}
