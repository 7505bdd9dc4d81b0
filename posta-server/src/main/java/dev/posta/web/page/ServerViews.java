package dev.posta.web.page;

import java.util.List;

/**
 * What the server's page ({@code server.jte}) shows, as plain values escaped by the template
 * ({@link ServerPages}). Kept beside {@link Views} so each operators' section has its own models.
 */
public final class ServerViews {
  private ServerViews() {}

  /**
   * The server's page ({@code /admin}): its figures at a glance as name and value ({@code
   * health}), why it is not ready ({@code problems}, as {@code /readyz} says; empty when it is),
   * its listeners, the two charts, and how often the page's script refreshes them.
   */
  public record Page(Views.Layout layout, String hostname, List<Views.Line> health, List<String> problems, List<Listener> listeners,
      List<Chart> charts, int refreshSeconds) {}

  /** A listener as bound: its protocol as {@code [listeners]} names it, its address, and how it does TLS. */
  public record Listener(String protocol, String address, String tls) {}

  /**
   * A chart of the last hour ({@link MinuteChart}): its name (the {@code data-chart} attribute),
   * heading, image URL (versioned by its figures) and text alternative, and the same figures as a
   * table: its column names and a row per minute, newest first.
   */
  public record Chart(String name, String heading, String src, String alt, List<String> columns, List<List<String>> rows) {}
}
