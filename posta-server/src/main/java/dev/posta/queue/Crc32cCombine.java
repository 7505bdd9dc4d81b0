package dev.posta.queue;

/**
 * The CRC-32C of two pieces put together, from the pieces' CRCs and the second's length, without
 * reading either again: what lets header fields be added in front of a message that was
 * checksummed while it arrived (a DKIM signature) and spilled to disk, without reading the
 * message back. The arithmetic of zlib's {@code crc32_combine} (multiplication by x^(8n) modulo
 * the CRC polynomial, in GF(2)), with the Castagnoli polynomial of {@link java.util.zip.CRC32C}.
 */
final class Crc32cCombine {
  private Crc32cCombine() {}

  /** The Castagnoli polynomial, bit-reversed (RFC 3720 §B.4). */
  private static final int POLY = 0x82f63b78;
  /** x^(2^n) modulo the polynomial, n = 0..31. */
  private static final int[] X2N = new int[32];

  static {
    int p = 1 << 30; // x^1
    X2N[0] = p;
    for (int n = 1; n < 32; n++) X2N[n] = p = multiply(p, p);
  }

  /** CRC-32C of A then B, given CRC-32C of A, of B, and B's length in octets. */
  static int combine(int crcA, int crcB, long lengthB) {
    return multiply(xToThe8n(lengthB), crcA) ^ crcB;
  }

  /** a(x) * b(x) modulo the polynomial; {@code a} is never zero here. */
  private static int multiply(int a, int b) {
    int m = 1 << 31;
    int p = 0;
    while (true) {
      if ((a & m) != 0) {
        p ^= b;
        if ((a & (m - 1)) == 0) break;
      }
      m >>>= 1;
      b = (b & 1) != 0 ? (b >>> 1) ^ POLY : b >>> 1;
    }
    return p;
  }

  /** x^(8 * octets) modulo the polynomial. */
  private static int xToThe8n(long octets) {
    int p = 1 << 31; // x^0
    for (int k = 3; octets != 0; octets >>>= 1, k++) {
      if ((octets & 1) != 0) p = multiply(X2N[k & 31], p);
    }
    return p;
  }
}
