package dev.posta.web;

import dev.posta.PostaServer;
import dev.posta.config.PostaConfig;
import dev.posta.metrics.MailMetrics;
import dev.posta.metrics.MinuteHistory;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The server's meters over HTTP: {@code GET /metrics} in Prometheus' text format (exposition
 * format 0.0.4, {@link MailMetrics#scrape}), and {@code GET /api/v1/stats}, the last hour a
 * minute at a time as JSON for the operators' charts ({@link MailMetrics#lastHour}). Both answer
 * {@code HEAD} too (RFC 9110 §9.3.2).
 *
 * <p>Who may read them: {@code /metrics} needs no token when the request was made to a loopback
 * address by address or as {@code localhost} (a Prometheus on the same machine; only a process
 * of this machine can reach one), nor anywhere when {@code [http] metrics-public = true};
 * otherwise an administrator's API token ({@code posta user admin}; 401 without a valid token,
 * {@link BearerAuth}, which throttles and logs wrong ones; 403 for another account's). {@code
 * /api/v1/stats} always needs an administrator's token.
 * In capture mode ({@code posta dev}) neither needs one, as capture mode's API does not. The
 * meters carry no address, host or user, but say how busy the server is and which replies it
 * gives; hence the token off the loopback.
 */
final class MetricsEndpoint {
  private final PostaServer posta;
  private final BearerAuth auth;

  MetricsEndpoint(PostaServer posta, BearerAuth auth) {
    this.posta = posta;
    this.auth = auth;
  }

  /** {@code GET /metrics}. */
  void metrics(Exchange x) throws ApiError, IOException {
    x.requireGetOrHead();
    if (needsToken(x.local(), x.header("Host"), posta.config().http(), capture())) administrator(x);
    x.send(200, MailMetrics.CONTENT_TYPE, posta.metrics().scrape().getBytes(StandardCharsets.UTF_8), Map.of());
  }

  /**
   * {@code GET /api/v1/stats}: {@code {"minutes": [{"start": "2026-12-07T06:40:00Z", "accepted":
   * 12, "delivered": 12, "deferred": 0, "bounced": 1, "queued": 3}, ...]}}, oldest first, at most
   * the last 60 minutes, the minute in progress last.
   */
  void stats(Exchange x) throws ApiError, IOException {
    x.requireGetOrHead();
    if (!capture()) administrator(x);
    List<Map<String, Object>> minutes = new ArrayList<>();
    for (MinuteHistory.Minute m : posta.metrics().lastHour()) {
      Map<String, Object> minute = new LinkedHashMap<>();
      minute.put("start", m.start().toString());
      minute.put("accepted", m.accepted());
      minute.put("delivered", m.delivered());
      minute.put("deferred", m.deferred());
      minute.put("bounced", m.bounced());
      minute.put("queued", m.queued());
      minutes.add(minute);
    }
    x.json(200, Map.of("minutes", minutes));
  }

  /**
   * Whether a request for {@code /metrics} made to the server's address {@code local}, naming it
   * {@code host}, needs an API token: not in capture mode, not with {@code metrics-public}, not
   * on a loopback address named by address or as {@code localhost}. A loopback address reached
   * by another name is treated as a request from afar: a web page could have made its own name
   * point at 127.0.0.1 (DNS rebinding) to read the meters with the browser's blessing.
   */
  static boolean needsToken(InetAddress local, String host, PostaConfig.Http http, boolean capture) {
    if (capture || http.metricsPublic()) return false;
    return !(local.isLoopbackAddress() && Exchange.namesThisMachine(host));
  }

  /** Signs the request in and wants an administrator's token: the meters are the whole server's, not the account's. */
  private void administrator(Exchange x) throws ApiError, IOException {
    auth.administrator(x, "the server's meters are for operators");
  }

  private boolean capture() {
    return posta.config().capture().enabled();
  }
}
