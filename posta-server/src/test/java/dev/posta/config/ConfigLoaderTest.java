package dev.posta.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.posta.config.PostaConfig.Limits;
import dev.posta.config.PostaConfig.Listener;
import dev.posta.config.PostaConfig.LocalDomain;
import dev.posta.config.PostaConfig.Protocol;
import dev.posta.config.PostaConfig.SenderChecks.Rules;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The TOML-to-records mapping: defaults, normalisation, and the exact text of every error, which
 * operators read, so it is part of the contract.
 */
class ConfigLoaderTest {

  /** Two lines that make a file valid on their own; bodies appended to it start at line 3. */
  private static final String PREAMBLE = "hostname = \"mail.example.org\"\n[domains.\"example.org\"]\n";

  @TempDir Path dir;

  private Path write(String toml) throws IOException {
    Path file = dir.resolve("posta.toml");
    Files.writeString(file, toml);
    return file;
  }

  private PostaConfig load(String toml) throws Exception {
    return ConfigLoader.load(write(toml));
  }

  /** Expected lines are written as "posta.toml:N: ..."; the real file lives in the temp folder. */
  private void assertErrors(String toml, String expected) throws IOException {
    Path file = write(toml);
    String full = expected.lines().map(l -> dir + "/" + l).collect(Collectors.joining("\n"));
    assertThatThrownBy(() -> ConfigLoader.load(file))
        .isInstanceOf(ConfigException.class)
        .hasMessage(full);
  }

  private static InetSocketAddress address(String ip, int port) {
    return new InetSocketAddress(InetAddress.ofLiteral(ip), port);
  }

  @Test
  void aMinimalFileGetsEveryDefault() throws Exception {
    Path file = write(PREAMBLE);
    PostaConfig config = ConfigLoader.load(file);
    assertThat(config)
        .isEqualTo(
            new PostaConfig(
                "mail.example.org",
                Path.of("/var/lib/posta"),
                List.of(
                    new Listener(Protocol.SMTP, address("0.0.0.0", 25)),
                    new Listener(Protocol.SUBMISSION, address("0.0.0.0", 587)),
                    new Listener(Protocol.SMTPS, address("0.0.0.0", 465)),
                    new Listener(Protocol.IMAP, address("0.0.0.0", 143)),
                    new Listener(Protocol.IMAPS, address("0.0.0.0", 993)),
                    new Listener(Protocol.POP3, address("0.0.0.0", 110)),
                    new Listener(Protocol.POP3S, address("0.0.0.0", 995))),
                Limits.defaults(),
                List.of(new LocalDomain("example.org", Set.of(), false, Optional.empty(), Map.of())),
                "postmaster@example.org",
                Optional.of(file),
                PostaConfig.Tls.SELF_SIGNED,
                PostaConfig.Submission.defaults(),
                PostaConfig.Delivery.defaults()));
  }

  @Test
  void theHostNameDefaultsToThisMachinesName() throws Exception {
    PostaConfig config = load("[domains.\"example.org\"]\n");
    assertThat(config.hostname()).isEqualTo(ConfigLoader.machineHostName()).isNotBlank();
  }

  @Test
  void thePostmasterDefaultsToTheFirstDomain() throws Exception {
    PostaConfig config = load(PREAMBLE.replace("\"example.org\"", "\"b.example\"") + "[domains.\"a.example\"]\n");
    assertThat(config.postmaster()).isEqualTo("postmaster@b.example");
    assertThat(config.domains()).extracting(LocalDomain::name).containsExactly("b.example", "a.example");
  }

  static Stream<Arguments> dataDirs() {
    return Stream.of(
        Arguments.of("spool", "spool"),
        Arguments.of("./a/../b", "b"),
        Arguments.of("../elsewhere", "../elsewhere"));
  }

  @ParameterizedTest
  @MethodSource("dataDirs")
  void aRelativeDataFolderIsResolvedAgainstTheConfigFilesFolder(String data, String expected) throws Exception {
    PostaConfig config = load("data = \"" + data + "\"\n" + PREAMBLE);
    assertThat(config.dataDir()).isEqualTo(dir.resolve(expected).normalize());
  }

  @Test
  void anAbsoluteDataFolderIsKept() throws Exception {
    assertThat(load("data = \"/srv/posta\"\n" + PREAMBLE).dataDir()).isEqualTo(Path.of("/srv/posta"));
  }

  static Stream<Arguments> limits() {
    Function<Limits, Object> size = Limits::maxMessageSize;
    return Stream.of(
        Arguments.of("max-message-size = 1024", size, 1024L),
        Arguments.of("max-message-size = 10_485_760", size, 10_485_760L),
        Arguments.of("max-message-size = \"512K\"", size, 512L * 1024),
        Arguments.of("max-message-size = \"35M\"", size, 35L * 1024 * 1024),
        Arguments.of("max-message-size = \"35MiB\"", size, 35L * 1024 * 1024),
        Arguments.of("max-message-size = \"10mib\"", size, 10L * 1024 * 1024),
        Arguments.of("max-message-size = \"1G\"", size, 1L << 30),
        Arguments.of("max-message-size = \"2GiB\"", size, 2L << 30),
        Arguments.of("max-message-size = \"1048576\"", size, 1_048_576L),
        Arguments.of("max-recipients = 1", (Function<Limits, Object>) Limits::maxRecipients, 1),
        Arguments.of("max-recipients = 100000", (Function<Limits, Object>) Limits::maxRecipients, 100_000),
        Arguments.of("max-line-length = 1000", (Function<Limits, Object>) Limits::maxLineLength, 1000),
        Arguments.of("max-line-length = 1000000", (Function<Limits, Object>) Limits::maxLineLength, 1_000_000),
        Arguments.of("max-connections = 50", (Function<Limits, Object>) Limits::maxConnections, 50),
        // A lowered max-connections pulls the per-IP default down with it rather than failing:
        // a tenth of it, so a few addresses cannot fill the listener, between 5 and 50.
        Arguments.of("max-connections = 3", (Function<Limits, Object>) Limits::maxConnectionsPerIp, 3),
        Arguments.of("max-connections = 20", (Function<Limits, Object>) Limits::maxConnectionsPerIp, 5),
        Arguments.of("max-connections = 200", (Function<Limits, Object>) Limits::maxConnectionsPerIp, 20),
        Arguments.of("max-connections = 100000", (Function<Limits, Object>) Limits::maxConnectionsPerIp, 50),
        Arguments.of("max-connections-per-ip = 1000", (Function<Limits, Object>) Limits::maxConnectionsPerIp, 1000),
        Arguments.of("max-errors = 1000", (Function<Limits, Object>) Limits::maxErrors, 1000),
        Arguments.of("max-hops = 10", (Function<Limits, Object>) Limits::maxHops, 10),
        Arguments.of("max-hops = 1000", (Function<Limits, Object>) Limits::maxHops, 1000),
        Arguments.of("command-timeout = \"1s\"", (Function<Limits, Object>) Limits::commandTimeout, Duration.ofSeconds(1)),
        Arguments.of("command-timeout = \"90s\"", (Function<Limits, Object>) Limits::commandTimeout, Duration.ofSeconds(90)),
        Arguments.of("data-timeout = \"10m\"", (Function<Limits, Object>) Limits::dataTimeout, Duration.ofMinutes(10)),
        Arguments.of("data-timeout = \"1h\"", (Function<Limits, Object>) Limits::dataTimeout, Duration.ofHours(1)),
        Arguments.of("handshake-timeout = \"5s\"", (Function<Limits, Object>) Limits::handshakeTimeout, Duration.ofSeconds(5)),
        Arguments.of("min-data-rate = 0", (Function<Limits, Object>) Limits::minDataRate, 0),
        Arguments.of("min-data-rate = 20000", (Function<Limits, Object>) Limits::minDataRate, 20_000),
        Arguments.of("max-session-time = \"10m\"", (Function<Limits, Object>) Limits::maxSessionTime, Duration.ofMinutes(10)),
        Arguments.of("max-session-time = \"1d\"", (Function<Limits, Object>) Limits::maxSessionTime, Duration.ofDays(1)));
  }

