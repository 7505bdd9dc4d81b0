package dev.posta.capture;

import dev.posta.config.PostaConfig;
import dev.posta.mail.Envelope;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The rules that file a captured message under one namespace, in order (as {@link
 * PostaConfig.Capture} documents them): the SMTP AUTH login's namespace when the client logged
 * in (and {@code loginNamespaces} is on); else the first recipient, in RCPT TO order, whose
 * address the namespace pattern matches; else {@link PostaConfig.Capture#DEFAULT_NAMESPACE}. A
 * login's namespace is the pattern's group when the login matches it, else the whole login. A
 * pure function of the envelope: the same envelope always lands in the same namespace.
 */
public final class Namespaces {
  private final boolean byLogin;
  /** Null when recipients name no namespace. */
  private final Pattern pattern;

  public Namespaces(PostaConfig.Capture capture) {
    this.byLogin = capture.loginNamespaces();
    this.pattern = capture.namespacePattern().isEmpty() ? null : Pattern.compile(capture.namespacePattern());
  }

  /** The namespace {@code envelope}'s message belongs to, lower case. */
  public String of(Envelope envelope) {
    return of(envelope.login(), envelope.recipients().stream().map(r -> r.address().toString()).toList())
        .orElse(PostaConfig.Capture.DEFAULT_NAMESPACE);
  }

  /**
   * The namespace a login (null: none) and recipients (in RCPT TO order) name by the rules, or
   * empty when none does (the message would go to the default namespace): what a session knows
   * before its message is whole, such as at RCPT.
   */
  public Optional<String> of(String login, List<String> recipients) {
    if (byLogin && login != null) {
      return Optional.of(named(login).orElse(login.toLowerCase(Locale.ROOT)));
    }
    for (String r : recipients) {
      Optional<String> ns = named(r);
      if (ns.isPresent()) return ns;
    }
    return Optional.empty();
  }

  /** The namespace an address names by the pattern (its first group, lower case), if it names one. */
  public Optional<String> named(String address) {
    if (pattern == null) return Optional.empty();
    Matcher m = pattern.matcher(address.toLowerCase(Locale.ROOT));
    if (!m.find() || m.group(1) == null || m.group(1).isEmpty()) return Optional.empty();
    return Optional.of(m.group(1));
  }
}
