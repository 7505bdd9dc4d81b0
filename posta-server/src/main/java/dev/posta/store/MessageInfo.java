package dev.posta.store;

/**
 * What a mail client asks of a message without reading it. Its internal date is asked of the
 * {@link Folder} apart ({@link Folder#internalDate}): a store may have to read that from the
 * message's file, which listing a folder should not do for every message.
 *
 * @param uid its UID in the folder (RFC 9051 §2.3.1.1): unique, ascending, never used again
 * @param modseq the MODSEQ of its last change (RFC 7162 §3.1.1)
 * @param flags its system {@link Flags}
 * @param size its size as served, with CRLF line ends (RFC822.SIZE)
 */
public record MessageInfo(long uid, long modseq, int flags, long size) {}
