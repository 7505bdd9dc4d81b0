package dev.posta.junit;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.List;

/**
 * X.509 v3 certificates (RFC 5280 §4.1) for the per-run test CA, written in DER by hand and
 * signed by the JDK (ECDSA with SHA-256, RFC 5758 §3.2): only what {@link TestCa} issues, a CA
 * certificate and server certificates.
 *
 * <p>Why not Bouncy Castle, which the server uses for its own self-signed certificate: its first
 * certificate in a fresh JVM costs 0.15 to 0.5 s of class loading, which every test run's first
 * class with TLS would pay; these few DER structures cost nothing beyond the JDK's signature.
 * The result is parsed back by the JDK's {@link CertificateFactory}, so a malformed encoding
 * fails here, not in a client; the tests have Java's PKIX and Python's OpenSSL check the chain
 * and the names.
 *
 * <p>Both certificates pass OpenSSL's strict checks (X509_V_FLAG_X509_STRICT, Python 3.13's
 * default): the CA's basic constraints are critical, both carry a subject key identifier, the
 * server certificate an authority key identifier, key usages are as RFC 5280 §4.2.1.3 and
 * §4.2.1.12 ask for a TLS server.
 */
final class X509Writer {
  private X509Writer() {}

  // Object identifiers (RFC 5280 §4.1.2.4, §4.2.1; RFC 5758 §3.2).
  private static final String COMMON_NAME = "2.5.4.3";
  private static final String ORGANIZATION = "2.5.4.10";
  private static final String ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2";
  private static final String SUBJECT_KEY_IDENTIFIER = "2.5.29.14";
  private static final String KEY_USAGE = "2.5.29.15";
  private static final String SUBJECT_ALT_NAME = "2.5.29.17";
  private static final String BASIC_CONSTRAINTS = "2.5.29.19";
  private static final String AUTHORITY_KEY_IDENTIFIER = "2.5.29.35";
  private static final String EXTENDED_KEY_USAGE = "2.5.29.37";
  private static final String SERVER_AUTH = "1.3.6.1.5.5.7.3.1";

  /** A distinguished name: CN, and O when not null. */
  record Name(String commonName, String organization) {
    byte[] der() {
      byte[] cn = rdn(COMMON_NAME, commonName);
      return organization == null ? sequence(cn) : sequence(rdn(ORGANIZATION, organization), cn);
    }

    private static byte[] rdn(String type, String value) {
      return tlv(0x31, sequence(oid(type), tlv(0x0c, value.getBytes(StandardCharsets.UTF_8))));
    }
  }

  /** A CA certificate, self-signed: may sign server certificates only (path length 0). */
  static X509Certificate ca(Name name, PublicKey key, PrivateKey signer, BigInteger serial, Instant notBefore, Instant notAfter)
      throws GeneralSecurityException {
    byte[] extensions = sequence(
        extension(BASIC_CONSTRAINTS, true, sequence(tlv(0x01, new byte[] {(byte) 0xff}), integer(BigInteger.ZERO))),
        extension(KEY_USAGE, true, keyUsage(KEY_CERT_SIGN | CRL_SIGN)),
        extension(SUBJECT_KEY_IDENTIFIER, false, tlv(0x04, keyIdentifier(key))));
    return sign(name.der(), name.der(), key, signer, serial, notBefore, notAfter, extensions);
  }

  /**
   * A TLS server certificate issued by {@code ca}, for {@code dnsNames} and {@code ipAddresses}
   * (RFC 6125: a client checks the name it connected to against these).
   */
  static X509Certificate server(X509Certificate ca, PrivateKey caKey, Name subject, List<String> dnsNames, List<String> ipAddresses,
      PublicKey key, BigInteger serial, Instant notBefore, Instant notAfter) throws GeneralSecurityException {
    ByteArrayOutputStream names = new ByteArrayOutputStream();
    for (String dns : dnsNames) names.writeBytes(tlv(0x82, dns.getBytes(StandardCharsets.US_ASCII))); // [2] IA5String
    for (String ip : ipAddresses) names.writeBytes(tlv(0x87, ipOctets(ip))); // [7] OCTET STRING
    byte[] extensions = sequence(
        extension(BASIC_CONSTRAINTS, true, sequence()),
        extension(KEY_USAGE, true, keyUsage(DIGITAL_SIGNATURE)),
        extension(EXTENDED_KEY_USAGE, false, sequence(oid(SERVER_AUTH))),
        extension(SUBJECT_ALT_NAME, false, tlv(0x30, names.toByteArray())),
        extension(SUBJECT_KEY_IDENTIFIER, false, tlv(0x04, keyIdentifier(key))),
        extension(AUTHORITY_KEY_IDENTIFIER, false, sequence(tlv(0x80, keyIdentifier(ca.getPublicKey())))));
    // the issuer name as the CA certificate states it, octet for octet (RFC 5280 §7.1 compares them)
    return sign(ca.getSubjectX500Principal().getEncoded(), subject.der(), key, caKey, serial, notBefore, notAfter, extensions);
  }

