package dev.posta.mailauth.dkim;

import dev.posta.storage.DirectorySync;
import dev.posta.storage.PrivateFiles;
import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;

/**
 * The DKIM private keys on disk: {@code <data>/dkim/<domain>/<selector>.pem}, one PEM key per
 * selector (PKCS#8 "PRIVATE KEY", as {@code openssl genpkey} writes it; PKCS#1 "RSA PRIVATE KEY"
 * is read too), the folders 0700 and the files 0600 from the moment they exist.
 *
 * <p>{@link #generate} makes a key (RSA 2048 bits, RFC 8301 §3.2's recommendation, or Ed25519,
 * RFC 8463) and writes it durably (fsync of the file and its folder) without ever replacing one:
 * a key whose record is published must not be lost to a second keygen. {@link #txtRecord} gives
 * the record to publish, in zone-file form, split into strings of at most 255 octets (RFC 1035
 * §3.3.14; DKIM joins them, RFC 6376 §3.6.2.2).
 */
public final class DkimKeyFiles {
  private DkimKeyFiles() {}

  /** RFC 8301 §3.2: signers "SHOULD use RSA keys of at least 2048 bits". */
  public static final int RSA_BITS = 2048;
  /** The longest character-string of a TXT record (RFC 1035 §3.3). */
  static final int MAX_TXT_STRING = 255;

  /** A key file that cannot be used; the message names the file and says why. */
  public static final class KeyFileException extends Exception {
    public KeyFileException(String message) {
      super(message);
    }
  }

  private static final java.util.regex.Pattern SELECTOR =
      java.util.regex.Pattern.compile("[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*");

  /** Whether {@code name} can be a selector here: lower-case DNS labels of letters, digits and hyphens (RFC 6376 §3.1), a file name too. */
  public static boolean isSelector(String name) {
    return name.length() <= 253 && SELECTOR.matcher(name).matches();
  }

  /** {@code name} as a domain folder is named (lower case, IDNs as A-labels), or null when it is no domain name. */
  public static String domainName(String name) {
    return DkimSignature.asciiDomain(name);
  }

  /** Where the keys are: {@code <data>/dkim}. */
  public static Path folder(Path dataDir) {
    return dataDir.resolve("dkim");
  }

  /** The key file of one selector. */
  public static Path keyFile(Path dataDir, String domain, String selector) {
    return folder(dataDir).resolve(domain).resolve(selector + ".pem");
  }

  /**
   * The selector {@code posta dkim keygen} picks when none is given: the date and the kind of
   * key, {@code 20250712-rsa}, so that each rotation has a new name, the names sort by age, and
   * an RSA and an Ed25519 key made the same day do not collide.
   */
  public static String defaultSelector(LocalDate today, DkimAlgorithm.KeyType type) {
    return "%04d%02d%02d-%s".formatted(today.getYear(), today.getMonthValue(), today.getDayOfMonth(), type.tag);
  }

  /** A key made by {@link #generate}: where it is, and its public half. */
  public record Generated(Path file, PublicKey publicKey) {}

