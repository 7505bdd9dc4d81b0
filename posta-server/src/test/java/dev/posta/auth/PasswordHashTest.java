package dev.posta.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class PasswordHashTest {
  /** Made with the reference implementation (libargon2's argon2id_hash_encoded). */
  static Stream<Arguments> referenceVectors() {
    return Stream.of(
        Arguments.of("$argon2id$v=19$m=19456,t=2,p=1$MDEyMzQ1Njc4OWFiY2RlZg$rk2Mi3E4dgRMg0fHaYaptWVZRKqs//6b6k3/nntqGJk", "correct horse"),
        // Other parameters, 16-byte tag, UTF-8 "passé": verify reads them all from the string.
        Arguments.of("$argon2id$v=19$m=64,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$aVamj5HkU+gQMttjzwQ+XQ", "pass\u00e9"),
        // The same password decomposed (e + combining acute): NFKC makes it the same.
        Arguments.of("$argon2id$v=19$m=64,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$aVamj5HkU+gQMttjzwQ+XQ", "passe\u0301"),
        Arguments.of("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s", "x"));
  }

  @ParameterizedTest
  @MethodSource("referenceVectors")
  void verifiesReferenceHashes(String phc, String password) {
    assertThat(PasswordHash.verify(phc, password.toCharArray())).isTrue();
  }

  @Test
  void aWrongPasswordDoesNotVerify() {
    String phc = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s";
    assertThat(PasswordHash.verify(phc, "y".toCharArray())).isFalse();
    assertThat(PasswordHash.verify(phc, "x ".toCharArray())).isFalse();
    assertThat(PasswordHash.verify(phc, "X".toCharArray())).isFalse();
  }

  @Test
  void newHashesHaveTheDefaultParametersAFreshSaltAndVerify() {
    String a = PasswordHash.hash("correct horse".toCharArray());
    String b = PasswordHash.hash("correct horse".toCharArray());
    assertThat(a).matches("\\$argon2id\\$v=19\\$m=19456,t=2,p=1\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}");
    assertThat(b).isNotEqualTo(a);
    assertThat(PasswordHash.verify(a, "correct horse".toCharArray())).isTrue();
    assertThat(PasswordHash.needsRehash(a)).isFalse();
    assertThat(PasswordHash.needsRehash("$argon2id$v=19$m=64,t=3,p=2$c29tZXNhbHRzb21lc2FsdA$aVamj5HkU+gQMttjzwQ+XQ")).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "",
      "plain text",
      "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG", // argon2i, not id
      "$argon2id$v=16$m=8,t=1,p=1$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s", // version 1.0
      "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s$", // trailing $
      "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ", // no hash
      "$argon2id$v=19$m=8,t=0,p=1$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s", // t=0
      "$argon2id$v=19$m=8,t=1,p=0$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s", // p=0
      "$argon2id$v=19$m=9999999,t=1,p=1$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s", // 10 GB
      "$argon2id$v=19$m=8,t=1,p=1$c2Fsd$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s", // salt < 8 bytes
      "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s=", // padding
      "$argon2id$v=19$t=1,m=8,p=1$c2FsdHNhbHQ$VTYAepFZ1sV9bY+0uw8EOB609LE4jAqzxpZF08BYV/s", // order
  })
  void malformedStringsNeverVerifyNorThrow(String phc) {
    assertThat(PasswordHash.verify(phc, "x".toCharArray())).isFalse();
  }

  @Test
  void theDummyVerificationIsAlwaysFalse() {
    assertThat(PasswordHash.verifyDummy("anything".toCharArray())).isFalse();
  }
}