  @ParameterizedTest
  @MethodSource("limits")
  void readsLimits(String line, Function<Limits, Object> field, Object expected) throws Exception {
    PostaConfig config = load(PREAMBLE + "[limits]\n" + line + "\n");
    assertThat(field.apply(config.limits())).isEqualTo(expected);
  }

  @Test
  void mailboxesArePrivateUnlessAModeSharesThem() throws Exception {
    assertThat(load(PREAMBLE).mailboxModes()).isEqualTo(dev.posta.storage.FileModes.PRIVATE);
    assertThat(load("mailbox-mode = \"0640\"\n" + PREAMBLE).mailboxModes()).isEqualTo(dev.posta.storage.FileModes.of(0640));
    assertThat(load("mailbox-mode = \"660\"\n" + PREAMBLE).mailboxModes()).isEqualTo(dev.posta.storage.FileModes.of(0660));
    assertThatThrownBy(() -> load("mailbox-mode = \"0755\"\n" + PREAMBLE)).hasMessageEndingWith(
        "posta.toml:1: mailbox-mode: 0755 is not a mode for mail files: the owner reads and writes (06xx), and nobody executes them, as 0600, 0640 or 0660");
    assertThatThrownBy(() -> load("mailbox-mode = \"rw-r-----\"\n" + PREAMBLE)).hasMessageEndingWith(
        "posta.toml:1: mailbox-mode: 'rw-r-----' is not an octal mode like \"0640\"");
  }

  @Test
  void readsListenersInOrderAndAnEmptyListTurnsOneOff() throws Exception {
    PostaConfig config =
        load(PREAMBLE + "[listeners]\nsmtp = [\"127.0.0.1:2525\", \"[::1]:2525\"]\nsubmission = []\n");
    assertThat(config.listeners())
        .containsExactly(
            new Listener(Protocol.SMTP, address("127.0.0.1", 2525)),
            new Listener(Protocol.SMTP, address("::1", 2525)),
            new Listener(Protocol.SMTPS, address("0.0.0.0", 465)),
            new Listener(Protocol.IMAP, address("0.0.0.0", 143)),
            new Listener(Protocol.IMAPS, address("0.0.0.0", 993)),
            new Listener(Protocol.POP3, address("0.0.0.0", 110)),
            new Listener(Protocol.POP3S, address("0.0.0.0", 995)));
  }

  @Test
  void normalisesDomainNamesAndLocalParts() throws Exception {
    PostaConfig config =
        load(
            """
            hostname = "Mail.B\u00fccher.Example"
            [domains."B\u00fccher.Example"]
            mailboxes = ["Alice", "JOS\u00c9", "o'brien+tag"]
            catch-all = "Alice"
            """);
    assertThat(config.hostname()).isEqualTo("mail.xn--bcher-kva.example");
    assertThat(config.domains())
        .containsExactly(
            new LocalDomain(
                "xn--bcher-kva.example",
                Set.of("alice", "jos\u00e9", "o'brien+tag"),
                false,
                Optional.of("alice@xn--bcher-kva.example"),
                Map.of()));
    assertThat(config.postmaster()).isEqualTo("postmaster@xn--bcher-kva.example");
  }

  @Test
  void resolvesAliasesAcrossDomains() throws Exception {
    PostaConfig config =
        load(
            """
            hostname = "mail.example.org"
            postmaster = "Alice@Example.ORG"
            [domains."example.org"]
            mailboxes = ["alice", "bob"]
            aliases = { sales = ["alice", "Bob@example.org", "Carol@Remote.Example"], team = "sales", \
            everyone = ["team", "x@any.example", "y@catch.example", "postmaster"] }
            [domains."any.example"]
            any-local-part = true
            [domains."catch.example"]
            catch-all = "bob@example.org"
            """);
    assertThat(config.postmaster()).isEqualTo("alice@example.org");
    assertThat(config.domains().getFirst().aliases())
        .containsExactly(
            Map.entry("sales", List.of("alice@example.org", "bob@example.org", "Carol@remote.example")),
            Map.entry("team", List.of("sales@example.org")),
            Map.entry(
                "everyone",
                List.of("team@example.org", "x@any.example", "y@catch.example", "postmaster@example.org")));
    assertThat(config.domains().get(1).anyLocalPart()).isTrue();
    assertThat(config.domains().get(2).catchAll()).contains("bob@example.org");
  }

  /** Every route to delivery that {@code dev.posta.delivery.Router} takes is accepted. */
  @ParameterizedTest
  @CsvSource({
    "alice, alice@example.org",
    "ALICE, alice@example.org",
    "alice+news, alice+news@example.org",
    "staff, staff@example.org",
    "postmaster, postmaster@example.org",
    "postmaster@other.example, postmaster@other.example",
    "boss, boss@example.org",
    "Someone@Remote.Example, Someone@remote.example",
    "anyone@Any.Example, anyone@any.example",
    "nobody@catch.example, nobody@catch.example",
  })
  void acceptsAliasTargetsThatDeliver(String target, String qualified) throws Exception {
    PostaConfig config =
        load(
            """
            hostname = "mail.example.org"
            postmaster = "boss@example.org"
            [domains."example.org"]
            mailboxes = ["alice"]
            aliases = { staff = "alice", x = "%s" }
            [domains."other.example"]
            [domains."any.example"]
            any-local-part = true
            [domains."catch.example"]
            catch-all = "alice@example.org"
            """
                .formatted(target));
    assertThat(config.domains().getFirst().aliases()).containsEntry("x", List.of(qualified));
  }

