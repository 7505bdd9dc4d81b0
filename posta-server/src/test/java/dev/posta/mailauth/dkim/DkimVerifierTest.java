package dev.posta.mailauth.dkim;

import static dev.posta.mailauth.dkim.TestSignatures.ED25519;
import static dev.posta.mailauth.dkim.TestSignatures.RSA_1024;
import static dev.posta.mailauth.dkim.TestSignatures.RSA_2048;
import static dev.posta.mailauth.dkim.TestSignatures.RSA_512;
import static dev.posta.mailauth.dkim.TestSignatures.record;
import static dev.posta.mailauth.dkim.TestSignatures.sign;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;

import dev.posta.dns.DnsRecords;
import dev.posta.mailauth.dkim.DkimResult.Outcome;
import dev.posta.mailauth.dmarc.DmarcCheck;
import dev.posta.testing.ZoneRecords;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.List;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

/**
 * The verifier's verdicts, each row a signed message (or a broken one), the DNS answers and the
 * exact result. DNS is in memory here; {@code DkimpyInteropTest} has a real server.
 */
class DkimVerifierTest {
  static final String MESSAGE = String.join("\r\n",
      "From: Alice <alice@example.org>",
      "To: bob@example.net",
      "Subject: Lunch",
      "Date: Sat, 12 Jul 2025 10:00:00 +0000",
      "Message-ID: <1@example.org>",
      "",
      "Shall we?  At  noon.",
      "",
      "");
  /** 2025-07-12T10:00:00Z, the time of the message. */
  static final long NOW = 1752314400L;
  static final Clock CLOCK = Clock.fixed(Instant.ofEpochSecond(NOW), ZoneOffset.UTC);
  static final String H = "h=from:to:subject:date:message-id";

  ZoneRecords dns = new ZoneRecords()
      .txt("rsa._domainkey.example.org", record(RSA_2048.getPublic()))
      .txt("ed._domainkey.example.org", record(ED25519.getPublic()))
      .txt("small._domainkey.example.org", record(RSA_1024.getPublic()))
      .txt("weak._domainkey.example.org", record(RSA_512.getPublic()));

  private DkimResult only(String message) {
    DkimVerifier.Results r = new DkimVerifier(dns, CLOCK).verify(message.getBytes(StandardCharsets.ISO_8859_1));
    assertThat(r.signatures()).hasSize(1);
    assertThat(r.notChecked()).isZero();
    return r.signatures().getFirst();
  }

  private static String tags(String a, String s, String more) {
    return "v=1; a=" + a + "; c=relaxed/relaxed; d=example.org; s=" + s + "; " + H + "; BH" + (more.isEmpty() ? "" : "; " + more);
  }

