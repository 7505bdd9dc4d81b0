package dev.posta.mailauth.dkim;

import static org.assertj.core.api.Assertions.assertThat;

import dev.posta.config.PostaConfig;
import dev.posta.dns.ResolverRecords;
import dev.posta.mailauth.dkim.DkimResult.Outcome;
import dev.posta.testing.Dkimpy;
import dev.posta.testing.Dnsmasq;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.interfaces.EdECPrivateKey;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Posta and an independent DKIM implementation check each other: dkimpy (Debian's
 * python3-dkim) verifies what Posta signs, and Posta verifies what dkimpy's {@code dkimsign}
 * signs, rsa-sha256 and ed25519-sha256, simple and relaxed, over messages with trailing blank
 * lines, none at all, long folded header fields, 8-bit bodies and header fields, odd whitespace.
 * The keys are in a real DNS server on loopback (dnsmasq), published as {@code posta dkim
 * keygen} prints them (RSA in two strings), and each side asks it with its own DNS code.
 *
 * <p>Needs {@code /usr/bin/python3} with python3-dkim, {@code /usr/bin/dkimsign} and dnsmasq;
 * when one is missing the test fails, saying which.
 */
class DkimpyInteropTest {

  /** The messages both sides sign, CRLF line ends (as SMTP carries them), 8-bit as UTF-8. */
  static final Map<String, String> MESSAGES = new LinkedHashMap<>();

