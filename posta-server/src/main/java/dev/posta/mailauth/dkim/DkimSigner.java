package dev.posta.mailauth.dkim;

import dev.posta.mailauth.FromField;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Signs a submitted message with the keys of its From domain (RFC 6376 §5), as it streams in:
 * one signature per key (RSA and Ed25519 together when the domain has both, RFC 8463 §1), each
 * a DKIM-Signature field for the top of the message.
 *
 * <p>What a signature holds: {@code a=rsa-sha256} or {@code a=ed25519-sha256} (never rsa-sha1,
 * RFC 8301 §3.1), {@code c=relaxed/relaxed} (survives the re-folding and whitespace changes of
 * relays), {@code d=} the domain of the key, {@code s=} its selector, {@code t=} the time of
 * signing, {@code h=}, {@code bh=}, {@code b=}. No {@code i=} (it defaults to {@code @d}), no
 * {@code l=} (a length would let anyone append to the body, §8.2), no {@code x=}.
 *
 * <p>The header fields signed, and why. Over-signed, that is listed once more than they occur
 * (also once when absent), so that no field of that name can be added later without breaking
 * the signature (§5.4.2, §8.15): From, To, Cc, Subject, Date, Message-ID, Reply-To,
 * In-Reply-To, References, MIME-Version, Content-Type, Content-Transfer-Encoding. Each of these
 * occurs at most once in a message (RFC 5322 §3.6, RFC 2045), so a second one added on the way
 * can only be an attempt to make a reader see other text, another sender or another reply
 * address than the one signed. Signed where present but not over-signed: List-* (RFC 2369, RFC
 * 2919, RFC 8058): a mailing list adds its own List-* fields, and a list that changes nothing
 * else then still passes this signature on intact. Received, Return-Path and other trace fields
 * are never signed: every relay adds them.
 *
 * <p>The body is canonicalized and hashed as it passes and never kept (one hash serves all the
 * keys: both use SHA-256 and relaxed); the header section is kept, up to {@value
 * #MAX_HEADER_OCTETS} octets. The From domain is that of the one mailbox of the one From field
 * (IDNs as A-labels); the keys are that domain's, or its nearest parent's ({@link
 * SigningKeys#forSender}).
 *
 * <p>Limits: a message without exactly one From field holding exactly one mailbox, whose
 * header section is larger than {@value #MAX_HEADER_OCTETS} octets, or that begins with a folded
 * line, is not signed (and the reason is given). Which From the submitting user may use is not checked here: the submission
 * policy checks the envelope sender only.
 */
public final class DkimSigner {
  /** Over-signed fields (see the class comment), in the order h= lists them. */
  static final List<String> OVER_SIGNED = List.of("From", "To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "In-Reply-To",
      "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding");
  /** The List-* fields signed: RFC 2369 and RFC 2919 names are letters and hyphens. */
  private static final Pattern LIST_FIELD = Pattern.compile("List-[A-Za-z0-9-]+", Pattern.CASE_INSENSITIVE);
  /** The header section a signature can cover; a submitted message's is a few KiB. */
  public static final int MAX_HEADER_OCTETS = 256 * 1024;
  /** Where a DKIM-Signature field's lines are folded (RFC 5322 §2.1.1 asks for 78 characters). */
  private static final int LINE = 78;

  private final SigningKeys keys;
  private final Clock clock;
  /** Per Ed25519 key, its signer, made once: it derives the public key that every signature needs. */
  private final Map<SigningKey, Ed25519Signatures.Signer> ed25519 = new IdentityHashMap<>();
  /** Per RSA key, the key as the signing provider holds it, converted once ({@link RsaSignatures#prepare}). */
  private final Map<SigningKey, PrivateKey> rsa = new IdentityHashMap<>();

  public DkimSigner(SigningKeys keys, Clock clock) {
    this.keys = keys;
    this.clock = clock;
    for (List<SigningKey> ofDomain : keys.byDomain().values()) {
      for (SigningKey key : ofDomain) {
        if (key.algorithm() == DkimAlgorithm.ED25519_SHA256) ed25519.put(key, new Ed25519Signatures.Signer(key.key()));
        else rsa.put(key, RsaSignatures.prepare(key.key()));
      }
    }
  }

  /** Whether any domain has keys: when not, there is nothing to start. */
  public boolean hasKeys() {
    return !keys.isEmpty();
  }

  public SigningKeys keys() {
    return keys;
  }

  /** Signs one message: write the whole message to it, then call {@link Signing#finish}. */
  public Signing start() {
    return new Signing();
  }

  /** What signing a message gave. */
  public sealed interface Outcome permits Signed, NotSigned, NoKey {}

  /**
   * Signed: {@code fields} (the DKIM-Signature fields, CRLF line ends) go at the top of the
   * message; {@code signatures} says which, {@code d=example.org s=20250712-rsa} each.
   */
  public record Signed(byte[] fields, List<String> signatures) implements Outcome {}

  /** The From domain has keys, but the message could not be signed, for {@code reason}. */
  public record NotSigned(String reason) implements Outcome {}

  /** No key for the From domain (or no From domain to look for): nothing to sign with. */
  public record NoKey(String reason) implements Outcome {}

  /** One message being signed. Not thread-safe. */
  public final class Signing extends MessageSplitter {
    private List<HeaderField> fields = List.of();
    private List<SigningKey> signers = List.of();
    private Outcome early;
    private BodyCanonicalizer body;
    private MessageDigest bodyHash;
    private Outcome outcome;

    private Signing() {
      super(MAX_HEADER_OCTETS, Integer.MAX_VALUE);
    }

    @Override
    void headerSectionEnded(List<HeaderField> headerFields) {
      From from = fromDomain(headerFields);
      if (from.domain() == null) {
        early = new NoKey(from.problem());
        return;
      }
      signers = keys.forSender(from.domain());
      if (signers.isEmpty()) {
        early = new NoKey("no DKIM key for " + from.domain());
        return;
      }
      if (overflowed()) {
        early = new NotSigned("header section over " + MAX_HEADER_OCTETS + " octets");
        return;
      }
      if (strayContinuation()) {
        // A signature put above it would swallow it as its own continuation, and not verify.
        early = new NotSigned("the message begins with a folded line");
        return;
      }
      fields = headerFields;
      bodyHash = sha256();
      body = Canonicalization.RELAXED.body(bodyHash::update);
    }

    @Override
    void body(byte[] octets, int offset, int length) {
      if (body != null) body.update(octets, offset, length);
    }

    /** Ends the message and signs it. Called again, it answers the same. */
    public Outcome finish() {
      if (outcome != null) return outcome;
      endOfMessage();
      outcome = early != null ? early : sign();
      return outcome;
    }

    private Outcome sign() {
      body.finish();
      String bh = Base64.getEncoder().encodeToString(bodyHash.digest());
      long time = clock.instant().getEpochSecond();
      List<String> signed = signedFields(fields);
      var out = new StringBuilder();
      List<String> done = new ArrayList<>();
      for (SigningKey key : signers) {
        String unsigned = unsignedField(key, time, signed, bh);
        byte[] data = HeaderHash.data(fields, signed, Canonicalization.RELAXED, unsigned, null);
        byte[] signature;
        try {
          signature = signature(key, data);
        } catch (GeneralSecurityException e) {
          return new NotSigned("signing with " + key.selector() + " failed: " + e);
        }
        out.append(unsigned).append(foldedB(Base64.getEncoder().encodeToString(signature))).append("\r\n");
        done.add("d=" + key.domain() + " s=" + key.selector());
      }
      return new Signed(out.toString().getBytes(StandardCharsets.US_ASCII), done);
    }
  }

  /** h=: the over-signed fields each once more than present, then the List-* fields present. */
  static List<String> signedFields(List<HeaderField> fields) {
    List<String> names = new ArrayList<>();
    for (String name : OVER_SIGNED) {
      long present = fields.stream().filter(f -> f.is(name)).count();
      for (long i = 0; i <= present; i++) names.add(name.toLowerCase(Locale.ROOT));
    }
    Map<String, Integer> lists = new LinkedHashMap<>();
    for (HeaderField f : fields) {
      // Only names h= can carry: a name with ";" (which ftext allows) would end the tag.
      if (f.name().regionMatches(true, 0, "List-", 0, 5) && LIST_FIELD.matcher(f.name()).matches()) {
        lists.merge(f.name().toLowerCase(Locale.ROOT), 1, Integer::sum);
      }
    }
    lists.forEach((name, count) -> {
      for (int i = 0; i < count; i++) names.add(name);
    });
    return names;
  }

  /**
   * The DKIM-Signature field up to and including {@code b=}, folded at tag and h= boundaries,
   * ending with b= on a line of its own: what the header hash covers, b= being empty (§3.7).
   */
  static String unsignedField(SigningKey key, long time, List<String> signed, String bodyHash) {
    var s = new StringBuilder("DKIM-Signature:");
    int[] column = {s.length()};
    List<String> tags = List.of("v=1;", "a=" + key.algorithm().tag + ";", "c=relaxed/relaxed;", "d=" + key.domain() + ";",
        "s=" + key.selector() + ";", "t=" + time + ";");
    for (String tag : tags) word(s, column, tag, true);
    // h= may be folded after each colon (§3.5: [FWS] ":" [FWS]).
    for (int i = 0; i < signed.size(); i++) {
      String part = (i == 0 ? "h=" : "") + signed.get(i) + (i < signed.size() - 1 ? ":" : ";");
      word(s, column, part, i == 0);
    }
    word(s, column, "bh=" + bodyHash + ";", true);
    s.append("\r\n\tb=");
    return s.toString();
  }

  /** Appends {@code word}, after a space when {@code spaced}, on a new line when this one is full. */
  private static void word(StringBuilder s, int[] column, String word, boolean spaced) {
    int needed = word.length() + (spaced ? 1 : 0);
    if (column[0] + needed > LINE) {
      s.append("\r\n\t");
      column[0] = 8;
    } else if (spaced) {
      s.append(' ');
      column[0]++;
    }
    s.append(word);
    column[0] += word.length();
  }

  /** b='s base64 folded into lines (§3.5 allows FWS anywhere in it). */
  private static String foldedB(String b) {
    var s = new StringBuilder(b.length() + b.length() / 60 * 3);
    int first = LINE - 8 - 2; // after "\tb="
    s.append(b, 0, Math.min(first, b.length()));
    for (int i = first; i < b.length(); i += LINE - 8) s.append("\r\n\t").append(b, i, Math.min(b.length(), i + LINE - 8));
    return s.toString();
  }

  /**
   * RSA signs the data itself, with {@link RsaSignatures} (AWS-LC where it loads: a quarter of the
   * JDK's time); Ed25519 signs its SHA-256 hash (RFC 8463 §3), with {@link Ed25519Signatures}
   * (the same signature, a tenth of the JDK's time). {@code key} is one of this signer's keys.
   */
  byte[] signature(SigningKey key, byte[] data) throws GeneralSecurityException {
    if (key.algorithm() == DkimAlgorithm.ED25519_SHA256) return ed25519.get(key).sign(sha256().digest(data));
    return RsaSignatures.sign(rsa.get(key), data);
  }

  /** The From domain (lower case, IDNs as A-labels), or null and why there is none. */
  record From(String domain, String problem) {
    static From problem(String why) {
      return new From(null, why);
    }
  }

  /** The domain of the message's one From field's one mailbox (RFC 5322 §3.6.2). */
  static From fromDomain(List<HeaderField> fields) {
    List<HeaderField> from = fields.stream().filter(f -> f.is("From")).toList();
    if (from.size() != 1) return From.problem(from.isEmpty() ? "no From field" : from.size() + " From fields");
    List<FromField.Domain> domains = FromField.domains(from.getFirst().unfoldedValue());
    if (domains == null) return From.problem("From is not an address");
    if (domains.size() != 1) return From.problem("From has " + domains.size() + " mailboxes, not one");
    FromField.Domain domain = domains.getFirst();
    return domain.name() == null ? From.problem(domain.problem()) : new From(domain.name(), null);
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("the JDK lacks SHA-256", e); // every JDK has it
    }
  }
}
