/**
 * The configuration: {@link dev.posta.config.PostaConfig}, immutable records of every setting,
 * and {@link dev.posta.config.ConfigLoader}, which reads {@code posta.toml} (its own small TOML
 * reader), one class for each section, and reports every problem with its file and line at once.
 * A leaf: it depends on the mail model only.
 */
package dev.posta.config;
