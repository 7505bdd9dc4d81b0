package dev.posta.tls;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateEncodingException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.security.interfaces.RSAPrivateCrtKey;
import java.security.interfaces.RSAPrivateKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.X509TrustedCertificateBlock;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * A server certificate chain and its private key, read from PEM files and checked against each
 * other.
 *
 * <p>The certificate file holds the chain, server certificate first, then its issuers (Let's
 * Encrypt's {@code fullchain.pem}); other PEM blocks in it are ignored. The key file holds one
 * unencrypted RSA or EC key as PKCS#8 ({@code BEGIN PRIVATE KEY}), PKCS#1 ({@code BEGIN RSA
 * PRIVATE KEY}) or SEC1 ({@code BEGIN EC PRIVATE KEY}, optionally after {@code BEGIN EC
 * PARAMETERS}). Both may be the same file. Every error message names the file.
 *
 * <p>Only Bouncy Castle's provider-less parsing is used; keys and certificates are made by the
 * JDK's own providers, and BC is never registered as a JCE provider.
 */
record KeyMaterial(List<X509Certificate> chain, PrivateKey key) {
  /** Files bigger than this are not PEM certificate chains or keys. */
  static final int MAX_FILE_SIZE = 1 << 20;

  KeyMaterial {
    chain = List.copyOf(chain);
  }

  X509Certificate leaf() {
    return chain.getFirst();
  }

  /** Reads and checks both files. */
  static KeyMaterial load(Path certificateFile, Path keyFile) throws TlsException {
    return parse(read(certificateFile, "certificate " + certificateFile), certificateFile.toString(),
        read(keyFile, "key " + keyFile), keyFile.toString());
  }

  /**
   * Parses and checks PEM texts; {@code certificateName} and {@code keyName} are the file names
   * for error messages.
   */
  static KeyMaterial parse(byte[] certificatePem, String certificateName, byte[] keyPem, String keyName)
      throws TlsException {
    List<X509Certificate> chain = parseChain(certificatePem, certificateName);
    PrivateKey key = parseKey(keyPem, keyName);
    checkMatch(chain, certificateName, key, keyName);
    return new KeyMaterial(chain, key);
  }

  /** Reads {@code file}; {@code label} starts error messages ({@code "certificate /path"}). */
  static byte[] read(Path file, String label) throws TlsException {
    try (InputStream in = Files.newInputStream(file)) {
      byte[] bytes = in.readNBytes(MAX_FILE_SIZE + 1);
      if (bytes.length > MAX_FILE_SIZE) {
        throw new TlsException(label + ": larger than " + MAX_FILE_SIZE + " bytes, not a PEM file");
      }
      return bytes;
    } catch (TlsException e) {
      throw e;
    } catch (IOException e) {
      throw new TlsException(label + ": cannot read: " + describe(e), e);
    }
  }

  private static PEMParser parser(byte[] pem) {
    // ISO-8859-1 maps every byte; PEM itself is ASCII, anything else is comment.
    return new PEMParser(new StringReader(new String(pem, StandardCharsets.ISO_8859_1)));
  }

