package dev.posta.mailauth.dkim;

import dev.posta.dns.DnsRecords;
import dev.posta.mailauth.dkim.DkimResult.Outcome;
import java.math.BigInteger;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.InvalidKeySpecException;
import java.security.spec.RSAPublicKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.bouncycastle.math.ec.rfc8032.Ed25519;

/**
 * Checks every DKIM-Signature field of a message (RFC 6376 §6, RFC 8463, RFC 8301), with the keys
 * from DNS ({@link DnsRecords#txt} at {@code s._domainkey.d}).
 *
 * <p>Guarantees: the message is read once, as it streams ({@link #start}): the header section is
 * kept (up to {@value #MAX_HEADER_OCTETS} octets), the body is canonicalized and hashed as it
 * passes and never kept, with one hash per distinct (canonicalization, hash, l=) of the
 * signatures. Nothing the message or DNS holds makes a check throw: each signature gets a
 * {@link DkimResult} with its reason. The checks, in RFC 6376 §6.1's order: the field itself
 * ({@link DkimSignature#parse}: tag syntax, required tags, i= within d=), expiry (x= against the
 * clock: fail), the key record (no record: permerror; a DNS failure: temperror; malformed,
 * revoked (p= empty), of another key type than a=, h= without the hash, t=s with i= in a
 * subdomain: permerror), the key's size (RSA under 1024 bits: fail, RFC 8301 §3.2), the body hash
 * (fail), then the signature over the header fields (fail). rsa-sha1 that verifies is {@code
 * policy} (RFC 8301 §3.1).
 *
 * <p>Limits: the first {@value #MAX_SIGNATURES} signatures (from the top, the latest added)
 * are checked; more are counted in {@link Results#notChecked} and not reported, so a message
 * cannot make the verifier do unbounded DNS lookups and RSA operations. A header section over
 * {@value #MAX_HEADER_OCTETS} octets is not verified: each of its signatures is a permerror.
 * One DNS lookup per distinct key name; a key record's text is parsed and its key decoded once,
 * then kept (up to {@value #KEYS_REMEMBERED} texts, shared by the sessions: a DkimVerifier is
 * thread-safe, a Verification is not). l= is honoured (the result carries it) and a body shorter
 * than l= fails. A key record with several TXT records: the first that reads as a key record is
 * used. t= in the future is not held against a signature (clocks differ; RFC 6376 §3.5 makes it
 * optional).
 */
