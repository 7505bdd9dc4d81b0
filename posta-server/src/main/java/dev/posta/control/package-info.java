/**
 * The control socket: a Unix-domain socket in the data folder through which {@code posta queue}
 * talks to a running server. A listener like {@code smtp}, for the administrator only (the
 * folder is private). It carries a {@link dev.posta.control.QueueRequest} in and a {@link
 * dev.posta.control.QueueReply} back as the records of {@link dev.posta.control.ControlProtocol},
 * never text: the CLI renders the answer. Uses queue.
 */
package dev.posta.control;