  /** Bodies appended to {@link #PREAMBLE}, so their first line is line 3 of the file. */
  static Stream<Arguments> badBodies() {
    return Stream.of(
        // [limits]
        Arguments.of("[limits]\nmax-recipients = 0", "posta.toml:4: limits.max-recipients: must be between 1 and 100000, got 0"),
        Arguments.of("[limits]\nmax-recipients = 100001", "posta.toml:4: limits.max-recipients: must be between 1 and 100000, got 100001"),
        Arguments.of("[limits]\nmax-recipient = 10", "posta.toml:4: unknown key 'max-recipient' in [limits] (did you mean 'max-recipients'?)"),
        Arguments.of("[limits]\nmaximum = 10", "posta.toml:4: unknown key 'maximum' in [limits]"),
        Arguments.of("[limits]\nhostname = \"x\"", "posta.toml:4: unknown key 'hostname' in [limits] (top-level keys must come before the first [table] header)"),
        Arguments.of("[limits]\nmax-recipients = \"100\"", "posta.toml:4: limits.max-recipients: expected an integer, got a string"),
        Arguments.of("[limits]\nmax-message-size = \"35MB\"", "posta.toml:4: limits.max-message-size: expected a size like \"35M\", \"35MiB\", \"512K\" or \"1G\", got \"35MB\""),
        Arguments.of("[limits]\nmax-message-size = 512", "posta.toml:4: limits.max-message-size: must be between 1KiB and 2GiB, got 512"),
        Arguments.of("[limits]\nmax-message-size = \"3G\"", "posta.toml:4: limits.max-message-size: must be between 1KiB and 2GiB, got 3G"),
        Arguments.of("[limits]\nmax-message-size = \"99999999999999999999G\"", "posta.toml:4: limits.max-message-size: must be between 1KiB and 2GiB, got 99999999999999999999G"),
        Arguments.of("[limits]\nmax-message-size = true", "posta.toml:4: limits.max-message-size: expected a size in octets or a string like \"35M\", got a boolean"),
        Arguments.of("[limits]\nmax-line-length = 999", "posta.toml:4: limits.max-line-length: must be between 1000 and 1000000, got 999"),
        Arguments.of("[limits]\nmax-connections = 100\nmax-connections-per-ip = 101", "posta.toml:5: limits.max-connections-per-ip: must not be more than max-connections (100), got 101"),
        Arguments.of("[limits]\nmax-connections-per-ip = 1001", "posta.toml:4: limits.max-connections-per-ip: must not be more than max-connections (1000), got 1001"),
        Arguments.of("[limits]\nmax-connections = 0", "posta.toml:4: limits.max-connections: must be between 1 and 100000, got 0"),
        Arguments.of("[limits]\nmax-errors = 1001", "posta.toml:4: limits.max-errors: must be between 1 and 1000, got 1001"),
        Arguments.of("[limits]\nmax-hops = 9", "posta.toml:4: limits.max-hops: must be between 10 and 1000, got 9"),
        Arguments.of("[limits]\nmax-hops = 1001", "posta.toml:4: limits.max-hops: must be between 10 and 1000, got 1001"),
        Arguments.of("[limits]\ncommand-timeout = \"2h\"", "posta.toml:4: limits.command-timeout: must be between 1s and 1h, got 2h"),
        Arguments.of("[limits]\ndata-timeout = \"0s\"", "posta.toml:4: limits.data-timeout: must be between 1s and 1h, got 0s"),
        Arguments.of("[limits]\ndata-timeout = \"61m\"", "posta.toml:4: limits.data-timeout: must be between 1s and 1h, got 61m"),
        Arguments.of("[limits]\nhandshake-timeout = \"6m\"", "posta.toml:4: limits.handshake-timeout: must be between 1s and 5m, got 6m"),
        Arguments.of("[limits]\nmin-data-rate = -1", "posta.toml:4: limits.min-data-rate: must be between 0 and 1000000000, got -1"),
        Arguments.of("[limits]\nmax-session-time = \"30s\"", "posta.toml:4: limits.max-session-time: must be between 1m and 1d, got 30s"),
        Arguments.of("[limits]\ncommand-timeout = \"5 min\"", "posta.toml:4: limits.command-timeout: expected a duration like \"30s\", \"5m\" or \"1h\", got \"5 min\""),
        Arguments.of("[limits]\ncommand-timeout = 30", "posta.toml:4: limits.command-timeout: expected a duration like \"30s\", \"5m\" or \"1h\", got an integer"),
        // [listeners]
        Arguments.of("[listeners]\nsmtp = [\"0.0.0.0:0\"]", "posta.toml:4: listeners.smtp: '0.0.0.0:0': the port must be between 1 and 65535"),
        Arguments.of("[listeners]\nsmtps = [\"0.0.0.0:65536\"]", "posta.toml:4: listeners.smtps: '0.0.0.0:65536': the port must be between 1 and 65535"),
        Arguments.of("[listeners]\nsmtp = [\"0.0.0.0:\"]", "posta.toml:4: listeners.smtp: '0.0.0.0:': the port must be between 1 and 65535"),
        Arguments.of("[listeners]\nsmtp = [\"0.0.0.0\"]", "posta.toml:4: listeners.smtp: '0.0.0.0': expected \"host:port\", like \"0.0.0.0:25\""),
        Arguments.of("[listeners]\nsmtp = [\"::1:25\"]", "posta.toml:4: listeners.smtp: '::1:25': write an IPv6 address in brackets, like \"[::1]:25\""),
        Arguments.of("[listeners]\nsmtp = [\"mail.example.org:25\"]", "posta.toml:4: listeners.smtp: 'mail.example.org:25': the host must be an IP address, like 0.0.0.0 or [::]"),
        Arguments.of("[listeners]\nsmtp = [\"300.1.1.1:25\"]", "posta.toml:4: listeners.smtp: '300.1.1.1:25': '300.1.1.1' is not a valid IP address"),
        Arguments.of("[listeners]\nsmtp = [\"[zz::1]:25\"]", "posta.toml:4: listeners.smtp: '[zz::1]:25': 'zz::1' is not a valid IP address"),
        Arguments.of("[listeners]\nsmtp = [\"[::1:25\"]", "posta.toml:4: listeners.smtp: '[::1:25': expected \"[address]:port\", like \"[::1]:25\""),
        Arguments.of(
            "[listeners]\nsmtp = [\"0.0.0.0:25\"]\nsubmission = [\n  \"0.0.0.0:587\",\n  \"0.0.0.0:25\",\n]",
            "posta.toml:7: listeners.submission: '0.0.0.0:25' is listed twice (first on line 4)"),
        Arguments.of("[listeners]\nsmtp = [\"[::1]:25\", \"[0:0:0:0:0:0:0:1]:25\"]", "posta.toml:4: listeners.smtp: '[0:0:0:0:0:0:0:1]:25' is listed twice (first on line 4)"),
        Arguments.of(
            "[listeners]\nsmtp = [\"0.0.0.0:587\"]",
            "posta.toml:4: listeners.smtp: '0.0.0.0:587' is where listeners.submission listens by default; set listeners.submission too"),
        // A wildcard takes the port on every address, IPv6 ones too (the JDK binds 0.0.0.0 as [::]).
        Arguments.of("[listeners]\nsmtp = [\"0.0.0.0:2525\", \"127.0.0.1:2525\"]",
            "posta.toml:4: listeners.smtp: '127.0.0.1:2525' takes the port of '0.0.0.0:2525' (line 4): a wildcard address listens on every address"),
        Arguments.of("[listeners]\nsmtp = [\"127.0.0.1:2525\"]\nsubmission = [\"[::]:2525\"]",
            "posta.toml:5: listeners.submission: '[::]:2525' takes the port of '127.0.0.1:2525' (line 4): a wildcard address listens on every address"),
        Arguments.of("[listeners]\nsmtp = [\"[::1]:2525\", \"0.0.0.0:2525\"]",
            "posta.toml:4: listeners.smtp: '0.0.0.0:2525' takes the port of '[::1]:2525' (line 4): a wildcard address listens on every address"),
        Arguments.of("[listeners]\nsmtp = [\"127.0.0.1:587\"]",
            "posta.toml:4: listeners.smtp: '127.0.0.1:587' takes the port of 0.0.0.0:587, where listeners.submission listens by default; set listeners.submission too"),
        Arguments.of("[listeners]\nsmtp = [25]", "posta.toml:4: listeners.smtp: expected an array of strings, got an integer in it"),
        Arguments.of("[listeners]\nsmtp = \"0.0.0.0:25\"", "posta.toml:4: listeners.smtp: expected an array, got a string"),
        Arguments.of("[listeners]\nsmpt = []", "posta.toml:4: unknown key 'smpt' in [listeners] (did you mean 'smtp'?)"),
        // [domains."example.org"], whose header is line 2
        Arguments.of("mailbox = [\"alice\"]", "posta.toml:3: unknown key 'mailbox' in [domains.\"example.org\"] (did you mean 'mailboxes'?)"),
        Arguments.of(
            "mailboxes = [\"al ice\", \".bob\", \"carol.\", \"d..e\", \"f@g\", \"\"]",
            """
            posta.toml:3: domains."example.org".mailboxes: 'al ice' is not a valid local part
            posta.toml:3: domains."example.org".mailboxes: '.bob' is not a valid local part
            posta.toml:3: domains."example.org".mailboxes: 'carol.' is not a valid local part
            posta.toml:3: domains."example.org".mailboxes: 'd..e' is not a valid local part
            posta.toml:3: domains."example.org".mailboxes: 'f@g' is not a valid local part
            posta.toml:3: domains."example.org".mailboxes: '' is not a valid local part\
            """),
        // A control character from the file must not split one problem over two lines.
        Arguments.of("mailboxes = [\"a\\nb\"]", "posta.toml:3: domains.\"example.org\".mailboxes: 'a\\nb' is not a valid local part"),
        Arguments.of("mailboxes = [\"" + "x".repeat(65) + "\"]", "posta.toml:3: domains.\"example.org\".mailboxes: '" + "x".repeat(65) + "' is not a valid local part"),
        Arguments.of("mailboxes = [\n  \"Alice\",\n  \"alice\",\n]", "posta.toml:5: domains.\"example.org\".mailboxes: 'alice' is listed twice (first on line 4)"),
        Arguments.of("any-local-part = \"yes\"", "posta.toml:3: domains.\"example.org\".any-local-part: expected a boolean, got a string"),
        Arguments.of("catch-all = \"no body\"", "posta.toml:3: domains.\"example.org\".catch-all: 'no body' is not a valid local part"),
        Arguments.of("catch-all = \"x@bad_domain\"", "posta.toml:3: domains.\"example.org\".catch-all: 'x@bad_domain' is not a valid address"),
        Arguments.of("catch-all = \"@example.org\"", "posta.toml:3: domains.\"example.org\".catch-all: '@example.org' is not a valid address"),
        Arguments.of("catch-all = \"nobody\"", "posta.toml:3: domains.\"example.org\".catch-all: catch-all loop: catch-all of example.org -> nobody@example.org -> catch-all of example.org"),
        Arguments.of("aliases = { sales = [\"carol\"] }", "posta.toml:3: domains.\"example.org\".aliases.sales: no such mailbox or alias: carol@example.org"),
        Arguments.of("mailboxes = [\"alice\"]\naliases = { alice = \"bob@remote.example\" }", "posta.toml:4: domains.\"example.org\".aliases.alice: 'alice' is both a mailbox (line 3) and an alias"),
        Arguments.of(
            "[domains.\"example.org\".aliases]\na = \"b\"\nb = [\"c\"]\nc = \"A@Example.org\"",
            "posta.toml:4: domains.\"example.org\".aliases.a: alias loop: a@example.org -> b@example.org -> c@example.org -> a@example.org"),
        Arguments.of("aliases = { me = \"me\" }", "posta.toml:3: domains.\"example.org\".aliases.me: alias loop: me@example.org -> me@example.org"),
        Arguments.of(
            "catch-all = \"lost\"\naliases = { lost = \"who\" }",
            "posta.toml:4: domains.\"example.org\".aliases.lost: alias loop: lost@example.org -> who@example.org -> catch-all of example.org -> lost@example.org"),
        Arguments.of("aliases = { sales = \"alice+x\" }", "posta.toml:3: domains.\"example.org\".aliases.sales: no such mailbox or alias: alice+x@example.org"),
        Arguments.of(
            "aliases = { team = \"sales+x\", sales = \"team\" }",
            "posta.toml:3: domains.\"example.org\".aliases.team: alias loop: team@example.org -> sales+x@example.org -> sales@example.org -> team@example.org"),
        Arguments.of("aliases = { x = [] }", "posta.toml:3: domains.\"example.org\".aliases.x: must name at least one address"),
        Arguments.of("aliases = { x = 5 }", "posta.toml:3: domains.\"example.org\".aliases.x: expected a string or an array of strings, got an integer"),
        Arguments.of("aliases = { x = [\"a@r.example\", 5] }", "posta.toml:3: domains.\"example.org\".aliases.x: expected an array of strings, got an integer in it"),
        Arguments.of("aliases = { \"a b\" = \"x@r.example\" }", "posta.toml:3: domains.\"example.org\".aliases.\"a b\": 'a b' is not a valid local part"),
        Arguments.of("aliases = { Sales = \"x@r.example\", sales = \"y@r.example\" }", "posta.toml:3: domains.\"example.org\".aliases.sales: alias 'sales' is listed twice (first on line 3)"),
        Arguments.of("aliases = { x = [\"a@r.example\", \"a@R.Example\"] }", "posta.toml:3: domains.\"example.org\".aliases.x: 'a@r.example' is listed twice"),
        Arguments.of("aliases = 5", "posta.toml:3: domains.\"example.org\".aliases: expected a table, got an integer"),
        Arguments.of("aliases = { x = \"y\" }\n[domains.\"example.org\".aliases]", "posta.toml:4: table [domains.\"example.org\".aliases] clashes with the key defined on line 3"));
  }

