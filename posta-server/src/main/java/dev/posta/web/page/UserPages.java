package dev.posta.web.page;

import dev.posta.PostaServer;
import dev.posta.auth.AccountRules;
import dev.posta.auth.ApiTokens;
import dev.posta.auth.UserStore;
import dev.posta.web.AccountChanges;
import dev.posta.web.ApiError;
import dev.posta.web.Exchange;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.eclipse.jetty.util.Fields;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The accounts page, {@code /admin/users}: every account, sorted, with whether it is an
 * administrator's, disabled, has a mailbox here (it is in a local domain) and how many API
 * tokens it has, {@value #PAGE_SIZE} a page ({@code ?page=2}). Mailbox sizes are not shown: they
 * would cost a walk of every mailbox's folders for each page.
 *
 * <p>Each change is a form posted with the session's CSRF token ({@link Pages#postedForm}) to
 * {@code /admin/users/<action>}, the account in the field {@code address}: {@code add} (with
 * {@code password} and {@code admin}), {@code disable}, {@code enable}, {@code admin}, {@code
 * revoke}, {@code password} and {@code remove}; then 303 back to the page it came from with a
 * notice of what was done. Removing asks first ({@code GET /admin/users/remove?address=...}, a
 * page with the button: the pages work without script). The changes go through {@link
 * AccountChanges}, as the operators' API's do: the same rules ({@code [submission]
 * min-password-length}, the send-only note, no disabling, removing or revoking one's own
 * account), the same words, the same log lines ({@code WebServer: http[192.0.2.7]:
 * admin@example.org: disabled bob@example.org}). A refusal shows the page again with the reason
 * and its status: 400, 404 or 409. Disabling or removing an account ends its sessions at their
 * next request ({@link Pages#session}).
 */
final class UserPages implements OperatorPages.Section {
  private static final Logger log = LoggerFactory.getLogger(dev.posta.web.WebServer.class);
  /** Accounts a page: a list of a few thousand stays a few quick pages. */
  static final int PAGE_SIZE = 200;

  /** What a form does, the path segment it posts to, and the notice after it. */
  private enum Action {
    ADD("Added %s."), DISABLE("Disabled %s: it can no longer sign in anywhere; its mail is still delivered."), ENABLE("Enabled %s."),
    ADMIN("%s is an admin."), REVOKE("%s is no longer an admin."), PASSWORD("Changed the password of %s."),
    REMOVE("Removed %s; its mail stays.");

    final String notice;

    Action(String notice) {
      this.notice = notice;
    }

    String segment() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }

    static Optional<Action> of(String segment) {
      for (Action a : values()) if (a.segment().equals(segment)) return Optional.of(a);
      return Optional.empty();
    }
  }

  private final PostaServer server;
  private final Pages pages;
  private final AccountChanges accounts;

  UserPages(PostaServer server, Pages pages) {
    this.server = server;
    this.pages = pages;
    this.accounts = new AccountChanges(server, log);
  }

  @Override
  public void handle(Exchange x, Sessions.Session s, Views.Layout layout, List<String> path) throws PageError, ApiError, IOException {
    if (path.isEmpty()) {
      Pages.allow(x, "GET, HEAD");
      int page = pageNumber(x.query().getValue("page"));
      String notice = notice(x.query().getValue("done"), x.query().getValue("address"));
      pages.html(x, 200, "users.jte", list(layout, s, page, notice, null, "", false), null);
      return;
    }
    if (path.size() > 1) throw PageError.notFound();
    Action action = Action.of(path.getFirst()).orElseThrow(PageError::notFound);
    if (action == Action.REMOVE && !x.method().equals("POST")) {
      Pages.allow(x, "GET, HEAD, POST");
      String address = Pages.orEmpty(x.query().getValue("address"));
      int page = pageNumber(x.query().getValue("page"));
      UserStore.User user = existing(x, s, layout, address, page);
      if (user == null) return;
      pages.html(x, 200, "user-remove.jte", new UserViews.RemovePage(layout.withTitle("Remove " + user.address()), user.address(), page,
          back(page)), null);
      return;
    }
    Pages.allow(x, "POST");
    act(x, s, layout, action);
  }

  /** The posted form's change, then 303 back to the page with its notice; a refusal is the page again with the reason. */
  private void act(Exchange x, Sessions.Session s, Views.Layout layout, Action action) throws PageError, ApiError, IOException {
    Fields form = Pages.postedForm(x, s);
    int page = pageNumber(form.getValue("page"));
    String address = Pages.orEmpty(form.getValue("address")).strip();
    boolean makeAdmin = "on".equals(form.getValue("admin"));
    if (address.isEmpty()) {
      pages.html(x, 400, "users.jte", list(layout, s, page, null, "address: required", "", makeAdmin), null);
      return;
    }
    String done;
    try {
      done = switch (action) {
        case ADD -> accounts.add(s.account, x.client(), address, password(form), makeAdmin).address();
        case DISABLE, ENABLE -> accounts.setDisabled(s.account, x.client(), address, action == Action.DISABLE).address();
        case ADMIN, REVOKE -> accounts.setAdmin(s.account, x.client(), address, action == Action.ADMIN).address();
        case PASSWORD -> {
          accounts.setPassword(s.account, x.client(), address, password(form));
          yield accounts.existing(address).address();
        }
        case REMOVE -> {
          String canonical = accounts.existing(address).address();
          accounts.remove(s.account, x.client(), address);
          yield canonical;
        }
      };
    } catch (ApiError e) {
      // The add form keeps what was typed (not the password); a refusal of a row's action leaves it empty.
      boolean adding = action == Action.ADD;
      pages.html(x, e.status(), "users.jte", list(layout, s, page, null, e.getMessage(), adding ? address : "", adding && makeAdmin), null);
      return;
    }
    Map<String, String> q = new LinkedHashMap<>();
    if (page > 1) q.put("page", Integer.toString(page));
    q.put("done", action.segment());
    q.put("address", done);
    Pages.redirect(x, Links.withQuery("/admin/users", q));
  }

  private static char[] password(Fields form) {
    return Pages.orEmpty(form.getValue("password")).toCharArray();
  }

  /** The account for the confirmation page, or null after answering 404 with the page and the reason. */
  private UserStore.User existing(Exchange x, Sessions.Session s, Views.Layout layout, String address, int page) throws IOException {
    try {
      return accounts.existing(address);
    } catch (ApiError e) {
      pages.html(x, e.status(), "users.jte", list(layout, s, page, null, e.getMessage(), "", false), null);
      return null;
    }
  }

  /** One page of the accounts, sorted as {@code posta user list} prints them. */
  private UserViews.UsersPage list(Views.Layout layout, Sessions.Session s, int page, String notice, String error, String typed,
      boolean admin) throws IOException {
    List<String> all = server.users().list();
    int pagesTotal = Math.max(1, (all.size() + PAGE_SIZE - 1) / PAGE_SIZE);
    int p = Math.min(page, pagesTotal);
    Map<String, Integer> tokenCounts = new HashMap<>();
    for (ApiTokens.Token t : server.apiTokens().list()) tokenCounts.merge(t.user(), 1, Integer::sum);
    List<String> local = accounts.localDomains();
    List<UserViews.Row> rows = new ArrayList<>();
    for (String address : all.subList((p - 1) * PAGE_SIZE, Math.min(all.size(), p * PAGE_SIZE))) {
      Optional<UserStore.User> found = server.users().find(address);
      if (found.isEmpty()) continue; // removed by posta user between the list and now
      UserStore.User u = found.get();
      Map<String, String> q = new LinkedHashMap<>();
      q.put("address", u.address());
      if (p > 1) q.put("page", Integer.toString(p));
      rows.add(new UserViews.Row(u.address(), u.admin(), u.disabled(), AccountRules.hasMailbox(u.address(), local),
          tokenCounts.getOrDefault(u.address(), 0), u.address().equals(s.account), Links.withQuery("/admin/users/remove", q)));
    }
    String summary = all.size() == 1 ? "1 account" : Views.FolderLink.shown(all.size()) + " accounts";
    Views.Pager pager = new Views.Pager(p > 1 ? back(1) : null, p > 1 ? back(p - 1) : null, "page " + p + " of " + pagesTotal,
        p < pagesTotal ? back(p + 1) : null, p < pagesTotal ? back(pagesTotal) : null);
    return new UserViews.UsersPage(layout.withTitle("Users"), rows, summary, pager, notice, error, typed, admin, p,
        server.config().submission().minPasswordLength());
  }

  private static String back(int page) {
    return page <= 1 ? "/admin/users" : "/admin/users?page=" + page;
  }

  /**
   * The notice for {@code ?done=<action>&address=...}: a fixed sentence per action about an
   * address that is one, told only while the accounts bear it out (the account exists, or for a
   * removal no longer does; a disabled or admin one is so), so a crafted link can neither put
   * other words on the page nor claim a change that was not made.
   */
  private String notice(String done, String typed) throws IOException {
    if (done == null || typed == null) return null;
    Optional<Action> action = Action.of(done);
    if (action.isEmpty()) return null;
    String address;
    try {
      address = UserStore.canonicalAddress(typed);
    } catch (IllegalArgumentException e) {
      return null;
    }
    Optional<UserStore.User> user = server.users().find(address);
    boolean borneOut = switch (action.get()) {
      case REMOVE -> user.isEmpty();
      case DISABLE -> user.isPresent() && user.get().disabled();
      case ENABLE -> user.isPresent() && !user.get().disabled();
      case ADMIN -> user.isPresent() && user.get().admin();
      case REVOKE -> user.isPresent() && !user.get().admin();
      case ADD, PASSWORD -> user.isPresent();
    };
    if (!borneOut) return null;
    String note = action.get() == Action.ADD ? AccountRules.sendOnlyNote(address, accounts.localDomains()) : null;
    String told = action.get().notice.formatted(address);
    return note == null ? told : told.substring(0, told.length() - 1) + " (" + note + ").";
  }

  private static int pageNumber(String text) throws PageError {
    if (text == null || text.isEmpty()) return 1;
    try {
      int n = Integer.parseInt(text);
      if (n >= 1) return n;
    } catch (NumberFormatException e) {
      // below
    }
    throw PageError.badRequest("page: expected a page number (1, 2, ...), got '" + text + "'");
  }
}
