package dev.posta.junit;

import dev.posta.smtp.Fault;
import dev.posta.smtp.Reply;
import java.time.Duration;

/**
 * One scripted SMTP fault, set up fluently from {@link PostaExtension#fault()}: a stage, an
 * optional trigger, then what the client gets. The action ({@code reply}, {@code refuse},
 * {@code disconnect}, {@code delay}) comes last and puts the whole fault in force at once, so a
 * client sending meanwhile never meets it without its triggers (an unlimited fault where
 * {@code .times(2)} was meant); a trigger written after the action is refused with an {@link
 * IllegalStateException} saying so. The fault is the test's that set it, meets that test's mail
 * only (see {@link PostaExtension}: alone on the server, every session; with tests alongside,
 * those in its inboxes) and goes when it ends; the tarpit and rate limit too.
 *
 * <pre>{@code
 * mail.fault().atRcpt("*@bounce.example").times(2).reply("550 5.1.1 No such user");
 * mail.fault().atConnect().refuse();
 * mail.fault().atMail().times(2).reply("451 4.3.0 Try again later");  // the third try goes through
 * mail.fault().midData().disconnect();
 * mail.fault().atEndOfData().withProbability(0.3, 42).reply("451 4.3.0 Flaky");
 * mail.fault().tarpit(Duration.ofSeconds(2));
 * mail.fault().rateLimit(10, Duration.ofMinutes(1));
 * }</pre>
 *
 * <p>What each stage's fault replaces, and how the server logs it: {@link Fault}.
 */
public final class ScriptedFault {
  private final TestFaults faults;
  /** The test it is set in, whose mail alone meets it; null: the whole server's (set outside a test). */
  private final TestFaults.Test test;
  private Fault.Stage stage;
  private String match;
  private int times;
  private double probability = 1;
  private Long seed;
  private Fault.Action action;

  ScriptedFault(TestFaults faults, TestFaults.Test test) {
    this.faults = faults;
    this.test = test;
  }

  /** When a client connects: {@link #refuse()} (no greeting) or a greeting {@link #reply} (then closed). */
  public ScriptedFault atConnect() {
    return at(Fault.Stage.CONNECT);
  }

  public ScriptedFault atEhlo() {
    return at(Fault.Stage.EHLO);
  }

  /** STARTTLS (needs {@code withSubmission()}): e.g. {@code reply("454 4.7.0 TLS not available")}; no TLS follows. */
  public ScriptedFault atStartTls() {
    return at(Fault.Stage.STARTTLS);
  }

  /** AUTH: e.g. {@code reply("535 5.7.8 Authentication credentials invalid")} or {@code "454 4.7.0 ..."}; not logged in. */
  public ScriptedFault atAuth() {
    return at(Fault.Stage.AUTH);
  }

  public ScriptedFault atMail() {
    return at(Fault.Stage.MAIL);
  }

  /** MAIL FROM with a sender matching {@code pattern} ({@code *} any characters, {@code ?} one). */
  public ScriptedFault atMail(String pattern) {
    return at(Fault.Stage.MAIL).matching(pattern);
  }

  public ScriptedFault atRcpt() {
    return at(Fault.Stage.RCPT);
  }

  /** RCPT TO with a recipient matching {@code pattern}: that recipient only is refused. */
  public ScriptedFault atRcpt(String pattern) {
    return at(Fault.Stage.RCPT).matching(pattern);
  }

  /** The DATA command (instead of its 354). */
  public ScriptedFault atData() {
    return at(Fault.Stage.DATA);
  }

  /** After the final dot: nothing is delivered. */
  public ScriptedFault atEndOfData() {
    return at(Fault.Stage.END_OF_DATA);
  }

  /** In the middle of DATA: {@link #disconnect()} or {@link #disconnectAfter}; nothing is delivered. */
  public ScriptedFault midData() {
    return at(Fault.Stage.MID_DATA);
  }