  @ParameterizedTest
  @MethodSource("badBodies")
  void reportsBadValuesWithFileAndLine(String body, String expected) throws IOException {
    assertErrors(PREAMBLE + body + "\n", expected);
  }

  static Stream<Arguments> badFiles() {
    return Stream.of(
        Arguments.of("", "posta.toml: no domains: add at least one [domains.\"example.org\"] table"),
        Arguments.of("hostname = \"mail.example.org\"\n[domains]\n", "posta.toml:2: no domains: add at least one [domains.\"example.org\"] table"),
        Arguments.of("hostname = \"mail_1.example.org\"\n[domains.\"example.org\"]", "posta.toml:1: hostname: 'mail_1.example.org' is not a valid host name"),
        Arguments.of("hostname = \"192.0.2.1\"\n[domains.\"example.org\"]", "posta.toml:1: hostname: '192.0.2.1' is not a valid host name"),
        Arguments.of("hostname = \"example.org.\"\n[domains.\"example.org\"]", "posta.toml:1: hostname: 'example.org.' is not a valid host name"),
        Arguments.of("hostname = \"-mail.example.org\"\n[domains.\"example.org\"]", "posta.toml:1: hostname: '-mail.example.org' is not a valid host name"),
        Arguments.of("hostname = \"" + "a".repeat(64) + ".org\"\n[domains.\"example.org\"]", "posta.toml:1: hostname: '" + "a".repeat(64) + ".org' is not a valid host name"),
        Arguments.of("hostname = 42\n[domains.\"example.org\"]", "posta.toml:1: hostname: expected a string, got an integer"),
        Arguments.of("hostnam = \"x\"\n" + PREAMBLE, "posta.toml:1: unknown key 'hostnam' at top level (did you mean 'hostname'?)"),
        Arguments.of("data = \"\"\n" + PREAMBLE, "posta.toml:1: data: must not be empty"),
        Arguments.of("data = \"a\\u0000b\"\n" + PREAMBLE, "posta.toml:1: data: 'a\\u0000b' is not a valid path"),
        Arguments.of("postmaster = \"root@elsewhere.example\"\n" + PREAMBLE, "posta.toml:1: postmaster: 'root@elsewhere.example' is not in a local domain"),
        Arguments.of("postmaster = \"root\"\n" + PREAMBLE, "posta.toml:1: postmaster: must be a full address, like postmaster@example.org"),
        Arguments.of("postmaster = \"a b@example.org\"\n" + PREAMBLE, "posta.toml:1: postmaster: 'a b@example.org' is not a valid address"),
        Arguments.of("limits = 5\n" + PREAMBLE, "posta.toml:1: limits: expected a table, got an integer"),
        Arguments.of("hostname = \"mail.example.org\"\n[domains.\"exa mple.org\"]", "posta.toml:2: domains.\"exa mple.org\": 'exa mple.org' is not a valid domain name"),
        Arguments.of(
            "hostname = \"mail.example.org\"\n[domains.\"Example.org\"]\n[domains.\"example.org\"]",
            "posta.toml:3: domains.\"example.org\": domain 'example.org' is listed twice (first on line 2)"),
        Arguments.of("hostname = \"mail.example.org\"\n[domains]\n\"example.org\" = 5", "posta.toml:3: domains.\"example.org\": expected a table, got an integer"),
        Arguments.of("hostname = \"mail.example.org\"\n[domains.\"example.org\"]\nmailboxes = [\"alice\"\n", "posta.toml:3: unterminated array"),
        Arguments.of("hostname = \"mail.example.org\"\n[domains.\"example.org\"]\n[domains.\"example.org\"]", "posta.toml:3: table [domains.\"example.org\"] is defined twice (first on line 2)"),
        Arguments.of(
            """
            hostname = "mail.example.org"
            [domains."a.example"]
            aliases = { x = "x@b.example" }
            [domains."b.example"]
            mailboxes = ["y"]
            """,
            "posta.toml:3: domains.\"a.example\".aliases.x: no such mailbox or alias: x@b.example"),
        Arguments.of(
            """
            hostname = "mail.example.org"
            [domains."a.example"]
            catch-all = "x@b.example"
            [domains."b.example"]
            catch-all = "y@A.example"
            """,
            "posta.toml:3: domains.\"a.example\".catch-all: catch-all loop: catch-all of a.example -> x@b.example -> catch-all of b.example -> y@a.example -> catch-all of a.example"),
        Arguments.of(
            """
            hostname = "mail.example.org"
            postmaster = "boss@a.example"
            [domains."a.example"]
            aliases = { boss = "postmaster@b.example" }
            [domains."b.example"]
            """,
            "posta.toml:4: domains.\"a.example\".aliases.boss: alias loop: boss@a.example -> postmaster@b.example -> boss@a.example"));
  }

