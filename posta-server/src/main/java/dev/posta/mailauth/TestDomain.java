package dev.posta.mailauth;

import dev.posta.config.PostaConfig;
import dev.posta.dns.MemoryZone;
import dev.posta.mailauth.dkim.DkimKeyFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The built-in test domain of capture mode's DNS zone: {@value #DOMAIN} (RFC 6761 §6.2 reserves
 * {@code .test} for testing, so it can never be someone's real domain), set up so that mail a
 * test application sends from it on this machine passes SPF, DKIM and DMARC, and mail that
 * misses any of them fails visibly:
 *
 * <ul>
 *   <li>SPF (RFC 7208): {@value #SPF_RECORD}, the loopback addresses, which capture mode's
 *       clients connect from, and nothing else;
 *   <li>DKIM (RFC 6376, RFC 8463): two key records, RSA 2048 bits at {@value #RSA_SELECTOR} and
 *       Ed25519 at {@value #ED25519_SELECTOR}, whose private keys ship with Posta and are
 *       written by {@link #writeKeys} for the application to sign with;
 *   <li>DMARC (RFC 7489): {@value #DMARC_RECORD} at {@code _dmarc.}{@value #DOMAIN}: the
 *       strictest policy, so a failure shows as one (capture mode records it and delivers).
 * </ul>
 *
 * <p>The private keys are published in Posta's sources and therefore secret from no one: they
 * sign test mail for a domain that does not exist, never anything real. The public key records
 * are held as text here (not computed from the private keys at each start, which would load a
 * PEM parser into every test's JVM); TestDomainTest checks that they match the keys.
 */
public final class TestDomain {
  private TestDomain() {}

  public static final String DOMAIN = "example.test";
  public static final String RSA_SELECTOR = "posta-rsa";
  public static final String ED25519_SELECTOR = "posta-ed25519";
  public static final String SPF_RECORD = "v=spf1 ip4:127.0.0.0/8 ip6:::1 -all";
  public static final String DMARC_RECORD = "v=DMARC1; p=reject";

  /** The key record of {@link #RSA_SELECTOR} (RFC 6376 §3.6.1: p= the SubjectPublicKeyInfo). */
  public static final String RSA_KEY_RECORD = "v=DKIM1; k=rsa; p="
      + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAyYnrjjwy+WNwjnLbUSkrv5Af0pmaI5pA17p0dAvn9Yk8oh/Z5rgbTB2LHKAhcnfl+LXhUElsoMGtsFBI"
      + "F96LLgNLVILHL+p9MN/GF1MVNy5AYaNC0KD/hkHgb5H4X+zbHpF7ucM8oxZ8n/DAz6Ice55SfiT/MLp0E2HNgC1ZxILXHih9nAyYvIeeYlNhSG4cXag0YJzN+BL/"
      + "/wB/K4XNlQKmXz2Jt9eDwedD9rNSxj4BMpliMPHapf1fv/+o+4rA6eLm/ISDcYgEAzKxrg2KQQTW21oA5uU1buWVfD4p2Mk4zdKgC8BDxIgrZRy/iLJpqf9gric"
      + "sU2CKB9EZAgXfjwIDAQAB";
  /** The key record of {@link #ED25519_SELECTOR} (RFC 8463 §4: p= the 32 raw octets). */
  public static final String ED25519_KEY_RECORD = "v=DKIM1; k=ed25519; p=xAX4bqdz9m4EgP0C3fdKwxh4CPNh58A9nDxhoEcPacY=";

  /**
   * Where {@link #writeKeys} put the private keys: PKCS#8 PEM for both ({@code openssl},
   * Java, {@code posta dkim}, dkimpy's RSA), and the Ed25519 key also as dkimpy's
   * {@code dkimsign} reads one (the base64 of its 32-octet seed).
   */
  public record Keys(Path rsaPem, Path ed25519Pem, Path ed25519Dkimpy) {}

  /** Adds the test domain's records to {@code zone}. */
  public static MemoryZone.Builder publish(MemoryZone.Builder zone) {
    return zone.txt(DOMAIN, SPF_RECORD)
        .txt("_dmarc." + DOMAIN, DMARC_RECORD)
        .txt(RSA_SELECTOR + "._domainkey." + DOMAIN, RSA_KEY_RECORD)
        .txt(ED25519_SELECTOR + "._domainkey." + DOMAIN, ED25519_KEY_RECORD)
        .mx(DOMAIN, "mail." + DOMAIN)
        .address("mail." + DOMAIN, InetAddress.getLoopbackAddress());
  }

  /**
   * Capture mode's whole test zone: this domain's records and the developer's ({@code zone}), a
   * DKIM key of theirs published from its private key file.
   *
   * @throws IOException naming each key file that cannot be read, with where it was given
   */
  public static MemoryZone zone(PostaConfig.Capture.Zone zone) throws IOException {
    MemoryZone.Builder b = publish(MemoryZone.builder());
    for (PostaConfig.Capture.ZoneRecord r : zone.records()) {
      switch (r.type()) {
        case TXT -> b.txt(r.name(), r.value());
        case A, AAAA -> b.address(r.name(), InetAddress.ofLiteral(r.value()));
        case MX -> b.mx(r.name(), r.value());
        case PTR -> b.ptr(InetAddress.ofLiteral(r.name()), r.value());
      }
    }
    List<String> problems = new ArrayList<>();
    for (PostaConfig.Capture.ZoneKey k : zone.dkimKeys()) {
      try {
        var key = DkimKeyFiles.read(k.file(), k.domain(), k.selector());
        b.txt(k.selector() + "._domainkey." + k.domain(), String.join("", DkimKeyFiles.txtStrings(DkimKeyFiles.publicKey(key))));
      } catch (DkimKeyFiles.KeyFileException e) {
        problems.add(k.origin() + ": " + e.getMessage());
      }
    }
    if (!problems.isEmpty()) throw new IOException("unusable DKIM keys for the test zone:\n  " + String.join("\n  ", problems));
    return b.build();
  }

  /** Writes the private keys into {@code folder} (made if missing; files replaced, they never change). */
  public static Keys writeKeys(Path folder) throws IOException {
    Files.createDirectories(folder);
    return new Keys(copy("rsa.pem", folder), copy("ed25519.pem", folder), copy("ed25519.key", folder));
  }

  private static Path copy(String resource, Path folder) throws IOException {
    Path file = folder.resolve(resource);
    try (InputStream in = TestDomain.class.getResourceAsStream("testdomain/" + resource)) {
      if (in == null) throw new UncheckedIOException(new IOException("testdomain/" + resource + " is missing from Posta's jar"));
      Files.write(file, in.readAllBytes());
    }
    return file;
  }
}
