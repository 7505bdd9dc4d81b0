package dev.posta.delivery;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.mail.MailAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class RouterTest {
  static final Router router = new Router(new PostaConfig(
      "mx.example.org", Path.of("/data"), List.of(), PostaConfig.Limits.defaults(),
      List.of(
          new PostaConfig.LocalDomain("example.org", Set.of("alice", "bob"), false, Optional.empty(),
              Map.of("sales", List.of("alice@example.org", "bob@example.org", "partner@remote.example"),
                  "team", List.of("sales@example.org", "alice@example.org"))),
          new PostaConfig.LocalDomain("catch.example", Set.of("carol"), false, Optional.of("carol@catch.example"), Map.of()),
          new PostaConfig.LocalDomain("localhost", Set.of(), true, Optional.empty(), Map.of())),
      "alice@example.org", Optional.empty(), PostaConfig.Tls.SELF_SIGNED, PostaConfig.Submission.defaults(),
      PostaConfig.Delivery.defaults()));

  static Router.Mailbox box(String address) {
    int at = address.indexOf('@');
    return new Router.Mailbox(address.substring(at + 1), address.substring(0, at));
  }

  static Stream<Arguments> routes() {
    return Stream.of(
        Arguments.of("alice@example.org", List.of(box("alice@example.org"))),
        Arguments.of("ALICE@EXAMPLE.ORG", List.of(box("alice@example.org"))),
        Arguments.of("alice+lists@example.org", List.of(box("alice@example.org"))),
        Arguments.of("carl@example.org", List.of()),
        Arguments.of("sales@example.org", List.of(box("alice@example.org"), box("bob@example.org"), new Router.Remote("partner@remote.example"))),
        // Nested aliases are flattened and duplicates dropped.
        Arguments.of("team@example.org", List.of(box("alice@example.org"), box("bob@example.org"), new Router.Remote("partner@remote.example"))),
        Arguments.of("postmaster@example.org", List.of(box("alice@example.org"))),
        Arguments.of("postmaster@catch.example", List.of(box("alice@example.org"))),
        Arguments.of("anyone@catch.example", List.of(box("carol@catch.example"))),
        Arguments.of("whoever@localhost", List.of(box("whoever@localhost"))),
        Arguments.of("\"Quoted Name\"@localhost", List.of(box("quoted name@localhost"))),
        Arguments.of("\"\"@localhost", List.of()),
        // Issue 10: full-width (U+FF41...) and other compatibility forms are the same mailbox
        // (NFKC, then lower case, as account names are), not a look-alike one of their own.
        Arguments.of("\uff41\uff4c\uff49\uff43\uff45@example.org", List.of(box("alice@example.org"))),
        Arguments.of("\uff21\uff2c\uff29\uff23\uff25+x@example.org", List.of(box("alice@example.org"))),
        Arguments.of("\uff53\uff41\uff4c\uff45\uff53@example.org", List.of(box("alice@example.org"), box("bob@example.org"), new Router.Remote("partner@remote.example"))),
        Arguments.of("\uff57\uff48\uff4f\uff45\uff56\uff45\uff52@localhost", List.of(box("whoever@localhost"))),
        Arguments.of("caf\u0065\u0301@localhost", List.of(box("caf\u00e9@localhost"))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("routes")
  void resolves(String address, List<Router.Target> expected) {
    int at = address.lastIndexOf('@');
    assertThat(router.resolve(new MailAddress(address.substring(0, at), address.substring(at + 1)))).isEqualTo(expected);
  }

  @Test
  void mailboxAddressesAreQuotedWhenNeeded() {
    assertThat(new Router.Mailbox("localhost", "alice.b").address()).isEqualTo("alice.b@localhost");
    assertThat(new Router.Mailbox("localhost", "john \"the man\" doe").address()).isEqualTo("\"john \\\"the man\\\" doe\"@localhost");
    assertThat(new Router.Mailbox("localhost", "a..b").address()).isEqualTo("\"a..b\"@localhost");
  }

  @Test
  void localDomainsAreCaseInsensitive() {
    assertThat(router.isLocalDomain("Example.ORG")).isTrue();
    assertThat(router.isLocalDomain("remote.example")).isFalse();
  }
}