  /** A PEM block: {@code -----BEGIN LABEL-----}, base64, {@code -----END LABEL-----} (RFC 7468 §2). */
  private static final Pattern PEM_BLOCK = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\\s]*)-----END \\1-----");

  /**
   * The blocks of a PEM file, label and content, when the JDK alone can read every one that
   * matters here: certificates, and unencrypted PKCS#8 keys ({@code PRIVATE KEY}, which is what
   * certbot and {@code openssl genpkey} write). Null when another kind is there (PKCS#1 or SEC 1
   * keys, encrypted keys, OpenSSL's TRUSTED CERTIFICATE), which Bouncy Castle's parser then reads:
   * the common files so start without loading it (a test server's start, most of all).
   */
  private static List<Map.Entry<String, byte[]>> plainBlocks(byte[] pem) {
    List<Map.Entry<String, byte[]>> blocks = new ArrayList<>();
    Matcher m = PEM_BLOCK.matcher(new String(pem, StandardCharsets.ISO_8859_1));
    while (m.find()) {
      String label = m.group(1);
      if (label.equals("CERTIFICATE") || label.equals("PRIVATE KEY")) {
        try {
          blocks.add(Map.entry(label, Base64.getMimeDecoder().decode(m.group(2))));
        } catch (IllegalArgumentException e) {
          return null; // Bouncy Castle says what is wrong with it
        }
      } else if (!label.equals("EC PARAMETERS")) {
        return null;
      }
    }
    return blocks;
  }

  static List<X509Certificate> parseChain(byte[] pem, String name) throws TlsException {
    List<Map.Entry<String, byte[]>> plain = plainBlocks(pem);
    if (plain != null) {
      try {
        CertificateFactory factory = CertificateFactory.getInstance("X.509");
        List<X509Certificate> chain = new ArrayList<>();
        for (var block : plain) {
          if (block.getKey().equals("CERTIFICATE")) {
            chain.add((X509Certificate) factory.generateCertificate(new ByteArrayInputStream(block.getValue())));
          }
        }
        if (!chain.isEmpty()) return chain;
      } catch (GeneralSecurityException e) {
        // not what the JDK takes: Bouncy Castle's parser reads it or says why not
      }
    }
    List<X509Certificate> chain = new ArrayList<>();
    JcaX509CertificateConverter converter = new JcaX509CertificateConverter();
    try (PEMParser parser = parser(pem)) {
      Object o;
      while ((o = parser.readObject()) != null) {
        X509CertificateHolder holder = switch (o) {
          case X509CertificateHolder h -> h;
          case X509TrustedCertificateBlock t -> t.getCertificateHolder();
          default -> null; // a key or parameters in a combined file
        };
        if (holder != null) chain.add(converter.getCertificate(holder));
      }
    } catch (IOException | GeneralSecurityException | RuntimeException e) {
      throw new TlsException("certificate " + name + ": cannot parse: " + describe(e), e);
    }
    if (chain.isEmpty()) throw new TlsException("certificate " + name + ": no CERTIFICATE block found");
    return chain;
  }

  static PrivateKey parseKey(byte[] pem, String name) throws TlsException {
    List<Map.Entry<String, byte[]>> plain = plainBlocks(pem);
    List<byte[]> keys = plain == null ? List.of() : plain.stream().filter(b -> b.getKey().equals("PRIVATE KEY")).map(Map.Entry::getValue).toList();
    if (keys.size() == 1) {
      for (String algorithm : List.of("RSA", "EC")) {
        try {
          return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(keys.getFirst()));
        } catch (GeneralSecurityException e) {
          // another algorithm's key; one no JDK factory here takes is Bouncy Castle's to name
        }
      }
    }
    PrivateKeyInfo found = null;
    try (PEMParser parser = parser(pem)) {
      Object o;
      while ((o = parser.readObject()) != null) {
        PrivateKeyInfo info = switch (o) {
          case PrivateKeyInfo i -> i;
          case PEMKeyPair kp -> kp.getPrivateKeyInfo();
          case PKCS8EncryptedPrivateKeyInfo e -> throw encrypted(name);
          case PEMEncryptedKeyPair e -> throw encrypted(name);
          default -> null; // certificates or EC PARAMETERS in the same file
        };
        if (info == null) continue;
        if (found != null) throw new TlsException("key " + name + ": more than one private key in the file");
        found = info;
      }
    } catch (TlsException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw new TlsException("key " + name + ": cannot parse: " + describe(e), e);
    }
    if (found == null) {
      throw new TlsException("key " + name + ": no PRIVATE KEY block found"
          + " (expected BEGIN PRIVATE KEY, BEGIN RSA PRIVATE KEY or BEGIN EC PRIVATE KEY)");
    }
    PrivateKey key;
    try {
      key = new JcaPEMKeyConverter().getPrivateKey(found);
    } catch (IOException | RuntimeException e) {
      throw new TlsException("key " + name + ": unsupported key: " + describe(e), e);
    }
    if (!(key instanceof RSAPrivateKey) && !(key instanceof ECPrivateKey)) {
      throw new TlsException("key " + name + ": unsupported key type " + key.getAlgorithm() + " (use RSA or EC)");
    }
    return key;
  }

  private static TlsException encrypted(String name) {
    return new TlsException("key " + name + ": the key is encrypted; Posta needs it unencrypted"
        + " (openssl pkey -in KEY -out PLAIN_KEY), readable only by the server");
  }

  private static void checkMatch(List<X509Certificate> chain, String certificateName, PrivateKey key, String keyName)
      throws TlsException {
    if (matches(key, chain.getFirst().getPublicKey())) return;
    for (int i = 1; i < chain.size(); i++) {
      if (matches(key, chain.get(i).getPublicKey())) {
        throw new TlsException("key " + keyName + " belongs to certificate #" + (i + 1) + " in " + certificateName
            + " (" + chain.get(i).getSubjectX500Principal().getName() + "), not the first:"
            + " the file must start with the server certificate, followed by its issuers");
      }
    }
    throw new TlsException("key " + keyName + " does not match certificate " + certificateName + " ("
        + chain.getFirst().getSubjectX500Principal().getName() + ", " + chain.getFirst().getPublicKey().getAlgorithm()
        + " key): the key is " + key.getAlgorithm() + " and belongs to another certificate");
  }

  /** Whether {@code key} is the private half of {@code pub}. */
  static boolean matches(PrivateKey key, PublicKey pub) {
    if (key instanceof RSAPrivateKey rsa && pub instanceof RSAPublicKey rsaPub) {
      if (!rsa.getModulus().equals(rsaPub.getModulus())) return false;
      return !(rsa instanceof RSAPrivateCrtKey crt) || crt.getPublicExponent().equals(rsaPub.getPublicExponent());
    }
    if (key instanceof ECPrivateKey && pub instanceof ECPublicKey) {
      try {
        byte[] challenge = new byte[32];
        new SecureRandom().nextBytes(challenge);
        Signature signer = Signature.getInstance("SHA256withECDSA");
        signer.initSign(key);
        signer.update(challenge);
        byte[] sig = signer.sign();
        Signature verifier = Signature.getInstance("SHA256withECDSA");
        verifier.initVerify(pub);
        verifier.update(challenge);
        return verifier.verify(sig);
      } catch (GeneralSecurityException e) {
        return false; // e.g. different curves
      }
    }
    return false;
  }

  /** A new server {@link SSLContext} (JDK provider) holding this chain and key. */
  SSLContext newContext() throws TlsException {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      // Trust managers for no one: the server asks no client for a certificate (TlsPolicy), and
      // null here would have the JDK read and parse its whole cacerts store (some 150
      // certificates) for nothing, the largest part of a cold JVM's first TLS set-up.
      context.init(new javax.net.ssl.KeyManager[] {new OneKey(key, chain.toArray(X509Certificate[]::new))},
          new javax.net.ssl.TrustManager[] {NoClientCertificates.INSTANCE}, null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new TlsException("cannot set up TLS with certificate " + leaf().getSubjectX500Principal().getName()
          + ": " + describe(e), e);
    }
  }

  /** No client certificate is trusted: the server never asks for one (TlsPolicy), so none should come. */
  private enum NoClientCertificates implements javax.net.ssl.X509TrustManager {
    INSTANCE;

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
      throw new java.security.cert.CertificateException("this server takes no client certificates");
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws java.security.cert.CertificateException {
      throw new java.security.cert.CertificateException("a server context trusts no server");
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[0];
    }
  }

  /**
   * The server's one key and chain, handed to TLS directly. (A KeyStore would do, but a PKCS#12
   * store encrypts the key with 10,000 rounds of PBKDF2 on every load: a visible part of the
   * time to the first banner, for nothing.)
   */
  private static final class OneKey extends javax.net.ssl.X509ExtendedKeyManager {
    private static final String ALIAS = "server";
    private final PrivateKey key;
    private final X509Certificate[] chain;

    OneKey(PrivateKey key, X509Certificate[] chain) {
      this.key = key;
      this.chain = chain;
    }

    /** Whether our key serves the key type TLS asks for ("EC", "RSA", "RSASSA-PSS", "EdDSA", ...). */
    private String alias(String keyType) {
      String algorithm = key.getAlgorithm();
      boolean fits = keyType.equalsIgnoreCase(algorithm)
          || (keyType.equalsIgnoreCase("RSASSA-PSS") && algorithm.equals("RSA"))
          || (keyType.equalsIgnoreCase("EC") && algorithm.equals("ECDSA"))
          || (keyType.equalsIgnoreCase("EdDSA") && (algorithm.equals("Ed25519") || algorithm.equals("Ed448")));
      return fits ? ALIAS : null;
    }

    @Override
    public String chooseServerAlias(String keyType, java.security.Principal[] issuers, java.net.Socket socket) {
      return alias(keyType);
    }

    @Override
    public String chooseEngineServerAlias(String keyType, java.security.Principal[] issuers, javax.net.ssl.SSLEngine engine) {
      return alias(keyType);
    }

    @Override
    public String[] getServerAliases(String keyType, java.security.Principal[] issuers) {
      return alias(keyType) == null ? null : new String[] {ALIAS};
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
      return ALIAS.equals(alias) ? chain.clone() : null;
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
      return ALIAS.equals(alias) ? key : null;
    }

    @Override
    public String[] getClientAliases(String keyType, java.security.Principal[] issuers) {
      return null;
    }

    @Override
    public String chooseClientAlias(String[] keyType, java.security.Principal[] issuers, java.net.Socket socket) {
      return null;
    }
  }

  /**
   * Things an operator should fix but that do not stop the server: an expired or not yet valid
   * certificate, one that does not name {@code hostname}, a chain out of order.
   */
  List<String> warnings(String certificateName, String hostname, Instant now) {
    List<String> out = new ArrayList<>();
    X509Certificate leaf = leaf();
    if (now.isAfter(leaf.getNotAfter().toInstant())) {
      out.add("certificate " + certificateName + " expired on " + leaf.getNotAfter().toInstant());
    } else if (now.isBefore(leaf.getNotBefore().toInstant())) {
      out.add("certificate " + certificateName + " is not valid before " + leaf.getNotBefore().toInstant());
    }
    if (hostname != null && !covers(leaf, hostname)) {
      out.add("certificate " + certificateName + " does not name this server's hostname " + hostname
          + " (names: " + names(leaf) + ")");
    }
    for (int i = 1; i < chain.size(); i++) {
      if (!chain.get(i - 1).getIssuerX500Principal().equals(chain.get(i).getSubjectX500Principal())) {
        out.add("certificate " + certificateName + ": certificate #" + (i + 1) + " ("
            + chain.get(i).getSubjectX500Principal().getName() + ") did not issue #" + i
            + "; the chain should be the server certificate followed by its issuers, in order");
        break;
      }
    }
    return out;
  }

  /** Whether {@code cert} is valid for {@code host}: a DNS name (wildcards for one label) or IP. */
  static boolean covers(X509Certificate cert, String host) {
    String h = host.toLowerCase(Locale.ROOT);
    if (h.endsWith(".")) h = h.substring(0, h.length() - 1);
    // An address literal (IPv6 has colons; a DNS name is never all digits and dots) is matched
    // against the IP names only.
    boolean ip = h.indexOf(':') >= 0 || h.chars().allMatch(c -> c == '.' || (c >= '0' && c <= '9'));
    for (List<?> san : sans(cert)) {
      int type = (Integer) san.get(0);
      String value = String.valueOf(san.get(1)).toLowerCase(Locale.ROOT);
      if (ip && type == 7 && sameAddress(value, h)) return true;
      if (!ip && type == 2 && dnsMatches(value, h)) return true;
    }
    return false;
  }

  private static boolean dnsMatches(String pattern, String host) {
    if (pattern.equals(host)) return true;
    if (pattern.startsWith("*.")) {
      int dot = host.indexOf('.');
      return dot > 0 && host.substring(dot + 1).equals(pattern.substring(2));
    }
    return false;
  }

  private static boolean sameAddress(String a, String b) {
    try {
      return InetAddress.getByName(a).equals(InetAddress.getByName(b)); // literals: no lookup
    } catch (IOException e) {
      return false;
    }
  }

  private static Collection<List<?>> sans(X509Certificate cert) {
    try {
      Collection<List<?>> sans = cert.getSubjectAlternativeNames();
      return sans == null ? List.of() : sans;
    } catch (CertificateParsingException e) {
      return List.of();
    }
  }

  /** The SAN DNS names and IP addresses, for messages. */
  static String names(X509Certificate cert) {
    List<String> names = new ArrayList<>();
    for (List<?> san : sans(cert)) {
      int type = (Integer) san.get(0);
      if (type == 2 || type == 7) names.add(String.valueOf(san.get(1)));
    }
    return names.isEmpty() ? "none" : String.join(", ", names);
  }

  /** SHA-256 of the DER encoding, upper-case hex pairs separated by colons. */
  static String fingerprint(X509Certificate cert) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256").digest(cert.getEncoded());
      return HexFormat.ofDelimiter(":").withUpperCase().formatHex(digest);
    } catch (NoSuchAlgorithmException | CertificateEncodingException e) {
      throw new IllegalStateException(e);
    }
  }

  static String describe(Throwable e) {
    String m = e.getMessage();
    String s = e.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m);
    return s.replace('\n', ' ').replace('\r', ' ');
  }
}
