package dev.posta.mailauth;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * FromField reads the plain forms of a From field itself and gives the rest to mime4j: where it
 * reads a value itself, mime4j reads the same one mailbox with the same domain.
 */
class FromFieldTest {
  @Test
  void plainFormsAreReadWithoutTheParser() {
    assertThat(FromField.plainMailboxDomain("bench@Sender.Test")).isEqualTo("Sender.Test");
    assertThat(FromField.plainMailboxDomain(" <bench@sender.test> ")).isEqualTo("sender.test");
    assertThat(FromField.plainMailboxDomain("Shop Team <no-reply+x@mail.shop.example>")).isEqualTo("mail.shop.example");
    assertThat(FromField.plainMailboxDomain("\"Shop, Inc. <sales@evil.example>\" <sales@shop.example>")).isEqualTo("shop.example");
    assertThat(FromField.plainMailboxDomain("=?utf-8?q?J=C3=BCrgen?= <j@example.org>")).isEqualTo("example.org");
    assertThat(FromField.domains("Shop Team <no-reply@Mail.Shop.Example>")).containsExactly(new FromField.Domain("mail.shop.example", null));
  }

  @Test
  void everythingElseGoesToTheParser() {
    for (String v : List.of("", "a@b.c, d@e.f", "a@b.c (comment)", "Group: a@b.c;", "\"quoted local\"@b.c", "a@[192.0.2.1]",
        "a@b..c", "a@b.c.", ".a@b.c", "a@b.c <d@e.f>", "John Q. Public <a@b.c>", "\"a\\\"b\" <a@b.c>", "a@bü.example",
        "<a@b.c", "a@b.c>", "<>", "a@", "@b.c", "a@b_c.example", "A <a@b.c> >", "a <b> <c@d.e>")) {
      assertThat(FromField.plainMailboxDomain(v)).as(v).isNull();
    }
    // Not plain, still a From: the parser reads these as before.
    assertThat(FromField.domains("a@b.c, D@E.F")).extracting(FromField.Domain::name).containsExactly("b.c", "e.f");
    assertThat(FromField.domains("John Q. Public <a@b.c>")).extracting(FromField.Domain::name).containsExactly("b.c");
  }

  /** Random values near the plain forms: wherever the plain reading answers, mime4j gives one mailbox with that domain. */
  @Test
  void thePlainReadingAgreesWithMime4j() {
    String[] pieces = {"a", "B", "0", "-", ".", "@", "<", ">", "\"", " ", "\t", ",", "(", ")", ":", ";", "\\", "[", "]", "ü", "_",
        "!", "=?", "x.y", "sender.test", "Foo Bar ", "bench@sender.test", "<a@b.c>", "\"Q\" "};
    Random random = new Random(14);
    int plain = 0;
    for (int n = 0; n < 200_000; n++) {
      var v = new StringBuilder();
      int length = 1 + random.nextInt(8);
      for (int i = 0; i < length; i++) v.append(pieces[random.nextInt(pieces.length)]);
      String value = v.toString();
      String domain = FromField.plainMailboxDomain(value);
      if (domain == null) continue;
      plain++;
      List<FromField.Domain> parsed = FromField.parsed(value);
      assertThat(parsed).as(value).isNotNull().hasSize(1);
      assertThat(FromField.domains(value)).as(value).isEqualTo(parsed);
    }
    assertThat(plain).isGreaterThan(1000);
  }
}