  /**
   * Makes a key pair and writes the private key to its file, creating the folders.
   *
   * @throws FileAlreadyExistsException when the selector already has a key file (it is left as it is)
   */
  public static Generated generate(Path dataDir, String domain, String selector, DkimAlgorithm.KeyType type) throws IOException {
    Path file = keyFile(dataDir, domain, selector);
    if (Files.exists(file)) throw new FileAlreadyExistsException(file.toString(), null, "a key for this selector exists already");
    KeyPair pair;
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance(type == DkimAlgorithm.KeyType.RSA ? "RSA" : "Ed25519");
      if (type == DkimAlgorithm.KeyType.RSA) generator.initialize(RSA_BITS);
      pair = generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK cannot make " + type.tag + " keys", e); // JDK 15+ makes both
    }
    PrivateFiles.createDirectories(file.getParent());
    // CREATE_NEW: a key made meanwhile by another keygen is never overwritten.
    try (FileChannel ch = FileChannel.open(file, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), PrivateFiles.file(file))) {
      ByteBuffer pem = ByteBuffer.wrap(pem(pair.getPrivate()));
      while (pem.hasRemaining()) ch.write(pem);
      ch.force(true);
    }
    DirectorySync.fsync(file.getParent());
    return new Generated(file, pair.getPublic());
  }

  /** The private key in PKCS#8 PEM, lines of 64 characters (RFC 7468 §10). */
  static byte[] pem(PrivateKey key) {
    String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(key.getEncoded());
    return ("-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n").getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * Reads a private key file, and checks that it can sign: RSA of at least 1024 bits (RFC 8301
   * §3.2) or Ed25519.
   */
  public static SigningKey read(Path file, String domain, String selector) throws KeyFileException {
    byte[] pem;
    try {
      pem = Files.readAllBytes(file);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new KeyFileException(file + ": no such key file");
    } catch (IOException e) {
      throw new KeyFileException(file + ": cannot read: " + e.getMessage());
    }
    PrivateKey key;
    try (PEMParser parser = new PEMParser(new StringReader(new String(pem, StandardCharsets.ISO_8859_1)))) {
      Object o = parser.readObject();
      PrivateKeyInfo info = switch (o) {
        case PrivateKeyInfo i -> i;
        case PEMKeyPair pair -> pair.getPrivateKeyInfo();
        case null -> throw new KeyFileException(file + ": no PEM private key in it");
        default -> throw new KeyFileException(file + ": holds a " + o.getClass().getSimpleName() + ", not an unencrypted private key");
      };
      key = new JcaPEMKeyConverter().getPrivateKey(info);
    } catch (IOException | RuntimeException e) { // Bouncy Castle reports bad PEM and DER with unchecked exceptions too
      throw new KeyFileException(file + ": not a PEM private key (" + e.getMessage() + ")");
    }
    DkimAlgorithm algorithm = switch (key.getAlgorithm()) {
      case "RSA" -> DkimAlgorithm.RSA_SHA256;
      case "Ed25519", "EdDSA" -> DkimAlgorithm.ED25519_SHA256;
      default -> throw new KeyFileException(file + ": a key of type " + key.getAlgorithm() + "; DKIM signs with RSA or Ed25519");
    };
    if (key instanceof RSAPrivateCrtKey rsa && rsa.getModulus().bitLength() < DkimVerifier.MIN_RSA_BITS) {
      throw new KeyFileException(file + ": an RSA key of " + rsa.getModulus().bitLength() + " bits; RFC 8301 asks for at least 1024 (2048 recommended)");
    }
    return new SigningKey(domain, selector, algorithm, key, file);
  }

  /**
   * The public half of a signing key, for the record that publishes it: RSA's from the modulus
   * and public exponent a CRT private key carries; Ed25519's computed from the private seed (RFC
   * 8032 §5.1.5), as the JDK's Ed25519 private keys do not hold it.
   */
  public static PublicKey publicKey(SigningKey key) {
    try {
      if (key.key() instanceof RSAPrivateCrtKey rsa) {
        return java.security.KeyFactory.getInstance("RSA").generatePublic(new java.security.spec.RSAPublicKeySpec(rsa.getModulus(), rsa.getPublicExponent()));
      }
      if (!(key.key() instanceof java.security.interfaces.EdECPrivateKey ed)) {
        throw new IllegalArgumentException(key.file() + ": an RSA key without its CRT parameters has no public half to rebuild");
      }
      byte[] seed = ed.getBytes()
          .orElseThrow(() -> new IllegalArgumentException(key.file() + ": an Ed25519 key without its private octets"));
      byte[] raw = new org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters(seed, 0).generatePublicKey().getEncoded();
      byte[] spki = new byte[DkimVerifier.ED25519_SPKI_PREFIX.length + raw.length];
      System.arraycopy(DkimVerifier.ED25519_SPKI_PREFIX, 0, spki, 0, DkimVerifier.ED25519_SPKI_PREFIX.length);
      System.arraycopy(raw, 0, spki, DkimVerifier.ED25519_SPKI_PREFIX.length, raw.length);
      return java.security.KeyFactory.getInstance("Ed25519").generatePublic(new java.security.spec.X509EncodedKeySpec(spki));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK cannot rebuild the public key of " + key.file(), e); // JDK 15+ does both kinds
    }
  }

  /** The octets a key record's p= holds for {@code publicKey} (RFC 6376 §3.6.1, RFC 8463 §4), to compare a published key with. */
  public static byte[] publishedKey(PublicKey publicKey) {
    byte[] encoded = publicKey.getEncoded();
    return publicKey.getAlgorithm().equals("RSA") ? encoded : Arrays.copyOfRange(encoded, encoded.length - 32, encoded.length);
  }

  /**
   * The key record to publish (RFC 6376 §3.6.1), in zone-file form:
   * {@code sel._domainkey.example.org. IN TXT ( "v=DKIM1; k=rsa; p=..." "..." )}, each string at
   * most 255 octets, one a line. The public key is a SubjectPublicKeyInfo for RSA (RFC 6376
   * §3.6.1), the 32 raw octets for Ed25519 (RFC 8463 §4).
   */
  public static String txtRecord(String domain, String selector, PublicKey publicKey) {
    List<String> strings = txtStrings(publicKey);
    var s = new StringBuilder(selector).append("._domainkey.").append(domain).append(". IN TXT ( ");
    for (int i = 0; i < strings.size(); i++) {
      if (i > 0) s.append("\n\t");
      s.append('"').append(strings.get(i)).append('"');
    }
    return s.append(" )").toString();
  }

  /** The record's text in strings of at most 255 octets: the tags first, then p= split where it must be. */
  public static List<String> txtStrings(PublicKey publicKey) {
    boolean ed25519 = !publicKey.getAlgorithm().equals("RSA");
    byte[] encoded = publicKey.getEncoded();
    if (ed25519) encoded = Arrays.copyOfRange(encoded, encoded.length - 32, encoded.length); // the raw key after the SPKI prefix
    String text = "v=DKIM1; k=" + (ed25519 ? "ed25519" : "rsa") + "; p=" + Base64.getEncoder().encodeToString(encoded);
    List<String> strings = new ArrayList<>();
    for (int i = 0; i < text.length(); i += MAX_TXT_STRING) strings.add(text.substring(i, Math.min(text.length(), i + MAX_TXT_STRING)));
    return strings;
  }
}
