package dev.posta.capture;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Element;

/**
 * What a test wants out of a message's text and HTML parts: its http and https links and a
 * one-time code. Here, below both faces, so that the JUnit extension ({@code ReceivedMessage})
 * and the HTTP API ({@code GET /api/v1/messages/{id}}) find the same links and the same code in
 * the same message. HTML is parsed by jsoup as a browser would, entities decoded. Pure functions
 * of the two texts.
 */
public final class MessageText {
  private MessageText() {}

  /** An http or https URL in text: up to white space, quotes or angle brackets (RFC 3986 Appendix C). */
  private static final Pattern URL = Pattern.compile("(?i)\\bhttps?://[^\\s<>\"'`]+");
  /** A one-time code: 4 to 8 digits standing alone. */
  private static final Pattern DIGITS = Pattern.compile("(?<![0-9])[0-9]{4,8}(?![0-9])");

  /**
   * Every http and https link, without repeats, in order: those of the text part first, then the
   * {@code href} of the HTML part's {@code <a>} and {@code <area>} elements not seen yet. A link
   * in text ends before white space, a quote or an angle bracket, and loses the punctuation that
   * ends a sentence ({@code .,;:!?}, and a {@code )} it did not open).
   *
   * @param text the text/plain part, or null
   * @param html the text/html part, or null
   */
  public static List<String> links(String text, String html) {
    Set<String> links = new LinkedHashSet<>();
    if (text != null) {
      Matcher m = URL.matcher(text);
      while (m.find()) links.add(trimUrl(m.group()));
    }
    if (html != null) {
      for (Element a : Jsoup.parse(html).select("a[href], area[href]")) {
        String href = a.attr("href").strip();
        if (href.regionMatches(true, 0, "http://", 0, 7) || href.regionMatches(true, 0, "https://", 0, 8)) links.add(href);
      }
    }
    return List.copyOf(links);
  }

  private static String trimUrl(String url) {
    int end = url.length();
    while (end > 0) {
      char c = url.charAt(end - 1);
      boolean unopened = c == ')' && url.lastIndexOf('(', end - 1) < 0;
      if (".,;:!?".indexOf(c) < 0 && !unopened) break;
      end--;
    }
    return url.substring(0, end);
  }

  /**
   * The one-time code: the first 4 to 8 digits standing alone in the text part, outside its
   * links, else in the HTML part's text (what a reader sees, without tags); empty when there is none.
   */
  public static Optional<String> code(String text, String html) {
    for (String place : readable(text, html)) {
      Matcher m = DIGITS.matcher(URL.matcher(place).replaceAll(" "));
      if (m.find()) return Optional.of(m.group());
    }
    return Optional.empty();
  }

  /**
   * The first match of {@code pattern} in the text part, else in the HTML part's text: its first
   * group when it has one, else the whole match; empty when it matches nowhere.
   */
  public static Optional<String> code(Pattern pattern, String text, String html) {
    for (String place : readable(text, html)) {
      Matcher m = pattern.matcher(place);
      if (m.find()) return Optional.of(m.groupCount() > 0 && m.group(1) != null ? m.group(1) : m.group());
    }
    return Optional.empty();
  }

  /** The text part, then the HTML part as a reader sees it. */
  public static List<String> readable(String text, String html) {
    List<String> places = new ArrayList<>(2);
    if (text != null) places.add(text);
    if (html != null) places.add(Jsoup.parse(html).text());
    return places;
  }
}
