/**
 * The control socket: a Unix-domain socket in the data folder through which {@code posta queue}
 * talks to a running server. A listener like {@code smtp}, for the administrator only (the
 * folder is private).
 */
package dev.posta.control;