  @ParameterizedTest
  @MethodSource("badFiles")
  void reportsBadFilesWithFileAndLine(String toml, String expected) throws IOException {
    assertErrors(toml, expected);
  }

  @Test
  void reportsEveryProblemAtOnceInFileOrder() throws IOException {
    assertErrors(
        """
        hostname = "bad host"
        postmaster = "root"
        [listeners]
        smtp = ["0.0.0.0:99999"]
        [limits]
        max-recipient = 10
        max-errors = 0
        command-timeout = "forever"
        [domains."example.org"]
        mailboxes = ["alice", "al ice"]
        aliases = { sales = ["alice", "carol"], loop = "loop" }
        """,
        """
        posta.toml:1: hostname: 'bad host' is not a valid host name
        posta.toml:2: postmaster: must be a full address, like postmaster@example.org
        posta.toml:4: listeners.smtp: '0.0.0.0:99999': the port must be between 1 and 65535
        posta.toml:6: unknown key 'max-recipient' in [limits] (did you mean 'max-recipients'?)
        posta.toml:7: limits.max-errors: must be between 1 and 1000, got 0
        posta.toml:8: limits.command-timeout: expected a duration like "30s", "5m" or "1h", got "forever"
        posta.toml:10: domains."example.org".mailboxes: 'al ice' is not a valid local part
        posta.toml:11: domains."example.org".aliases.sales: no such mailbox or alias: carol@example.org
        posta.toml:11: domains."example.org".aliases.loop: alias loop: loop@example.org -> loop@example.org\
        """);
  }

  @Test
  void theExceptionListsEachProblemSeparately() throws IOException {
    Path file = write("[limits]\nmax-errors = 0\nmax-recipients = 0\n");
    assertThatThrownBy(() -> ConfigLoader.load(file))
        .isInstanceOfSatisfying(
            ConfigException.class,
            e -> assertThat(e.problems())
                .containsExactly(
                    file + ": no domains: add at least one [domains.\"example.org\"] table",
                    file + ":2: limits.max-errors: must be between 1 and 1000, got 0",
                    file + ":3: limits.max-recipients: must be between 1 and 100000, got 0"));
  }

  @Test
  void aMissingFileIsAnError() {
    Path file = dir.resolve("absent.toml");
    assertThatThrownBy(() -> ConfigLoader.load(file)).isInstanceOf(ConfigException.class).hasMessage(file + ": no such file");
  }

  @Test
  void aFileThatIsNotUtf8IsAnError() throws IOException {
    Path file = dir.resolve("latin1.toml");
    Files.write(file, new byte[] {'a', ' ', '=', ' ', '"', (byte) 0xE9, '"', '\n'});
    assertThatThrownBy(() -> ConfigLoader.load(file)).isInstanceOf(ConfigException.class).hasMessage(file + ": not valid UTF-8");
  }

  // The example shipped at the repository root.

  private static Path exampleFile() {
    for (Path d = Path.of("").toAbsolutePath(); d != null; d = d.getParent()) {
      if (Files.exists(d.resolve("posta.example.toml"))) return d.resolve("posta.example.toml");
    }
    throw new AssertionError("posta.example.toml not found above " + Path.of("").toAbsolutePath());
  }

  @Test
  void theExampleLoadsIntoTheExpectedRecords() throws Exception {
    Path file = dir.resolve("posta.toml");
    Files.copy(exampleFile(), file);
    assertThat(ConfigLoader.load(file))
        .isEqualTo(
            new PostaConfig(
                "mail.example.org",
                Path.of("/var/lib/posta"),
                List.of(
                    new Listener(Protocol.SMTP, address("0.0.0.0", 25)),
                    new Listener(Protocol.SUBMISSION, address("0.0.0.0", 587)),
                    new Listener(Protocol.SMTPS, address("0.0.0.0", 465)),
                    new Listener(Protocol.IMAP, address("0.0.0.0", 143)),
                    new Listener(Protocol.IMAPS, address("0.0.0.0", 993)),
                    new Listener(Protocol.POP3, address("0.0.0.0", 110)),
                    new Listener(Protocol.POP3S, address("0.0.0.0", 995)),
                    new Listener(Protocol.HTTP, address("127.0.0.1", 8025)),
                    new Listener(Protocol.HTTPS, address("0.0.0.0", 8443))),
                Limits.defaults(),
                List.of(
                    new LocalDomain(
                        "example.org",
                        Set.of("alice", "bob"),
                        false,
                        Optional.empty(),
                        Map.of(
                            "sales", List.of("alice@example.org", "bob@example.org"),
                            "info", List.of("alice@example.org")))),
                "alice@example.org",
                Optional.of(file),
                new PostaConfig.Tls(
                    Optional.of(Path.of("/etc/letsencrypt/live/mail.example.org/fullchain.pem")),
                    Optional.of(Path.of("/etc/letsencrypt/live/mail.example.org/privkey.pem"))),
                PostaConfig.Submission.defaults(),
                PostaConfig.Delivery.defaults()));
  }

