package dev.posta.web.page;

import dev.posta.metrics.MinuteHistory;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToLongFunction;

/**
 * The last hour a minute at a time ({@link MinuteHistory}, as {@code /api/v1/stats} gives it)
 * drawn as a line chart in SVG (SVG 1.1's elements, with WAI-ARIA's role and labels), the one
 * renderer of the operators' charts: the page shows it in an {@code <img>}, so it works without
 * script and runs none.
 *
 * <p>What it guarantees: the x axis is the 60 minutes ending with the one in progress, a tick at
 * each minute and the time (in the server's zone) every ten; each minute present is one point of
 * each series at its own minute, so a minute missing from the history (a suspended machine) is a
 * gap in the line, never a made-up zero. The y axis starts at 0 and ends at {@link #top}, the
 * highest value rounded up to 1, 2 or 5 times a power of ten (at least 1: an all-zero hour is
 * flat lines at 0). Every text (the {@code <title>}, the {@code <desc>} that says the figures in
 * words, the legend, the labels) is escaped for XML; nothing is drawn with a style attribute or
 * element, only presentation attributes, so a strict Content-Security-Policy needs no exception.
 */
final class MinuteChart {
  static final int WIDTH = 720;
  static final int HEIGHT = 240;
  private static final int LEFT = 48;
  private static final int RIGHT = 14;
  private static final int TOP = 34;
  private static final int BOTTOM = 26;
  static final int MINUTES = 60;
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("HH:mm", Locale.ENGLISH);

  /**
   * One line: its name (the legend's word and the {@code data-series} attribute), its colour, the
   * value of a minute, and whether it is a level (the queue's size at the minute's end: the
   * description says the latest and the highest) or a count (summed over the hour).
   */
  record Series(String name, String color, ToLongFunction<MinuteHistory.Minute> value, boolean level) {}

  private MinuteChart() {}

  /** The chart of {@code minutes} (oldest first) over the hour ending with the minute of {@code now}. */
  static String render(String title, List<Series> series, List<MinuteHistory.Minute> minutes, Instant now, ZoneId zone) {
    Instant last = now.truncatedTo(ChronoUnit.MINUTES);
    Instant first = last.minus(Duration.ofMinutes(MINUTES - 1));
    List<MinuteHistory.Minute> shown = shown(minutes, first, last);
    long max = 0;
    for (Series s : series) {
      for (MinuteHistory.Minute m : shown) max = Math.max(max, s.value.applyAsLong(m));
    }
    long top = top(max);
    StringBuilder svg = new StringBuilder(8192);
    svg.append("<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"").append(WIDTH).append("\" height=\"").append(HEIGHT)
        .append("\" viewBox=\"0 0 ").append(WIDTH).append(' ').append(HEIGHT)
        .append("\" role=\"img\" aria-labelledby=\"title desc\" font-family=\"system-ui, sans-serif\" font-size=\"13\">\n");
    svg.append("<title id=\"title\">").append(xml(title)).append("</title>\n");
    svg.append("<desc id=\"desc\">").append(xml(description(series, shown, first, last, zone))).append("</desc>\n");
    svg.append("<rect width=\"").append(WIDTH).append("\" height=\"").append(HEIGHT).append("\" fill=\"#ffffff\"/>\n");
    yAxis(svg, top);
    xAxis(svg, first, zone);
    legend(svg, series, shown);
    for (Series s : series) line(svg, s, shown, first, top);
    svg.append("</svg>\n");
    return svg.toString();
  }

  /** The y axis' end for a highest value of {@code max}: 1, 2 or 5 times a power of ten, at least {@code max} and at least 1. */
  static long top(long max) {
    long step = 1;
    while (true) {
      for (long m : new long[] {1, 2, 5}) {
        if (m * step >= max) return m * step;
      }
      if (step > Long.MAX_VALUE / 100) return Long.MAX_VALUE; // never in a mail server's hour
      step *= 10;
    }
  }

  /** How many intervals the y axis has up to {@code top}: whole numbers each, four or five of them from 10 up. */
  static long intervals(long top) {
    if (top <= 5) return top;
    long lead = top;
    while (lead >= 10) lead /= 10;
    return lead == 2 ? 4 : 5;
  }

