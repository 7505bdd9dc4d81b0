package dev.posta.mailauth.dkim;

/** A key record's text as {@link KeyRecord#parse} read it: a key, or why not. */
public sealed interface ParsedKeyRecord permits KeyRecord, KeyRecord.Malformed {}
