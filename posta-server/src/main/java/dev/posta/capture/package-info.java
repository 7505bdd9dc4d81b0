/**
 * Capture mode's index of captured mail: every message local delivery made in capture mode, kept
 * in memory with its namespace, envelope and key header fields, for the faces to query and wait
 * on (the JUnit extension, the HTTP API, the CLI). {@link dev.posta.capture.CapturedMail} is the
 * index, {@link dev.posta.capture.Namespaces} the rules that file a message under a namespace,
 * {@link dev.posta.capture.MailQuery} and {@link dev.posta.capture.TextMatch} what a caller asks
 * for; {@link dev.posta.capture.MessageText} and {@link dev.posta.capture.AuthenticationResults}
 * read a message's links, one-time code and authentication results the same way for every face.
 * Fed by the assembly from local delivery; uses the mail model and the configuration only.
 */
package dev.posta.capture;
