package dev.posta.config;

import static dev.posta.config.ConfigValues.dnsServer;
import static dev.posta.config.ConfigValues.domainName;
import static dev.posta.config.ConfigValues.relayHost;
import static dev.posta.config.TableReader.typeName;
import static java.nio.charset.StandardCharsets.UTF_8;

import dev.posta.config.Toml.Bool;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The sections on how mail leaves: {@code [queue]} (the retry schedule and how long a message may
 * wait), {@code [outbound]} (connections to other servers, TLS towards them, DNS servers),
 * {@code [relay]} (a smart host for all remote mail) and {@code [routes."domain"]} (a smart host
 * for one recipient domain).
 *
 * <p>Guarantees: every duration and count is within the range that {@code posta.example.toml}
 * documents, and {@code max-retry} is not shorter than {@code first-retry}; a TLS policy is
 * {@code none}, {@code may}, {@code encrypt} or {@code verify}, and per-domain policies and routes
 * are keyed by valid domain names; DNS servers are IP addresses, never names. A smart host has a
 * host, the policy {@code verify} unless it says otherwise, and a username only with a password
 * (or a password file, read here, its first line) and only where TLS is required, so credentials
 * never travel in clear. The MX port is always 25: it is no key. Unknown keys are refused.
 */
final class DeliverySection {
  static final List<String> QUEUE_KEYS = List.of("first-retry", "max-retry", "lifetime", "delay-warning");
  static final List<String> OUTBOUND_KEYS =
      List.of("concurrency", "per-destination", "tls", "tls-policy", "trusted-certificates", "dns-servers");
  static final List<String> RELAY_KEYS = List.of("host", "port", "implicit-tls", "tls", "username", "password", "password-file");

  private final TableReader reader;

  DeliverySection(TableReader reader) {
    this.reader = reader;
  }

  PostaConfig.Delivery read(Table root) {
    PostaConfig.Delivery d = PostaConfig.Delivery.defaults();
    Table queue = reader.get(root, "", "queue", Table.class).orElse(null);
    Table outbound = reader.get(root, "", "outbound", Table.class).orElse(null);
    if (queue != null) reader.unknownKeys(queue, "in [queue]", QUEUE_KEYS);
    if (outbound != null) reader.unknownKeys(outbound, "in [outbound]", OUTBOUND_KEYS);
    Duration firstRetry = reader.duration(queue, "queue", "first-retry", Duration.ofSeconds(1), Duration.ofDays(1)).orElse(d.firstRetry());
    Duration maxRetry = reader.duration(queue, "queue", "max-retry", Duration.ofSeconds(1), Duration.ofDays(1)).orElse(d.maxRetry());
    if (maxRetry.compareTo(firstRetry) < 0) {
      reader.problem(queue.line(), "queue.max-retry: must not be shorter than queue.first-retry (" + firstRetry.toSeconds() + "s)");
    }
    Map<String, PostaConfig.TlsPolicy> policies = new HashMap<>();
    reader.get(outbound, "outbound", "tls-policy", Table.class).ifPresent(t -> t.entries().forEach((domain, v) -> {
      String path = "outbound.tls-policy." + domain;
      Optional<String> name = reader.valid(v.line(), path, () -> domainName(domain, "domain"));
      Optional<PostaConfig.TlsPolicy> policy = v instanceof Str str ? tlsPolicy(str, path) : Optional.empty();
      if (!(v instanceof Str)) reader.problem(v.line(), path + ": expected a string, got " + typeName(v));
      if (name.isPresent() && policy.isPresent()) policies.put(name.get(), policy.get());
    }));
    List<String> dnsServers = new ArrayList<>();
    for (Str s : reader.strings(outbound, "outbound", "dns-servers")) {
      reader.valid(s.line(), "outbound.dns-servers", () -> dnsServer(s.value()))
          .ifPresent(a -> dnsServers.add(s.value()));
    }
    Optional<PostaConfig.Relay> relay = reader.get(root, "", "relay", Table.class).flatMap(t -> relay(t, "relay"));
    Map<String, PostaConfig.Relay> routes = new HashMap<>();
    reader.get(root, "", "routes", Table.class).ifPresent(t -> t.entries().forEach((domain, v) -> {
      String path = "routes.\"" + domain + "\"";
      Optional<String> name = reader.valid(v.line(), path, () -> domainName(domain, "domain"));
      if (!(v instanceof Table rt)) {
        reader.problem(v.line(), path + ": expected a table like [routes.\"example.org\"] with host = ..., got " + typeName(v));
        return;
      }
      relay(rt, path).ifPresent(r -> name.ifPresent(n -> routes.put(n, r)));
    }));
    return new PostaConfig.Delivery(
        firstRetry,
        maxRetry,
        reader.duration(queue, "queue", "lifetime", Duration.ofMinutes(1), Duration.ofDays(60)).orElse(d.lifetime()),
        reader.duration(queue, "queue", "delay-warning", Duration.ZERO, Duration.ofDays(60)).orElse(d.delayWarning()),
        reader.bounded(outbound, "outbound", "concurrency", 1, 10_000).orElse(d.concurrency()),
        reader.bounded(outbound, "outbound", "per-destination", 1, 10_000).orElse(d.perDestination()),
        reader.get(outbound, "outbound", "tls", Str.class).flatMap(str -> tlsPolicy(str, "outbound.tls")).orElse(d.tls()),
        Map.copyOf(policies),
        reader.get(outbound, "outbound", "trusted-certificates", Str.class).flatMap(str -> reader.path(str, "outbound.trusted-certificates")),
        List.copyOf(dnsServers),
        d.mxPort(), // 25: only the test harness sets another, in code (Delivery.Builder.dns)
        relay,
        Map.copyOf(routes));
  }

