/**
 * The {@code posta} command (picocli): {@code serve}, {@code check-config}, {@code user},
 * {@code queue}. The face of the program: nothing uses it; it renders what the packages below
 * report.
 */
package dev.posta.cli;
