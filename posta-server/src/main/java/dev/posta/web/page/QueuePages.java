package dev.posta.web.page;

import dev.posta.PostaServer;
import dev.posta.web.Exchange;
import java.time.Clock;
import java.util.List;

/** Not built yet: every path answers 404. */
final class QueuePages implements OperatorPages.Section {
  QueuePages(PostaServer server, Pages pages, Clock clock) {}

  @Override
  public void handle(Exchange x, Sessions.Session s, Views.Layout layout, List<String> path) throws PageError {
    throw PageError.notFound();
  }
}
