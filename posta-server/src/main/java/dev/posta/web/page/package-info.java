/**
 * The browser pages: sign-in, sessions and their CSRF tokens, the signed-in user's folders and
 * message lists ({@link dev.posta.web.page.Pages} routes them). Server-rendered HTML from jte
 * templates in {@code src/main/jte}, compiled to Java at build time (into {@code
 * dev.posta.web.page.templates}) so the server never compiles a template and javac checks every
 * one; a template takes one record of {@link dev.posta.web.page.Views}. One stylesheet and one
 * script (live updates, {@code posta.js}; every page works without it), nothing inline, under a
 * strict Content-Security-Policy. Writing mail ({@link dev.posta.web.page.ComposePages}) sends
 * through local submission, as the API does. The operators' pages under {@code /admin}
 * ({@link dev.posta.web.page.OperatorPages}) act through what the operators' API and the CLI use:
 * the users page through {@link dev.posta.web.AccountChanges}, the domains page through {@code
 * mailauth.publish}, the queue page ({@link dev.posta.web.page.QueuePages}) through {@code
 * control.QueueRequest}, listed and paged by {@code control.QueueFilter} and worded by {@code
 * control.QueueWords} as the API and {@code posta queue} are, the server page through the
 * meters' history and {@code web.Readiness}, its charts SVG drawn by {@link
 * dev.posta.web.page.MinuteChart} and shown as images; their models are {@link
 * dev.posta.web.page.UserViews}, {@link dev.posta.web.page.DomainViews}, {@link
 * dev.posta.web.page.QueueViews} and {@link dev.posta.web.page.ServerViews}.
 *
 * <p>Adding a page: a template taking a new {@code Views} record, a route in {@code Pages}
 * answering through {@code Pages.html} (which sets the security headers; its {@code frameSrc}
 * is the one thing a page may widen), the session from {@code Pages.session}, the mailbox from
 * the session's account alone.
 */
package dev.posta.web.page;
