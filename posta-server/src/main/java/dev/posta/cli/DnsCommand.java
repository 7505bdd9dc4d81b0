package dev.posta.cli;

import com.google.common.net.InetAddresses;
import dev.posta.config.ConfigException;
import dev.posta.config.PostaConfig;
import dev.posta.dns.ResolverRecords;
import dev.posta.mailauth.dkim.SigningKeys;
import dev.posta.mailauth.publish.PublishedRecords;
import dev.posta.mailauth.publish.RequiredRecords;
import java.io.PrintStream;
import java.net.InetAddress;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code posta dns DOMAIN}: prints every DNS record DOMAIN needs for Posta to receive and send
 * its mail (MX, A/AAAA, SPF, DKIM, DMARC, and the PTR to ask the hosting provider for), in
 * zone-file form ({@link RequiredRecords}). {@code posta dns check DOMAIN}: looks them up and
 * says record by record OK, MISSING, WRONG, CONFLICT or UNKNOWN, with the fix
 * ({@link PublishedRecords}).
 *
 * <p>The host is the configuration's {@code hostname} (or {@code --hostname}); its public
 * addresses come from {@code --address}, since Posta cannot know them (NAT, load balancers);
 * without them, {@code posta dns} prints placeholders and {@code check} takes the host's A/AAAA
 * records. The DKIM keys are those that sign for the domain ({@link SigningKeys}: the
 * {@code [dkim.selectors]} setting or the key folder). {@code check} asks the configuration's
 * DNS servers ({@code [outbound] dns-servers}), else the system's, or {@code --dns-server}.
 *
 * <p>Governed by RFC 5321 §5.1 (MX), RFC 7208 (SPF), RFC 6376 (DKIM), RFC 7489 (DMARC) and
 * RFC 1035 §5 (the zone-file form). Known limits: one host, so one MX target; the PTR and the
 * addresses cannot be published by Posta, only printed and checked.
 *
 * <p>Exit status: {@code posta dns}: 0 printed, 2 not (usage, configuration or key problems, on
 * standard error). {@code posta dns check}: 0 every record OK, 1 one or more missing, wrong, in
 * conflict or not checkable (a failed lookup), 2 not checked (as for {@code posta dns}).
 */
@Command(name = "dns", description = {
    "Print the DNS records DOMAIN needs (MX, A/AAAA, SPF, DKIM, DMARC, PTR), in zone-file form.",
    "posta dns check DOMAIN looks them up and says what is missing or wrong."},
    subcommands = {DnsCommand.Check.class})
public final class DnsCommand implements Callable<Integer> {

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  @Mixin ConfigOptions options;
  @Mixin Target target;

  final PrintStream out;
  final PrintStream err;
  final Clock clock;

  public DnsCommand() {
    this(System.out, System.err, Clock.systemUTC());
  }

  /** With other streams and a clock (SPF's %{t}), for tests. */
  public DnsCommand(PrintStream out, PrintStream err, Clock clock) {
    this.out = out;
    this.err = err;
    this.clock = clock;
  }

  /** The domain, the host and its addresses: what both commands are about. */
  static final class Target {
    // Optional to picocli, required here: picocli checks a parent's required parameters before
    // it sees the subcommand, so a required DOMAIN would refuse "posta dns check example.org".
    @Parameters(paramLabel = "DOMAIN", arity = "0..1", description = "The mail domain (the part after @).")
    String domain;

    @Option(names = "--hostname", paramLabel = "NAME", description = "This server's public host name, the MX target. Default: hostname in the configuration.")
    String hostname;

    @Option(names = "--address", paramLabel = "IP", description = "A public IPv4 or IPv6 address of this server; repeat for each. Default: none (placeholders; check takes the host's A/AAAA).")
    List<String> addresses = new ArrayList<>();
  }

  @Override
  public Integer call() {
    Loaded loaded = load("posta dns", options, target);
    if (loaded == null) return 2;
    out.print(loaded.records().zoneFile());
    return 0;
  }

