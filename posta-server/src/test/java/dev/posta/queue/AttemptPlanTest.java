package dev.posta.queue;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.delivery.DeliveryTargets;
import dev.posta.delivery.LocalDelivery;
import dev.posta.delivery.Outbound;
import dev.posta.delivery.Router;
import dev.posta.store.MaildirStore;
import java.io.ByteArrayOutputStream;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How one attempt divides a message's recipients: shares per route of at most the route's
 * recipients per delivery, an alias forwarded elsewhere in a share of its own stamped with
 * Delivered-To:, and a recipient whose address the message already carries in Delivered-To:
 * bounced as a loop without a delivery.
 */
class AttemptPlanTest {
  @TempDir Path dir;

  /** Remote mail goes to the recipient's domain, and is never really sent here. */
  private static final Outbound BY_DOMAIN = new Outbound() {
    @Override
    public String destinationOf(String domain) {
      return domain;
    }

    @Override
    public List<dev.posta.delivery.DeliveryResult> deliver(dev.posta.delivery.Delivery delivery) {
      throw new AssertionError("a plan delivers nothing");
    }

    @Override
    public void close() {}
  };

  private Spool spool;
  private SpooledMessage message;

  @AfterEach
  void closeSpool() {
    if (spool != null) spool.close();
  }

  private PostaConfig config() {
    return PostaConfig.embeddedDefaults(dir).toBuilder()
        .domains(List.of(new PostaConfig.LocalDomain("example.org", Set.of("alice", "bob"), false, Optional.empty(),
            Map.of("team", List.of("alice@example.org", "friend@far.example")))))
        .postmaster("alice@example.org")
        .build();
  }

  private DeliveryTargets targets() {
    return new DeliveryTargets(new LocalDelivery(new MaildirStore(dir.resolve("mail"), "localhost")), BY_DOMAIN, config().delivery());
  }

  private AttemptPlan plan(String content, String... recipients) throws Exception {
    spool = new Spool(dir.resolve("queue"));
    spool.recover();
    spool.start();
    message = spool.store(SpoolTest.envelope(recipients), SpoolTest.content(spool, content));
    return AttemptPlan.of(message, Instant.now(), new Router(config()), targets(), 100);
  }

  private static List<String> describe(AttemptPlan plan) {
    return plan.shares.stream()
        .map(s -> s.route().destination() + (s.deliveredTo() == null ? "" : " as " + s.deliveredTo()) + ": " + s.items().size())
        .toList();
  }

  @Test
  void remoteRecipientsGoInSharesOfFiftyPerDomainAndLocalOnesInOne() throws Exception {
    List<String> rcpts = new ArrayList<>();
    for (int i = 0; i < 120; i++) rcpts.add("r" + i + "@far.example");
    for (int i = 0; i < 3; i++) rcpts.add("s" + i + "@near.example");
    rcpts.add("alice@example.org");
    rcpts.add("bob@example.org");
    AttemptPlan plan = plan("Subject: many\r\n\r\nx\r\n", rcpts.toArray(String[]::new));
    assertThat(describe(plan)).containsExactly("far.example: 50", "far.example: 50", "far.example: 20", "near.example: 3", "local: 2");
    assertThat(plan.known).isEmpty();
  }

  @Test
  void anAliasForwardedElsewhereTravelsApartWithDeliveredTo() throws Exception {
    AttemptPlan plan = plan("Subject: team\r\n\r\nx\r\n", "team@example.org", "friend@far.example");
    assertThat(describe(plan)).containsExactly("local: 1", "far.example as team@example.org: 1", "far.example: 1");
    AttemptPlan.Share forwarded = plan.shares.get(1);
    var out = new ByteArrayOutputStream();
    var delivery = AttemptPlan.delivery(message, forwarded, false);
    delivery.content().writeTo(Channels.newChannel(out));
    assertThat(out.toString(StandardCharsets.UTF_8)).isEqualTo("Delivered-To: team@example.org\r\nSubject: team\r\n\r\nx\r\n");
    assertThat(delivery.size()).isEqualTo(out.size());
    assertThat(delivery.recipients()).singleElement().satisfies(r -> assertThat(r.original().toString()).isEqualTo("team@example.org"));
  }

  @Test
  void anAddressTheMessageWasDeliveredToBeforeIsALoop() throws Exception {
    AttemptPlan plan = plan("Delivered-To: bob@example.org\r\nSubject: back\r\n\r\nx\r\n", "bob@example.org", "alice@example.org");
    assertThat(describe(plan)).containsExactly("local: 1");
    assertThat(plan.known).containsOnlyKeys(0);
    Settlement.Outcome loop = plan.known.get(0).getFirst();
    assertThat(loop.result().status()).isEqualTo("5.4.6");
    assertThat(loop.result().reason()).isEqualTo("mail forwarding loop for bob@example.org (already in Delivered-To:)");
  }

  @Test
  void aMessageOverMaxHopsIsALoopForEveryRecipient() throws Exception {
    String hops = "Received: from a.example by b.example; Thu, 1 Jan 2026 00:00:00 +0000\r\n".repeat(101);
    AttemptPlan plan = plan(hops + "Subject: round\r\n\r\nx\r\n", "bob@example.org", "friend@far.example");
    assertThat(plan.shares).isEmpty();
    assertThat(plan.known).containsOnlyKeys(0, 1);
    assertThat(plan.known.get(1)).singleElement().satisfies(o -> {
      assertThat(o.result().status()).isEqualTo("5.4.6");
      assertThat(o.result().reason()).isEqualTo("too many hops (101 Received: header fields, max-hops 100): a mail loop");
    });
  }

  @Test
  void aLocalRecipientGoneSinceIsKeptAndOneNotDueIsLeftOut() throws Exception {
    AttemptPlan first = plan("Subject: later\r\n\r\nx\r\n", "nobody@example.org", "bob@example.org", "friend@far.example");
    assertThat(describe(first)).containsExactly("local: 1", "far.example: 1");
    Settlement.Outcome gone = first.known.get(0).getFirst();
    assertThat(gone.result().kind()).isEqualTo(dev.posta.delivery.DeliveryResult.Kind.DEFERRED);
    assertThat(gone.result().status()).isEqualTo("4.1.1");
    assertThat(gone.result().reason()).isEqualTo("no such local user now");

    spool.markDeferred(message, 2, new SpooledMessage.Deferral(1, Instant.now().plusSeconds(600), "451 4.3.0 later"));
    AttemptPlan again = AttemptPlan.of(message, Instant.now(), new Router(config()), targets(), 100);
    assertThat(describe(again)).as("friend@far.example is not due for ten minutes").containsExactly("local: 1");
  }
}
