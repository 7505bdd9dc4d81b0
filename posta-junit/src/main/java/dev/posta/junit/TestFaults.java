package dev.posta.junit;

import dev.posta.capture.Namespaces;
import dev.posta.config.PostaConfig;
import dev.posta.smtp.Fault;
import dev.posta.smtp.Faults;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scripted faults of the tests sharing one server (issue 21: set and reset per test, and
 * parallel tests never see each other's mail, faults included): each test has a script of its
 * own, with its own counts ("the first two tries"), which only its own mail meets, and which
 * goes when the test ends.
 *
 * <p><b>Whose an attempt is.</b> A session's mail is a running test's when it is in one of that
 * test's {@link Inbox}es, by the rules that file captured mail ({@link Namespaces}): the inbox's
 * SMTP login, else the first recipient with an inbox's tag. An attempt no running test's inbox
 * claims is <i>unclaimed</i>: every stage before AUTH and RCPT (connect, EHLO, STARTTLS, AUTH
 * itself), MAIL without a login, mail to untagged addresses. An unclaimed attempt is the test's
 * while it runs alone on the server (so a test that runs alone needs no inbox, as before); while
 * several run, it meets none of their faults, tarpits or rate limits, which is logged (WARN) and
 * told with the failure of each test whose fault it passed over.
 *
 * <p><b>Enforced.</b> A fault at connect, EHLO, STARTTLS or AUTH can never know its test, so a
 * test that sets one while another runs on the server is refused at once ({@link
 * IllegalStateException} saying what to do). A fault set outside any test (in {@code @BeforeAll},
 * or on a server started by hand) is the whole server's, met by every session, and is cleared
 * when no test runs any more.
 *
 * <p>Thread-safe: tests begin, set faults and end on their own threads while sessions ask.
 */
final class TestFaults implements Faults {
  private static final Logger log = LoggerFactory.getLogger(TestFaults.class);

  /** The stages before any identity: no attempt there can be told to be one test's. */
  static final Set<Fault.Stage> UNCLAIMED_STAGES = Set.of(Fault.Stage.CONNECT, Fault.Stage.EHLO, Fault.Stage.STARTTLS, Fault.Stage.AUTH);

  /** At most this many passed-over attempts are told with a test's failure. */
  private static final int NOTES = 5;

  /** One running test: its script and its inboxes. */
  static final class Test {
    final String id;
    final String name;
    final Faults.Scripted script = new Faults.Scripted();
    final Set<String> namespaces = ConcurrentHashMap.newKeySet();
    /** Unclaimed attempts that would have met this test's faults, had it run alone. */
    private final List<String> passedOver = new ArrayList<>();
    private int passedOverCount;

    Test(String id, String name) {
      this.id = id;
      this.name = name;
    }

    synchronized void passedOver(String note) {
      if (++passedOverCount <= NOTES) passedOver.add(note);
    }

    synchronized List<String> passedOver() {
      List<String> notes = new ArrayList<>(passedOver);
      if (passedOverCount > NOTES) notes.add("... and " + (passedOverCount - NOTES) + " more");
      return notes;
    }

    @Override
    public String toString() {
      return name;
    }
  }

  /** Set outside any test: the whole server's. */
  private final Faults.Scripted unowned = new Faults.Scripted();
  private final Map<String, Test> running = new ConcurrentHashMap<>();
  private final Map<String, Test> byNamespace = new ConcurrentHashMap<>();
  /** The test whose callbacks and method run on this thread. */
  private final ThreadLocal<Test> current = new ThreadLocal<>();
  private volatile Namespaces namespaces = new Namespaces(new PostaConfig.Capture(true, Map.of()));

  /** The rules the server files mail by, once it starts with them. */
  void fileBy(PostaConfig.Capture capture) {
    namespaces = new Namespaces(capture);
  }

  // --- Tests beginning and ending ------------------------------------------------------------

  /**
   * A test begins on this thread: faults set on it from now on are its own. Returns what {@link
   * #end} takes back.
   */
  Test begin(String id, String name) {
    Test t = new Test(id, name);
    running.put(id, t);
    current.set(t);
    return t;
  }

  /**
   * The test ends: its faults and inboxes go; with no test running any more, the faults set
   * outside a test go too. Returns the unclaimed attempts that passed its faults over.
   */
  List<String> end(Test t) {
    running.remove(t.id, t);
    for (String ns : t.namespaces) byNamespace.remove(ns, t);
    t.script.clear();
    if (current.get() == t) current.remove();
    if (running.isEmpty()) unowned.clear();
    return t.passedOver();
  }

  /** The test running with JUnit's unique id {@code id}, or null. */
  Test running(String id) {
    return running.get(id);
  }

  /** Mail in namespace {@code ns} is {@code test}'s (null: the caller's test, if any). */
  void claim(String ns, Test test) {
    Test t = test != null ? test : callerOrNull();
    if (t == null) return;
    t.namespaces.add(ns);
    byNamespace.put(ns, t);
  }

  // --- Setting faults ------------------------------------------------------------------------

  /**
   * The test a fault set now on this thread belongs to: the one running on it, else the only one
   * running; null outside any test (the whole server's).
   *
   * @throws IllegalStateException on a thread of no test while several run: whose it is cannot be told
   */
  Test caller() {
    Test t = current.get();
    if (t != null && running.get(t.id) == t) return t;
    Test only = onlyRunning();
    if (only != null || running.isEmpty()) return only;
    throw new IllegalStateException("a fault was set on thread " + Thread.currentThread().getName() + ", which runs none of the "
        + running.size() + " tests running on this server now " + running.values() + ", so whose it is cannot be told: set it on"
        + " the test's own thread (as JUnit runs the test method), or outside the tests (@BeforeAll: the whole server's)");
  }

  private Test callerOrNull() {
    Test t = current.get();
    if (t != null && running.get(t.id) == t) return t;
    return onlyRunning();
  }

  /** Puts {@code fault} in force for {@code test} (null: the whole server). */
  void add(Test test, Fault fault) {
    if (test != null && UNCLAIMED_STAGES.contains(fault.stage())) {
      List<Test> others = running.values().stream().filter(o -> o != test).toList();
      if (!others.isEmpty()) {
        throw new IllegalStateException("a fault at " + fault.stage().key() + " (" + fault + ") cannot tell this test's connections from"
            + " those of the other tests running on this server now " + others + ": the session knows whose mail it is only after"
            + " AUTH or RCPT. Run this test alone (@ResourceLock(\"" + PostaExtension.FAULTS_LOCK + "\") on every test of the server),"
            + " or give it a server of its own (the extension on an instance field)");
      }
    }
    script(test).add(fault);
  }

  Faults.Scripted script(Test test) {
    return test != null ? test.script : unowned;
  }

  /** Every test's faults and the whole server's: the server stops. */
  void clearAll() {
    unowned.clear();
    for (Test t : running.values()) t.script.clear();
  }

  // --- What the sessions ask -----------------------------------------------------------------

  /** Set outside any test, and over capture mode's HTTP API: met by every session. */
  @Override
  public Faults.Scripted serverWide() {
    return unowned;
  }

  /** The test {@code party}'s attempt is for: the one whose inbox claims it, else the only one running; null when none. */
  private Test owner(Party party) {
    Optional<String> ns = party.login() == null && party.recipients().isEmpty() ? Optional.empty()
        : namespaces.of(party.login(), party.recipients());
    if (ns.isPresent()) {
      Test t = byNamespace.get(ns.get());
      if (t != null && running.get(t.id) == t) return t;
    }
    return onlyRunning();
  }

  /** The one test running, or null with none or several. */
  private Test onlyRunning() {
    Test only = null;
    for (Test t : running.values()) {
      if (only != null) return null;
      only = t;
    }
    return only;
  }

  @Override
  public Fired at(Fault.Stage stage, List<String> addresses, Party party) {
    Test t = owner(party);
    if (t != null) {
      Fired fired = t.script.at(stage, addresses);
      if (fired != null) return new Fired(fired.rule(), fired.stage(), fired.action(), t.name + "'s " + fired.why());
    } else if (running.size() > 1) {
      for (Test other : running.values()) {
        Fault missed = other.script.pending(stage, addresses);
        if (missed != null) passedOver(other, describe(stage, addresses, party), "its fault " + missed);
      }
    }
    return unowned.at(stage, addresses);
  }

  @Override
  public Fired at(Fault.Stage stage, List<String> addresses) {
    return at(stage, addresses, Party.UNKNOWN);
  }

  @Override
  public Duration replyDelay(Party party) {
    Test t = owner(party);
    Duration own = t != null ? t.script.replyDelay() : Duration.ZERO;
    Duration all = unowned.replyDelay();
    return own.compareTo(all) > 0 ? own : all;
  }

  @Override
  public Duration replyDelay() {
    return replyDelay(Party.UNKNOWN);
  }

  @Override
  public Fired rateLimited(Party party) {
    Test t = owner(party);
    if (t != null) {
      Fired limited = t.script.rateLimited();
      if (limited != null) return new Fired(0, limited.stage(), limited.action(), t.name + "'s " + limited.why());
    } else if (running.size() > 1) {
      for (Test other : running.values()) {
        if (other.script.rateLimited() != null) passedOver(other, describe(Fault.Stage.MAIL, List.of(), party), "its rate limit");
      }
    }
    return unowned.rateLimited();
  }

  @Override
  public Fired rateLimited() {
    return rateLimited(Party.UNKNOWN);
  }

  @Override
  public void accepted(Party party) {
    Test t = owner(party);
    if (t != null) t.script.accepted();
    unowned.accepted();
  }

  @Override
  public void accepted() {
    accepted(Party.UNKNOWN);
  }

  private void passedOver(Test test, String attempt, String what) {
    String note = "an attempt at " + attempt + " that no running test's inbox claims came while " + running.size()
        + " tests ran on this server: it met none of their faults, so not " + what;
    log.warn("posta-junit: {}: {}", test.name, note);
    test.passedOver(note);
  }

  /** {@code rcpt <ada@example.com>}, {@code mail <app@shop.example> (login ada)}: the stage, its addresses, the login. */
  private static String describe(Fault.Stage stage, List<String> addresses, Party party) {
    StringBuilder s = new StringBuilder(stage.key());
    for (String a : addresses) s.append(" <").append(a).append('>');
    if (party.login() != null) s.append(" (login ").append(party.login()).append(')');
    return s.toString();
  }
}
