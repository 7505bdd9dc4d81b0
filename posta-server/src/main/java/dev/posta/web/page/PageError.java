package dev.posta.web.page;

import java.util.Map;

/**
 * A request answered with an error page: its HTTP status (RFC 9110 §15), a title and a sentence a
 * person reads, and any headers the status calls for ({@code Allow} with 405, {@code
 * Retry-After} with 429).
 */
final class PageError extends Exception {
  final int status;
  final String title;
  final Map<String, String> headers;

  PageError(int status, String title, String message) {
    this(status, title, message, Map.of());
  }

  PageError(int status, String title, String message, Map<String, String> headers) {
    super(message, null, false, false); // an answer, not a fault: no stack trace
    this.status = status;
    this.title = title;
    this.headers = Map.copyOf(headers);
  }

  /** 404 for what is not there and for what is not the signed-in user's alike: nothing to tell them apart by. */
  static PageError notFound() {
    return new PageError(404, "Not found", "There is no such page, or it is not yours to see.");
  }

  static PageError methodNotAllowed(String method, String allowed) {
    return new PageError(405, "Method not allowed", method + " is not how this page is used.", Map.of("Allow", allowed));
  }

  static PageError badRequest(String message) {
    return new PageError(400, "Bad request", message);
  }
}
