package dev.posta.milter;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Which fields a milter writes mark a message as spam, and which fields are verdicts a sender's copy of is removed. */
class SpamVerdictTest {
  @ParameterizedTest(name = "{0}: {1} -> {2}")
  @CsvSource(delimiter = '|', nullValues = "null", textBlock = """
      X-Spam             | Yes                                        | X-Spam: Yes
      x-spam             | yes                                        | x-spam: yes
      X-Spam             | No                                         | null
      X-Spam             | Yesterday                                  | null
      X-Spam-Flag        | YES                                        | X-Spam-Flag: YES
      X-Spam-Flag        | NO                                         | null
      X-Spam-Status      | Yes, score=7.2 required=5.0 tests=GTUBE    | X-Spam-Status: Yes
      X-Spam-Status      | No, score=0.00                             | null
      X-Spam-Level       | *******                                    | null
      X-Rspamd-Action    | add header                                 | null
      Subject            | Yes                                        | null
      """)
  void aVerdictMarksOnlyWhenItSaysYes(String name, String value, String marked) {
    assertThat(SpamVerdict.marked(name, value)).isEqualTo(marked);
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(delimiter = '|', textBlock = """
      X-Spam            | true
      X-SPAM-STATUS     | true
      X-Spam-Flag       | true
      X-Spam-Score      | true
      X-Spam-Level      | true
      X-Spamd-Result    | true
      X-Spamd-Bar       | true
      X-Rspamd-Queue-Id | true
      X-Rspamd-Server   | true
      X-Spammy          | false
      X-Virus-Status    | false
      Subject           | false
      """)
  void verdictFields(String name, boolean verdict) {
    assertThat(SpamVerdict.isVerdictField(name)).isEqualTo(verdict);
  }
}