  private Optional<PostaConfig.TlsPolicy> tlsPolicy(Str s, String path) {
    try {
      return Optional.of(PostaConfig.TlsPolicy.valueOf(s.value().toUpperCase(Locale.ROOT)));
    } catch (IllegalArgumentException e) {
      reader.problem(s.line(), path + ": expected \"none\", \"may\", \"encrypt\" or \"verify\", got \"" + s.value() + "\"");
      return Optional.empty();
    }
  }

  /** A smart host ([relay] or one of [routes."domain"]). */
  private Optional<PostaConfig.Relay> relay(Table t, String path) {
    reader.unknownKeys(t, "in [" + path + "]", RELAY_KEYS);
    Optional<String> host = reader.get(t, path, "host", Str.class).flatMap(str -> reader.valid(str.line(), path + ".host", () -> relayHost(str.value())));
    if (!t.entries().containsKey("host")) reader.problem(t.line(), path + ": host is required");
    boolean implicitTls = reader.get(t, path, "implicit-tls", Bool.class).map(Bool::value).orElse(false);
    int port = reader.bounded(t, path, "port", 1, 65535).orElse(implicitTls ? 465 : 25);
    // Credentials to a smart host are the usual case, and they must not travel in clear.
    PostaConfig.TlsPolicy tls = reader.get(t, path, "tls", Str.class).flatMap(str -> tlsPolicy(str, path + ".tls")).orElse(PostaConfig.TlsPolicy.VERIFY);
    Optional<String> username = reader.get(t, path, "username", Str.class).map(Str::value);
    Optional<String> password = reader.get(t, path, "password", Str.class).map(Str::value);
    Optional<Str> passwordFile = reader.get(t, path, "password-file", Str.class);
    if (passwordFile.isPresent()) {
      if (password.isPresent()) reader.problem(passwordFile.get().line(), path + ": set password or password-file, not both");
      password = passwordFile.flatMap(str -> reader.path(str, path + ".password-file")).flatMap(file -> {
        try {
          return Optional.of(Files.readAllLines(file, UTF_8).stream().findFirst().orElse("").strip());
        } catch (IOException | UncheckedIOException e) {
          reader.problem(passwordFile.get().line(), path + ".password-file: cannot read " + file + ": " + e.getMessage());
          return Optional.empty();
        }
      });
    }
    if (username.isPresent() != password.isPresent() && !reader.hasProblems()) {
      reader.problem(t.line(), path + ": set both username and password (or password-file), or neither");
    }
    if (username.isPresent() && (tls == PostaConfig.TlsPolicy.NONE || tls == PostaConfig.TlsPolicy.MAY) && !implicitTls) {
      reader.problem(t.line(), path + ": username and password need tls = \"encrypt\" or \"verify\" (or implicit-tls), so they never travel in clear");
    }
    if (host.isEmpty()) return Optional.empty();
    return Optional.of(new PostaConfig.Relay(host.get(), port, implicitTls, tls, username, password));
  }
}