  /**
   * A version of the chart's figures: changes when a figure does or the hour moves on, so the
   * page's image URL changes (and the browser fetches the chart again) exactly when the chart
   * would look different.
   */
  static String version(List<Series> series, List<MinuteHistory.Minute> minutes, Instant now) {
    long h = now.truncatedTo(ChronoUnit.MINUTES).getEpochSecond();
    for (MinuteHistory.Minute m : minutes) {
      h = 31 * h + m.start().getEpochSecond();
      for (Series s : series) h = 31 * h + s.value.applyAsLong(m);
    }
    return Long.toHexString(h);
  }

  private static double x(Instant minute, Instant first) {
    long index = Duration.between(first, minute).toMinutes();
    return LEFT + index * (double) (WIDTH - LEFT - RIGHT) / (MINUTES - 1);
  }

  private static double y(long value, long top) {
    return HEIGHT - BOTTOM - value * (double) (HEIGHT - TOP - BOTTOM) / top;
  }

  private static void yAxis(StringBuilder svg, long top) {
    long n = intervals(top);
    svg.append("<g class=\"y-axis\" stroke=\"#e2e6ec\" fill=\"#5f6b7a\" text-anchor=\"end\">\n");
    for (long i = 0; i <= n; i++) {
      long value = top / n * i;
      String yy = number(y(value, top));
      svg.append("<line x1=\"").append(LEFT).append("\" x2=\"").append(WIDTH - RIGHT).append("\" y1=\"").append(yy).append("\" y2=\"")
          .append(yy).append("\"/>");
      svg.append("<text x=\"").append(LEFT - 6).append("\" y=\"").append(number(y(value, top) + 4)).append("\" stroke=\"none\">")
          .append(value).append("</text>\n");
    }
    svg.append("</g>\n");
  }

  private static void xAxis(StringBuilder svg, Instant first, ZoneId zone) {
    int base = HEIGHT - BOTTOM;
    svg.append("<g class=\"x-axis\" stroke=\"#5f6b7a\" fill=\"#5f6b7a\" text-anchor=\"middle\">\n");
    svg.append("<line x1=\"").append(LEFT).append("\" x2=\"").append(WIDTH - RIGHT).append("\" y1=\"").append(base).append("\" y2=\"")
        .append(base).append("\"/>\n");
    for (int i = 0; i < MINUTES; i++) {
      Instant minute = first.plus(Duration.ofMinutes(i));
      boolean labelled = minute.atZone(zone).getMinute() % 10 == 0;
      String xx = number(x(minute, first));
      svg.append("<line class=\"tick\" x1=\"").append(xx).append("\" x2=\"").append(xx).append("\" y1=\"").append(base).append("\" y2=\"")
          .append(base + (labelled ? 6 : 3)).append("\"/>");
      if (labelled) {
        svg.append("<text x=\"").append(xx).append("\" y=\"").append(base + 18).append("\" stroke=\"none\">")
            .append(xml(TIME.format(minute.atZone(zone)))).append("</text>");
      }
      svg.append('\n');
    }
    svg.append("</g>\n");
  }

  private static void legend(StringBuilder svg, List<Series> series, List<MinuteHistory.Minute> shown) {
    svg.append("<g class=\"legend\">\n");
    int at = LEFT;
    for (Series s : series) {
      String label = s.name + " " + (s.level ? latest(s, shown) + " now" : total(s, shown));
      svg.append("<rect x=\"").append(at).append("\" y=\"10\" width=\"14\" height=\"4\" fill=\"").append(xml(s.color)).append("\"/>");
      svg.append("<text x=\"").append(at + 19).append("\" y=\"16\" fill=\"#1d2330\">").append(xml(label)).append("</text>\n");
      at += 19 + 8 * label.length() + 20; // room for the label at about 8 px a character (13 px type)
    }
    svg.append("</g>\n");
  }

