package dev.posta.web.page;

import dev.posta.PostaServer;
import dev.posta.web.Exchange;
import java.util.List;

/** Not built yet: every path answers 404. */
final class UserPages implements OperatorPages.Section {
  UserPages(PostaServer server, Pages pages) {}

  @Override
  public void handle(Exchange x, Sessions.Session s, Views.Layout layout, List<String> path) throws PageError {
    throw PageError.notFound();
  }
}
