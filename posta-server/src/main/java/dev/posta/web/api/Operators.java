package dev.posta.web.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.posta.web.ApiError;
import dev.posta.web.Exchange;
import java.io.IOException;
import java.util.List;

/**
 * What the operators' API ({@link QueueApi}, {@link UsersApi}) shares: the sign-in that lets
 * only an admin's token through ({@code posta user add --admin}, {@code posta user admin}), and
 * reading a small JSON body. A token whose account is no admin gets 403, logged; no token or a
 * wrong one 401, as everywhere in the API ({@code web.BearerAuth}). The admin attribute is read
 * at each request, so revoking it takes effect at the next one.
 */
final class Operators {
  /** The largest body an operators' request takes: a bulk action naming 100,000 queue IDs fits. */
  static final long BODY_LIMIT = 4L * 1024 * 1024;

  private Operators() {}

  /** The admin's account the request's token acts as; 401 without a valid token, 403 for an account that is no admin. */
  static String admin(Exchange x, MessagesApi.SignIn signIn) throws ApiError, IOException {
    return signIn.administrator(x, "the queue and the accounts are for operators");
  }

  /** The request's body as a JSON object with only the {@code known} members; 400 saying what is wrong. */
  static JsonNode object(Exchange x, List<String> known, String example) throws ApiError, IOException {
    byte[] body = x.body(BODY_LIMIT);
    JsonNode json;
    try {
      json = Exchange.JSON.readTree(body);
    } catch (JsonProcessingException e) {
      var at = e.getLocation();
      throw new ApiError(400, "the body is not JSON: " + e.getOriginalMessage()
          + (at == null ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"));
    }
    if (json == null || !json.isObject()) throw new ApiError(400, "expected a JSON object: " + example);
    for (var names = json.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!known.contains(name)) throw new ApiError(400, "unknown field " + name + " (known: " + String.join(", ", known) + ")");
    }
    return json;
  }

  /** A string member, or null when it is absent; 400 when it is there but no string. */
  static String text(JsonNode json, String name) throws ApiError {
    JsonNode v = json.get(name);
    if (v == null || v.isNull()) return null;
    if (!v.isTextual()) throw new ApiError(400, name + ": expected a string");
    return v.asText();
  }

  /** A boolean member, false when absent; 400 when it is there but no boolean. */
  static boolean flag(JsonNode json, String name) throws ApiError {
    JsonNode v = json.get(name);
    if (v == null || v.isNull()) return false;
    if (!v.isBoolean()) throw new ApiError(400, name + ": expected true or false");
    return v.asBoolean();
  }

  /** The methods a path takes, or 405 naming them. */
  static void allow(Exchange x, String path, String allowed) throws ApiError {
    if (!List.of(allowed.split(", ")).contains(x.method())) throw ApiError.methodNotAllowed(x.method(), path, allowed);
  }
}
