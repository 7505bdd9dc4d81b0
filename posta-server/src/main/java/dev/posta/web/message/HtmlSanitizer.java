package dev.posta.web.message;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Attribute;
import org.jsoup.nodes.DataNode;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.jsoup.nodes.Entities;
import org.jsoup.safety.Cleaner;
import org.jsoup.safety.Safelist;

/**
 * A message's HTML made safe to show: jsoup parses it as a browser would (entities decoded, so
 * {@code jav&#x09;ascript:} is seen for what it is), its {@link Cleaner} keeps only the elements
 * and attributes of {@link #SAFELIST} (text formatting, tables, links, images, style), and then
 * Posta's own rules go over what is left:
 *
 * <ul>
 *   <li>a link keeps its {@code href} only when it is http, https or mailto (so never
 *       javascript:, vbscript:, data: or a path on the web view's own origin), and opens in a new
 *       browsing context: {@code target="_blank" rel="noopener noreferrer"};
 *   <li>an image keeps its {@code src} only when it is {@code cid:} of one of the message's own
 *       image parts (rewritten to that part's URL), an inline {@code data:} PNG, GIF, JPEG or
 *       WebP, or, when the reader asked for remote images, http or https; a remote image not
 *       asked for loses its source and is counted;
 *   <li>CSS, in style elements (those of the head kept, moved into the body) and attributes,
 *       goes through {@link CssFilter} with the same rule for {@code url()};
 *   <li>no attribute of any kind keeps a value that, without white space and control
 *       characters, starts with javascript:, vbscript: or data: (except the images above).
 * </ul>
 *
 * <p>Gone with the Cleaner, their content's text kept where it is text: script, event handlers
 * ({@code on*}), forms and their controls, iframe, frame, object, embed, applet, svg, math,
 * meta (refresh), base, link, comments (conditional ones too). This is the first of two layers:
 * the page shows the result in a sandboxed iframe whose Content-Security-Policy allows no script
 * at all and images only from the web view itself, so a hole here is not yet a script running.
 */
public final class HtmlSanitizer {
  private HtmlSanitizer() {}

  /**
   * An HTML document's text as a person would read it: each run of white space one space, a line
   * break at each br and around each block (paragraphs, divs, list items, rows, headings,
   * quotes), at most one empty line in a row; script, style and everything in the head left out.
   * Text, not HTML: nothing in it is markup any more.
   */
  public static String text(String html) {
    Document doc = Jsoup.parse(html);
    StringBuilder out = new StringBuilder();
    org.jsoup.select.NodeTraversor.traverse(new org.jsoup.select.NodeVisitor() {
      @Override
      public void head(org.jsoup.nodes.Node node, int depth) {
        if (node instanceof org.jsoup.nodes.TextNode t) {
          String words = t.text();
          if (out.isEmpty() || out.charAt(out.length() - 1) == '\n') words = words.stripLeading();
          out.append(words);
        } else if (node instanceof Element e) {
          if (e.nameIs("br")) out.append('\n');
          else if (e.isBlock()) lineBreak(out);
        }
      }

      @Override
      public void tail(org.jsoup.nodes.Node node, int depth) {
        if (node instanceof Element e && e.isBlock()) lineBreak(out);
      }
    }, doc.body());
    return out.toString().replaceAll("[ \t]+\n", "\n").replaceAll("\n{3,}", "\n\n").strip();
  }

  private static void lineBreak(StringBuilder out) {
    if (!out.isEmpty() && out.charAt(out.length() - 1) != '\n') out.append('\n');
  }

  /** The sanitized HTML (the content of a body element) and how many remote images were blocked. */
  public record SafeHtml(String html, int blockedImages) {}

  /** The elements and attributes kept; URLs and CSS are Posta's rules' to judge, after. */
  static final Safelist SAFELIST = new Safelist()
      .addTags("a", "abbr", "address", "article", "aside", "b", "bdi", "big", "blockquote", "br", "caption", "center", "cite", "code", "col",
          "colgroup", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "font", "footer", "h1", "h2", "h3", "h4",
          "h5", "h6", "header", "hr", "i", "img", "ins", "kbd", "li", "main", "mark", "nav", "ol", "p", "pre", "q", "s", "samp", "section",
          "small", "span", "strike", "strong", "style", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time", "tr",
          "tt", "u", "ul", "var", "wbr")
      .addAttributes(":all", "align", "bgcolor", "border", "class", "dir", "height", "lang", "style", "title", "valign", "width")
      .addAttributes("a", "href", "name")
      .addAttributes("img", "alt", "src", "hspace", "vspace")
      .addAttributes("font", "color", "face", "size")
      .addAttributes("table", "cellpadding", "cellspacing", "frame", "rules", "summary")
      .addAttributes("td", "colspan", "rowspan", "nowrap", "abbr", "axis", "headers", "scope")
      .addAttributes("th", "colspan", "rowspan", "nowrap", "abbr", "axis", "headers", "scope")
      .addAttributes("col", "span")
      .addAttributes("colgroup", "span")
      .addAttributes("ol", "start", "type", "reversed")
      .addAttributes("ul", "type")
      .addAttributes("li", "value", "type")
      .addAttributes("details", "open")
      .addAttributes("hr", "noshade", "size")
      .preserveRelativeLinks(true); // no protocols listed: every URL is judged below, by one rule

