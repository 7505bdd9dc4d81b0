/**
 * The durable queue. {@link dev.posta.queue.Spool} keeps messages in append-only segments with
 * group fsync (250 only once a message is on disk) and a progress log; {@link
 * dev.posta.queue.QueueManager} schedules attempts, each planned by an {@link
 * dev.posta.queue.AttemptPlan} (routing, loops, shares per route), and hands their jobs to
 * delivery targets fairly per destination; {@link dev.posta.queue.Settlement} finishes, defers or bounces each recipient
 * and spools the notices ({@link dev.posta.queue.DeliveryReport}, RFC 3464); {@link
 * dev.posta.queue.QueueControl} is the administrator's commands ({@code posta queue}), answering
 * in records and wording nothing. Used by the listeners; uses delivery.
 */
package dev.posta.queue;