  @Test
  void submissionAndTlsSettings() throws Exception {
    PostaConfig config = load(PREAMBLE + """
        [tls]
        certificate = "certs/full.pem"
        key = "certs/key.pem"
        [submission]
        trusted-networks = ["192.0.2.0/24", "2001:db8::/32", "127.0.0.1"]
        plaintext-auth-on-loopback = true
        sender-must-be-owned = false
        auth-failures-before-lockout = 3
        auth-lockout = "1m"
        """);
    assertThat(config.tls().certificate()).contains(dir.resolve("certs/full.pem"));
    assertThat(config.tls().key()).contains(dir.resolve("certs/key.pem"));
    var s = config.submission();
    assertThat(s.trustedNetworks()).extracting(Object::toString).containsExactly("192.0.2.0/24", "2001:db8:0:0:0:0:0:0/32", "127.0.0.1/32");
    assertThat(s.trustedNetworks().getFirst().contains(java.net.InetAddress.ofLiteral("192.0.2.200"))).isTrue();
    assertThat(s.trustedNetworks().getFirst().contains(java.net.InetAddress.ofLiteral("192.0.3.1"))).isFalse();
    assertThat(s.trustedNetworks().get(1).contains(java.net.InetAddress.ofLiteral("2001:db8:ffff::1"))).isTrue();
    assertThat(s.trustedNetworks().get(1).contains(java.net.InetAddress.ofLiteral("192.0.2.1"))).isFalse();
    assertThat(s.plaintextAuthOnLoopback()).isTrue();
    assertThat(s.senderMustBeOwned()).isFalse();
    assertThat(s.authFailuresBeforeLockout()).isEqualTo(3);
    assertThat(s.authLockout()).isEqualTo(java.time.Duration.ofMinutes(1));
  }

