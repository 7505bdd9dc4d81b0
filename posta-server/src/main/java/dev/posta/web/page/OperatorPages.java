package dev.posta.web.page;

import dev.posta.PostaServer;
import dev.posta.web.ApiError;
import dev.posta.web.Exchange;
import dev.posta.web.WebServer;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operators' pages under {@code /admin}, for an administrator's session ({@code posta user
 * add --admin}, {@code posta user admin}): the server's health and charts ({@link ServerPages},
 * {@code /admin}), the queue ({@link QueuePages}, {@code /admin/queue}), the accounts ({@link
 * UserPages}, {@code /admin/users}) and the local domains with their DNS records ({@link
 * DomainPages}, {@code /admin/domains}). They act through what the operators' API and {@code
 * posta queue}, {@code posta user} and {@code posta dns check} use, so the three faces do the
 * same thing.
 *
 * <p>Without a session a page sends the browser to sign in (a POST is refused as forged); a
 * session whose account is no administrator gets 403, logged ({@code WebServer:
 * http[192.0.2.7]: GET /admin/queue refused: bob@example.org is not an administrator}). The
 * attribute is read at every request: revoking it ({@code posta user admin --revoke}) holds at
 * the next page. Every form posts with the session's CSRF token ({@link Pages#postedForm}).
 */
final class OperatorPages {
  private static final Logger log = LoggerFactory.getLogger(WebServer.class);

  /** One part of the operators' pages: its path's segments after {@code /admin/<section>} (none for the section's own page). */
  interface Section {
    void handle(Exchange x, Sessions.Session s, Views.Layout layout, List<String> path) throws PageError, ApiError, IOException;
  }

  private final Pages pages;
  private final Section server;
  private final Section queue;
  private final Section users;
  private final Section domains;

  OperatorPages(PostaServer posta, Pages pages) {
    this.pages = pages;
    this.server = new ServerPages(posta, pages);
    this.queue = new QueuePages(posta, pages);
    this.users = new UserPages(posta, pages);
    this.domains = new DomainPages(posta, pages);
  }

  /** Answers {@code rest}, the path after {@code /admin} (empty, or starting with a slash). */
  void handle(Exchange x, String rest) throws PageError, ApiError, IOException {
    List<String> path = rest.isEmpty() ? List.of() : Arrays.asList(rest.substring(1).split("/", -1));
    if (path.stream().anyMatch(String::isEmpty)) throw PageError.notFound();
    Optional<Sessions.Session> session = pages.session(x);
    if (session.isEmpty()) {
      if (x.method().equals("POST")) throw Pages.forged(x);
      Pages.redirect(x, "/signin");
      return;
    }
    Sessions.Session s = session.get();
    Views.Layout layout = pages.layout("", s); // reads the admin attribute once, for the check and the top bar
    if (!layout.admin()) {
      log.warn("http[{}]: {} {} refused: {} is not an administrator", x.client().getHostAddress(), x.method(), x.path(), s.account);
      throw new PageError(403, "For operators", "These pages are for the server's administrators; " + s.account + " is not one.");
    }
    if (path.isEmpty()) {
      server.handle(x, s, layout.in(Views.Section.SERVER), List.of());
      return;
    }
    List<String> below = path.subList(1, path.size());
    switch (path.getFirst()) {
      case "queue" -> queue.handle(x, s, layout.in(Views.Section.QUEUE), below);
      case "users" -> users.handle(x, s, layout.in(Views.Section.USERS), below);
      case "domains" -> domains.handle(x, s, layout.in(Views.Section.DOMAINS), below);
      default -> server.handle(x, s, layout.in(Views.Section.SERVER), path);
    }
  }
}
