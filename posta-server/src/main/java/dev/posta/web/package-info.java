/**
 * The web face of Posta: the {@code http} and {@code https} listeners, health and readiness
 * ({@code /healthz}, {@code /readyz}), the JSON API under {@code /api/v1} ({@link
 * dev.posta.web.api}) and the browser pages ({@link dev.posta.web.page}). Nothing imports this package but the command line, which plugs it into
 * {@link dev.posta.PostaServer#web}.
 *
 * <p>Served by Jetty 12's core server (handlers, no servlets), not Helidon SE 4: Jetty runs each
 * blocking request on a virtual thread of its own ({@code QueuedThreadPool}'s virtual-threads
 * executor) while its selectors stay on a few platform threads, so a handler reads and writes
 * top to bottom as the mail protocols' sessions do (DESIGN.md, principle 8); it is a handful of
 * small jars with no configuration framework or service loading of its own to set up beside
 * Posta's, its TLS takes an {@link javax.net.ssl.SSLEngine} from the same {@link
 * dev.posta.tls.ServerTls} the mail listeners use (a renewed certificate serves new connections
 * without a restart), and it has been the embedded HTTP server of record for two decades, with a
 * security team behind it. Helidon SE 4's server is built for virtual threads too, but brings
 * its own configuration, media and TLS abstractions, which would sit beside Posta's rather than
 * use them.
 */
package dev.posta.web;
