package dev.posta.mailauth.dkim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** RFC 6376 §3.2 tag=value lists: each row a text and exactly what it parses to. */
class TagListTest {

  private static TagList.Tags tags(String text) {
    TagList.Parsed p = TagList.parse(text);
    assertThat(p).as(text).isInstanceOf(TagList.Tags.class);
    return (TagList.Tags) p;
  }

  private static String malformed(String text) {
    TagList.Parsed p = TagList.parse(text);
    assertThat(p).as(text).isInstanceOf(TagList.Malformed.class);
    return ((TagList.Malformed) p).reason();
  }

  @Test
  void tagsWithWhitespaceFoldingAndATrailingSemicolon() {
    String text = " v=1; a = rsa-sha256 ;\r\n\tb=AbC\r\n dEf= ;";
    assertThat(tags(text).list()).containsExactly(
        new TagList.Tag("v", "1", 3, 4),
        new TagList.Tag("a", "rsa-sha256", 9, 21),
        new TagList.Tag("b", "AbC\r\n dEf=", 27, text.length() - 1));
    assertThat(tags(text).get("b").compact()).isEqualTo("AbCdEf=");
    assertThat(tags("k=rsa").value("k")).isEqualTo("rsa");
    assertThat(tags("k=rsa").value("p")).isNull();
  }

  @Test
  void emptyValuesAreValuesAndNamesAreCaseSensitive() {
    assertThat(tags("p=; t=").list()).extracting(TagList.Tag::name, TagList.Tag::value)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("p", ""), org.assertj.core.groups.Tuple.tuple("t", ""));
    assertThat(tags("V=1; v=2").list()).extracting(TagList.Tag::name).containsExactly("V", "v");
    assertThat(tags("a_1=x").value("a_1")).isEqualTo("x");
  }

  @Test
  void utf8InAValueIsTakenAsRfc8616AllowsIt() {
    assertThat(tags("d=b\u00c3\u00bccher.example").value("d")).isEqualTo("b\u00c3\u00bccher.example"); // octets as ISO-8859-1
    assertThat(tags("n=caf\u00e9 \u20ac").value("n")).isEqualTo("caf\u00e9 \u20ac"); // decoded text from DNS
  }

  @Test
  void grammarViolationsAreMalformedWithAReasonThatQuotesNoInput() {
    assertThat(List.of(
        malformed(""),
        malformed("  \r\n "),
        malformed("v=1;;a=x"),
        malformed(";v=1"),
        malformed("v=1; a"),
        malformed("v=1; 1a=x"),
        malformed("v=1; =x"),
        malformed("v=1; v=1"),
        malformed("v=1; a=x y\u0001"),
        malformed("v=1; a=\u007f")))
        .containsExactly(
            "no tags",
            "no tags",
            "empty tag-spec, two semicolons in a row",
            "empty tag-spec, two semicolons in a row",
            "tag a has no \"=\"",
            "tag-spec 2 does not start with a tag name",
            "tag-spec 2 does not start with a tag name",
            "tag v= appears twice",
            "tag a= holds a character a tag value may not",
            "tag a= holds a character a tag value may not");
  }

  @Test
  void aValueMayHoldEveryValcharButTheSemicolon() {
    String valchars = "!\"#$%&'()*+,-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
    assertThat(tags("z=" + valchars).value("z")).isEqualTo(valchars);
    assertThat(tags("z=a;b=c").list()).hasSize(2); // the ";" always ends the tag
  }
}
