package dev.posta.tls;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.IPAddress;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemWriter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The certificate used when none is configured: an EC P-256 key and a self-signed X.509 v3
 * certificate for the server's hostname, kept in {@code <data>/tls/self-signed.crt} and {@code
 * self-signed.key}.
 *
 * <p>Made on first start and reused after; made again only when a file is missing or unusable,
 * when it no longer names the hostname, or when it has expired (after ten years). The key file
 * is mode 0600; both are written atomically (temporary file, fsync, rename, fsync of the
 * folder), key first, so a crash leaves either the old pair, or a pair that does not match and
 * is therefore made again.
 */
final class SelfSignedCertificate {
  private static final Logger log = LoggerFactory.getLogger(SelfSignedCertificate.class);
  static final String CERTIFICATE_FILE = "self-signed.crt";
  static final String KEY_FILE = "self-signed.key";
  static final Duration VALIDITY = Duration.ofDays(3650);

  record Pair(Path certificate, Path key) {}

  private SelfSignedCertificate() {}

  /** Returns the pair in {@code dataDir/tls}, making it first if needed. */
  static Pair ensure(Path dataDir, String hostname, Clock clock) throws TlsException {
    Path dir = dataDir.resolve("tls");
    Pair files = new Pair(dir.resolve(CERTIFICATE_FILE), dir.resolve(KEY_FILE));
    String why = reasonToMake(files, hostname, clock.instant());
    if (why == null) return files;
    try {
      createDirectory(dir);
      KeyPair pair = newKeyPair();
      X509Certificate cert = newCertificate(pair, hostname, clock.instant());
      writeAtomically(files.key(), pem("PRIVATE KEY", pair.getPrivate().getEncoded()), true);
      writeAtomically(files.certificate(), pem("CERTIFICATE", cert.getEncoded()), false);
      log.info("made a self-signed TLS certificate for {} ({}), SHA-256 {}, in {}",
          hostname, why, KeyMaterial.fingerprint(cert), files.certificate());
      return files;
    } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
      throw new TlsException("cannot make a self-signed certificate in " + dir + ": " + KeyMaterial.describe(e), e);
    }
  }

  /** Why the pair has to be made, or null if it can be used as it is. */
  private static String reasonToMake(Pair files, String hostname, Instant now) {
    if (!Files.exists(files.certificate()) || !Files.exists(files.key())) {
      return "none yet";
    }
    KeyMaterial existing;
    try {
      existing = KeyMaterial.load(files.certificate(), files.key());
    } catch (TlsException e) {
      log.warn("self-signed certificate unusable, making a new one: {}", e.getMessage());
      return "the old one was unusable";
    }
    X509Certificate leaf = existing.leaf();
    if (!KeyMaterial.covers(leaf, hostname)) return "the hostname changed from " + KeyMaterial.names(leaf);
    if (!now.isBefore(leaf.getNotAfter().toInstant())) return "the old one expired";
    return null;
  }

  static KeyPair newKeyPair() throws GeneralSecurityException {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
    generator.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
    return generator.generateKeyPair();
  }

  static X509Certificate newCertificate(KeyPair pair, String hostname, Instant now)
      throws GeneralSecurityException, OperatorCreationException, IOException {
    String host = hostname.toLowerCase(Locale.ROOT);
    X500Name subject = new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, host).build();
    BigInteger serial = new BigInteger(159, new SecureRandom()).add(BigInteger.ONE);
    X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(subject, serial,
        Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(VALIDITY)), subject, pair.getPublic());
    List<GeneralName> names = new ArrayList<>();
    if (IPAddress.isValid(host)) {
      names.add(new GeneralName(GeneralName.iPAddress, host));
    } else {
      names.add(new GeneralName(GeneralName.dNSName, host));
    }
    if (host.equals("localhost")) {
      names.add(new GeneralName(GeneralName.iPAddress, "127.0.0.1"));
      names.add(new GeneralName(GeneralName.iPAddress, "::1"));
    }
    JcaX509ExtensionUtils utils = new JcaX509ExtensionUtils();
    builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
    builder.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
    builder.addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth));
    builder.addExtension(Extension.subjectAlternativeName, false,
        new GeneralNames(names.toArray(GeneralName[]::new)));
    builder.addExtension(Extension.subjectKeyIdentifier, false, utils.createSubjectKeyIdentifier(pair.getPublic()));
    var signer = new JcaContentSignerBuilder("SHA256withECDSA").build(pair.getPrivate());
    return new JcaX509CertificateConverter().getCertificate(builder.build(signer));
  }

  static byte[] pem(String type, byte[] der) throws IOException {
    StringWriter out = new StringWriter();
    try (PemWriter writer = new PemWriter(out)) {
      writer.writeObject(new PemObject(type, der));
    }
    return out.toString().getBytes(StandardCharsets.US_ASCII);
  }

  private static boolean posix(Path dir) throws IOException {
    return Files.getFileStore(dir).supportsFileAttributeView(PosixFileAttributeView.class);
  }

  private static void createDirectory(Path folder) throws IOException {
    Path dir = folder.toAbsolutePath();
    if (Files.isDirectory(dir)) return;
    Files.createDirectories(dir.getParent());
    FileAttribute<?>[] attrs = posix(dir.getParent())
        ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------"))}
        : new FileAttribute<?>[0];
    Files.createDirectories(dir, attrs);
  }

  /** Temporary file in the same folder, fsync, rename over {@code target}, fsync the folder. */
  static void writeAtomically(Path target, byte[] content, boolean secret) throws IOException {
    Path dir = target.getParent();
    boolean posix = posix(dir);
    Set<PosixFilePermission> mode = PosixFilePermissions.fromString(secret ? "rw-------" : "rw-r--r--");
    FileAttribute<?>[] attrs = posix
        ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"))}
        : new FileAttribute<?>[0];
    Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp", attrs);
    try {
      if (posix) Files.setPosixFilePermissions(tmp, mode); // exact, whatever the umask
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
        ByteBuffer buf = ByteBuffer.wrap(content);
        while (buf.hasRemaining()) ch.write(buf);
        ch.force(true);
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
    fsyncDirectory(dir);
  }

  private static void fsyncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      // Not every platform can open a folder (Windows); the rename is still atomic.
    }
  }
}