  /**
   * One series: a polyline through each run of consecutive minutes, and a dot for a minute
   * alone (a polyline of one point draws nothing), so every minute present is one point.
   */
  private static void line(StringBuilder svg, Series s, List<MinuteHistory.Minute> shown, Instant first, long top) {
    svg.append("<g class=\"series\" data-series=\"").append(xml(s.name)).append("\" stroke=\"").append(xml(s.color)).append("\" fill=\"")
        .append(xml(s.color)).append("\">\n");
    List<String> run = new ArrayList<>();
    Instant previous = null;
    for (MinuteHistory.Minute m : shown) {
      if (previous != null && !m.start().equals(previous.plus(Duration.ofMinutes(1)))) {
        run(svg, run);
        run.clear();
      }
      run.add(number(x(m.start(), first)) + "," + number(y(s.value.applyAsLong(m), top)));
      previous = m.start();
    }
    run(svg, run);
    svg.append("</g>\n");
  }

  private static void run(StringBuilder svg, List<String> points) {
    if (points.isEmpty()) return;
    if (points.size() == 1) {
      String[] xy = points.getFirst().split(",");
      svg.append("<circle cx=\"").append(xy[0]).append("\" cy=\"").append(xy[1]).append("\" r=\"2.5\" stroke=\"none\"/>\n");
      return;
    }
    svg.append("<polyline points=\"").append(String.join(" ", points))
        .append("\" fill=\"none\" stroke-width=\"2\" stroke-linejoin=\"round\"/>\n");
  }

  /** The minutes of {@code minutes} from {@code first} to {@code last}. */
  private static List<MinuteHistory.Minute> shown(List<MinuteHistory.Minute> minutes, Instant first, Instant last) {
    return minutes.stream().filter(m -> !m.start().isBefore(first) && !m.start().isAfter(last)).toList();
  }

  /**
   * The chart's figures in words, as its {@code <desc>} says them ("Per minute from 09:05 to
   * 10:04: accepted 12 in all, at most 5 in a minute; ..."): the page's text alternative.
   */
  static String description(List<Series> series, List<MinuteHistory.Minute> minutes, Instant now, ZoneId zone) {
    Instant last = now.truncatedTo(ChronoUnit.MINUTES);
    Instant first = last.minus(Duration.ofMinutes(MINUTES - 1));
    return description(series, shown(minutes, first, last), first, last, zone);
  }

  private static String description(List<Series> series, List<MinuteHistory.Minute> shown, Instant first, Instant last, ZoneId zone) {
    StringBuilder d = new StringBuilder("Per minute from ").append(TIME.format(first.atZone(zone))).append(" to ")
        .append(TIME.format(last.atZone(zone))).append(": ");
    List<String> parts = new ArrayList<>();
    for (Series s : series) {
      long most = shown.stream().mapToLong(s.value).max().orElse(0);
      parts.add(s.level ? s.name + " " + latest(s, shown) + " now, at most " + most
          : s.name + " " + total(s, shown) + " in all, at most " + most + " in a minute");
    }
    return d.append(String.join("; ", parts)).append('.').toString();
  }

  private static long total(Series s, List<MinuteHistory.Minute> shown) {
    return shown.stream().mapToLong(s.value).sum();
  }

  private static long latest(Series s, List<MinuteHistory.Minute> shown) {
    return shown.isEmpty() ? 0 : s.value.applyAsLong(shown.getLast());
  }

  /** A coordinate with at most one decimal, always with a point (SVG's number syntax). */
  private static String number(double v) {
    long tenths = Math.round(v * 10);
    return tenths % 10 == 0 ? Long.toString(tenths / 10) : String.format(Locale.ROOT, "%.1f", tenths / 10.0);
  }

  /** {@code text} escaped for XML's character data and attribute values (XML 1.0 §2.4); characters XML cannot carry are dropped. */
  static String xml(String text) {
    StringBuilder out = new StringBuilder(text.length() + 16);
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '"' -> out.append("&quot;");
        case '\'' -> out.append("&apos;");
        default -> {
          if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') {
            if (c != 0xFFFE && c != 0xFFFF) out.append(c);
          }
        }
      }
    }
    return out.toString();
  }
}
