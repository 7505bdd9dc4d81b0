/**
 * The assembly: {@link dev.posta.PostaServer} builds the parts from the configuration (spool,
 * queue, delivery targets, accounts, listeners) and starts and stops them in order. Only the
 * command line ({@code cli}) uses it; it may use every package below.
 */
package dev.posta;
