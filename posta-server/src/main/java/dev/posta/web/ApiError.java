package dev.posta.web;

import java.util.Map;

/**
 * A request answered with an error: its HTTP status (RFC 9110 §15) and a message saying what was
 * wrong, sent as {@code {"error": {"status": 400, "message": "..."}}}, with any headers the status
 * calls for ({@code Allow} with 405, {@code WWW-Authenticate} with 401, {@code Retry-After} with
 * 429), and any details of its own beside {@code status} and {@code message} (what did arrive,
 * for a wait that timed out).
 */
public final class ApiError extends Exception {
  private final int status;
  private final Map<String, String> headers;
  private final Map<String, Object> details;

  public ApiError(int status, String message) {
    this(status, message, Map.of());
  }

  public ApiError(int status, String message, Map<String, String> headers) {
    this(status, message, headers, Map.of());
  }

  /** With {@code details}: more members of the error object, in order, after status and message. */
  public ApiError(int status, String message, Map<String, String> headers, Map<String, Object> details) {
    super(message, null, false, false); // an answer, not a fault: no stack trace to fill
    this.status = status;
    this.headers = Map.copyOf(headers);
    this.details = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(details));
  }

  public Map<String, Object> details() {
    return details;
  }

  public int status() {
    return status;
  }

  public Map<String, String> headers() {
    return headers;
  }

  /** 404 for anything the caller may not see as well as anything that is not there: no difference to probe. */
  public static ApiError notFound(String what) {
    return new ApiError(404, what);
  }

  /** 405 with the methods the resource does take. */
  public static ApiError methodNotAllowed(String method, String path, String allowed) {
    return new ApiError(405, method + " is not allowed on " + path + ": use " + allowed.replace(", ", " or "), Map.of("Allow", allowed));
  }
}
