package dev.posta.config;

import static dev.posta.config.ConfigValues.address;
import static dev.posta.config.ConfigValues.domainName;
import static dev.posta.config.ConfigValues.localPart;
import static dev.posta.config.ConfigValues.postmaster;
import static dev.posta.config.TableReader.join;
import static dev.posta.config.TableReader.typeName;

import dev.posta.config.ConfigValues.Invalid;
import dev.posta.config.PostaConfig.LocalDomain;
import dev.posta.config.Toml.Bool;
import dev.posta.config.Toml.Str;
import dev.posta.config.Toml.Table;
import dev.posta.config.Toml.Value;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The local domains, {@code [domains."example.org"]} with their mailboxes, aliases and
 * catch-all, and the top-level {@code postmaster}, which must be in one of them.
 *
 * <p>Guarantees: there is at least one domain; domain names are valid and lower case (IDNs as
 * A-labels), none listed twice; mailboxes and aliases are valid local parts, named as mailboxes
 * are ({@link dev.posta.mail.LocalPart#mailboxName}), none listed twice and none both a mailbox
 * and an alias; every alias and catch-all target is a valid address, a bare local part being one
 * in the same domain. Each alias and catch-all that leads into a local domain is followed, by
 * {@link LocalRoutes} as delivery follows it, to a mailbox, a remote address or a domain that
 * takes any local part: a missing mailbox is a problem, and so is a loop, reported once. The
 * postmaster is a full address in a local domain, by default {@code postmaster@} the first
 * domain. Unknown keys are refused.
 */
final class DomainsSection {
  static final List<String> DOMAIN_KEYS =
      List.of("mailboxes", "any-local-part", "catch-all", "aliases", "spam-folder");

  private static final String NO_DOMAINS =
      "no domains: add at least one [domains.\"example.org\"] table";

  /**
   * What the section gives the configuration: the local domains, and the postmaster's address,
   * empty only when it was invalid, which is a problem already reported.
   */
  record LocalDomains(List<LocalDomain> domains, Optional<String> postmaster) {}

  private final TableReader reader;

  DomainsSection(TableReader reader) {
    this.reader = reader;
  }

  LocalDomains read(Table root) {
    List<DomainDraft> drafts = domains(root);
    Set<String> localDomains = new HashSet<>();
    drafts.forEach(d -> localDomains.add(d.name));
    drafts.forEach(d -> qualify(d, localDomains));
    Optional<Str> postmasterKey = reader.get(root, "", "postmaster", Str.class);
    Optional<String> postmaster =
        postmasterKey.isEmpty()
            ? Optional.of("postmaster@" + (drafts.isEmpty() ? "localhost" : drafts.getFirst().name))
            : postmasterKey.flatMap(s -> reader.valid(s.line(), "postmaster", () -> postmaster(s.value(), localDomains)));
    new Resolver(drafts, postmaster.orElse(null)).run();
    return new LocalDomains(drafts.stream().map(DomainDraft::toRecord).toList(), postmaster);
  }

  private List<DomainDraft> domains(Table root) {
    Optional<Table> table = reader.get(root, "", "domains", Table.class);
    if (table.isEmpty() && !root.entries().containsKey("domains")) reader.problem(0, NO_DOMAINS);
    if (table.isPresent() && table.get().entries().isEmpty()) reader.problem(table.get().line(), NO_DOMAINS);
    Map<String, DomainDraft> byName = new LinkedHashMap<>();
    for (var entry : table.map(Table::entries).orElse(Map.of()).entrySet()) {
      String path = join("domains", entry.getKey());
      if (!(entry.getValue() instanceof Table t)) {
        reader.problem(entry.getValue().line(), path + ": expected a table, got " + typeName(entry.getValue()));
        continue;
      }
      reader.unknownKeys(t, "in [" + path + "]", DOMAIN_KEYS);
      // An invalid name is reported; checking the rest under its raw name still finds more.
      String name = reader.valid(t.line(), path, () -> domainName(entry.getKey(), "domain name"))
          .orElse(entry.getKey().toLowerCase(Locale.ROOT));
      DomainDraft domain = new DomainDraft(name, path, t.line());
      DomainDraft first = byName.putIfAbsent(name, domain);
      if (first != null) {
        reader.problem(t.line(), path + ": domain '" + name + "' is listed twice (first on line " + first.line + ")");
        continue;
      }
      String mailboxes = join(path, "mailboxes");
      for (Str s : reader.strings(t, path, "mailboxes")) {
        reader.valid(s.line(), mailboxes, () -> localPart(s.value()))
            .ifPresent(local -> {
              Integer seen = domain.mailboxes.putIfAbsent(local, s.line());
              if (seen != null) reader.problem(s.line(), mailboxes + ": '" + local + "' is listed twice (first on line " + seen + ")");
            });
      }
      domain.anyLocalPart = reader.get(t, path, "any-local-part", Bool.class).map(Bool::value).orElse(false);
      domain.catchAllRaw = reader.get(t, path, "catch-all", Str.class).orElse(null);
      reader.get(t, path, "aliases", Table.class).ifPresent(aliases -> aliases(domain, aliases));
      reader.get(t, path, "spam-folder", Str.class).ifPresent(s -> reader.valid(s.line(), join(path, "spam-folder"), () -> spamFolder(s.value()))
          .ifPresent(folder -> domain.spamFolder = folder.orElse(null))); // empty: the inbox
    }
    return List.copyOf(byName.values());
  }

  private void aliases(DomainDraft domain, Table table) {
    for (var entry : table.entries().entrySet()) {
      String path = join(join(domain.path, "aliases"), entry.getKey());
      Value v = entry.getValue();
      List<Str> targets = switch (v) {
        case Str s -> List.of(s);
        case Toml.Array a when a.items().isEmpty() -> {
          reader.problem(v.line(), path + ": must name at least one address");
          yield List.of();
        }
        case Toml.Array a -> reader.strings(a, path);
        default -> {
          reader.problem(v.line(), path + ": expected a string or an array of strings, got " + typeName(v));
          yield List.of();
        }
      };
      Optional<String> local = reader.valid(v.line(), path, () -> localPart(entry.getKey()));
      if (local.isEmpty()) continue;
      AliasDraft first = domain.aliases.putIfAbsent(local.get(), new AliasDraft(local.get(), path, v.line(), targets));
      if (first != null) {
        reader.problem(v.line(), path + ": alias '" + local.get() + "' is listed twice (first on line " + first.line + ")");
      }
    }
  }

  /**
   * A {@code spam-folder} value: a folder name as mail clients show it ("Junk", "Spam",
   * "Junk.Suspect" for a subfolder: IMAP's hierarchy delimiter here is '.'), or "INBOX" (any
   * case) for the inbox, given as empty. The mailbox store's rules, so that every name taken
   * here can be delivered to: no '/', no empty level.
   */
  static Optional<String> spamFolder(String value) throws Invalid {
    if (value.equalsIgnoreCase("INBOX")) return Optional.empty();
    if (value.isBlank() || value.length() > 200) throw new Invalid("expected a folder name of 1 to 200 characters, or \"INBOX\"");
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      if (c < 0x20 || c == 0x7f || c == '*' || c == '%' || c == '\\') {
        throw new Invalid("a folder name has no control characters, '*', '%' or '\\'");
      }
    }
    if (value.contains("/") || value.startsWith(".") || value.endsWith(".") || value.contains("..")) {
      throw new Invalid("'" + value + "' is not a folder name (no '/'; levels are separated by '.', none empty: \"Junk.Suspect\")");
    }
    return Optional.of(value);
  }

  /** Turns catch-all and alias targets into full addresses; needs every local domain's name. */
  private void qualify(DomainDraft domain, Set<String> localDomains) {
    Str catchAll = domain.catchAllRaw;
    if (catchAll != null) {
      domain.catchAll =
          reader.valid(catchAll.line(), join(domain.path, "catch-all"), () -> address(catchAll.value(), domain.name, localDomains))
              .map(address -> new Target(address, catchAll.line()))
              .orElse(null);
    }
    for (AliasDraft alias : domain.aliases.values()) {
      Integer mailbox = domain.mailboxes.get(alias.local);
      if (mailbox != null) {
        reader.problem(alias.line, alias.path + ": '" + alias.local + "' is both a mailbox (line " + mailbox + ") and an alias");
      }
      Set<String> seen = new HashSet<>();
      for (Str s : alias.raw) {
        reader.valid(s.line(), alias.path, () -> address(s.value(), domain.name, localDomains))
            .ifPresent(address -> {
              if (seen.add(address)) alias.targets.add(new Target(address, s.line()));
              else reader.problem(s.line(), alias.path + ": '" + address + "' is listed twice");
            });
      }
    }
  }

  /**
   * Follows every alias and catch-all through local domains, depth first, so that each chain is
   * checked to end at a mailbox, a remote address or an any-local-part domain, and each loop is
   * reported once, at the alias where the search entered it. Each step is {@link LocalRoutes}'s,
   * the rule delivery's Router follows, so what passes here is what delivery will do.
   */
  private final class Resolver {
    private sealed interface Route permits Node, End {}

    private enum End implements Route { DELIVERED, MISSING }

    /** An alias or a catch-all; {@code name} is the alias's address, or "catch-all of d". */
    private record Node(String name, boolean catchAll, String path, int line, List<Target> targets)
        implements Route {}

    private final List<DomainDraft> drafts;
    private final Map<String, DomainDraft> domains = new HashMap<>();
    private final Set<String> done = new HashSet<>();
    // The chain being followed, and for each node the address that led to it.
    private final List<Node> stack = new ArrayList<>();
    private final List<String> via = new ArrayList<>();
    private final LocalRoutes routes;

    /** {@code postmaster} is null when invalid; that was reported, so nothing more is said. */
    Resolver(List<DomainDraft> drafts, String postmaster) {
      this.drafts = drafts;
      drafts.forEach(d -> domains.put(d.name, d));
      Map<String, LocalDomain> records = new HashMap<>();
      drafts.forEach(d -> records.put(d.name, d.toRecord()));
      // Accounts are not known here: a name is a mailbox only when the file says so.
      this.routes = new LocalRoutes(records, postmaster, address -> false);
    }

    void run() {
      for (DomainDraft d : drafts) {
        d.aliases.values().forEach(a -> visit(aliasNode(d, a), null));
        if (d.catchAll != null) visit(catchAllNode(d), null);
      }
    }

    private void visit(Node node, String from) {
      if (done.contains(node.name())) return;
      stack.add(node);
      via.add(from);
      for (Target target : node.targets()) {
        switch (route(target.address())) {
          case End.DELIVERED -> {}
          case End.MISSING -> reader.problem(target.line(), node.path() + ": no such mailbox or alias: " + target.address());
          case Node next when stack.contains(next) -> {
            int start = stack.indexOf(next);
            List<String> chain = new ArrayList<>(List.of(next.name()));
            for (int i = start + 1; i < stack.size(); i++) chain.add(step(stack.get(i), via.get(i)));
            chain.add(step(next, target.address()));
            String kind = next.catchAll() ? "catch-all loop: " : "alias loop: ";
            reader.problem(next.line(), next.path() + ": " + kind + String.join(" -> ", chain));
          }
          case Node next -> visit(next, target.address());
        }
      }
      stack.removeLast();
      via.removeLast();
      done.add(node.name());
    }

    /** Shows the address followed when it is not the node's own (a catch-all, user+tag, postmaster). */
    private static String step(Node node, String from) {
      return from == null || from.equals(node.name()) ? node.name() : from + " -> " + node.name();
    }

    private Route route(String address) {
      int at = address.lastIndexOf('@');
      return switch (routes.step(address.substring(0, at), address.substring(at + 1))) {
        case LocalRoutes.Remote r -> End.DELIVERED;
        case LocalRoutes.Mailbox m -> End.DELIVERED;
        case LocalRoutes.Alias a -> aliasNode(domains.get(a.domain()), domains.get(a.domain()).aliases.get(a.local()));
        case LocalRoutes.CatchAll c -> catchAllNode(domains.get(c.domain()));
        case LocalRoutes.Postmaster p -> p.address() == null ? End.DELIVERED : route(p.address());
        // An invalid catch-all was already reported; treating it as absent would only echo that.
        case LocalRoutes.Missing m -> domains.get(address.substring(at + 1)).catchAllRaw != null ? End.DELIVERED : End.MISSING;
      };
    }

    private Node aliasNode(DomainDraft d, AliasDraft a) {
      String address = a.local + "@" + d.name;
      return new Node(address, false, a.path, a.line, a.targets);
    }

    private Node catchAllNode(DomainDraft d) {
      // The space keeps this name apart from every address.
      return new Node("catch-all of " + d.name, true, join(d.path, "catch-all"), d.catchAll.line(), List.of(d.catchAll));
    }
  }

  private record Target(String address, int line) {}

  private static final class AliasDraft {
    final String local;
    final String path;
    final int line;
    final List<Str> raw;
    final List<Target> targets = new ArrayList<>();

    AliasDraft(String local, String path, int line, List<Str> raw) {
      this.local = local;
      this.path = path;
      this.line = line;
      this.raw = raw;
    }
  }

  /** A domain as read, before its targets can be checked against all the other domains. */
  private static final class DomainDraft {
    final String name;
    final String path;
    final int line;
    final Map<String, Integer> mailboxes = new LinkedHashMap<>();
    final Map<String, AliasDraft> aliases = new LinkedHashMap<>();
    boolean anyLocalPart;
    Str catchAllRaw;
    Target catchAll;
    String spamFolder = LocalDomain.JUNK;

    DomainDraft(String name, String path, int line) {
      this.name = name;
      this.path = path;
      this.line = line;
    }

    LocalDomain toRecord() {
      Map<String, List<String>> aliasMap = new LinkedHashMap<>();
      aliases.forEach((local, a) -> aliasMap.put(local, a.targets.stream().map(Target::address).toList()));
      return new LocalDomain(
          name,
          Collections.unmodifiableSet(new LinkedHashSet<>(mailboxes.keySet())),
          anyLocalPart,
          Optional.ofNullable(catchAll).map(Target::address),
          Collections.unmodifiableMap(aliasMap),
          spamFolder);
    }
  }
}