  private static final Pattern INVISIBLE = Pattern.compile("[\\s\\x00-\\x20\\x7f-\\x9f\\u00ad\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f\\ufeff]+");
  private static final Pattern DATA_IMAGE = Pattern.compile("(?i)data:image/(png|gif|jpeg|webp)(;base64)?,[a-z0-9+/=%\\s]*");

  /**
   * Sanitizes one HTML part.
   *
   * @param remoteImages whether http and https images stay
   * @param cidUrl the URL for a {@code cid:} reference (its Content-ID, percent-decoded), or null when it is none of the message's images
   */
  public static SafeHtml sanitize(String html, boolean remoteImages, Function<String, String> cidUrl) {
    Document dirty = Jsoup.parse(html);
    // The head's style elements are the look of most newsletters: moved where the Cleaner (which keeps the body only) sees them.
    List<Element> headStyles = new ArrayList<>(dirty.head().select("style"));
    for (int i = headStyles.size() - 1; i >= 0; i--) dirty.body().prependChild(headStyles.get(i));
    Document clean = new Cleaner(SAFELIST).clean(dirty);
    clean.outputSettings().prettyPrint(false).charset("UTF-8").escapeMode(Entities.EscapeMode.base);
    int[] blocked = {0};
    Function<String, String> imageUrl = raw -> {
      String url = browserUrl(raw);
      String lower = url.toLowerCase(Locale.ROOT);
      if (lower.startsWith("cid:")) return cidUrl.apply(percentDecode(url.substring(4)));
      if (lower.startsWith("data:")) return DATA_IMAGE.matcher(url).matches() ? url : null;
      if (lower.startsWith("http://") || lower.startsWith("https://")) {
        if (remoteImages) return url;
        blocked[0]++;
        return null;
      }
      return null; // relative (the web view's own pages), file:, javascript: and every other scheme
    };
    for (Element e : clean.body().getAllElements()) {
      for (Attribute a : new ArrayList<>(e.attributes().asList())) {
        String key = a.getKey().toLowerCase(Locale.ROOT);
        String value = a.getValue();
        switch (key) {
          case "href" -> {
            String url = browserUrl(value);
            String lower = url.toLowerCase(Locale.ROOT);
            if (lower.startsWith("http://") || lower.startsWith("https://") || lower.startsWith("mailto:")) e.attr("href", url);
            else e.removeAttr(a.getKey());
          }
          case "src" -> {
            String url = imageUrl.apply(value);
            if (url == null) e.removeAttr(a.getKey());
            else e.attr("src", url);
          }
          case "style" -> {
            String css = CssFilter.filter(value, imageUrl).strip();
            if (css.replaceAll("[;\\s]", "").isEmpty()) e.removeAttr(a.getKey());
            else e.attr("style", css);
          }
          default -> {
            String lower = squeeze(value).toLowerCase(Locale.ROOT);
            if (lower.startsWith("javascript:") || lower.startsWith("vbscript:") || lower.startsWith("data:")) e.removeAttr(a.getKey());
          }
        }
      }
      if (e.normalName().equals("a") && e.hasAttr("href")) {
        e.attr("target", "_blank");
        e.attr("rel", "noopener noreferrer");
      }
      if (e.normalName().equals("style")) {
        String css = CssFilter.filter(e.data(), imageUrl);
        e.empty();
        e.appendChild(new DataNode(css));
      }
    }
    return new SafeHtml(clean.body().html(), blocked[0]);
  }

  /**
   * A URL as a browser reads it from an attribute (the URL standard's basic parser): C0 controls
   * and spaces trimmed from both ends, tabs and line ends removed everywhere. Its scheme is the
   * one the browser will act on; any other invisible character stays and makes a scheme that is
   * none of those allowed.
   */
  static String browserUrl(String url) {
    return url.replaceAll("^[\\x00-\\x20]+|[\\x00-\\x20]+$", "").replaceAll("[\\t\\n\\r]", "");
  }

  /** An attribute value with every invisible character gone, to look for a scheme in it as strictly as can be. */
  static String squeeze(String value) {
    return INVISIBLE.matcher(value).replaceAll("");
  }

  private static String percentDecode(String s) {
    try {
      return java.net.URLDecoder.decode(s.replace("+", "%2B"), java.nio.charset.StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return s;
    }
  }
}
