/**
 * The meters of a running Posta ({@link dev.posta.metrics.MailMetrics}): connections and sessions
 * by listener, messages accepted and refused, deliveries, deferrals, bounces and their latency,
 * the queue, TLS and logins, the JVM; in Prometheus' text format for {@code /metrics} and a
 * per-minute history of the last hour for charts. A leaf beside config (whose listener kinds it
 * names): the server makes one and hands it to the listeners, the sessions and the queue, which
 * name mail events and never Micrometer; the web face only writes it out.
 */
package dev.posta.metrics;