  @Test
  void submissionAndTlsMistakesAreReportedWithTheirLines() {
    assertThatThrownBy(() -> load(PREAMBLE + """
        [tls]
        certificate = "full.pem"
        [submission]
        trusted-networks = ["192.0.2.0/33", "mail.example.org"]
        auth-failures-before-lockout = 0
        auth-lockout = "2h"
        min-password-length = 0
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage(String.join("\n",
            "%1$s:3: tls: set both certificate and key, or neither (for a self-signed certificate)",
            "%1$s:6: submission.trusted-networks: '192.0.2.0/33': prefix length must be 0 to 32",
            "%1$s:6: submission.trusted-networks: 'mail.example.org' is not an IP address or network",
            "%1$s:7: submission.auth-failures-before-lockout: must be between 1 and 1000, got 0",
            "%1$s:8: submission.auth-lockout: must be between 1s and 1h, got 2h",
            "%1$s:9: submission.min-password-length: must be between 1 and 1024, got 0").formatted(dir.resolve("posta.toml")));
  }

  @Test
  void dkimSelectorsLoadPerDomainWithTheLineOfEach() throws Exception {
    PostaConfig.Dkim dkim = load(PREAMBLE + """
        [dkim.selectors]
        "Example.ORG" = ["20250712-RSA", "next.2025"]
        "bücher.example" = []
        """).dkim();
    String file = dir.resolve("posta.toml").toString();
    assertThat(dkim.selectors()).containsExactly(
        org.assertj.core.api.Assertions.entry("example.org", List.of(
            new PostaConfig.Dkim.Selector("20250712-rsa", file + ":4"), new PostaConfig.Dkim.Selector("next.2025", file + ":4"))),
        org.assertj.core.api.Assertions.entry("xn--bcher-kva.example", List.of()));
    assertThat(load(PREAMBLE).dkim()).isEqualTo(PostaConfig.Dkim.NONE);
  }

  @Test
  void dkimMistakesAreReportedWithTheirLines() {
    assertThatThrownBy(() -> load(PREAMBLE + """
        [dkim]
        sign = true
        [dkim.selectors]
        "example.org" = ["a_b", "ok", "ok", "-x"]
        "not a domain" = ["s"]
        "example.net" = "s1"
        "example.com" = ["a", "b", "c", "d", "e"]
        "EXAMPLE.org" = ["again"]
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage(String.join("\n",
            "%1$s:4: unknown key 'sign' in [dkim]",
            "%1$s:6: dkim.selectors.\"example.org\": 'a_b' is not a selector (letters, digits and hyphens, labels separated by dots)",
            "%1$s:6: dkim.selectors.\"example.org\": selector 'ok' is listed twice",
            "%1$s:6: dkim.selectors.\"example.org\": '-x' is not a selector (letters, digits and hyphens, labels separated by dots)",
            "%1$s:7: dkim.selectors.\"not a domain\": 'not a domain' is not a valid domain name",
            "%1$s:8: dkim.selectors.\"example.net\": expected an array of selectors, got a string",
            "%1$s:9: dkim.selectors.\"example.com\": at most 4 selectors (an old and a new key of each kind while a key is rotated), got 5",
            "%1$s:10: dkim.selectors.\"EXAMPLE.org\": domain 'example.org' is listed twice (first on line 6)").formatted(dir.resolve("posta.toml")));
  }

  @Test
  void aDomainsSenderChecksOverrideTheSectionsKeyByKey() throws Exception {
    PostaConfig.SenderChecks checks = load("""
        hostname = "mail.example.org"
        [domains."example.org"]
        [domains."example.net"]
        [domains."lists.example.com"]
        [domains."bücher.example"]
        [sender-checks]
        dmarc-reject = "quarantine"
        [sender-checks.domains."example.net"]
        dmarc-reject = "reject"
        [sender-checks.domains."lists.example.com"]
        enabled = false
        [sender-checks.domains."BÜCHER.example"]
        """).senderChecks();
    assertThat(checks.rules()).isEqualTo(new Rules(true, false));
    assertThat(checks.domainRules()).containsExactlyInAnyOrderEntriesOf(Map.of(
        "example.net", Rules.ENFORCE,
        "lists.example.com", Rules.OFF,
        "xn--bcher-kva.example", new Rules(true, false)));
    assertThat(checks.rules("example.org")).isEqualTo(new Rules(true, false));
    assertThat(checks.rules("example.net")).isEqualTo(Rules.ENFORCE);
    assertThat(checks.anyEnabled()).isTrue();
    // Turned off for all but one domain, which inherits the section's DMARC action.
    PostaConfig.SenderChecks onlyOne = load(PREAMBLE + """
        [domains."example.net"]
        [sender-checks]
        enabled = false
        dmarc-reject = "quarantine"
        [sender-checks.domains."example.net"]
        enabled = true
        """).senderChecks();
    assertThat(onlyOne.rules()).isEqualTo(Rules.OFF);
    assertThat(onlyOne.rules("example.net")).isEqualTo(new Rules(true, false));
    assertThat(onlyOne.anyEnabled()).isTrue();
  }

  @Test
  void aDomainsSenderChecksMustNameALocalDomainOnceWithKnownKeys() throws Exception {
    assertThatThrownBy(() -> load(PREAMBLE + """
        [sender-checks.domains."example.com"]
        enabled = false
        [sender-checks.domains."example.org"]
        dmarc-reject = "bounce"
        spf = false
        [sender-checks.domains."EXAMPLE.org"]
        [sender-checks.domains]
        "bad domain" = {}
        "example.net" = true
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage(String.join("\n",
            "%1$s:3: sender-checks.domains.\"example.com\": 'example.com' is not a local domain (checks apply to mail for the domains in [domains])",
            "%1$s:6: sender-checks.domains.\"example.org\".dmarc-reject: \"bounce\" is not \"reject\" or \"quarantine\"",
            "%1$s:7: unknown key 'spf' in [sender-checks.domains.\"example.org\"]",
            "%1$s:8: sender-checks.domains.\"EXAMPLE.org\": domain 'example.org' is listed twice (first on line 5)",
            "%1$s:10: sender-checks.domains.\"bad domain\": 'bad domain' is not a valid domain name",
            "%1$s:11: sender-checks.domains.\"example.net\": expected a table, got a boolean").formatted(dir.resolve("posta.toml")));
  }

  @Test
  void senderChecksAreOnByDefaultAndEachKeyIsChecked() throws Exception {
    assertThat(load(PREAMBLE).senderChecks()).isEqualTo(PostaConfig.SenderChecks.DEFAULTS);
    assertThat(load(PREAMBLE + """
        [sender-checks]
        enabled = false
        dmarc-reject = "quarantine"
        skip-networks = ["192.0.2.0/24"]
        """).senderChecks()).isEqualTo(new PostaConfig.SenderChecks(Rules.OFF, Map.of(), List.of(Network.parse("192.0.2.0/24"))));
    assertThatThrownBy(() -> load(PREAMBLE + """
        [sender-checks]
        dmarc-reject = "bounce"
        skip-networks = ["not a network"]
        verify = true
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessageContainingAll(
            ":4: sender-checks.dmarc-reject: \"bounce\" is not \"reject\" or \"quarantine\"",
            ":5: sender-checks.skip-networks: ",
            ":6: unknown key 'verify' in [sender-checks]");
  }

  @Test
  void screenSettingsLoadAndBadOnesAreRefusedWithTheirLine() throws Exception {
    PostaConfig.Screen defaults = load(PREAMBLE + "[submission]\ntrusted-networks = [\"192.0.2.0/24\"]\n").screen();
    assertThat(defaults).isEqualTo(new PostaConfig.Screen(Set.of(Protocol.SMTP), List.of(), List.of(), 1, -1, Duration.ofSeconds(6),
        List.of(Network.parse("127.0.0.0/8"), Network.parse("::1/128"), Network.parse("192.0.2.0/24"))));
    PostaConfig.Screen screen = load(PREAMBLE + """
        [screen]
        listeners = ["smtp", "submission"]
        dnsbl-threshold = 3
        dnswl-threshold = -2
        greet-wait = "0s"
        skip-networks = []
        pipelining = false
        [[screen.dnsbl]]
        zone = "ZEN.Example.net"
        weight = 2
        codes = ["127.0.0.2", "127.0.0.4-11"]
        [[screen.dnsbl]]
        zone = "bl.example.com"
        [[screen.dnswl]]
        zone = "wl.example.com"
        codes = ["127.0.0-255.1-3"]
        """).screen();
    assertThat(screen).isEqualTo(new PostaConfig.Screen(Set.of(Protocol.SMTP, Protocol.SUBMISSION),
        List.of(new PostaConfig.Screen.DnsList("zen.example.net", 2,
                List.of(PostaConfig.Screen.Code.parse("127.0.0.2"), PostaConfig.Screen.Code.parse("127.0.0.4-11"))),
            new PostaConfig.Screen.DnsList("bl.example.com", 1, List.of())),
        List.of(new PostaConfig.Screen.DnsList("wl.example.com", -1, List.of(PostaConfig.Screen.Code.parse("127.0.0-255.1-3")))),
        3, -2, Duration.ZERO, List.of(), false));
    assertThatThrownBy(() -> load(PREAMBLE + """
        [screen]
        listeners = ["imap"]
        dnsbl-threshold = 0
        greet-wait = "2h"
        skip-networks = ["nowhere"]
        dnswl-treshold = -1
        pipelining = "yes"
        [[screen.dnsbl]]
        zone = "bl..example"
        [[screen.dnsbl]]
        weight = 2
        [[screen.dnsbl]]
        zone = "ok.example"
        weight = -1
        codes = ["127.0.0.300", "10.0.0.1", "127.0.0.9-3", "127.0.0"]
        [[screen.dnswl]]
        zone = "wl.example"
        weight = 1
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessageContainingAll(
            ":4: screen.listeners: \"imap\" is not \"smtp\", \"submission\" or \"smtps\"",
            ":9: screen.pipelining: expected a boolean, got ",
            ":5: screen.dnsbl-threshold: must be between 1 and 1000, got 0",
            ":6: screen.greet-wait: must be between 0 and 1m, got 2h",
            ":7: screen.skip-networks: ",
            ":8: unknown key 'dnswl-treshold' in [screen] (did you mean 'dnswl-threshold'?)",
            ":11: screen.dnsbl.zone: 'bl..example' is not a valid zone",
            ":12: screen.dnsbl: each list needs a zone",
            ":16: screen.dnsbl.weight: must be between 1 and 100 (a blocklist adds to the score), got -1",
            ":17: screen.dnsbl.codes: '127.0.0.300': '300' is not within 0-255, low to high",
            ":17: screen.dnsbl.codes: '10.0.0.1': DNS list answers are in 127.0.0.0/8 (RFC 5782 §2.1)",
            ":17: screen.dnsbl.codes: '127.0.0.9-3': '9-3' is not within 0-255, low to high",
            ":17: screen.dnsbl.codes: '127.0.0' is not an answer like \"127.0.0.2\" or \"127.0.0.4-11\"",
            ":20: screen.dnswl.weight: must be between -100 and -1 (an allowlist takes from the score), got 1");
  }

  @Test
  void theExampleShowsEveryKey() throws Exception {
    String text = Files.readString(exampleFile());
    Toml.Table root = Toml.parse(text);
    // A smart host would send the example's mail elsewhere: [relay] and [routes] are shown commented out.
    assertThat(root.entries().keySet()).containsExactlyInAnyOrderElementsOf(
        ConfigLoader.TOP_KEYS.stream().filter(k -> !k.equals("relay") && !k.equals("routes") && !k.equals("milters") && !k.equals("cluster")).toList());
    assertThat(text).contains("\n# [relay]\n", "\n# [routes.\"partner.example\"]\n");
    // A milter that does not run would answer every client 4xx: [[milters]] is shown commented out too.
    assertThat(text).contains("\n# [[milters]]\n");
    for (String key : MiltersSection.KEYS) assertThat(text).contains("\n# " + key + " = ");
    // A node without its database does not start: [cluster] is shown commented out.
    assertThat(text).contains("\n# [cluster]\n");
    for (String key : ClusterSection.KEYS) assertThat(text).contains("\n# " + key + " = ");
    for (String key : DeliverySection.RELAY_KEYS) {
      if (!key.equals("password")) assertThat(text).contains("\n# " + key + " = ");
    }
    assertThat(((Toml.Table) root.entries().get("queue")).entries().keySet())
        .containsExactlyInAnyOrderElementsOf(DeliverySection.QUEUE_KEYS);
    assertThat(((Toml.Table) root.entries().get("outbound")).entries().keySet())
        .containsExactlyInAnyOrderElementsOf(DeliverySection.OUTBOUND_KEYS.stream().filter(k -> !k.equals("trusted-certificates")).toList());
    assertThat(text).contains("\n# trusted-certificates = ");
    assertThat(((Toml.Table) root.entries().get("listeners")).entries().keySet())
        .containsExactlyInAnyOrderElementsOf(ListenersSection.LISTENER_KEYS);
    assertThat(((Toml.Table) root.entries().get("http")).entries().keySet()).containsExactlyInAnyOrderElementsOf(HttpSection.KEYS);
    assertThat(((Toml.Table) root.entries().get("limits")).entries().keySet())
        .containsExactlyInAnyOrderElementsOf(LimitsSection.LIMIT_KEYS);
    assertThat(((Toml.Table) root.entries().get("tls")).entries().keySet())
        .containsExactlyInAnyOrderElementsOf(TlsSection.TLS_KEYS);
    assertThat(((Toml.Table) root.entries().get("submission")).entries().keySet())
        .containsExactlyInAnyOrderElementsOf(SubmissionSection.SUBMISSION_KEYS);
    assertThat(((Toml.Table) root.entries().get("dkim")).entries().keySet())
        .containsExactlyInAnyOrderElementsOf(DkimSection.DKIM_KEYS);
    // No DNS list is asked by default (each has its terms): the lists are shown commented out.
    assertThat(((Toml.Table) root.entries().get("screen")).entries().keySet())
        .containsExactlyInAnyOrderElementsOf(ScreenSection.KEYS.stream().filter(k -> (!k.startsWith("dns") || k.endsWith("threshold")) && !k.equals("skip-networks")).toList());
    assertThat(text).contains("\n# skip-networks = "); // commented out: set, it replaces the default (loopback and trusted networks)
    assertThat(text).contains("\n# [[screen.dnsbl]]\n# zone = ", "\n# [[screen.dnswl]]\n# zone = ", "\n# weight = ", "\n# codes = ");
    // Left out, timestamps follow JOURNAL_STREAM: the example can only show the key commented out.
    assertThat(((Toml.Table) root.entries().get("log")).entries().keySet()).containsExactly("format");
    assertThat(text).contains("\n# timestamps = false\n");
    // No key file exists for the example's selectors: the setting is shown commented out.
    assertThat(text).contains("\n[dkim.selectors]\n# \"example.org\" = [\"20250712-rsa\", \"20250712-ed25519\"]\n");
    Toml.Table domains = (Toml.Table) root.entries().get("domains");
    Toml.Table example = (Toml.Table) domains.entries().get("example.org");
    // catch-all is shown commented out, since the example routes every address explicitly.
    assertThat(example.entries().keySet()).containsExactlyInAnyOrder("mailboxes", "any-local-part", "aliases");
    assertThat(text).contains("\n# catch-all = \"alice\"\n");
  }
  @Test
  void logSettingsLoadAndBadOnesAreRefusedWithTheirLine() throws Exception {
    assertThat(load(PREAMBLE).log()).isEqualTo(new PostaConfig.Log(PostaConfig.Log.Format.TEXT, Optional.empty()));
    assertThat(load(PREAMBLE + """
        [log]
        format = "json"
        timestamps = false
        """).log()).isEqualTo(new PostaConfig.Log(PostaConfig.Log.Format.JSON, Optional.of(false)));
    assertThatThrownBy(() -> load(PREAMBLE + """
        [log]
        format = "xml"
        timestamps = "no"
        level = "debug"
        """))
        .isInstanceOf(ConfigException.class)
        .hasMessage(String.join("\n",
            "%1$s:4: log.format: \"xml\" is not \"text\" or \"json\"",
            "%1$s:5: log.timestamps: expected a boolean, got a string",
            "%1$s:6: unknown key 'level' in [log]").formatted(dir.resolve("posta.toml")));
  }

  @Test
  void deliverySettingsLoadIntoTheirRecords() throws Exception {
    Files.writeString(dir.resolve("relay-password"), "pa ss\nignored second line\n");
    Files.writeString(dir.resolve("ca.pem"), "not read by the loader");
    PostaConfig.Delivery d = load(PREAMBLE + """
        [queue]
        first-retry = "30s"
        max-retry = "2h"
        lifetime = "3d"
        delay-warning = "4h"
        [outbound]
        concurrency = 40
        per-destination = 4
        tls = "encrypt"
        trusted-certificates = "ca.pem"
        dns-servers = ["127.0.0.1:5353", "[::1]:53", "192.0.2.53"]
        [outbound.tls-policy]
        "Bank.Example" = "verify"
        [relay]
        host = "smtp.provider.example"
        port = 587
        username = "me@provider.example"
        password-file = "relay-password"
        [routes."partner.example"]
        host = "192.0.2.25"
        tls = "none"
        """).delivery();
    assertThat(d).isEqualTo(new PostaConfig.Delivery(Duration.ofSeconds(30), Duration.ofHours(2), Duration.ofDays(3),
        Duration.ofHours(4), 40, 4, PostaConfig.TlsPolicy.ENCRYPT, Map.of("bank.example", PostaConfig.TlsPolicy.VERIFY),
        Optional.of(dir.resolve("ca.pem")), List.of("127.0.0.1:5353", "[::1]:53", "192.0.2.53"), 25,
        Optional.of(new PostaConfig.Relay("smtp.provider.example", 587, false, PostaConfig.TlsPolicy.VERIFY,
            Optional.of("me@provider.example"), Optional.of("pa ss"))),
        Map.of("partner.example", new PostaConfig.Relay("192.0.2.25", 25, false, PostaConfig.TlsPolicy.NONE, Optional.empty(), Optional.empty()))));
    assertThat(d.relayFor("partner.example").orElseThrow().host()).isEqualTo("192.0.2.25");
    assertThat(d.relayFor("other.example").orElseThrow().host()).isEqualTo("smtp.provider.example");
    assertThat(d.tlsFor("bank.example")).isEqualTo(PostaConfig.TlsPolicy.VERIFY);
    assertThat(d.tlsFor("other.example")).isEqualTo(PostaConfig.TlsPolicy.ENCRYPT);
  }

  @Test
  void badDeliverySettingsAreReportedWithFileAndLine() throws IOException {
    assertErrors(PREAMBLE + """
        [queue]
        first-retry = "2h"
        max-retry = "1h"
        lifetime = "forever"
        [outbound]
        tls = "sometimes"
        dns-servers = ["dns.example", "127.0.0.1:99999"]
        per-destination = 0
        [relay]
        port = 587
        username = "me"
        password = "pw"
        tls = "may"
        [routes."partner.example"]
        hots = "mx.partner.example"
        """, String.join("\n",
        "posta.toml:3: queue.max-retry: must not be shorter than queue.first-retry (7200s)",
        "posta.toml:6: queue.lifetime: expected a duration like \"30s\", \"5m\", \"1h\" or \"5d\", got \"forever\"",
        "posta.toml:8: outbound.tls: expected \"none\", \"may\", \"encrypt\" or \"verify\", got \"sometimes\"",
        "posta.toml:9: outbound.dns-servers: 'dns.example' is not an IP address (optionally with :port)",
        "posta.toml:9: outbound.dns-servers: '127.0.0.1:99999' has no valid port after the address",
        "posta.toml:10: outbound.per-destination: must be between 1 and 10000, got 0",
        "posta.toml:11: relay: host is required",
        "posta.toml:11: relay: username and password need tls = \"encrypt\" or \"verify\" (or implicit-tls), so they never travel in clear",
        "posta.toml:16: routes.\"partner.example\": host is required",
        "posta.toml:17: unknown key 'hots' in [routes.\"partner.example\"] (did you mean 'host'?)"));
  }
}