  @Test
  void rsaAndEd25519SignaturesPassWithTheirTagsReported() {
    DkimResult rsa = only(sign(MESSAGE, tags("rsa-sha256", "rsa", "t=" + NOW), RSA_2048));
    assertThat(rsa).isEqualTo(new DkimResult(Outcome.PASS, "example.org", "rsa", "rsa-sha256", "", rsa.headerB(), OptionalLong.empty(), false,
        "signature verified"));
    assertThat(rsa.headerB()).hasSize(8);
    assertThat(rsa.countsForDmarc()).isTrue();
    assertThat(only(sign(MESSAGE, tags("ed25519-sha256", "ed", "i=alice@example.org"), ED25519)))
        .extracting(DkimResult::outcome, DkimResult::identity, DkimResult::reason)
        .containsExactly(Outcome.PASS, "alice@example.org", "signature verified");
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "small", ""), RSA_1024)).outcome()).isEqualTo(Outcome.PASS);
  }

  @Test
  void everyCanonicalizationPairVerifiesAndOnlyRelaxedSurvivesRewhitespacing() {
    for (String c : List.of("simple/simple", "simple/relaxed", "relaxed/simple", "relaxed/relaxed", "simple", "relaxed")) {
      String signed = sign(MESSAGE, "v=1; a=rsa-sha256; c=" + c + "; d=example.org; s=rsa; " + H + "; BH", RSA_2048);
      assertThat(only(signed).outcome()).as(c).isEqualTo(Outcome.PASS);
      // A relay that re-folds a header field and pads a body line: relaxed on that side survives.
      String moved = signed.replace("Subject: Lunch", "Subject:   Lunch").replace("At  noon.", "At noon.  ");
      boolean relaxedHeader = c.startsWith("relaxed");
      boolean relaxedBody = c.endsWith("/relaxed");
      assertThat(only(moved).reason()).as(c).isEqualTo(
          !relaxedBody ? "body hash did not verify" : relaxedHeader ? "signature verified" : "signature did not verify");
    }
  }

  /** RFC 8301 §3.1: rsa-sha1 is never a pass, but it is said whether it verified. */
  @Test
  void rsaSha1IsPolicyWhenItVerifiesAndFailWhenNot() {
    String signed = sign(MESSAGE, tags("rsa-sha1", "rsa", ""), RSA_2048);
    DkimResult good = only(signed);
    assertThat(good.outcome()).isEqualTo(Outcome.POLICY);
    assertThat(good.reason()).isEqualTo("rsa-sha1 signature verified, but SHA-1 is not accepted, RFC 8301 section 3.1");
    assertThat(good.countsForDmarc()).isFalse();
    assertThat(only(signed.replace("Subject: Lunch", "Subject: Dinner")))
        .extracting(DkimResult::outcome, DkimResult::reason).containsExactly(Outcome.FAIL, "signature did not verify");
  }

  /** RFC 8301 §3.2. */
  @Test
  void rsaKeysUnder1024BitsFail() {
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "weak", ""), RSA_512)))
        .extracting(DkimResult::outcome, DkimResult::reason)
        .containsExactly(Outcome.FAIL, "RSA key of 512 bits, under the 1024 RFC 8301 section 3.2 requires");
  }

  @Test
  void keyRecordProblems() {
    String rsaPublic = Base64.getEncoder().encodeToString(RSA_2048.getPublic().getEncoded());
    String pkcs1 = Base64.getEncoder().encodeToString(
        org.bouncycastle.asn1.x509.SubjectPublicKeyInfo.getInstance(RSA_2048.getPublic().getEncoded()).getPublicKeyData().getBytes());
    record Row(String record, Outcome outcome, String reason) {}
    for (Row row : List.of(
        new Row("v=DKIM1; p=" + rsaPublic, Outcome.PASS, "signature verified"), // k=rsa is the default
        new Row("p=" + pkcs1, Outcome.PASS, "signature verified"), // a bare RSAPublicKey, as some publish
        new Row("v=DKIM1; h=sha1:sha256; s=email:*; n=notes; x_future=1; p=" + rsaPublic, Outcome.PASS, "signature verified"),
        new Row("v=DKIM1; k=rsa; t=y; p=" + rsaPublic, Outcome.PASS, "signature verified, key in testing mode, t=y"),
        new Row("v=DKIM1; k=rsa; p=", Outcome.PERMERROR, "key revoked, p= is empty, at rsa._domainkey.example.org"),
        new Row("v=DKIM1; k=ed25519; p=" + rsaPublic, Outcome.PERMERROR, "key type k=ed25519 does not fit a=rsa-sha256"),
        new Row("v=DKIM1; h=sha1; p=" + rsaPublic, Outcome.PERMERROR, "key's h= does not allow sha256"),
        new Row("v=DKIM1; s=tlsrpt; p=" + rsaPublic, Outcome.PERMERROR, "key record is not for e-mail (s=)"),
        new Row("v=DKIM2; p=" + rsaPublic, Outcome.PERMERROR, "key record's v= is not DKIM1 at its start"),
        new Row("k=rsa; v=DKIM1; p=" + rsaPublic, Outcome.PERMERROR, "key record's v= is not DKIM1 at its start"),
        new Row("v=DKIM1; k=rsa", Outcome.PERMERROR, "key record has no p= tag"),
        new Row("v=DKIM1; p=#!notbase64", Outcome.PERMERROR, "key record's p= is not base64"),
        new Row("v=DKIM1; p=" + rsaPublic + "; p=x", Outcome.PERMERROR, "malformed key record: tag p= appears twice"),
        new Row("v=DKIM1; p=AAAABBBB", Outcome.PERMERROR, "key record's p= is not a rsa public key"))) {
      dns = new ZoneRecords().txt("rsa._domainkey.example.org", row.record());
      DkimResult r = only(sign(MESSAGE, tags("rsa-sha256", "rsa", ""), RSA_2048));
      assertThat(r).extracting(DkimResult::outcome, DkimResult::reason).as(row.record()).containsExactly(row.outcome(), row.reason());
      assertThat(r.testing()).isEqualTo(row.record().contains("t=y"));
    }
    // Several TXT records: the first that reads as a key record is used.
    dns = new ZoneRecords().txt("rsa._domainkey.example.org", "v=spf1 -all").txt("rsa._domainkey.example.org", "v=DKIM1; p=" + rsaPublic);
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", ""), RSA_2048)).outcome()).isEqualTo(Outcome.PASS);
  }

  /** RFC 8463 §4: p= is the 32 octets of a point of the curve; anything else is no key (RFC 6376 §6.1.2). */
  @Test
  void ed25519KeyRecordProblems() {
    byte[] notAPoint = new byte[32];
    notAPoint[0] = 2; // y = 2: (y² - 1) / (d y² + 1) has no square root, so no x
    byte[] anotherPoint = new byte[32];
    anotherPoint[0] = 3; // a point of the curve, but not the signer's key
    record Row(byte[] key, Outcome outcome, String reason) {}
    for (Row row : List.of(
        new Row(new byte[31], Outcome.PERMERROR, "key record's p= is not a ed25519 public key"),
        new Row(notAPoint, Outcome.PERMERROR, "key record's p= is not a ed25519 public key"),
        new Row(anotherPoint, Outcome.FAIL, "signature did not verify"))) {
      dns = new ZoneRecords().txt("ed._domainkey.example.org", "v=DKIM1; k=ed25519; p=" + Base64.getEncoder().encodeToString(row.key()));
      assertThat(only(sign(MESSAGE, tags("ed25519-sha256", "ed", ""), ED25519)))
          .extracting(DkimResult::outcome, DkimResult::reason).as(row.reason()).containsExactly(row.outcome(), row.reason());
    }
    // A signature cut short does not verify, and is no error of the verifier.
    dns = new ZoneRecords().txt("ed._domainkey.example.org", record(ED25519.getPublic()));
    String signed = sign(MESSAGE, tags("ed25519-sha256", "ed", ""), ED25519);
    String b = signed.substring(signed.indexOf(" b=") + 3, signed.indexOf("\r\n", signed.indexOf(" b=")));
    assertThat(only(signed.replace(b, b.substring(0, 40))))
        .extracting(DkimResult::outcome, DkimResult::reason).containsExactly(Outcome.FAIL, "signature did not verify");
  }

  /** Key records are kept parsed by their text: a key changed at the same name (rotated, revoked) counts at once. */
  @Test
  void aKeyRecordChangedAtItsNameIsReadAnew() {
    DnsRecords current = new DnsRecords() { // whatever dns is at the moment
      public DnsRecords.Answer<String> txt(String name) {
        return dns.txt(name);
      }

      public DnsRecords.Answer<java.net.InetAddress> a(String name) {
        return dns.a(name);
      }

      public DnsRecords.Answer<java.net.InetAddress> aaaa(String name) {
        return dns.aaaa(name);
      }

      public DnsRecords.Answer<String> mx(String name) {
        return dns.mx(name);
      }

      public DnsRecords.Answer<String> ptr(java.net.InetAddress address) {
        return dns.ptr(address);
      }
    };
    DkimVerifier verifier = new DkimVerifier(current, CLOCK);
    byte[] signed = sign(MESSAGE, tags("rsa-sha256", "rsa", ""), RSA_2048).getBytes(StandardCharsets.US_ASCII);
    assertThat(verifier.verify(signed).signatures()).extracting(DkimResult::outcome).containsExactly(Outcome.PASS);
    dns = new ZoneRecords().txt("rsa._domainkey.example.org", record(RSA_1024.getPublic()));
    assertThat(verifier.verify(signed).signatures()).extracting(DkimResult::outcome).containsExactly(Outcome.FAIL);
    dns = new ZoneRecords().txt("rsa._domainkey.example.org", "v=DKIM1; k=rsa; p=");
    assertThat(verifier.verify(signed).signatures()).extracting(DkimResult::outcome).containsExactly(Outcome.PERMERROR);
    dns = new ZoneRecords().txt("rsa._domainkey.example.org", record(RSA_2048.getPublic()));
    assertThat(verifier.verify(signed).signatures()).extracting(DkimResult::outcome).containsExactly(Outcome.PASS);
  }

  @Test
  void noKeyIsPermerrorAndADnsFailureTemperror() {
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "gone", ""), RSA_2048)))
        .extracting(DkimResult::outcome, DkimResult::reason)
        .containsExactly(Outcome.PERMERROR, "no key for signature at gone._domainkey.example.org");
    dns.exists("empty._domainkey.example.org");
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "empty", ""), RSA_2048)).outcome()).isEqualTo(Outcome.PERMERROR);
    dns = new ZoneRecords().timeout("rsa._domainkey.example.org");
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", ""), RSA_2048)))
        .extracting(DkimResult::outcome, DkimResult::reason)
        .containsExactly(Outcome.TEMPERROR, "key lookup failed: DNS lookup of TXT for rsa._domainkey.example.org failed: timed out");
  }

  @Test
  void identityMustBeInTheSigningDomainAndWithTsInItExactly() {
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", "i=@news.example.org"), RSA_2048)).outcome()).isEqualTo(Outcome.PASS);
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", "i=alice@example.com"), RSA_2048)))
        .extracting(DkimResult::outcome, DkimResult::reason).containsExactly(Outcome.PERMERROR, "i= is not in the domain of d=");
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", "i=@badexample.org"), RSA_2048)).outcome()).isEqualTo(Outcome.PERMERROR);
    dns = new ZoneRecords().txt("rsa._domainkey.example.org", "v=DKIM1; t=s; p=" + Base64.getEncoder().encodeToString(RSA_2048.getPublic().getEncoded()));
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", "i=@news.example.org"), RSA_2048)))
        .extracting(DkimResult::outcome, DkimResult::reason).containsExactly(Outcome.PERMERROR, "key has t=s but i= is in a subdomain of d=");
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", "i=alice@EXAMPLE.org"), RSA_2048)).outcome()).isEqualTo(Outcome.PASS);
  }

  @Test
  void expiryIsJudgedByTheClock() {
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", "t=" + (NOW - 100) + "; x=" + (NOW - 1)), RSA_2048)))
        .extracting(DkimResult::outcome, DkimResult::reason).containsExactly(Outcome.FAIL, "signature expired at x=" + (NOW - 1));
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", "t=" + (NOW - 100) + "; x=" + NOW), RSA_2048)).outcome()).isEqualTo(Outcome.PASS);
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", "t=" + NOW + "; x=" + (NOW - 5)), RSA_2048)))
        .extracting(DkimResult::outcome, DkimResult::reason).containsExactly(Outcome.PERMERROR, "x= is before t=");
    // t= in the future is no reason to fail (clocks differ).
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", "t=" + (NOW + 3600)), RSA_2048)).outcome()).isEqualTo(Outcome.PASS);
  }

  /** l= (RFC 6376 §3.5, §8.2): honoured, and said, since anything may follow the part it covers. */
  @Test
  void aBodyLengthLimitIsHonouredAndNoted() {
    String signed = sign(MESSAGE, tags("rsa-sha256", "rsa", "l=10"), RSA_2048);
    DkimResult r = only(signed + "Appended by someone else.\r\n");
    assertThat(r).extracting(DkimResult::outcome, DkimResult::bodyLength, DkimResult::reason)
        .containsExactly(Outcome.PASS, OptionalLong.of(10), "signature verified, body covered up to l=10");
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", "l=10000"), RSA_2048)))
        .extracting(DkimResult::outcome, DkimResult::reason).containsExactly(Outcome.FAIL, "l=10000 is longer than the body, 20 octets");
    assertThat(only(sign(MESSAGE, tags("rsa-sha256", "rsa", "l=99999999999999999999999999"), RSA_2048)).outcome()).isEqualTo(Outcome.FAIL);
  }

  @Test
  void malformedSignaturesArePermerrorsOrNeutralNeverExceptions() {
    String good = "v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; bh=AAAA; b=AAAA";
    record Row(String value, Outcome outcome, String reason) {}
    for (Row row : List.of(
        new Row("v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; bh=AAAA", Outcome.PERMERROR, "signature has no b= tag"),
        new Row("a=rsa-sha256; d=example.org; s=rsa; h=from; bh=AAAA; b=AAAA", Outcome.PERMERROR, "signature has no v= tag"),
        new Row(good.replace("; h=from", ""), Outcome.PERMERROR, "signature has no h= tag"),
        new Row(good.replace("; d=example.org", ""), Outcome.PERMERROR, "signature has no d= tag"),
        new Row(good.replace("; s=rsa", ""), Outcome.PERMERROR, "signature has no s= tag"),
        new Row(good.replace("; bh=AAAA", ""), Outcome.PERMERROR, "signature has no bh= tag"),
        new Row(good.replace("; a=rsa-sha256", ""), Outcome.PERMERROR, "signature has no a= tag"),
        new Row(good + "; d=example.com", Outcome.PERMERROR, "malformed signature: tag d= appears twice"),
        new Row(good + ";;", Outcome.PERMERROR, "malformed signature: empty tag-spec, two semicolons in a row"),
        new Row(good.replace("b=AAAA", "b=A*A="), Outcome.PERMERROR, "b= is not base64"),
        new Row(good.replace("b=AAAA", "b="), Outcome.PERMERROR, "b= is not base64"),
        new Row(good.replace("bh=AAAA", "bh=A"), Outcome.PERMERROR, "bh= is not base64"),
        new Row(good.replace("v=1", "v=2"), Outcome.PERMERROR, "signature version v= is not 1"),
        new Row(good.replace("h=from", "h=to:subject"), Outcome.PERMERROR, "h= does not include From"),
        new Row(good.replace("h=from", "h=from:to:"), Outcome.PERMERROR, "h= holds something that is no field name"),
        new Row(good.replace("d=example.org", "d=exa mple.org"), Outcome.PERMERROR, "d= is not a domain name"),
        new Row(good.replace("d=example.org", "d=-x.org"), Outcome.PERMERROR, "d= is not a domain name"),
        new Row(good.replace("s=rsa", "s=a..b"), Outcome.PERMERROR, "s= is not a selector, a domain name"),
        new Row(good + "; l=12x", Outcome.PERMERROR, "l= is not a number"),
        new Row(good + "; t=-1", Outcome.PERMERROR, "t= is not a number"),
        new Row(good + "; i=nobody", Outcome.PERMERROR, "i= is no address or @domain"),
        new Row(good.replace("rsa-sha256", "rsa-sha512"), Outcome.NEUTRAL, "unknown algorithm a=rsa-sha512"),
        new Row(good + "; c=relaxed/nowsp", Outcome.NEUTRAL, "unknown canonicalization c=relaxed/nowsp"),
        new Row(good + "; q=dns/xml", Outcome.NEUTRAL, "no known query method in q=dns/xml"),
        new Row("\u0000\u00ff;=", Outcome.PERMERROR, "malformed signature: tag-spec 1 does not start with a tag name"))) {
      DkimResult r = only("DKIM-Signature: " + row.value() + "\r\n" + MESSAGE);
      assertThat(r).extracting(DkimResult::outcome, DkimResult::reason).as(row.value()).containsExactly(row.outcome(), row.reason());
    }
    assertThat(dns.questions()).as("no key is looked up for a signature that cannot be used").isEmpty();
    DkimResult partly = only("DKIM-Signature: " + good.replace("v=1", "v=2") + "\r\n" + MESSAGE);
    assertThat(partly).extracting(DkimResult::domain, DkimResult::selector, DkimResult::algorithm, DkimResult::headerB)
        .containsExactly("example.org", "rsa", "rsa-sha256", "AAAA");
  }

  @Test
  void hugeHeaderSectionsAndFloodsOfSignaturesAreBoundedAndAnswered() {
    String signed = sign(MESSAGE, tags("rsa-sha256", "rsa", ""), RSA_2048);
    // Over 1 MiB of header fields: not verified, and said so for the signature.
    String huge = "X-Filler: " + "x".repeat(900) + "\r\n";
    DkimResult r = only(signed.replace("From: Alice", huge.repeat(1200) + "From: Alice"));
    assertThat(r).extracting(DkimResult::outcome, DkimResult::reason, DkimResult::domain)
        .containsExactly(Outcome.PERMERROR, "header section over 1048576 octets: not verified", "example.org");
    // One header line longer than everything that is kept.
    r = only(signed.replace("From: Alice", "X-Long: " + "y".repeat(DkimVerifier.MAX_HEADER_OCTETS + 10) + "\r\nFrom: Alice"));
    assertThat(r.outcome()).isEqualTo(Outcome.PERMERROR);
    // Twenty-five signatures: ten checked, fifteen counted, one DNS question for the one key name.
    String flood = (signed.substring(0, signed.indexOf("From: Alice"))).repeat(24) + signed;
    DkimVerifier.Results results = new DkimVerifier(dns, CLOCK).verify(flood.getBytes(StandardCharsets.ISO_8859_1));
    assertThat(results.signatures()).hasSize(DkimVerifier.MAX_SIGNATURES).allMatch(s -> s.outcome() == Outcome.PASS);
    assertThat(results.notChecked()).isEqualTo(15);
    assertThat(dns.questions()).containsExactly("TXT rsa._domainkey.example.org");
  }

  @Test
  void overSignedFieldsCannotBeAdded() {
    var keys = SigningKeys.of(List.of(new SigningKey("example.org", "rsa", DkimAlgorithm.RSA_SHA256, RSA_2048.getPrivate(), null)));
    DkimSigner.Signing signing = new DkimSigner(keys, CLOCK).start();
    byte[] octets = MESSAGE.getBytes(StandardCharsets.ISO_8859_1);
    signing.write(octets, 0, octets.length);
    String signed = new String(((DkimSigner.Signed) signing.finish()).fields(), StandardCharsets.ISO_8859_1) + MESSAGE;
    assertThat(only(signed).outcome()).isEqualTo(Outcome.PASS);
    for (String added : List.of("Subject: Cheap pills\r\n", "From: ceo@example.org\r\n", "Reply-To: thief@example.net\r\n", "Cc: x@example.net\r\n",
        "Content-Type: text/html\r\n")) {
      assertThat(only(signed.replace("From: Alice", added + "From: Alice")).reason()).as(added).isEqualTo("signature did not verify");
      assertThat(only(signed.replace("\r\n\r\nShall", "\r\n" + added.strip() + "\r\n\r\nShall")).reason()).as(added).isEqualTo("signature did not verify");
    }
    // Not signed, so free to come and go: trace fields, and List-* that a list adds.
    assertThat(only(signed.replace("From: Alice", "Received: from x by y; Sat, 12 Jul 2025 10:00:01 +0000\r\nList-Id: <l.example.net>\r\nFrom: Alice")).outcome())
        .isEqualTo(Outcome.PASS);
  }

  @Test
  void headerBIsLongEnoughToTellTheSignaturesApart() {
    String message = "DKIM-Signature: v=1; b=AAAAAAAAAAAB\r\nDKIM-Signature: v=1; b=AAAAAAAAAAAC\r\nDKIM-Signature: v=1; b=QUJD\r\n" + MESSAGE;
    assertThat(new DkimVerifier(dns, CLOCK).verify(message.getBytes(StandardCharsets.US_ASCII)).signatures())
        .extracting(DkimResult::headerB).containsExactly("AAAAAAAAAAAB", "AAAAAAAAAAAC", "QUJD");
  }

  @Test
  void theResultReadsAsAnAuthenticationResultsResinfoAndAsADmarcIdentifier() {
    DkimResult r = new DkimResult(Outcome.FAIL, "example.org", "sel", "rsa-sha256", "", "Ab/+cd=e", OptionalLong.empty(), false, "body (hash) did not\r\nverify");
    assertThat(r.reason()).isEqualTo("body (hash) did not verify");
    assertThat(r.resinfo()).hasToString("dkim=fail (body hash did not verify) header.d=example.org header.s=sel header.a=rsa-sha256 header.b=\"Ab/+cd=e\"");
    assertThat(r.forDmarc()).isEqualTo(new DmarcCheck.Identifier("example.org", DmarcCheck.Outcome.NO_PASS));
    r = new DkimResult(Outcome.PASS, "example.org", "sel", "ed25519-sha256", "alice@example.org", "AbCdEfGh", OptionalLong.empty(), false, "signature verified");
    assertThat(r.resinfo()).hasToString(
        "dkim=pass (signature verified) header.d=example.org header.i=alice@example.org header.s=sel header.a=ed25519-sha256 header.b=AbCdEfGh");
    assertThat(r.forDmarc()).isEqualTo(new DmarcCheck.Identifier("example.org", DmarcCheck.Outcome.PASS));
    // rsa-sha1 that verified is policy: never a pass for DMARC. A DNS failure might have been one.
    assertThat(new DkimResult(Outcome.POLICY, "example.org", "s", "rsa-sha1", "", "x", OptionalLong.empty(), false, "r").forDmarc().outcome())
        .isEqualTo(DmarcCheck.Outcome.NO_PASS);
    assertThat(new DkimResult(Outcome.TEMPERROR, "example.org", "s", "rsa-sha256", "", "x", OptionalLong.empty(), false, "r").forDmarc().outcome())
        .isEqualTo(DmarcCheck.Outcome.TEMPERROR);
  }

  @Test
  void aMessageWithoutSignaturesHasNoResultsAndOneInPiecesTheSameAsWhole() {
    assertThat(new DkimVerifier(dns, CLOCK).verify(MESSAGE.getBytes(StandardCharsets.US_ASCII))).isEqualTo(new DkimVerifier.Results(List.of(), 0));
    byte[] signed = (sign(MESSAGE, tags("ed25519-sha256", "ed", ""), ED25519)).getBytes(StandardCharsets.US_ASCII);
    DkimVerifier.Verification v = new DkimVerifier(dns, CLOCK).start();
    for (byte b : signed) v.write(b);
    assertThat(v.finish().signatures()).extracting(DkimResult::outcome, DkimResult::reason).containsExactly(tuple(Outcome.PASS, "signature verified"));
    // Headers only, no body at all: the empty body is hashed.
    byte[] headersOnly = sign("From: a@example.org\r\n\r\n", tags("rsa-sha256", "rsa", "").replace(H, "h=from"), RSA_2048)
        .replace("\r\n\r\n", "\r\n").getBytes(StandardCharsets.US_ASCII);
    assertThat(new DkimVerifier(dns, CLOCK).verify(headersOnly).signatures()).extracting(DkimResult::outcome).containsExactly(Outcome.PASS);
  }
}