public final class DkimVerifier {
  /** Signatures checked per message. */
  public static final int MAX_SIGNATURES = 10;
  /** The header section kept to verify; larger sections are not verified. */
  public static final int MAX_HEADER_OCTETS = 1024 * 1024;
  /** RFC 8301 §3.2: "Verifiers MUST NOT consider signatures using RSA keys of less than 1024 bits as valid". */
  static final int MIN_RSA_BITS = 1024;
  /** RFC 6008 §4: at least eight characters of b= in header.b. */
  private static final int HEADER_B_PREFIX = 8;
  /** DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 §4), for the 32 raw octets p= holds (RFC 8463 §4). */
  static final byte[] ED25519_SPKI_PREFIX = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};

  /** Key records kept parsed (see {@link #read}); past this many the memory starts again empty. */
  static final int KEYS_REMEMBERED = 1000;
  /** Longer key record texts are parsed for each message, not kept: an RSA-8192 key's record is about 1,400 characters. */
  static final int LONGEST_REMEMBERED = 4096;

  private final DnsRecords dns;
  private final Clock clock;
  /** Key records as parsed and decoded, by their text. */
  private final Map<String, ReadKey> keys = new ConcurrentHashMap<>();

  public DkimVerifier(DnsRecords dns, Clock clock) {
    this.dns = dns;
    this.clock = clock;
  }

  /** The results for one message: one per checked signature, in the message's order. */
  public record Results(List<DkimResult> signatures, int notChecked) {
    public Results {
      signatures = List.copyOf(signatures);
    }
  }

  /** A check of one message: write the message to it, then call {@link Verification#finish}. */
  public Verification start() {
    return new Verification();
  }

  /** Checks a whole message in memory. */
  public Results verify(byte[] message) {
    Verification v = start();
    v.write(message, 0, message.length);
    return v.finish();
  }

  /** One message being checked: its octets go in as they arrive (CRLF line ends). Not thread-safe. */
  public final class Verification extends MessageSplitter {
    private List<HeaderField> fields = List.of();
    /** Per signature found, in order: its field as parsed. */
    private final List<ParsedSignature> parsed = new ArrayList<>();
    /** One per (canonicalization, hash, l=) the usable signatures need. */
    private final Map<BodyHash.Key, BodyHash> bodyHashes = new HashMap<>();
    private final Map<Canonicalization, BodyCanonicalizer> canonicalizers = new HashMap<>();
    private Results results;

    private Verification() {
      super(MAX_HEADER_OCTETS, MAX_SIGNATURES);
    }

    /** The message's header fields, once its header section has ended (at the latest after {@link #finish}); empty before. */
    public List<HeaderField> headerFields() {
      return fields;
    }

    @Override
    void headerSectionEnded(List<HeaderField> headerFields) {
      this.fields = headerFields;
      for (HeaderField f : headerFields) {
        if (!f.is("DKIM-Signature")) continue;
        ParsedSignature p = DkimSignature.parse(f);
        parsed.add(p);
        if (p instanceof DkimSignature s && !overflowed()) {
          var key = new BodyHash.Key(s.bodyCanonicalization(), s.algorithm().digest, s.bodyLength());
          bodyHashes.computeIfAbsent(key, BodyHash::new);
        }
      }
      for (Canonicalization c : Canonicalization.values()) {
        List<BodyHash> hashes = bodyHashes.values().stream().filter(h -> h.key.canonicalization() == c).toList();
        if (hashes.isEmpty()) continue;
        canonicalizers.put(c, c.body((octets, off, len) -> {
          for (BodyHash h : hashes) h.update(octets, off, len);
        }));
      }
    }

    @Override
    void body(byte[] octets, int offset, int length) {
      for (BodyCanonicalizer c : canonicalizers.values()) c.update(octets, offset, length);
    }

    /** Ends the message and checks its signatures (the DNS lookups happen here). Called again, it answers the same. */
    public Results finish() {
      if (results != null) return results;
      endOfMessage();
      for (BodyCanonicalizer c : canonicalizers.values()) c.finish();
      List<DkimResult> out = new ArrayList<>();
      Map<String, DnsRecords.Answer<String>> lookups = new HashMap<>();
      List<String> bValues = parsed.stream().map(p -> p instanceof DkimSignature s ? s.b() : ((DkimSignature.Unusable) p).b()).toList();
      for (int i = 0; i < parsed.size(); i++) {
        String headerB = headerB(bValues, i);
        out.add(switch (parsed.get(i)) {
          case DkimSignature.Unusable u -> u.result(headerB);
          case DkimSignature s when overflowed() ->
              s.result(Outcome.PERMERROR, headerB, false, "header section over " + MAX_HEADER_OCTETS + " octets: not verified");
          case DkimSignature s -> check(s, headerB, lookups);
        });
      }
      // Dropped past the limits of the header section: reported without their tags.
      for (int i = 0; i < signaturesDropped() && out.size() < MAX_SIGNATURES; i++) {
        out.add(new DkimResult(Outcome.PERMERROR, "", "", "", "", "", java.util.OptionalLong.empty(), false,
            "signature not kept: header section over " + MAX_HEADER_OCTETS + " octets"));
      }
      int notChecked = parsed.size() + signaturesDropped() - out.size();
      results = new Results(out, Math.max(0, notChecked));
      return results;
    }

    private DkimResult check(DkimSignature s, String headerB, Map<String, DnsRecords.Answer<String>> lookups) {
      long now = Instant.now(clock).getEpochSecond();
      if (s.expiration() >= 0 && s.expiration() < now) {
        return s.result(Outcome.FAIL, headerB, false, "signature expired at x=" + s.expiration());
      }
      DnsRecords.Answer<String> answer = lookups.computeIfAbsent(s.keyName(), name -> {
        try {
          return Objects.requireNonNull(dns.txt(name));
        } catch (RuntimeException e) { // DnsRecords promises not to throw; a bug there is still no verdict
          return new DnsRecords.Failure<>(e.toString());
        }
      });
      ReadKey read;
      switch (answer) {
        case DnsRecords.Failure<String> f -> {
          return s.result(Outcome.TEMPERROR, headerB, false, "key lookup failed: " + f.reason());
        }
        case DnsRecords.NoRecords<String> n -> {
          return s.result(Outcome.PERMERROR, headerB, false, "no key for signature at " + s.keyName());
        }
        case DnsRecords.Records<String> r -> {
          ReadKey first = null;
          for (String text : r.records()) {
            ReadKey p = read(text);
            if (first == null || (p.record() instanceof KeyRecord && !(first.record() instanceof KeyRecord))) first = p;
          }
          if (first.record() instanceof KeyRecord.Malformed m) return s.result(Outcome.PERMERROR, headerB, false, m.reason());
          read = first;
        }
      }
      KeyRecord key = (KeyRecord) read.record();
      boolean testing = key.testing();
      if (key.revoked()) return s.result(Outcome.PERMERROR, headerB, testing, "key revoked, p= is empty, at " + s.keyName());
      if (!key.keyType().equals(s.algorithm().keyType.tag)) {
        return s.result(Outcome.PERMERROR, headerB, testing, "key type k=" + DkimSignature.printable(key.keyType()) + " does not fit a=" + s.algorithm().tag);
      }
      if (!key.allows(s.algorithm())) {
        return s.result(Outcome.PERMERROR, headerB, testing, "key's h= does not allow " + s.algorithm().hashTag);
      }
      if (key.strict() && !s.identity().isEmpty()) {
        String iDomain = DkimSignature.asciiDomain(DkimSignature.utf8(s.identity().substring(s.identity().lastIndexOf('@') + 1)));
        if (!s.domain().equals(iDomain)) return s.result(Outcome.PERMERROR, headerB, testing, "key has t=s but i= is in a subdomain of d=");
      }
      VerifyingKey publicKey = read.key(); // of k='s type, which is a='s
      if (publicKey == null) {
        return s.result(Outcome.PERMERROR, headerB, testing, "key record's p= is not a " + s.algorithm().keyType.tag + " public key");
      }
      if (publicKey instanceof RsaKey(RSAPublicKey rsa, PublicKey fast) && rsa.getModulus().bitLength() < MIN_RSA_BITS) {
        return s.result(Outcome.FAIL, headerB, testing,
            "RSA key of " + rsa.getModulus().bitLength() + " bits, under the " + MIN_RSA_BITS + " RFC 8301 section 3.2 requires");
      }

      BodyHash body = bodyHashes.get(new BodyHash.Key(s.bodyCanonicalization(), s.algorithm().digest, s.bodyLength()));
      if (s.bodyLength() >= 0 && body.canonicalLength < s.bodyLength()) {
        return s.result(Outcome.FAIL, headerB, testing, "l=" + s.bodyLength() + " is longer than the body, " + body.canonicalLength + " octets");
      }
      if (!MessageDigest.isEqual(body.digest(), s.bodyHash())) return s.result(Outcome.FAIL, headerB, testing, "body hash did not verify");

      boolean verified;
      try {
        verified = verifyHeader(s, publicKey);
      } catch (GeneralSecurityException e) {
        return s.result(Outcome.FAIL, headerB, testing, "signature did not verify: " + e.getClass().getSimpleName());
      }
      if (!verified) return s.result(Outcome.FAIL, headerB, testing, "signature did not verify");
      String notes = (s.bodyLength() >= 0 ? ", body covered up to l=" + s.bodyLength() : "") + (testing ? ", key in testing mode, t=y" : "");
      if (s.algorithm() == DkimAlgorithm.RSA_SHA1) {
        return s.result(Outcome.POLICY, headerB, testing, "rsa-sha1 signature verified, but SHA-1 is not accepted, RFC 8301 section 3.1" + notes);
      }
      return s.result(Outcome.PASS, headerB, testing, "signature verified" + notes);
    }

    private boolean verifyHeader(DkimSignature s, VerifyingKey key) throws GeneralSecurityException {
      byte[] data = HeaderHash.data(fields, s.signedFields(), s.headerCanonicalization(), s.withoutSignatureValue(), s.field());
      return key.verify(s.algorithm(), data, s.signature());
    }
  }

  /** A key record as parsed, and its p= decoded for the type k= names; null when it is no key of that type (or of a type unknown). */
  private record ReadKey(ParsedKeyRecord record, VerifyingKey key) {}

  /**
   * The key record {@code text}, parsed and its key decoded once for all the messages signed with
   * it: the same text is always the same key, and DNS's TTL decides when the text is asked again.
   * Emptied when full rather than ordered by use: reading a record again costs a few microseconds.
   */
  private ReadKey read(String text) {
    ReadKey known = keys.get(text);
    if (known != null) return known;
    ParsedKeyRecord parsed = KeyRecord.parse(text);
    VerifyingKey key = null;
    if (parsed instanceof KeyRecord record && !record.revoked()) {
      for (DkimAlgorithm.KeyType type : DkimAlgorithm.KeyType.values()) {
        if (!type.tag.equals(record.keyType())) continue;
        try {
          key = publicKey(type, record.publicKey());
        } catch (InvalidKeySpecException e) {
          key = null; // not a key of its type: a permerror for each signature that names it
        }
      }
    }
    ReadKey read = new ReadKey(parsed, key);
    if (text.length() <= LONGEST_REMEMBERED) {
      if (keys.size() >= KEYS_REMEMBERED) keys.clear();
      keys.put(text, read);
    }
    return read;
  }

  /** A key record's p=, decoded for its key type: what checks a signature over the header data. */
  sealed interface VerifyingKey {
    boolean verify(DkimAlgorithm algorithm, byte[] data, byte[] signature) throws GeneralSecurityException;
  }

  /**
   * RSA, checked by {@link RsaSignatures} (AWS-LC where it loads: half the JDK's time): the
   * signature covers the data itself (RFC 6376 §3.3). {@code fast} is {@code key} as AWS-LC
   * holds it, converted once with the key record (null: the JDK verifies).
   */
  record RsaKey(RSAPublicKey key, PublicKey fast) implements VerifyingKey {
    RsaKey(RSAPublicKey key) {
      this(key, RsaSignatures.prepare(key));
    }

    @Override
    public boolean verify(DkimAlgorithm algorithm, byte[] data, byte[] signature) throws GeneralSecurityException {
      return RsaSignatures.verify(algorithm.signature, key, fast, data, signature);
    }
  }

  /** Ed25519, checked by {@link Ed25519Signatures}: the signature covers the data's SHA-256 hash (RFC 8463 §3). */
  record Ed25519Key(Ed25519.PublicPoint point) implements VerifyingKey {
    @Override
    public boolean verify(DkimAlgorithm algorithm, byte[] data, byte[] signature) throws GeneralSecurityException {
      return Ed25519Signatures.verify(point, MessageDigest.getInstance("SHA-256").digest(data), signature);
    }
  }

  /**
   * The public key p= holds: for RSA a SubjectPublicKeyInfo (RFC 6376 §3.6.1), or the bare
   * RSAPublicKey that some publish; for Ed25519 the 32 raw octets of a point of the curve (RFC
   * 8463 §4).
   */
  static VerifyingKey publicKey(DkimAlgorithm.KeyType type, byte[] encoded) throws InvalidKeySpecException {
    if (type == DkimAlgorithm.KeyType.ED25519) {
      Ed25519.PublicPoint point = Ed25519Signatures.publicKey(encoded);
      if (point == null) throw new InvalidKeySpecException("not the 32 octets of an Ed25519 public key");
      return new Ed25519Key(point);
    }
    try {
      KeyFactory rsa = KeyFactory.getInstance("RSA");
      PublicKey key;
      try {
        key = rsa.generatePublic(new X509EncodedKeySpec(encoded));
      } catch (InvalidKeySpecException e) {
        key = rsa.generatePublic(pkcs1(encoded));
      }
      if (!(key instanceof RSAPublicKey rsaKey)) throw new InvalidKeySpecException("not an RSA public key: " + key.getAlgorithm());
      return new RsaKey(rsaKey);
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK lacks RSA", e); // every JDK has it
    }
  }

  /** A bare PKCS#1 RSAPublicKey (RFC 8017 A.1.1), read with Bouncy Castle's ASN.1 parser. */
  private static RSAPublicKeySpec pkcs1(byte[] encoded) throws InvalidKeySpecException {
    try {
      var key = org.bouncycastle.asn1.pkcs.RSAPublicKey.getInstance(encoded);
      BigInteger modulus = key.getModulus();
      if (modulus.signum() <= 0) throw new InvalidKeySpecException("no modulus");
      return new RSAPublicKeySpec(modulus, key.getPublicExponent());
    } catch (RuntimeException e) { // Bouncy Castle reports garbage with various unchecked exceptions
      throw new InvalidKeySpecException("neither SubjectPublicKeyInfo nor RSAPublicKey", e);
    }
  }

  /**
   * The shortest start of b= (at least {@value #HEADER_B_PREFIX} characters) that no other
   * signature of the message shares, for header.b (RFC 6008 §4).
   */
  private static String headerB(List<String> bValues, int index) {
    String b = bValues.get(index);
    int length = Math.min(HEADER_B_PREFIX, b.length());
    while (length < b.length()) {
      String prefix = b.substring(0, length);
      boolean shared = false;
      for (int j = 0; j < bValues.size(); j++) {
        if (j != index && bValues.get(j).startsWith(prefix) && !bValues.get(j).equals(b)) shared = true;
      }
      if (!shared) break;
      length++;
    }
    return b.substring(0, length);
  }

  /** One body hash: canonical octets in, up to l=, counted all the same. */
  private static final class BodyHash {
    record Key(Canonicalization canonicalization, String digest, long limit) {}

    final Key key;
    private final MessageDigest digest;
    private byte[] value;
    /** The whole canonical body's length, beyond l= too. */
    long canonicalLength;

    BodyHash(Key key) {
      this.key = key;
      try {
        this.digest = MessageDigest.getInstance(key.digest());
      } catch (java.security.NoSuchAlgorithmException e) {
        throw new IllegalStateException("the JDK lacks " + key.digest(), e); // SHA-1 and SHA-256 are in every JDK
      }
    }

    void update(byte[] octets, int offset, int length) {
      long room = key.limit() < 0 ? length : Math.max(0, key.limit() - canonicalLength);
      digest.update(octets, offset, (int) Math.min(length, room));
      canonicalLength += length;
    }

    byte[] digest() {
      if (value == null) value = digest.digest();
      return value;
    }
  }
}
