package dev.posta.store;

import java.time.Instant;

/**
 * What a mail client asks of a message without reading it.
 *
 * @param uid its UID in the folder (RFC 9051 §2.3.1.1): unique, ascending, never used again
 * @param modseq the MODSEQ of its last change (RFC 7162 §3.1.1)
 * @param flags its system {@link Flags}
 * @param size its size as served, with CRLF line ends (RFC822.SIZE)
 * @param internalDate when it arrived (INTERNALDATE, RFC 9051 §2.3.3)
 */
public record MessageInfo(long uid, long modseq, int flags, long size, Instant internalDate) {}
