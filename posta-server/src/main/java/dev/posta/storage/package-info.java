/**
 * Durable files, below every store: folders and files private (0700/0600) from their creation
 * ({@link dev.posta.storage.PrivateFiles}), directory entries made durable, alone or by group
 * fsync ({@link dev.posta.storage.DirectorySync}), and storage errors in one log line.
 */
package dev.posta.storage;