  static {
    String head = "From: Alice <alice@posta.test>\r\nTo: bob@example.test\r\nDate: Sat, 12 Jul 2025 10:00:00 +0000\r\nMessage-ID: <%s@posta.test>\r\n";
    MESSAGES.put("plain", head.formatted("plain") + "Subject: Plain\r\n\r\nHello Bob.\r\n");
    MESSAGES.put("trailing blank lines", head.formatted("blank") + "Subject: Blank lines\r\n\r\nHello.\r\n\r\n\r\n\r\n");
    MESSAGES.put("empty body", head.formatted("empty") + "Subject: Nothing\r\n\r\n");
    MESSAGES.put("no final line end", head.formatted("noeol") + "Subject: No end\r\n\r\nfirst\r\nlast line without its CRLF");
    MESSAGES.put("long folded header fields", head.formatted("folded")
        + "Subject: A subject long enough that the mail program folds it over more than\r\n one line, and then\r\n\t  once more with a tab  \r\n"
        + "Cc: " + String.join(",\r\n    ", List.of("carol@example.test", "dave@example.test", "\"Eve, the other one\" <eve@example.test>",
            "frank@example.test", "grace@example.test")) + "\r\n"
        + "References: <" + "a".repeat(70) + "@example.test>\r\n <" + "b".repeat(70) + "@example.test>\r\n"
        + "X-Long: " + "word ".repeat(190).strip() + "\r\n"
        + "\r\nBody.\r\n");
    MESSAGES.put("8-bit body", head.formatted("8bit")
        + "Subject: Grüße\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "Grüße aus Köln — und 日本語 too.\r\nZeile mit Tab\tund  Leerzeichen  \r\n\r\n");
    MESSAGES.put("8-bit header fields", "From: Jürgen <juergen@posta.test>\r\nTo: Zoë <zoe@example.test>\r\nSubject: Überweisung für März\r\n"
        + "Date: Sat, 12 Jul 2025 10:00:00 +0000\r\nMessage-ID: <utf8@posta.test>\r\n\r\nSiehe Anhang.\r\n");
    MESSAGES.put("whitespace", head.formatted("ws") + "Subject:   spaced\t out  \r\n\r\n"
        + "  leading\r\n\ttabbed\t\tline\t\r\nmiddle   spaces\r\n \r\n\t\r\nafter blanks  \r\n   \r\n\r\n");
    MESSAGES.put("mailing list and MIME", head.formatted("list") + "Subject: [list] News\r\nList-Id: News <news.posta.test>\r\n"
        + "List-Unsubscribe: <mailto:leave@posta.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
        + "--b1\r\nContent-Type: text/plain\r\n\r\nText.\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>Text.</p>\r\n--b1--\r\n");
  }

  @TempDir static Path dir;
  static Dnsmasq dns;
  static SigningKeys postaKeys;
  static KeyPair pythonRsa = TestSignatures.keyPair("RSA", 2048);
  static KeyPair pythonEd = TestSignatures.keyPair("Ed25519", 0);
  static Path pythonRsaFile;
  static Path pythonEdFile;

  @BeforeAll
  static void keysInDns() throws Exception {
    assertThat(Dkimpy.PYTHON).as("Debian's python3").isExecutable();
    assertThat(Dkimpy.DKIMSIGN).as("dkimsign of python3-dkim (apt-get install python3-dkim)").isExecutable();
    Path data = dir.resolve("data");
    var rsa = DkimKeyFiles.generate(data, "posta.test", "20250712-rsa", DkimAlgorithm.KeyType.RSA);
    var ed = DkimKeyFiles.generate(data, "posta.test", "20250712-ed25519", DkimAlgorithm.KeyType.ED25519);
    postaKeys = SigningKeys.load(data, PostaConfig.Dkim.NONE);
    pythonRsaFile = Files.write(dir.resolve("python-rsa.pem"), DkimKeyFiles.pem(pythonRsa.getPrivate()));
    // dkimpy takes an Ed25519 key as its 32-octet seed in base64.
    pythonEdFile = Files.writeString(dir.resolve("python-ed.key"),
        Base64.getEncoder().encodeToString(((EdECPrivateKey) pythonEd.getPrivate()).getBytes().orElseThrow()));
    dns = Dnsmasq.start(dir, z -> z
        .txt("20250712-rsa._domainkey.posta.test", DkimKeyFiles.txtStrings(rsa.publicKey()).toArray(String[]::new))
        .txt("20250712-ed25519._domainkey.posta.test", DkimKeyFiles.txtStrings(ed.publicKey()).toArray(String[]::new))
        .txt("py-rsa._domainkey.posta.test", DkimKeyFiles.txtStrings(pythonRsa.getPublic()).toArray(String[]::new))
        .txt("py-ed._domainkey.posta.test", DkimKeyFiles.txtStrings(pythonEd.getPublic()).toArray(String[]::new)));
  }

  @AfterAll
  static void stopDns() {
    if (dns != null) dns.close();
  }

  @Test
  void dkimpyVerifiesWhatPostaSigns() throws IOException {
    List<String> failures = new ArrayList<>();
    for (var message : MESSAGES.entrySet()) {
      byte[] signed = postaSigned(message.getValue());
      Dkimpy.Run run = dkimpyVerify(signed, message.getKey());
      if (run.exit() != 0 || !run.out().equals("0 pass d=posta.test s=20250712-ed25519\n1 pass d=posta.test s=20250712-rsa\n")) {
        failures.add(message.getKey() + ":\n" + run);
      }
    }
    assertThat(failures).as("messages dkimpy did not accept").isEmpty();
  }

  /** The control: dkimpy does say fail, so the passes above mean something. */
  @Test
  void dkimpyFailsWhatWasChangedAfterPostaSignedIt() throws IOException {
    String changed = new String(postaSigned(MESSAGES.get("plain")), StandardCharsets.UTF_8).replace("Hello Bob.", "Hello Mallory.");
    Dkimpy.Run run = dkimpyVerify(changed.getBytes(StandardCharsets.UTF_8), "changed");
    assertThat(run.exit()).isEqualTo(1);
    assertThat(run.out()).isEqualTo("0 fail d=posta.test s=20250712-ed25519\n1 fail d=posta.test s=20250712-rsa\n");
  }

  @Test
  void postaVerifiesWhatDkimsignSigns() {
    DkimVerifier verifier = new DkimVerifier(new ResolverRecords(List.of(dns.address()), java.time.Duration.ofSeconds(2)), Clock.systemUTC());
    List<String> failures = new ArrayList<>();
    record Variant(String selector, Path key, String algorithm, String header, String body) {}
    List<Variant> variants = List.of(
        new Variant("py-rsa", pythonRsaFile, "rsa-sha256", "relaxed", "simple"),
        new Variant("py-rsa", pythonRsaFile, "rsa-sha256", "simple", "simple"),
        new Variant("py-rsa", pythonRsaFile, "rsa-sha256", "relaxed", "relaxed"),
        new Variant("py-ed", pythonEdFile, "ed25519-sha256", "relaxed", "relaxed"),
        new Variant("py-ed", pythonEdFile, "ed25519-sha256", "simple", "simple"));
    for (var message : MESSAGES.entrySet()) {
      for (Variant v : variants) {
        Dkimpy.Run signed = Dkimpy.sign(message.getValue().getBytes(StandardCharsets.UTF_8), v.selector(), "posta.test", v.key(),
            "--hcanon", v.header(), "--bcanon", v.body(), "--signalg", v.algorithm());
        String what = message.getKey() + " " + v;
        assertThat(signed.exit()).as("dkimsign %s: %s", what, signed).isZero();
        assertThat(signed.err()).as("dkimsign %s", what).isEmpty();
        assertThat(new String(signed.stdout(), StandardCharsets.UTF_8)).as(what).startsWith("DKIM-Signature: v=1; a=" + v.algorithm() + "; c=" + v.header() + "/" + v.body() + ";");
        var results = verifier.verify(signed.stdout()).signatures();
        if (results.size() != 1 || results.getFirst().outcome() != Outcome.PASS) failures.add(what + ": " + results);
        if (failures.size() > 3) break; // enough to see what is wrong
        // And the control: a changed body fails.
        byte[] changed = new String(signed.stdout(), StandardCharsets.UTF_8).replaceFirst("\r\n\r\n", "\r\n\r\nAdded.\r\n").getBytes(StandardCharsets.UTF_8);
        var control = verifier.verify(changed).signatures();
        if (control.size() != 1 || !control.getFirst().reason().equals("body hash did not verify")) failures.add(what + " changed: " + control);
      }
    }
    assertThat(failures).as("dkimsign's signatures Posta did not judge right").isEmpty();
  }

  static byte[] postaSigned(String message) {
    DkimSigner.Signing signing = new DkimSigner(postaKeys, Clock.systemUTC()).start();
    byte[] octets = message.getBytes(StandardCharsets.UTF_8);
    signing.write(octets, 0, octets.length);
    DkimSigner.Outcome outcome = signing.finish();
    assertThat(outcome).isInstanceOf(DkimSigner.Signed.class);
    byte[] fields = ((DkimSigner.Signed) outcome).fields();
    byte[] all = java.util.Arrays.copyOf(fields, fields.length + octets.length);
    System.arraycopy(octets, 0, all, fields.length, octets.length);
    return all;
  }

  static Dkimpy.Run dkimpyVerify(byte[] message, String name) {
    return Dkimpy.verify(dns.port(), message, dir.resolve(name.replace(' ', '-') + ".eml"));
  }
}
