package dev.posta.web.page;

import java.text.NumberFormat;
import java.util.Locale;

/** Figures as the pages write them, one way everywhere: counts with thousands separators, sizes in powers of 1000. */
final class Figures {
  private Figures() {}

  /** A count as a person reads it: 100,000. */
  static String number(long n) {
    return NumberFormat.getIntegerInstance(Locale.ENGLISH).format(n);
  }

  /** A count and its noun, plural unless one: "1 message", "100,000 messages". */
  static String count(long n, String noun) {
    return number(n) + " " + noun + (n == 1 ? "" : "s");
  }

  /** Octets as a person reads them, in powers of 1000: 950 B, 12 KB, 3.4 GB (one decimal below 10). */
  static String bytes(long octets) {
    if (octets < 1000) return octets + " B";
    double v = octets;
    String[] units = {"KB", "MB", "GB", "TB", "PB"};
    int unit = -1;
    while (v >= 999.5 && unit < units.length - 1) { // 999.6 KB would round to "1000 KB": 1.0 MB
      v /= 1000;
      unit++;
    }
    return (v < 10 ? String.format(Locale.ROOT, "%.1f", v) : Long.toString(Math.round(v))) + " " + units[unit];
  }

  /** A word with its first letter in capitals, for a label: "deferred" → "Deferred". */
  static String capitalized(String word) {
    return Character.toUpperCase(word.charAt(0)) + word.substring(1);
  }
}