  @Command(name = "check", description = {
      "Look up the records posta dns DOMAIN prints, and say for each: OK, MISSING, WRONG, CONFLICT or UNKNOWN, with the fix.",
      "Exit status: 0 all OK, 1 something to fix, 2 not checked."})
  static final class Check implements Callable<Integer> {
    @ParentCommand DnsCommand parent;
    @Mixin ConfigOptions options;
    @Mixin Target target;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;

    @Option(names = "--dns-server", paramLabel = "HOST:PORT", description = "The DNS server to ask; repeat for more. Default: [outbound] dns-servers, else /etc/resolv.conf's.")
    List<String> dnsServers = new ArrayList<>();

    @Override
    public Integer call() {
      Loaded loaded = parent.load("posta dns check", options, target);
      if (loaded == null) return 2;
      RequiredRecords required = loaded.records();
      List<String> servers = dnsServers.isEmpty() ? loaded.dnsServers() : dnsServers;
      ResolverRecords dns;
      try {
        dns = new ResolverRecords(servers, PublishedRecords.LOOKUP_TIMEOUT);
      } catch (IllegalArgumentException e) {
        parent.err.println("posta dns check: " + e.getMessage());
        return 2;
      }
      List<PublishedRecords.Finding> findings = new PublishedRecords(dns, parent.clock).check(required);
      for (PublishedRecords.Finding f : findings) parent.out.println(f.render());
      long problems = findings.stream().filter(f -> f.status() != PublishedRecords.Status.OK).count();
      parent.out.println(problems == 0
          ? "All " + findings.size() + " records of " + required.domain() + " are OK."
          : problems + " of " + findings.size() + " records of " + required.domain() + " to fix; run posta dns check " + required.domain() + " again after.");
      return problems == 0 ? 0 : 1;
    }
  }

  /** The records a domain needs, and the DNS servers the configuration asks (empty: the system's). */
  record Loaded(RequiredRecords records, List<String> dnsServers) {}

  /** The records for the target as the configuration and the key files give them; null after saying on standard error why not. */
  Loaded load(String command, ConfigOptions options, Target target) {
    if (target.domain == null) {
      err.println(command + ": which domain? " + command + " DOMAIN (posta dns --help says more)");
      return null;
    }
    String domain = RequiredRecords.publicName(target.domain);
    if (domain == null) {
      err.println(command + ": '" + target.domain + "' is not a mail domain (a name such as example.org)");
      return null;
    }
    List<InetAddress> addresses = new ArrayList<>();
    for (String a : target.addresses) {
      if (!InetAddresses.isInetAddress(a)) {
        err.println(command + ": --address '" + a + "' is not an IPv4 or IPv6 address");
        return null;
      }
      InetAddress address = InetAddresses.forString(a);
      if (!addresses.contains(address)) addresses.add(address);
    }
    PostaConfig config;
    try {
      config = options.load();
    } catch (ConfigException e) {
      err.println(command + ": " + String.join("; ", e.problems()));
      return null;
    }
    String given = target.hostname != null ? target.hostname : config.hostname();
    String host = RequiredRecords.publicName(given);
    if (host == null) {
      err.println(command + ": the host name is '" + given + "', which other mail servers cannot look up: set hostname in "
          + config.source().map(Object::toString).orElse("a configuration file (--config)") + " to this server's public name, or give --hostname");
      return null;
    }
    SigningKeys keys;
    try {
      keys = SigningKeys.load(config.dataDir(), config.dkim());
    } catch (SigningKeys.KeyProblems e) {
      err.println(command + ": unusable DKIM keys (posta check-config lists them too):");
      e.problems().forEach(p -> err.println("  " + p));
      return null;
    }
    return new Loaded(RequiredRecords.of(domain, host, addresses, keys), config.delivery().dnsServers());
  }
}
