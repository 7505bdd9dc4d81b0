package dev.posta.mailauth.dkim;

/** A DKIM-Signature field as {@link DkimSignature#parse} read it: usable, or not and why. */
public sealed interface ParsedSignature permits DkimSignature, DkimSignature.Unusable {}