  private static final int DIGITAL_SIGNATURE = 1 << 7; // bit 0, counted from the most significant
  private static final int KEY_CERT_SIGN = 1 << 2; // bit 5
  private static final int CRL_SIGN = 1 << 1; // bit 6

  /** The KeyUsage BIT STRING of one octet, trailing zero bits left out as DER requires (X.690 §11.2.2). */
  private static byte[] keyUsage(int bits) {
    int unused = Integer.numberOfTrailingZeros(bits);
    return tlv(0x03, new byte[] {(byte) unused, (byte) bits});
  }

  /** RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of the public key's encoding. */
  private static byte[] keyIdentifier(PublicKey key) throws GeneralSecurityException {
    return Arrays.copyOf(MessageDigest.getInstance("SHA-256").digest(key.getEncoded()), 20);
  }

  private static byte[] ipOctets(String ip) {
    try {
      return InetAddress.ofLiteral(ip).getAddress();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not an IP address: " + ip, e);
    }
  }

  private static X509Certificate sign(byte[] issuer, byte[] subject, PublicKey key, PrivateKey signer, BigInteger serial,
      Instant notBefore, Instant notAfter, byte[] extensions) throws GeneralSecurityException {
    byte[] algorithm = sequence(oid(ECDSA_WITH_SHA256)); // parameters absent (RFC 5758 §3.2)
    byte[] tbs = sequence(
        tlv(0xa0, integer(BigInteger.TWO)), // [0] EXPLICIT version: v3
        integer(serial),
        algorithm,
        issuer,
        sequence(time(notBefore), time(notAfter)),
        subject,
        key.getEncoded(), // the JDK's encoding is the SubjectPublicKeyInfo
        tlv(0xa3, extensions)); // [3] EXPLICIT extensions
    Signature s = Signature.getInstance("SHA256withECDSA");
    s.initSign(signer);
    s.update(tbs);
    byte[] signature = s.sign(); // DER Ecdsa-Sig-Value already
    byte[] der = sequence(tbs, algorithm, bitString(signature));
    return (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(new java.io.ByteArrayInputStream(der));
  }

  // --- DER (X.690) ---------------------------------------------------------------------------

  static byte[] tlv(int tag, byte[] content) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(content.length + 4);
    out.write(tag);
    int n = content.length;
    if (n < 0x80) {
      out.write(n);
    } else {
      int octets = (32 - Integer.numberOfLeadingZeros(n) + 7) / 8;
      out.write(0x80 | octets);
      for (int i = octets - 1; i >= 0; i--) out.write(n >>> (8 * i));
    }
    out.writeBytes(content);
    return out.toByteArray();
  }

  static byte[] sequence(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) out.writeBytes(p);
    return tlv(0x30, out.toByteArray());
  }

  private static byte[] integer(BigInteger value) {
    return tlv(0x02, value.toByteArray()); // two's complement, minimal: what DER wants
  }

  private static byte[] bitString(byte[] octets) {
    byte[] content = new byte[octets.length + 1]; // no unused bits
    System.arraycopy(octets, 0, content, 1, octets.length);
    return tlv(0x03, content);
  }

  private static byte[] extension(String oid, boolean critical, byte[] value) {
    return critical ? sequence(oid(oid), tlv(0x01, new byte[] {(byte) 0xff}), tlv(0x04, value)) : sequence(oid(oid), tlv(0x04, value));
  }

  static byte[] oid(String dotted) {
    String[] arcs = dotted.split("\\.");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    base128(out, Long.parseLong(arcs[0]) * 40 + Long.parseLong(arcs[1]));
    for (int i = 2; i < arcs.length; i++) base128(out, Long.parseLong(arcs[i]));
    return tlv(0x06, out.toByteArray());
  }

  private static void base128(ByteArrayOutputStream out, long value) {
    int groups = Math.max(1, (64 - Long.numberOfLeadingZeros(value) + 6) / 7);
    for (int i = groups - 1; i > 0; i--) out.write((int) (0x80 | (value >>> (7 * i)) & 0x7f));
    out.write((int) (value & 0x7f));
  }

  /** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
  private static byte[] time(Instant t) {
    var utc = t.atOffset(ZoneOffset.UTC);
    return utc.getYear() < 2050
        ? tlv(0x17, DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'").format(utc).getBytes(StandardCharsets.US_ASCII))
        : tlv(0x18, DateTimeFormatter.ofPattern("yyyyMMddHHmmss'Z'").format(utc).getBytes(StandardCharsets.US_ASCII));
  }
}