  private ScriptedFault at(Fault.Stage s) {
    if (stage != null) throw new IllegalStateException("this fault is already at " + stage.key() + "; start another with mail.fault()");
    stage = s;
    return this;
  }

  /** Only for attempts whose address matches (the sender at MAIL, the recipient at RCPT, either at the data stages). */
  public ScriptedFault matching(String pattern) {
    beforeTheAction("matching(\"" + pattern + "\")");
    match = pattern;
    return this;
  }

  /** Fires on the first {@code n} matching attempts only, then steps aside: {@code times(2)} fails two tries, the third goes through. */
  public ScriptedFault times(int n) {
    beforeTheAction("times(" + n + ")");
    times = n;
    return this;
  }

  /** Fires on a matching attempt with this chance; the same {@code seed} fires on the same attempts every run. */
  public ScriptedFault withProbability(double p, long drawSeed) {
    beforeTheAction("withProbability(" + p + ", " + drawSeed + ")");
    probability = p;
    seed = drawSeed;
    return this;
  }

  /** This reply, exactly, such as {@code "550 5.1.1 No such user"}; a 421 also closes the connection. */
  public ScriptedFault reply(String reply) {
    return act(new Fault.Action.Answer(Reply.parse(reply)));
  }

  /** At connect: the connection is closed at once, without a greeting. */
  public ScriptedFault refuse() {
    if (stage != Fault.Stage.CONNECT) throw new IllegalStateException("refuse() is for atConnect(); elsewhere disconnect()");
    return act(new Fault.Action.Disconnect(0));
  }

  /** The connection is dropped without a reply (mid-DATA: right after the 354). */
  public ScriptedFault disconnect() {
    return act(new Fault.Action.Disconnect(0));
  }

  /** Mid-DATA: the connection is dropped after {@code octets} octets of the message (or at its end, when shorter). */
  public ScriptedFault disconnectAfter(long octets) {
    return act(new Fault.Action.Disconnect(octets));
  }

  /** The usual reply, after {@code delay} (a tarpit at this stage only). */
  public ScriptedFault delay(Duration delay) {
    return act(new Fault.Action.Delay(delay));
  }

  /** Every reply after the greeting is held this long (all stages); {@link Duration#ZERO} ends it. */
  public void tarpit(Duration delay) {
    faults.script(test).tarpit(delay);
  }

  /** At most {@code messages} messages accepted in any {@code window} (sliding); MAIL FROM beyond gets 421 4.7.0 and the connection closes. */
  public void rateLimit(int messages, Duration window) {
    faults.script(test).rateLimit(messages, window);
  }

  /** {@code messages} per minute: {@link #rateLimit(int, Duration)}. */
  public void rateLimit(int messagesPerMinute) {
    rateLimit(messagesPerMinute, Duration.ofMinutes(1));
  }

  private ScriptedFault act(Fault.Action a) {
    if (stage == null) throw new IllegalStateException("say where first: mail.fault().atRcpt(...), atMail(), midData()...");
    if (action != null) throw new IllegalStateException("this fault already does " + action + "; start another with mail.fault()");
    Fault fault = build(a); // checked whole before anything is in force
    faults.add(test, fault); // refused here when the test cannot own it
    action = a;
    return this;
  }

  // A trigger after the action would come too late: the fault is already in force without it.
  private void beforeTheAction(String trigger) {
    if (action != null) {
      throw new IllegalStateException("this fault is already in force (" + build(action) + "); set " + trigger
          + " before the action: mail.fault().atRcpt(\"*@x\").times(2).reply(\"550 ...\")");
    }
  }

  private Fault build(Fault.Action a) {
    return new Fault(stage, match, times, probability, seed, a);
  }

  /** The fault as the server's log describes it. */
  @Override
  public String toString() {
    return action == null ? "a fault not yet in force at " + stage : build(action).toString();
  }
}
