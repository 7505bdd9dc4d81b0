/**
 * The clustered mode's PostgreSQL ({@code [cluster] database}): the pool, short transactions
 * that nest by joining ({@link dev.posta.database.Database}), the schema, and message content
 * named by its SHA-256 in a {@link dev.posta.database.BlobStore}. A leaf: the stores and the
 * queue build on it; it knows nothing of mail.
 */
package dev.posta.database;
