package dev.posta.web.page;

import dev.posta.PostaServer;
import dev.posta.auth.SaslMechanism;
import dev.posta.auth.UserStore;
import dev.posta.net.SaslLogin;
import dev.posta.store.MailboxId;
import dev.posta.store.MailboxStore;
import dev.posta.web.ApiError;
import dev.posta.web.Exchange;
import dev.posta.web.MailEvents;
import dev.posta.web.WebServer;
import gg.jte.ContentType;
import gg.jte.TemplateEngine;
import gg.jte.output.Utf8ByteOutput;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.ZoneId;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.eclipse.jetty.util.Fields;
import org.eclipse.jetty.util.UrlEncoded;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The browser pages: sign-in and sign-out, the signed-in user's folders and message lists, and
 * the stylesheet, server-rendered from jte templates compiled at build time (src/main/jte; HTML
 * output escaped by context). Every path outside {@code /api/}, {@code /healthz} and {@code
 * /readyz} comes here; what is not a page is an HTML 404.
 *
 * <ul>
 *   <li>{@code GET /}: to the inbox when signed in, else to the sign-in page (303);
 *   <li>{@code GET /signin}, {@code POST /signin}: the form, and signing in with an account's
 *       address and password ({@code posta user add});
 *   <li>{@code POST /signout}: ends the session;
 *   <li>{@code GET /mail/<folder>}: a folder's messages ({@link MailPages}); {@code
 *       /mail/<folder>/<uid>}: one message;
 *   <li>{@code GET /compose}, {@code POST /compose}: the compose form, new or to reply, reply to
 *       all or forward ({@code ?mode=reply&folder=INBOX&uid=3}), and sending it ({@link
 *       ComposePages}), then to the Sent folder (303);
 *   <li>{@code GET /mail/events} asking for {@code text/event-stream} (as EventSource does): the
 *       mailbox's folder counts as server-sent events ({@link MailEvents}; a folder named
 *       "events" is still its list to any other request);
 *   <li>{@code GET /static/<name>}: the stylesheet and the script of live updates ({@link
 *       StaticFiles});
 *   <li>{@code /admin} and below: the operators' pages, for an administrator ({@link
 *       OperatorPages}).
 * </ul>
 *
 * <p><b>Sign-in.</b> The password goes through the same PLAIN mechanism and {@link SaslLogin}
 * as IMAP's LOGIN, so the one AUTH throttle counts failures per client network across every
 * protocol (slowed from the third, 429 with {@code Retry-After} when locked out), and each
 * failure logs one line for fail2ban, {@code WebServer: http[192.0.2.7]: web sign-in failed:
 * wrong password or unknown user ... (2 recent failures from this address)}; a wrong password is
 * 401 and the form again with one message that never says which part was wrong. Success makes a
 * new session ({@link Sessions}: a random ID the browser never had before, so none it was given
 * earlier is promoted) in the cookie {@value #SESSION_COOKIE}: HttpOnly, SameSite=Strict, Path=/,
 * and Secure over HTTPS.
 *
 * <p><b>Forgery.</b> Every form that posts carries a CSRF token in a hidden field, checked on
 * every POST (403 otherwise): the session's own token; before sign-in, the sign-in form's token,
 * matched against the same value in the cookie {@value #SIGNIN_COOKIE} (a double-submit cookie,
 * so no session exists before sign-in). A POST whose {@code Origin} is another origin, or whose
 * {@code Sec-Fetch-Site} says it came from elsewhere, is refused before its form is read. The search form
 * changes nothing and is a GET, carrying no token, so no token ever lands in a URL.
 *
 * <p><b>Headers.</b> Every answer carries a strict Content-Security-Policy (nothing inline:
 * scripts, styles and connections (the live updates' event stream) to this origin only, no
 * plugins, no framing of these pages), {@code
 * X-Content-Type-Options: nosniff} and {@code Referrer-Policy: no-referrer}, and pages are {@code
 * Cache-Control: no-store}, with their server time in {@code Server-Timing} (W3C Server Timing).
 * A page that frames content (the message view's sandboxed HTML) widens
 * {@code frame-src} alone through {@link #html(Exchange, int, String, Object, String)}.
 *
 * <p>Off in capture mode ({@code posta dev}): there every address signs in without a password,
 * so pages on a loopback listener would let any web page's script read captured mail by DNS
 * rebinding; capture mode's API has its own guard against that.
 */
public final class Pages {
  /** Lines read {@code WebServer: http[ip]: ...}, beside the API's bearer-token lines, for one fail2ban filter. */
  private static final Logger log = LoggerFactory.getLogger(WebServer.class);
  static final String SESSION_COOKIE = "posta_session";
  static final String SIGNIN_COOKIE = "posta_signin";
  /** The largest form taken: an address and a password with room to spare (413 beyond). */
  static final long FORM_LIMIT = 16 * 1024;
  /** A token as {@link Sessions#token} makes them: 32 bytes in URL-safe base64. */
  private static final Pattern TOKEN = Pattern.compile("[A-Za-z0-9_-]{43}");
  private static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
      + "form-action 'self'; "
      + "frame-ancestors 'none'; base-uri 'none'";
  private static final String SIGNIN_FAILED = "That address and password do not match an account.";

  private final PostaServer server;
  /** False in capture mode: no page but the 404. */
  private final boolean enabled;
  private final Sessions sessions;
  private final MailPages mail;
  private final MessagePages messages;
  private final ComposePages compose;
  private final OperatorPages operators;
  /** The event streams, shared with the API: one count of streams per account, all ended when the server stops. */
  private final MailEvents events;
  /** The most folders a page's event stream follows: the first in the sidebar's order. */
  static final int MAX_EVENT_FOLDERS = 50;
  private final StaticFiles statics = new StaticFiles();
  private final TemplateEngine templates = TemplateEngine.createPrecompiled(null, ContentType.Html, Pages.class.getClassLoader(),
      "dev.posta.web.page.templates");

  public Pages(PostaServer server, Clock clock, MailEvents events) {
    this.server = server;
    this.events = events;
    this.enabled = !server.config().capture().enabled();
    this.sessions = new Sessions(clock);
    this.mail = new MailPages(server.mailboxes(), ZoneId.systemDefault());
    this.messages = new MessagePages(server.mailboxes(), mail, ZoneId.systemDefault(), clock);
    this.compose = new ComposePages(server, mail, ZoneId.systemDefault());
    this.operators = new OperatorPages(server, this);
  }

  /** The Content-Security-Policy of every answer, with {@code frameSrc} as its frame-src when not null. */
  public static String contentSecurityPolicy(String frameSrc) {
    return frameSrc == null ? CSP : CSP + "; frame-src " + frameSrc;
  }

  /** Answers {@code x}, whatever happens: a page, a redirect, or an error page. */
  public void handle(Exchange x) {
    try {
      route(x);
    } catch (PageError e) {
      if (!x.answered()) error(x, e);
    } catch (ApiError e) { // a form over its size limit
      if (!x.answered()) error(x, new PageError(e.status(), "Request refused", e.getMessage(), e.headers()));
    } catch (IOException | RuntimeException e) {
      log.error("http[{}]: {} {}: {}", x.client().getHostAddress(), x.method(), x.path(), e.toString(), e);
      if (!x.answered()) error(x, new PageError(500, "Something went wrong", "The server could not answer this; the log says why."));
      else x.fail(e); // a download broken off: the connection is closed, so it does not look complete
    }
  }

  private void route(Exchange x) throws PageError, ApiError, IOException {
    String path = x.path();
    if (!enabled) throw PageError.notFound();
    if (path.startsWith("/static/")) {
      allow(x, "GET, HEAD");
      serveStatic(x, path.substring("/static/".length()));
      return;
    }
    switch (path) {
      case "/" -> {
        allow(x, "GET, HEAD");
        redirect(x, session(x).isPresent() ? Links.folder(MailboxStore.INBOX) : "/signin");
      }
      case "/signin" -> {
        allow(x, "GET, HEAD, POST");
        if (x.method().equals("POST")) signIn(x);
        else signInForm(x, 200, "", null, null);
      }
      case "/signout" -> {
        allow(x, "POST");
        signOut(x);
      }
      case "/compose" -> {
        allow(x, "GET, HEAD, POST");
        compose(x);
      }
      case "/mail", "/mail/" -> {
        allow(x, "GET, HEAD");
        redirect(x, session(x).isPresent() ? Links.folder(MailboxStore.INBOX) : "/signin");
      }
      default -> {
        if (path.equals("/admin") || path.startsWith("/admin/")) operators.handle(x, path.substring("/admin".length()));
        else if (path.startsWith("/mail/")) mailPage(x, path.substring("/mail/".length()));
        else throw PageError.notFound();
      }
    }
  }

  /**
   * {@code /mail/<folder>}: the list; {@code /mail/<folder>/<uid>}: the message (GET), or an
   * action on it (POST); {@code .../html}, {@code .../raw}, {@code .../part/<n>}: its HTML part
   * for the frame, its source, one part ({@link MessagePages}).
   */
  private void mailPage(Exchange x, String rest) throws PageError, ApiError, IOException {
    String[] parts = rest.split("/", -1);
    for (String p : parts) {
      if (p.isEmpty()) throw PageError.notFound();
    }
    if (parts.length == 1 && parts[0].equals("events") && accepts(x, "text/event-stream")) {
      allow(x, "GET");
      events(x);
      return;
    }
    boolean part = parts.length == 4 && parts[2].equals("part");
    boolean sub = parts.length == 3 && (parts[2].equals("html") || parts[2].equals("raw"));
    if (parts.length > 2 && !part && !sub) throw PageError.notFound();
    allow(x, parts.length == 2 ? "GET, HEAD, POST" : "GET, HEAD");
    Optional<Sessions.Session> session = session(x);
    if (session.isEmpty() && part) {
      ticketedPart(x, parts);
      return;
    }
    if (session.isEmpty()) {
      if (x.method().equals("POST")) throw forged(x);
      redirect(x, "/signin");
      return;
    }
    Sessions.Session s = session.get();
    MailboxId mailbox = MailboxId.ofAccount(s.account);
    String folder = mail.folder(mailbox, parts[0]);
    if (parts.length == 1) {
      Views.MailPage page = mail.list(layout(MailPages.label(folder), s), mailbox, folder, x.query());
      html(x, 200, "mail.jte", page, null);
      return;
    }
    long uid = uid(parts[1]);
    boolean images = "1".equals(x.query().getValue("images"));
    if (parts.length == 2 && x.method().equals("POST")) {
      act(x, s, mailbox, folder, uid);
    } else if (parts.length == 2) {
      html(x, 200, "message.jte", messages.page(layout("", s), mailbox, s.account, folder, uid, images, x.method().equals("GET")), "'self'");
    } else if (parts[2].equals("html")) {
      Map<String, String> headers = Map.of("Content-Security-Policy", MessagePages.framePolicy(images), "X-Content-Type-Options", "nosniff",
          "Referrer-Policy", "no-referrer", "X-Frame-Options", "SAMEORIGIN");
      x.send(200, "text/html; charset=utf-8", messages.frame(mailbox, s.account, folder, uid, images), headers);
    } else if (parts[2].equals("raw")) {
      messages.raw(mailbox, folder, uid, (type, headers) -> x.stream(200, type, headers));
    } else {
      messages.part(mailbox, folder, uid, index(parts[3]), (type, headers) -> x.stream(200, type, headers));
    }
  }

  /**
   * The signed-in mailbox's news as server-sent events, for the pages' script: its folders (the
   * first {@value #MAX_EVENT_FOLDERS} in the sidebar's order) as the API's stream tells them,
   * until the session ends (checked at each change and at the heartbeat, every {@link
   * MailEvents#PAGE_HEARTBEAT}, without keeping the session alive).
   * 403 without a session: EventSource gives up on it rather than reconnecting.
   */
  private void events(Exchange x) throws PageError, ApiError, IOException {
    Optional<Sessions.Session> session = session(x);
    if (session.isEmpty()) throw new PageError(403, "Not signed in", "Sign in to follow your mail.");
    Sessions.Session s = session.get();
    MailboxId mailbox = MailboxId.ofAccount(s.account);
    List<String> folders = mail.ordered(mailbox);
    if (folders.isEmpty()) folders = List.of(MailboxStore.INBOX);
    if (folders.size() > MAX_EVENT_FOLDERS) folders = folders.subList(0, MAX_EVENT_FOLDERS);
    events.stream(x, mailbox, List.copyOf(folders), MailEvents.PAGE_HEARTBEAT, () -> sessions.live(s));
  }

  /**
   * {@code /compose}: the form (GET), new or prefilled from a message of the session's own
   * mailbox; sending it (POST, multipart/form-data): same origin, a session, then the form read
   * ({@link UploadedForm}) and its CSRF token checked before anything is sent.
   */
  private void compose(Exchange x) throws PageError, ApiError, IOException {
    Optional<Sessions.Session> session = session(x);
    if (!x.method().equals("POST")) {
      if (session.isEmpty()) {
        redirect(x, "/signin");
        return;
      }
      Sessions.Session s = session.get();
      MailboxId mailbox = MailboxId.ofAccount(s.account);
      ComposePages.Mode mode = ComposePages.Mode.of(x.query().getValue("mode"));
      String folder = null;
      long uid = 0;
      if (mode != ComposePages.Mode.NEW) {
        folder = mail.folder(mailbox, orEmpty(x.query().getValue("folder")));
        uid = uid(orEmpty(x.query().getValue("uid")));
      }
      html(x, 200, "compose.jte", compose.form(layout("", s), mailbox, s.account, mode, folder, uid), null);
      return;
    }
    sameOrigin(x);
    if (session.isEmpty()) throw forged(x);
    Sessions.Session s = session.get();
    if (!UploadedForm.isMultipart(x.header("Content-Type"))) {
      throw new PageError(415, "Unsupported form", "The compose form is sent as multipart/form-data.");
    }
    UploadedForm form = UploadedForm.read(x, server.config().limits().maxMessageSize());
    if (!same(s.csrf, form.fields.get("csrf"))) throw forged(x);
    MailboxId mailbox = MailboxId.ofAccount(s.account);
    switch (compose.send(layout("", s), mailbox, s.account, x.client(), form)) {
      case ComposePages.Sent sent -> redirect(x, Links.withQuery(Links.folder("Sent"), Map.of("sent", sent.id().value())));
      case ComposePages.Refused refused -> html(x, refused.status(), "compose.jte", refused.form(), null);
    }
  }

  private static boolean accepts(Exchange x, String type) {
    String accept = x.header("Accept");
    return accept != null && accept.toLowerCase(java.util.Locale.ROOT).contains(type);
  }

  /**
   * A part asked for without a session: an inline image of the sandboxed frame, whose requests
   * carry no SameSite cookie; it needs the ticket the frame's HTML gave it ({@link
   * MessagePages#ticket}), else it is 404 as any part that is not the asker's.
   */
  private void ticketedPart(Exchange x, String[] parts) throws PageError, IOException {
    String account = x.query().getValue("for");
    long uid = uid(parts[1]);
    int index = index(parts[3]);
    if (account == null || !messages.ticketOpens(account, parts[0].equalsIgnoreCase(MailboxStore.INBOX) ? MailboxStore.INBOX : parts[0], uid,
        index, x.query().getValue("until"), x.query().getValue("ticket"))) {
      throw PageError.notFound();
    }
    MailboxId mailbox = MailboxId.ofAccount(account);
    messages.part(mailbox, mail.folder(mailbox, parts[0]), uid, index, (type, headers) -> x.stream(200, type, headers));
  }

  /** A message's action form: same origin, the session's token, a known action; then where to go. */
  private void act(Exchange x, Sessions.Session s, MailboxId mailbox, String folder, long uid) throws PageError, ApiError, IOException {
    Fields form = postedForm(x, s);
    MessagePages.Action action;
    try {
      action = MessagePages.Action.valueOf(orEmpty(form.getValue("action")).toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw PageError.badRequest("action: expected read, unread, flag, unflag, move or delete, got '" + orEmpty(form.getValue("action")) + "'");
    }
    String target = orEmpty(form.getValue("folder"));
    if (action == MessagePages.Action.MOVE && target.isEmpty()) throw PageError.badRequest("folder: which folder to move the message to");
    String next = messages.act(mailbox, folder, uid, action, target);
    log.info("http[{}]: {} {}/{}: user={}", x.client().getHostAddress(), action.name().toLowerCase(java.util.Locale.ROOT), folder, uid,
        s.account);
    redirect(x, next);
  }

  private static int index(String text) throws PageError {
    try {
      int n = Integer.parseInt(text);
      if (n >= 1) return n;
    } catch (NumberFormatException e) {
      // below
    }
    throw PageError.notFound();
  }

  private static long uid(String text) throws PageError {
    try {
      long uid = Long.parseLong(text);
      if (uid > 0 && uid <= 0xFFFF_FFFFL) return uid;
    } catch (NumberFormatException e) {
      // below
    }
    throw PageError.notFound();
  }

  // ---- sign-in and sign-out

  private void signInForm(Exchange x, int status, String address, String error, String token) {
    if (token == null) {
      if (session(x).isPresent()) {
        redirect(x, Links.folder(MailboxStore.INBOX));
        return;
      }
      // Keep a token the browser has (another tab's form stays good); otherwise a new one.
      String held = x.cookie(SIGNIN_COOKIE);
      token = held != null && TOKEN.matcher(held).matches() ? held : sessions.token();
    }
    x.addHeader("Set-Cookie", cookie(x, SIGNIN_COOKIE, token, "/signin", false));
    html(x, status, "signin.jte", new Views.SignInPage(layout("Sign in", null), token, address, error), null);
  }

  private void signIn(Exchange x) throws PageError, ApiError, IOException {
    sameOrigin(x);
    Fields form = form(x);
    String token = x.cookie(SIGNIN_COOKIE);
    if (token == null || !TOKEN.matcher(token).matches() || !same(token, form.getValue("csrf"))) {
      log.warn("http[{}]: web sign-in refused: the form's CSRF token does not match its cookie", x.client().getHostAddress());
      throw new PageError(403, "Sign-in form expired", "This sign-in form is no longer valid. Open the sign-in page again and retry.");
    }
    String address = orEmpty(form.getValue("address")).strip();
    String password = orEmpty(form.getValue("password"));
    if (address.isEmpty() || password.isEmpty()) {
      signInForm(x, 400, address, "Enter your address and your password.", token);
      return;
    }
    String prefix = "http[" + x.client().getHostAddress() + "]";
    SaslLogin.Outcome outcome;
    if (address.indexOf('\0') >= 0 || password.indexOf('\0') >= 0) {
      outcome = new SaslLogin.Malformed(); // no account has a NUL in it; PLAIN would take it for a separator
    } else {
      // The login IMAP's LOGIN makes: PLAIN's message, through the throttle every protocol shares.
      byte[] plain = ("\0" + address + "\0" + password).getBytes(StandardCharsets.UTF_8);
      SaslMechanism plainMechanism = SaslMechanism.create("PLAIN", server.users()).orElseThrow();
      outcome = SaslLogin.run(server.authThrottle(), x.client(), plainMechanism, plain, challenge -> null, log, prefix, "web sign-in");
      java.util.Arrays.fill(plain, (byte) 0);
    }
    switch (outcome) {
      case SaslLogin.LoggedIn in -> signedIn(x, in.user(), prefix);
      case SaslLogin.LockedOut _, SaslLogin.Busy _ -> {
        long retry = server.config().submission().authLockout().toSeconds();
        throw new PageError(429, "Too many failed sign-ins",
            "There were too many failed sign-ins from your address lately. Try again in a while.", Map.of("Retry-After", Long.toString(retry)));
      }
      case SaslLogin.Unavailable _ -> throw new PageError(503, "Cannot sign in now", "The accounts cannot be read just now. Try again soon.");
      case SaslLogin.Rejected _, SaslLogin.Malformed _, SaslLogin.Cancelled _ -> signInForm(x, 401, address, SIGNIN_FAILED, token);
    }
  }

  private void signedIn(Exchange x, String account, String prefix) {
    String held = x.cookie(SESSION_COOKIE);
    if (held != null) sessions.end(held); // signing in again replaces the session: never reused
    Sessions.Session s = sessions.start(account);
    log.info("{}: web sign-in succeeded: user={}", prefix, account);
    MailboxId mailbox = MailboxId.ofAccount(account);
    try { // as at an IMAP login: a user with no mail yet still has an inbox, and the special folders
      server.mailboxes().createInbox(mailbox);
      server.mailboxes().makeSpecialFolders(mailbox);
    } catch (IOException e) {
      log.warn("{}: cannot prepare the mailbox of {}: {}", prefix, account, e.toString());
    }
    x.addHeader("Set-Cookie", cookie(x, SESSION_COOKIE, s.id, "/", false));
    x.addHeader("Set-Cookie", cookie(x, SIGNIN_COOKIE, "", "/signin", true));
    redirect(x, Links.folder(MailboxStore.INBOX));
  }

  private void signOut(Exchange x) throws PageError, ApiError, IOException {
    sameOrigin(x);
    Fields form = form(x);
    Optional<Sessions.Session> session = session(x);
    if (session.isPresent()) {
      if (!same(session.get().csrf, form.getValue("csrf"))) throw forged(x);
      sessions.end(session.get().id);
      log.info("http[{}]: signed out: user={}", x.client().getHostAddress(), session.get().account);
    }
    x.addHeader("Set-Cookie", cookie(x, SESSION_COOKIE, "", "/", true));
    redirect(x, "/signin");
  }

  /**
   * The request's live session, while its account still exists and is not disabled: removing
   * or disabling an account ({@code posta user remove}, {@code disable}) ends its sessions at
   * their next request. When the accounts cannot be read, nobody is signed in for that request.
   */
  Optional<Sessions.Session> session(Exchange x) {
    Optional<Sessions.Session> session = sessions.find(x.cookie(SESSION_COOKIE));
    if (session.isEmpty()) return session;
    String account = session.get().account;
    Optional<UserStore.User> user;
    try {
      user = server.users().find(account);
    } catch (IOException e) {
      log.warn("http[{}]: cannot read the accounts to check user={}: {}", x.client().getHostAddress(), account, e.toString());
      return Optional.empty();
    }
    if (user.isPresent() && !user.get().disabled()) return session;
    sessions.end(session.get().id);
    log.info("http[{}]: session ended: the account is {}: user={}", x.client().getHostAddress(), user.isEmpty() ? "removed" : "disabled",
        account);
    return Optional.empty();
  }

  /**
   * A cookie only this server's pages send and read back (RFC 6265): never to script
   * (HttpOnly), never on a request another site starts (SameSite=Strict), over TLS only when
   * it came over TLS; {@code expire} clears it.
   */
  private static String cookie(Exchange x, String name, String value, String path, boolean expire) {
    return name + "=" + value + "; Path=" + path + "; HttpOnly; SameSite=Strict" + (x.secure() ? "; Secure" : "") + (expire ? "; Max-Age=0" : "");
  }

  // ---- forgery checks

  /**
   * Refuses a POST another origin started: by Fetch Metadata's {@code Sec-Fetch-Site} where the
   * browser sends it (anything but same-origin), and by {@code Origin} (RFC 6454 §7) where that
   * names another origin. {@code Origin: null} is what a browser sends for its own form under
   * {@code Referrer-Policy: no-referrer}, and for a sandboxed frame's: it passes only with
   * {@code Sec-Fetch-Site: same-origin}. The CSRF token is checked after this, whatever it says.
   */
  private static void sameOrigin(Exchange x) throws PageError {
    String origin = x.header("Origin");
    String fetchSite = x.header("Sec-Fetch-Site");
    boolean sameSite = fetchSite == null || fetchSite.equals("same-origin") || fetchSite.equals("none");
    boolean sameOrigin = origin == null || ownHost(x, origin) || (origin.equals("null") && "same-origin".equals(fetchSite));
    if (!sameSite || !sameOrigin) {
      log.warn("http[{}]: {} {} refused: a cross-origin form (Origin {}, Sec-Fetch-Site {})", x.client().getHostAddress(), x.method(),
          x.path(), origin, fetchSite);
      throw new PageError(403, "Refused", "This form was sent from another site.");
    }
  }

  /**
   * Whether {@code origin} names this server as the browser addressed it: its host and port are
   * the Host header's (RFC 6454 §4). The scheme is not compared: behind a TLS proxy ({@code
   * allow-plain-http}) the browser's origin is https while the request reaching Posta is http.
   */
  private static boolean ownHost(Exchange x, String origin) {
    String host = x.header("Host");
    for (String scheme : new String[] {"http://", "https://"}) {
      if (host != null && origin.regionMatches(true, 0, scheme, 0, scheme.length())) {
        return origin.substring(scheme.length()).equalsIgnoreCase(host);
      }
    }
    return false;
  }

  /**
   * A signed-in page's form, posted: from this origin ({@link #sameOrigin}), url-encoded, with
   * the session's CSRF token; 403 or 415 otherwise, before anything is done.
   */
  static Fields postedForm(Exchange x, Sessions.Session s) throws PageError, ApiError, IOException {
    sameOrigin(x);
    Fields form = form(x);
    if (!same(s.csrf, form.getValue("csrf"))) throw forged(x);
    return form;
  }

  static PageError forged(Exchange x) {
    log.warn("http[{}]: {} {} refused: missing or wrong CSRF token", x.client().getHostAddress(), x.method(), x.path());
    return new PageError(403, "Form expired", "This form is no longer valid (it is from an earlier session, or from elsewhere). Reload the page and retry.");
  }

  private static boolean same(String expected, String given) {
    return given != null && MessageDigest.isEqual(expected.getBytes(StandardCharsets.US_ASCII), given.getBytes(StandardCharsets.UTF_8));
  }

  private static Fields form(Exchange x) throws PageError, ApiError, IOException {
    String type = x.header("Content-Type");
    if (type == null || !type.toLowerCase(java.util.Locale.ROOT).startsWith("application/x-www-form-urlencoded")) {
      throw new PageError(415, "Unsupported form", "A form here is sent as application/x-www-form-urlencoded.");
    }
    Fields fields = new Fields();
    try {
      UrlEncoded.decodeUtf8To(new String(x.body(FORM_LIMIT), StandardCharsets.UTF_8), fields);
    } catch (IllegalArgumentException e) {
      throw PageError.badRequest("The form could not be read: " + e.getMessage());
    }
    return fields;
  }

  // ---- answers

  /** The frame of a page of the user's mail for {@code s}'s account (null: nobody signed in). */
  Views.Layout layout(String title, Sessions.Session s) {
    // Signed-in pages have the live updates' script; the sign-in page has none.
    return new Views.Layout(title, s == null ? null : s.account, s == null ? null : s.csrf, statics.url("posta.css"),
        s == null ? List.of() : List.of(statics.url("posta.js")), s != null && admin(s.account), Views.Section.MAIL);
  }

  /** Whether {@code account} is an administrator's now ({@code posta user admin}): read at each request, so a revocation holds at once. */
  boolean admin(String account) {
    try {
      return server.users().find(account).map(UserStore.User::admin).orElse(false);
    } catch (IOException e) {
      log.warn("cannot read the accounts to check whether {} is an administrator: {}", account, e.toString());
      return false;
    }
  }

  /** Renders {@code template} with {@code model} and sends it, {@code frameSrc} added to the policy when not null. */
  void html(Exchange x, int status, String template, Object model, String frameSrc) {
    Utf8ByteOutput out = new Utf8ByteOutput();
    templates.render(template, model, out);
    Map<String, String> headers = new HashMap<>(securityHeaders(frameSrc));
    // The server's time for the page, for the browser's developer tools and posta-bench web-list.
    headers.put("Server-Timing", String.format(java.util.Locale.ROOT, "page;dur=%.1f", x.elapsedMillis()));
    x.send(status, "text/html; charset=utf-8", out.toByteArray(), headers);
  }

  /** The headers every answer of the pages carries ({@link #contentSecurityPolicy}, nosniff, no referrer, no framing). */
  static Map<String, String> securityHeaders(String frameSrc) {
    return Map.of("Content-Security-Policy", contentSecurityPolicy(frameSrc), "X-Content-Type-Options", "nosniff",
        "Referrer-Policy", "no-referrer", "X-Frame-Options", "DENY");
  }

  /** 303 See Other (RFC 9110 §15.4.4): the browser GETs {@code location}, a path on this server. */
  static void redirect(Exchange x, String location) {
    Map<String, String> headers = new HashMap<>(securityHeaders(null));
    headers.put("Location", URI.create(location).toASCIIString());
    x.send(303, "text/plain; charset=utf-8", new byte[0], headers);
  }

  private void error(Exchange x, PageError e) {
    Optional<Sessions.Session> s = session(x);
    Map<String, String> headers = new HashMap<>(securityHeaders(null));
    headers.putAll(e.headers);
    Utf8ByteOutput out = new Utf8ByteOutput();
    templates.render("error.jte", new Views.ErrorPage(layout(e.title, s.orElse(null)), e.title, e.getMessage()), out);
    x.send(e.status, "text/html; charset=utf-8", out.toByteArray(), headers);
  }

  private void serveStatic(Exchange x, String name) throws PageError {
    StaticFiles.File file = statics.get(name);
    if (file == null) throw PageError.notFound();
    Map<String, String> headers = new HashMap<>(securityHeaders(null));
    headers.put("ETag", file.etag());
    // The versioned URL never changes content: a year, immutable. Any other asks each time.
    headers.put("Cache-Control", file.version().equals(x.query().getValue("v")) ? "public, max-age=31536000, immutable" : "no-cache");
    String match = x.header("If-None-Match");
    if (match != null && (match.equals(file.etag()) || match.equals("W/" + file.etag()))) {
      x.send(304, file.type(), new byte[0], headers);
      return;
    }
    x.send(200, file.type(), file.content(), headers);
  }

  static void allow(Exchange x, String methods) throws PageError {
    if (!List.of(methods.split(", ")).contains(x.method())) throw PageError.methodNotAllowed(x.method(), methods);
  }

  static String orEmpty(String s) {
    return s == null ? "" : s;
  }
}
