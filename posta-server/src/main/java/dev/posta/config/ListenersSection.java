package dev.posta.config;

import static dev.posta.config.ConfigValues.socketAddress;

import dev.posta.config.PostaConfig.Listener;
import dev.posta.config.PostaConfig.Protocol;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import java.net.Inet4Address;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The {@code [listeners]} section: the addresses that take SMTP, submission, SMTPS, IMAP, IMAPS,
 * POP3, POP3S, HTTP and HTTPS connections.
 *
 * <p>Guarantees: every address is an IP literal with a port ({@code "0.0.0.0:25"}, {@code
 * "[::]:25"}), never a name to look up; a mail listener left out listens on 0.0.0.0 at its
 * standard port (25, 587, 465, 143, 993, 110, 995) and an empty list turns it off; the web's
 * ({@code http}, {@code https}) listen only where the file says; no address is taken twice, by
 * the file or by a default; plain {@code http} off the loopback is refused unless {@code [http]
 * allow-plain-http} ({@link PostaConfig#plainHttpRefusal}). Unknown keys are refused.
 */
final class ListenersSection {
  static final List<String> LISTENER_KEYS = List.of("smtp", "submission", "smtps", "imap", "imaps", "pop3", "pop3s", "http", "https");

  private final TableReader reader;

  ListenersSection(TableReader reader) {
    this.reader = reader;
  }

  /** The listeners in the order of {@link Protocol}: SMTP first, then submission, SMTPS, IMAP, IMAPS, POP3, POP3S. */
  List<Listener> read(Table root, PostaConfig.Http http) {
    Table table = reader.get(root, "", "listeners", Table.class).orElse(null);
    if (table != null) reader.unknownKeys(table, "in [listeners]", LISTENER_KEYS);
    Map<Protocol, List<Listener>> byProtocol = new EnumMap<>(Protocol.class);
    // What each address is already taken by, as the end of an error message. Defaults go in
    // first, so that an explicit address clashing with one is reported where it is written.
    Map<InetSocketAddress, Taken> taken = new LinkedHashMap<>();
    for (Protocol protocol : Protocol.values()) {
      String key = protocol.name().toLowerCase(Locale.ROOT);
      if (table != null && table.entries().containsKey(key)) continue;
      if (protocol.web()) { // an API is opened on purpose, never by default on every address
        byProtocol.put(protocol, List.of());
        continue;
      }
      InetSocketAddress address = new InetSocketAddress(Inet4Address.ofLiteral("0.0.0.0"), protocol.standardPort);
      String byDefault = "listeners." + key + " listens by default; set listeners." + key + " too";
      taken.put(address, new Taken(" is where " + byDefault, " takes the port of 0.0.0.0:" + protocol.standardPort + ", where " + byDefault));
      byProtocol.put(protocol, List.of(new Listener(protocol, address)));
    }
    for (Protocol protocol : Protocol.values()) {
      String key = protocol.name().toLowerCase(Locale.ROOT);
      if (byProtocol.containsKey(protocol)) continue;
      List<Listener> listeners = new ArrayList<>();
      String path = "listeners." + key;
      for (Str s : reader.strings(table, "listeners", key)) {
        reader.valid(s.line(), path, () -> socketAddress(s.value()))
            .ifPresent(address -> {
              String clash = clash(taken, address);
              String refused = PostaConfig.plainHttpRefusal(new Listener(protocol, address), http);
              if (refused != null) {
                reader.problem(s.line(), path + ": '" + s.value() + "': " + refused);
              } else if (clash == null) {
                taken.put(address, new Taken(" is listed twice (first on line " + s.line() + ")",
                    " takes the port of '" + s.value() + "' (line " + s.line() + "): a wildcard address listens on every address"));
                listeners.add(new Listener(protocol, address));
              } else {
                reader.problem(s.line(), path + ": '" + s.value() + "'" + clash);
              }
            });
      }
      byProtocol.put(protocol, listeners);
    }
    return byProtocol.values().stream().flatMap(List::stream).toList();
  }

  /** How to end the message about an address clashing with one taken: the same, or one a wildcard overlaps. */
  private record Taken(String same, String overlapping) {}

  /** Why {@code address} cannot be bound beside those taken; null when it can. */
  private static String clash(Map<InetSocketAddress, Taken> taken, InetSocketAddress address) {
    for (var e : taken.entrySet()) {
      InetSocketAddress other = e.getKey();
      if (other.getPort() != address.getPort()) continue;
      if (other.equals(address)) return e.getValue().same();
      // A wildcard takes the port on every address, IPv6 ones too: the JDK's sockets are
      // dual-stack, and bind 0.0.0.0 as [::].
      if (other.getAddress().isAnyLocalAddress() || address.getAddress().isAnyLocalAddress()) return e.getValue().overlapping();
    }
    return null;
  }
}
